//! The visitor's history (`widget_common::history`) in this browser's localStorage: read,
//! written under its size cap, erased. Storage errors (quota, disabled storage) are ignored.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::history::{History, MAX_STORED, key};
use crate::host::Host;

/// The history of `site`; empty when absent, unreadable or older than the age cap.
pub fn load(host: &Host, site: &str) -> History {
    History::parse(host.load(&key(site)).filter(|t| t.len() <= MAX_STORED), crate::js::now())
}

/// Writes `history` as `site`'s, under the size cap (oldest entries dropped first).
pub fn save(history: &mut History, host: &Host, site: &str) {
    let text = history.fitted();
    host.save(&key(site), &text);
}

/// Whether a history of `site` is stored (it may still be too old to count).
pub fn exists(host: &Host, site: &str) -> bool {
    host.load(&key(site)).is_some()
}

/// Removes the stored history of `site`.
pub fn erase(host: &Host, site: &str) {
    host.erase(&key(site));
}
