//! The bootstrap's host object as lead delivery uses it: storage for the queue, the requests
//! that send leads, and what it tells the page (the popup's form, the tracker, page scripts).

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    pub type Host;

    #[wasm_bindgen(method)]
    pub fn load(this: &Host, key: &str) -> Option<String>;
    #[wasm_bindgen(method)]
    pub fn save(this: &Host, key: &str, value: &str);
    #[wasm_bindgen(method)]
    pub fn erase(this: &Host, key: &str);
    /// `text/plain` POST; the answer comes back through `on(ANSWERED, tag, status, json)`.
    #[wasm_bindgen(method)]
    pub fn post(this: &Host, tag: u32, url: &str, body: &str);
    /// Resolves (`ok`) or rejects the popup's pending submit with the JSON `value`, if the form
    /// on screen still waits for submission `id`.
    #[wasm_bindgen(method)]
    pub fn settled(this: &Host, id: &str, ok: bool, value: &str);
    /// Tells the tracker of a conversion on `campaign`: `remember` it for the campaign's
    /// frequency rules, `count` it (the anonymous conversion counter).
    #[wasm_bindgen(method)]
    pub fn converted(this: &Host, campaign: &str, remember: bool, count: bool);
    /// Dispatches a `CustomEvent` on `window` with the JSON `detail`, after the current call returns.
    #[wasm_bindgen(method)]
    pub fn emit(this: &Host, name: &str, detail: &str);
}
