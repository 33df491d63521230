//! The ingest server's side of the conversation: endpoint URLs and the anonymous counter
//! bodies.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::json::Object;

/// `api` (an origin without a trailing slash, as the bootstrap passes it) plus `path`.
pub fn endpoint(api: &str, path: &[&str]) -> String {
    let mut url = String::from(api);
    for p in path {
        url.push_str(p);
    }
    url
}

/// The JSON of an anonymous counter batch holding one event (itself JSON).
pub fn events(site: &str, event: String) -> String {
    Object::new().str("site", site).list("events").raw_item(&event).close_list().end()
}
