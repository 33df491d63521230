//! The page-side host the bootstrap (`host.js`) gives the tracker: every effect on the page
//! (storage, network, listeners, the popup, DOM events) goes through these few imports, and
//! strings cross as UTF-8 in the module's memory. The tracker binds them itself, without
//! wasm-bindgen: its glue and the module's JS-value table were over a kilobyte of every page's
//! download.
//!
//! Strings to the page are (pointer, length) pairs of the tracker's own memory. Strings from
//! the page are written by the bootstrap into memory it asks [`alloc`] for: a little-endian
//! `u32` length, then the bytes (see [`take`]); 0 is no string.
//!
//! Unsafe code is here (the imports' declarations, taking over the memory the bootstrap filled)
//! and in `lib.rs`'s two exports, which take such memory.
#![allow(unsafe_code)]

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::alloc::{Layout, alloc as allocate, dealloc};

use crate::value::{self, Value};
use widget_common::utf8::is_utf8;

#[link(wasm_import_module = "h")]
unsafe extern "C" {
    // SAFETY (all): the bootstrap's functions only read the strings they are given, within
    // their lengths, and return 0 or a string written as `take` reads it.
    // (One-letter names: every visitor downloads each twice, here and in the bootstrap.)
    #[link_name = "a"]
    safe fn now() -> f64;
    #[link_name = "b"]
    safe fn random() -> f64;
    /// `{path, title, href, host, referrer, referrer_host, utm: {...}, device, gpc, dnt}` of
    /// the current page, as JSON.
    #[link_name = "c"]
    safe fn page() -> *mut u8;
    #[link_name = "d"]
    safe fn load(key: *const u8, key_len: usize) -> *mut u8;
    #[link_name = "e"]
    safe fn save(key: *const u8, key_len: usize, value: *const u8, value_len: usize);
    #[link_name = "f"]
    safe fn erase(key: *const u8, key_len: usize);
    #[link_name = "g"]
    safe fn beacon(url: *const u8, url_len: usize, body: *const u8, body_len: usize);
    #[link_name = "h"]
    safe fn send(tag: u32, url: *const u8, url_len: usize);
    #[link_name = "i"]
    safe fn listen();
    #[link_name = "j"]
    safe fn prefetch();
    #[link_name = "k"]
    safe fn show(id: *const u8, id_len: usize);
    #[link_name = "l"]
    safe fn hide();
    #[link_name = "m"]
    safe fn emit(name: *const u8, name_len: usize, detail: *const u8, detail_len: usize);
    #[link_name = "n"]
    safe fn settle(ok: u32, value: *const u8, value_len: usize);
    #[link_name = "o"]
    safe fn mark(name: *const u8, name_len: usize);
    #[link_name = "p"]
    safe fn deliver(campaign: *const u8, campaign_len: usize, history: *const u8, history_len: usize);
    #[link_name = "q"]
    safe fn flush();
    #[cfg(feature = "debug")]
    #[link_name = "r"]
    safe fn debug(report: *const u8, report_len: usize);
}

/// Memory for `size` bytes the bootstrap writes a string into (see [`take`]); null for none.
#[unsafe(no_mangle)]
pub extern "C" fn alloc(size: usize) -> *mut u8 {
    match Layout::from_size_align(size, 1) {
        // SAFETY: the layout's size is not zero.
        Ok(layout) if size > 0 => unsafe { allocate(layout) },
        _ => core::ptr::null_mut(),
    }
}

/// The string the bootstrap wrote at `at`, whose memory it hands over; `None` for 0 (and for
/// bytes that are not UTF-8).
///
/// # Safety
///
/// `at` is 0, or memory of `4 + len` bytes from [`alloc`] holding a little-endian `u32` `len`
/// and then `len` bytes, which nothing else refers to: what the bootstrap's `put` writes.
pub unsafe fn take(at: *mut u8) -> Option<String> {
    if at.is_null() {
        return None;
    }
    // SAFETY: as the caller promises, `at` holds the length and then the bytes, `4 + len`
    // bytes from `alloc` (align 1), ours from now on.
    unsafe {
        let mut len = [0u8; 4];
        core::ptr::copy_nonoverlapping(at, len.as_mut_ptr(), 4);
        let len = u32::from_le_bytes(len) as usize;
        let size = len.checked_add(4)?;
        let bytes = core::slice::from_raw_parts(at.add(4), len);
        // (Checked by `is_utf8`, a smaller validator than `core::str::from_utf8`'s.)
        let text = is_utf8(bytes).then(|| core::str::from_utf8_unchecked(bytes).to_owned());
        dealloc(at, Layout::from_size_align_unchecked(size, 1));
        text
    }
}

/// The host's effects, as methods (the tracker holds one; it has no state of its own).
pub struct Host;

impl Host {
    /// The current page's description (`Null` when it could not be read).
    pub fn page(&self) -> Value {
        // SAFETY: the import answers 0 or what the bootstrap's `put` wrote.
        let json = unsafe { take(page()) };
        json.and_then(|json| value::parse(&json)).unwrap_or(Value::Null)
    }

    pub fn load(&self, key: &str) -> Option<String> {
        // SAFETY: as in `page`.
        unsafe { take(load(key.as_ptr(), key.len())) }
    }

    pub fn save(&self, key: &str, value: &str) {
        save(key.as_ptr(), key.len(), value.as_ptr(), value.len());
    }

    pub fn erase(&self, key: &str) {
        erase(key.as_ptr(), key.len());
    }

    /// Fire-and-forget `text/plain` POST (anonymous counters).
    pub fn beacon(&self, url: &str, body: &str) {
        beacon(url.as_ptr(), url.len(), body.as_ptr(), body.len());
    }

    /// GET; the answer comes back through `on(ANSWERED, tag, status, json)`.
    pub fn send(&self, tag: u32, url: &str) {
        send(tag, url.as_ptr(), url.len());
    }

    /// Starts the scroll, interaction, click, exit-intent, navigation and one-second tick
    /// listeners (the CTA selectors it reads from the site config it kept).
    pub fn listen(&self) {
        listen();
    }

    /// Loads the popup module when the browser is idle.
    pub fn prefetch(&self) {
        prefetch();
    }

    /// Loads the popup module and mounts campaign `id` of the site config it kept (its copy is
    /// read there); `SHOWN` or `SHOW_FAILED` follows.
    pub fn show(&self, id: &str) {
        show(id.as_ptr(), id.len());
    }

    pub fn hide(&self) {
        hide();
    }

    /// Dispatches a `CustomEvent` on `window` with the JSON `detail`, after the current call returns.
    pub fn emit(&self, name: &str, detail: &str) {
        emit(name.as_ptr(), name.len(), detail.as_ptr(), detail.len());
    }

    /// Resolves (or rejects) the popup's pending submit with the JSON `value`.
    pub fn settle(&self, ok: bool, value: &str) {
        settle(ok.into(), value.as_ptr(), value.len());
    }

    pub fn mark(&self, name: &str) {
        mark(name.as_ptr(), name.len());
    }

    /// Hands the popup's submit on campaign `campaign` to lead delivery, with the visitor's
    /// history (JSON, as stored) for the lead's signals and score, loading its module if need
    /// be; delivery settles the popup's submit and reports the conversion (`CONVERTED`).
    pub fn deliver(&self, campaign: &str, history: &str) {
        deliver(campaign.as_ptr(), campaign.len(), history.as_ptr(), history.len());
    }

    /// Has lead delivery send the queued leads that are due, if the browser holds any (its
    /// module is loaded only then).
    pub fn flush(&self) {
        flush();
    }

    /// Renders the debug overlay from the engine's JSON report (loads its module the first time).
    #[cfg(feature = "debug")]
    pub fn debug(&self, report: &str) {
        debug(report.as_ptr(), report.len());
    }
}

/// The clock (ms since the epoch) and the random numbers the page has.
pub mod js {
    pub fn now() -> f64 {
        super::now()
    }

    pub fn random() -> f64 {
        super::random()
    }
}
