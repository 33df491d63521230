//! Lodestone's lead delivery: a wasm module the bootstrap loads only when there may be a lead to
//! deliver (with a popup, which shows only once it has, or for leads queued on earlier pages), so
//! the pages most visitors see never download it. It builds each lead (from the history the
//! tracker hands over, the form's answers and the site's rules), queues it in localStorage
//! before sending it, retries the queue with backoff until the server acknowledges, and
//! settles the popup's form with the answer.
//!
//! The bootstrap (`widget/tracker/src/host.js`) guards every call: nothing here throws into the
//! host page.

#![no_std]

extern crate alloc;

mod answer;
mod body;
mod delivery;
mod host;
mod js;
mod queue;

// The JSON writer and the `std`-like prelude, shared with the tracker (as are the history,
// the allocator and the trapping panic handler).
use widget_common::{json, prelude, value};

use wasm_bindgen::prelude::*;
use widget_common::Single;

use crate::delivery::Delivery;
use crate::host::Host;
use crate::prelude::String;

/// The page's one delivery.
static DELIVERY: Single<Delivery> = Single::new();

/// Starts delivering the leads of `site` to the ingest server at `api`.
#[wasm_bindgen]
pub fn start(site: String, api: String, host: Host) {
    DELIVERY.set(Delivery::new(host, site, &api));
}

/// A popup's submit on `campaign`: the popup's answers (`fields`), the visitor's `history` as
/// the tracker keeps it, the site config's packed `rules` and the `page` it was submitted on
/// (`href`, `referrer`), the three of them JSON. Returns the lead's submission id, or an empty
/// string when no lead could be built (the config has no rules for the campaign).
#[wasm_bindgen]
pub fn submit(campaign: String, history: String, fields: &str, rules: Option<String>, page: &str) -> String {
    let (fields, page) = (json_value(Some(fields)), json_value(Some(page)));
    DELIVERY.with(|d| d.submit(&campaign, history, &fields, rules.as_deref(), &page)).unwrap_or_default()
}

/// The value JSON `text` holds; `Null` when there is none or it does not read.
fn json_value(text: Option<&str>) -> value::Value {
    text.and_then(value::parse).unwrap_or(value::Value::Null)
}

/// The page events the bootstrap reports, with the meaning of `on`'s arguments.
mod event {
    /// A server answer: `n` = request tag, `m` = HTTP status (0 when unreachable), value = its
    /// JSON text (none when it had none).
    pub const ANSWERED: u32 = 1;
    /// Send the queued leads that are due (a page view began).
    pub const FLUSH: u32 = 2;
    /// The page is going away (`pagehide`).
    pub const LEAVING: u32 = 3;
}

/// Handles one page event (see `event`). A re-entrant call is dropped.
#[wasm_bindgen]
pub fn on(kind: u32, n: u32, m: u32, value: Option<String>) {
    DELIVERY.with(|d| match kind {
        event::ANSWERED => d.answered(n, m, &json_value(value.as_deref())),
        event::FLUSH => d.flush(),
        event::LEAVING => d.leaving(),
        _ => {}
    });
}
