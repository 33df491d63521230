//! The copy and form settings of the campaign to render, read from the JSON the tracker hands
//! over (the site config's entry for this campaign).

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// What the popup shows.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub headline: String,
    pub body: String,
    pub button_label: String,
    pub ask_name: bool,
    pub consent_required: bool,
    pub consent_text: String,
    pub success_message: String,
    pub lead_magnet_url: Option<String>,
    pub words: Words,
    /// The campaign's language tag (the server checked its shape), if it declares one.
    pub lang: Option<String>,
    /// `ltr`, `rtl` or `auto` (anything else reads as `auto`).
    pub dir: &'static str,
}

/// The popup's own words around the campaign's copy: the campaign's `text`, each entry not
/// set in English.
#[derive(Debug, Clone, Default)]
pub struct Words {
    pub email: String,
    pub name: String,
    pub optional: String,
    /// The refusals, set only by the campaign: otherwise the shared validation's own message
    /// (the one the server gives too) shows.
    pub email_required: Option<String>,
    pub email_invalid: Option<String>,
    pub consent_required: Option<String>,
    pub error: Option<String>,
    pub unsent: String,
    pub download: String,
    pub close: String,
    /// The keys of the words above left to their English defaults, to be marked as English
    /// (a screen reader then speaks them as such in a campaign, or on a page, in another
    /// language).
    pub english: Vec<&'static str>,
}

impl Words {
    fn parse(text: &JsValue) -> Self {
        let set = |key: &str| own(text, key).as_string().filter(|w| !w.trim().is_empty());
        let mut english = Vec::new();
        let mut word = |key: &'static str, default: &str| {
            set(key).unwrap_or_else(|| {
                english.push(key);
                default.into()
            })
        };
        Self {
            email: word("email", "Email"),
            name: word("name", "Name"),
            optional: word("optional", "(optional)"),
            email_required: set("email_required"),
            email_invalid: set("email_invalid"),
            consent_required: set("consent_required"),
            error: set("error"),
            unsent: word(
                "unsent",
                "We could not reach the server just now: your details are saved in this browser and will be sent automatically.",
            ),
            download: word("download", "Download now"),
            close: word("close", "Close"),
            english,
        }
    }
}

/// `obj[key]` when `key` is `obj`'s own property, `undefined` otherwise: a page that adds to
/// `Object.prototype` (`Object.prototype.lead_magnet_url = ...`) does not add to the popup.
/// (The JSON parsed here has data properties only, so a descriptor always holds `value`.)
pub fn own(obj: &JsValue, key: &str) -> JsValue {
    // `is_object`, not `instanceof Object`, which a page can redefine.
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    let obj = obj.unchecked_ref::<Object>();
    match Reflect::get_own_property_descriptor(obj, &JsValue::from_str(key)) {
        Ok(found) if found.is_object() => {
            Reflect::get(&found, &JsValue::from_str("value")).unwrap_or(JsValue::UNDEFINED)
        }
        _ => JsValue::UNDEFINED,
    }
}

fn text(obj: &JsValue, key: &str) -> String {
    own(obj, key).as_string().unwrap_or_default()
}

/// Only `http(s)` links (or paths) are rendered as links: a `javascript:` URL in a config is refused.
fn safe_url(url: String) -> Option<String> {
    funnel::validate::is_link(&url).then_some(url)
}

impl View {
    pub fn parse(json: &str) -> Option<Self> {
        let c = js_sys::JSON::parse(json).ok().filter(|c| c.is_object())?;
        let consent = own(&c, "consent");
        let success = own(&c, "success");
        Some(Self {
            headline: text(&c, "headline"),
            body: text(&c, "body"),
            button_label: text(&c, "button_label"),
            ask_name: own(&c, "ask_name").as_bool().unwrap_or(false),
            consent_required: own(&consent, "required").as_bool().unwrap_or(true),
            consent_text: text(&consent, "text"),
            success_message: text(&success, "message"),
            lead_magnet_url: own(&success, "lead_magnet_url").as_string().and_then(safe_url),
            words: Words::parse(&own(&c, "text")),
            lang: own(&c, "lang").as_string(),
            dir: match own(&c, "dir").as_string().as_deref() {
                Some("ltr") => "ltr",
                Some("rtl") => "rtl",
                _ => "auto",
            },
        })
    }
}
