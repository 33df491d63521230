//! The site config as the tracker needs it: the rules from the config's packed `rules`
//! (`funnel::packed`, written by the server), beside each campaign's JSON for the popup.

#[allow(unused_imports)]
use crate::prelude::*;

use funnel::config::Privacy;
use funnel::frequency::SiteFrequency;
use funnel::targeting::DeviceClass;
use funnel::{Campaign, ScoringRules};
use wasm_bindgen::JsValue;

use crate::js::{get, get_str, items};

/// What the tracker uses of a site's config.
pub struct Site {
    /// The rules the tracker evaluates, and beside them each campaign's raw JSON for the popup.
    pub campaigns: Vec<Campaign>,
    pub raw: Vec<JsValue>,
    pub scoring: ScoringRules,
    pub frequency: SiteFrequency,
    pub privacy: Privacy,
    /// `[{name, selector}]`, handed to the bootstrap's click listener as is.
    pub cta: JsValue,
}

/// A device class by its config (and bootstrap) name.
pub fn device(s: &str) -> DeviceClass {
    match s {
        "mobile" => DeviceClass::Mobile,
        "tablet" => DeviceClass::Tablet,
        _ => DeviceClass::Desktop,
    }
}

/// The campaigns, scoring, frequency and privacy rules of a site config, from its packed
/// `rules` (see `funnel::packed`). A config without rules that read (not Lodestone's: a
/// proxy's error page, an SPA's index.html) has no campaigns and fails closed: nothing is
/// stored until the page grants consent.
pub fn parse(config: &JsValue) -> Site {
    let rules = get_str(config, "rules").and_then(|r| funnel::packed::decode_rules(&r));
    let (campaigns, scoring, frequency, privacy) = match rules {
        Some(r) => (r.campaigns, r.scoring, r.frequency, r.privacy),
        None => (
            Vec::new(),
            ScoringRules::default(),
            SiteFrequency::default(),
            Privacy { honor_gpc: true, consent_mode: true },
        ),
    };
    Site {
        raw: items(&get(config, "campaigns")).collect(),
        campaigns,
        scoring,
        frequency,
        privacy,
        cta: get(config, "cta"),
    }
}
