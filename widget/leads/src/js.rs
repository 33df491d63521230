//! The few JavaScript built-ins lead delivery reads plain objects with (the popup's answers,
//! the page, the server's answers), bound directly (the js-sys crate added kilobytes of
//! closure shims it never uses).

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Reflect, js_name = get, catch)]
    fn reflect_get(target: &JsValue, key: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = Object, js_name = getOwnPropertyDescriptor, catch)]
    fn own_property(target: &JsValue, key: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = Array, js_name = isArray)]
    fn is_array(value: &JsValue) -> bool;
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn json_parse(text: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = JSON, js_name = stringify, catch)]
    fn json_stringify(value: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn date_now() -> f64;
    #[wasm_bindgen(js_namespace = Math, js_name = random)]
    pub fn random() -> f64;
}

/// `obj[key]` when `key` is `obj`'s own data property, `undefined` otherwise: a page that
/// adds to `Object.prototype` (`Object.prototype.all = []`) does not change what a config or a
/// stored history says.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    match own_property(obj, &JsValue::from_str(key)) {
        Ok(found) if found.is_object() => {
            reflect_get(&found, &JsValue::from_str("value")).unwrap_or(JsValue::UNDEFINED)
        }
        _ => JsValue::UNDEFINED,
    }
}

pub fn get_str(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

/// `obj[key]` when it is a non-empty string.
pub fn opt_str(obj: &JsValue, key: &str) -> Option<String> {
    get_str(obj, key).filter(|s| !s.is_empty())
}

pub fn get_f64(obj: &JsValue, key: &str) -> Option<f64> {
    get(obj, key).as_f64()
}

pub fn get_u32(obj: &JsValue, key: &str) -> u32 {
    // A float cast saturates (NaN gives 0).
    get_f64(obj, key).map_or(0, |v| v as u32)
}

pub fn get_bool(obj: &JsValue, key: &str) -> Option<bool> {
    get(obj, key).as_bool()
}

/// The last `n` elements of `value` when it is an array: the newest of a most-recent-last list
/// read from storage, which someone else (an extension, a page script) may have filled.
pub fn newest(value: &JsValue, n: u32) -> impl Iterator<Item = JsValue> + '_ {
    let len = if is_array(value) { get_u32(value, "length") } else { 0 };
    (len.saturating_sub(n)..len)
        .map(move |i| reflect_get(value, &JsValue::from(i)).unwrap_or(JsValue::UNDEFINED))
}

/// Calls `f` with each of the last `n` elements of `value` when it is an array (see `newest`).
pub fn each(value: &JsValue, n: u32, f: &mut dyn FnMut(JsValue)) {
    for item in newest(value, n) {
        f(item);
    }
}

pub fn stringify(value: &JsValue) -> Option<String> {
    json_stringify(value).ok()?.as_string()
}

pub fn parse(text: &str) -> Option<JsValue> {
    json_parse(text).ok()
}

pub fn now() -> f64 {
    date_now()
}
