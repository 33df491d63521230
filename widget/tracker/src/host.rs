//! The page-side host object the bootstrap (`host.js`) hands to the tracker: every effect on
//! the page (storage, network, listeners, the popup, DOM events) goes through these few
//! methods, so the wasm module imports a dozen functions instead of a hundred web-sys bindings.

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    pub type Host;

    /// `{path, title, href, host, referrer, referrer_host, utm: {...}, device, gpc, dnt}`
    /// of the current page.
    #[wasm_bindgen(method)]
    pub fn page(this: &Host) -> JsValue;
    #[wasm_bindgen(method)]
    pub fn load(this: &Host, key: &str) -> Option<String>;
    #[wasm_bindgen(method)]
    pub fn save(this: &Host, key: &str, value: &str);
    #[wasm_bindgen(method)]
    pub fn erase(this: &Host, key: &str);
    /// Fire-and-forget `text/plain` POST (anonymous counters).
    #[wasm_bindgen(method)]
    pub fn beacon(this: &Host, url: &str, body: &str);
    /// GET; the answer comes back through `on(ANSWERED, tag, status, json)`.
    #[wasm_bindgen(method)]
    pub fn send(this: &Host, tag: u32, url: &str);
    /// Starts the scroll, interaction, click, exit-intent, navigation and one-second tick
    /// listeners (the CTA selectors it reads from the site config it kept).
    #[wasm_bindgen(method)]
    pub fn listen(this: &Host);
    /// Loads the popup module when the browser is idle.
    #[wasm_bindgen(method)]
    pub fn prefetch(this: &Host);
    /// Loads the popup module and mounts campaign `id` of the site config it kept (its copy is
    /// read there); `shown()` or `show_failed()` follows.
    #[wasm_bindgen(method)]
    pub fn show(this: &Host, id: &str);
    #[wasm_bindgen(method)]
    pub fn hide(this: &Host);
    /// Dispatches a `CustomEvent` on `window` with the JSON `detail`, after the current call returns.
    #[wasm_bindgen(method)]
    pub fn emit(this: &Host, name: &str, detail: &str);
    /// Resolves (or rejects) the popup's pending submit with the JSON `value`.
    #[wasm_bindgen(method)]
    pub fn settle(this: &Host, ok: bool, value: &str);
    /// Hands the popup's submit on campaign `campaign` to lead delivery, with the visitor's
    /// history (JSON, as stored) for the lead's signals and score, loading its module if need
    /// be; delivery settles the popup's submit and reports the conversion (`CONVERTED`).
    #[wasm_bindgen(method)]
    pub fn deliver(this: &Host, campaign: &str, history: &str);
    /// Has lead delivery send the queued leads that are due, if the browser holds any (its
    /// module is loaded only then).
    #[wasm_bindgen(method)]
    pub fn flush(this: &Host);
    #[wasm_bindgen(method)]
    pub fn mark(this: &Host, name: &str);
    /// Renders the debug overlay from the engine's JSON report (loads its module the first time).
    #[cfg(feature = "debug")]
    #[wasm_bindgen(method)]
    pub fn debug(this: &Host, report_json: &str);
}
