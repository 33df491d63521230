//! What the ingest server's answer to a lead means for its queued copy, and when a lead that
//! could not be delivered is tried again.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::json::Object;
use crate::value::{Value, get_str};

/// What the server said about a lead.
pub enum Sent {
    /// Stored (201) or stored before (200), the lead's id in the answer: done.
    Accepted(String),
    /// Refused for good (4xx other than 408 and 429, with the server's error body): that
    /// body's `error`, as JSON.
    Rejected(String),
    /// Not reached, asked to come back later, or answered by something other than the server
    /// (a proxy's or portal's page): keep it queued.
    Retry,
}

impl Sent {
    pub fn from_answer(status: u32, json: &Value) -> Self {
        let error = json.get("error");
        match status {
            200 | 201 => get_str(json, "id").filter(|id| !id.is_empty()).map_or(Self::Retry, Self::Accepted),
            408 | 429 => Self::Retry,
            400..=499 if get_str(error, "code").is_some() => Self::Rejected(
                Object::new()
                    .opt("field", &get_str(error, "field"))
                    .opt("message", &get_str(error, "message"))
                    .opt("code", &get_str(error, "code"))
                    .end(),
            ),
            _ => Self::Retry,
        }
    }
}

/// Backoff before the next attempt of a queued lead: 5 s, doubling, at most an hour.
pub fn backoff_ms(attempts: u32) -> f64 {
    f64::from(5_000u32 << attempts.min(10)).min(3_600_000.0)
}
