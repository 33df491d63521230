//! The clock and random numbers lead delivery reads from the page. (What it reads from the page
//! otherwise, the popup's answers, the page, the server's answers, comes as JSON text, read
//! with `widget_common::value` as the tracker reads it.)

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn date_now() -> f64;
    #[wasm_bindgen(js_namespace = Math, js_name = random)]
    pub fn random() -> f64;
}

pub fn now() -> f64 {
    date_now()
}
