//! The visitor's history (`widget_common::history`) in this browser's localStorage: read,
//! written under its size cap, erased. Storage errors (quota, disabled storage) are ignored.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::history::{History, MAX_STORED, key};
use crate::host::Host;

/// localStorage I/O for the history, as `History::load(host, site)` and so on.
pub trait Stored {
    /// Reads the history of `site`; empty when absent, unreadable or older than the age cap.
    fn load(host: &Host, site: &str) -> Self;
    /// Writes the history of `site`, under the size cap (oldest entries dropped first).
    fn save(&mut self, host: &Host, site: &str);
    /// Whether a history of `site` is stored (it may still be too old to count).
    fn stored(host: &Host, site: &str) -> bool;
    /// Removes the stored history of `site`.
    fn erase(host: &Host, site: &str);
}

impl Stored for History {
    fn load(host: &Host, site: &str) -> Self {
        History::parse(host.load(&key(site)).filter(|t| t.len() <= MAX_STORED), crate::js::now())
    }

    fn save(&mut self, host: &Host, site: &str) {
        let text = self.fitted();
        host.save(&key(site), &text);
    }

    fn stored(host: &Host, site: &str) -> bool {
        host.load(&key(site)).is_some()
    }

    fn erase(host: &Host, site: &str) {
        host.erase(&key(site));
    }
}
