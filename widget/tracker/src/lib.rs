//! Lodestone's tracker: the small wasm module every page loads. It records the visitor's
//! engagement in their own browser, decides with `funnel`'s rules when a campaign shows, has
//! the popup module loaded only then, and hands what a popup's submit needs to the lead
//! delivery module (`widget/leads`, which builds, queues and sends the lead).
//!
//! The bootstrap (`host.js`, bundled into `lodestone.js`, also the module's glue) reads the
//! script tag, wires page events to [`on`] and performs I/O through the imports of
//! [`host`]; every decision is made here. Nothing here
//! throws into the host page: the bootstrap guards every call, and nothing visible happens
//! when the config cannot be loaded.

#![no_std]

extern crate alloc;

mod host;
mod server;
mod site;
mod storage;
mod tracker;

// The history, the JSON writer and reader and the `std`-like prelude, shared with lead delivery
// (as are the allocator and the trapping panic handler).
use widget_common::{history, json, prelude, value};

use widget_common::Single;

use crate::host::{Host, js, take};
use crate::tracker::Tracker;

/// The page's one tracker.
static TRACKER: Single<Tracker> = Single::new();

/// Starts tracking `site`, talking to the ingest server at `api`.
///
/// # Safety
///
/// Both are 0 or strings the bootstrap wrote (see `host::take`).
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn start(site: *mut u8, api: *mut u8) {
    // SAFETY: as the caller promises.
    let (site, api) = unsafe { (take(site).unwrap_or_default(), take(api).unwrap_or_default()) };
    TRACKER.set(Tracker::start(Host, site, api));
}

/// The page events the bootstrap reports, with the meaning of `on`'s arguments.
/// (One entry point instead of a dozen exports keeps the module and its glue small.)
mod event {
    /// A server answer: `n` = request tag, `m` = HTTP status (0 when unreachable), value = its
    /// JSON text (`null` when it had none).
    pub const ANSWERED: u32 = 1;
    /// Every second: `n` = 1 when the page is visible.
    pub const TICK: u32 = 2;
    /// `n` = scroll depth in percent; `m` = 1 when seen without scrolling (not an interaction):
    /// returns 1 when that counted.
    pub const SCROLLED: u32 = 3;
    pub const INTERACTED: u32 = 4;
    /// The popup mounted, or failed to.
    pub const SHOWN: u32 = 6;
    pub const SHOW_FAILED: u32 = 7;
    /// The visitor closed the popup: value = reason.
    pub const CLOSED: u32 = 8;
    /// The popup's form was submitted (the bootstrap holds its answers for lead delivery).
    pub const SUBMIT: u32 = 9;
    /// `lodestone.open(value)`, `close()`, `score()`, `reset()`.
    pub const OPEN: u32 = 10;
    pub const CLOSE: u32 = 11;
    pub const SCORE: u32 = 12;
    pub const RESET: u32 = 13;
    /// A single-page app changed the URL (`pushState`, `replaceState`, `popstate`).
    pub const NAVIGATED: u32 = 14;
    /// An exit signal: `n` = 1 pointer left through the top edge, 2 fast scroll up, 3 tab
    /// hidden, 4 back navigation.
    pub const EXIT: u32 = 15;
    /// A click on a `data-lodestone-open` element: value = its campaign id.
    pub const CLICK_OPEN: u32 = 16;
    /// A click on a configured CTA: value = its name.
    pub const CTA: u32 = 17;
    pub const OUTBOUND: u32 = 18;
    /// `lodestone.track(value)`, `consent(n == 1)`.
    pub const TRACK: u32 = 19;
    pub const CONSENT: u32 = 20;
    /// Another tab of the site stored its history (a `storage` event); `n` = 1 when it erased it.
    pub const STORED_ELSEWHERE: u32 = 21;
    /// The page came back from the back-forward cache: a new view of it.
    pub const RESTORED: u32 = 22;
    /// The page is going away (`pagehide`).
    pub const LEAVING: u32 = 23;
    /// Lead delivery delivered or queued a lead of campaign `value`: `n` = 1 to remember the
    /// conversion, `m` = 1 to count it.
    pub const CONVERTED: u32 = 24;
}

/// Handles one page event (see `event`) with its string `value`; returns the score for
/// `SCORE`, whether a depth seen without scrolling counted for `SCROLLED`, else 0. A
/// re-entrant call (an event raised while another is handled) is dropped.
///
/// # Safety
///
/// `value` is 0 or a string the bootstrap wrote (see `host::take`).
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn on(kind: u32, n: u32, m: u32, value: *mut u8) -> i32 {
    // SAFETY: as the caller promises.
    let value = unsafe { take(value) };
    TRACKER.with(|t| {
        match kind {
            event::ANSWERED => {
                t.answered(n, m, &value.and_then(|j| value::parse(&j)).unwrap_or(value::Value::Null))
            }
            event::TICK => t.tick(n != 0),
            event::SCROLLED => return i32::from(t.scrolled(n, m == 0)),
            event::INTERACTED => t.interacted(),
            event::SHOWN => t.mounted(),
            event::SHOW_FAILED => t.mount_failed(),
            event::CLOSED => t.closed(&value.unwrap_or_default()),
            event::SUBMIT => t.submit(),
            event::OPEN => {
                if let Some(id) = value {
                    t.show(&id);
                }
            }
            event::CLOSE => t.close(),
            event::SCORE => return t.score(),
            event::RESET => t.reset(),
            event::NAVIGATED => t.navigated(),
            event::EXIT => t.exit_signal(n),
            event::CLICK_OPEN => t.click_open(&value.unwrap_or_default()),
            event::CTA => t.cta(value.unwrap_or_default()),
            event::OUTBOUND => t.outbound(),
            event::TRACK => t.track(value.unwrap_or_default()),
            event::CONSENT => t.consent(n == 1),
            event::STORED_ELSEWHERE => t.stored_elsewhere(n == 1),
            event::RESTORED => t.restored(),
            event::LEAVING => t.leaving(),
            event::CONVERTED => t.converted(&value.unwrap_or_default(), n == 1, m == 1),
            _ => {}
        }
        0
    })
}
