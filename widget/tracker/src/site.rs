//! The site config as the tracker needs it, read from the JSON the server sends into the
//! shared `funnel` types (copy fields stay in the raw JSON handed to the popup).

use funnel::config::{PageRule, Trigger};
use funnel::{Campaign, ConsentSpec, ScoringRules, Success};
use wasm_bindgen::JsValue;

use crate::js::{get, get_bool, get_f64, get_str, get_u32, items};

/// One campaign: the rules the tracker evaluates, and its raw JSON for the popup.
pub struct SiteCampaign {
    pub rules: Campaign,
    pub raw: JsValue,
}

fn opt_u32(v: &JsValue, key: &str) -> Option<u32> {
    get_f64(v, key).map(|n| n.clamp(0.0, u32::MAX as f64) as u32)
}

fn campaign(raw: JsValue) -> Option<SiteCampaign> {
    let t = get(&raw, "trigger");
    let c = get(&raw, "consent");
    let rules = Campaign {
        id: get_str(&raw, "id")?,
        display: funnel::Display::Modal,
        priority: get_f64(&raw, "priority").unwrap_or(0.0) as i32,
        headline: String::new(),
        body: String::new(),
        button_label: String::new(),
        ask_name: false,
        consent: ConsentSpec {
            required: get_bool(&c, "required").unwrap_or(true),
            // The server always sends both; no fallback copy is shipped in the tracker.
            text: get_str(&c, "text").unwrap_or_default(),
            version: get_str(&c, "version").unwrap_or_default(),
        },
        success: Success { message: String::new(), lead_magnet_url: None, thank_you_url: None },
        trigger: Trigger {
            delay_seconds: opt_u32(&t, "delay_seconds"),
            scroll_percent: opt_u32(&t, "scroll_percent").map(|p| p.min(100) as u8),
            min_page_views: opt_u32(&t, "min_page_views"),
            min_score: get_f64(&t, "min_score").map(|s| s as i32),
        },
        cooldown_days: opt_u32(&raw, "cooldown_days").unwrap_or(7),
    };
    Some(SiteCampaign { rules, raw })
}

/// The campaigns and scoring rules of a site config.
pub fn parse(config: &JsValue) -> (Vec<SiteCampaign>, ScoringRules) {
    let campaigns = items(&get(config, "campaigns")).filter_map(campaign).collect();
    let s = get(config, "scoring");
    let d = ScoringRules::default();
    let int = |key: &str, default: i32| get_f64(&s, key).map_or(default, |v| v as i32);
    let scoring = ScoringRules {
        page_view: int("page_view", d.page_view),
        engaged_minute: int("engaged_minute", d.engaged_minute),
        return_visit: int("return_visit", d.return_visit),
        deep_scroll: int("deep_scroll", d.deep_scroll),
        cta_click: int("cta_click", d.cta_click),
        pages: items(&get(&s, "pages"))
            .filter_map(|p| {
                Some(PageRule { path: get_str(&p, "path")?, points: get_u32(&p, "points") as i32 })
            })
            .collect(),
        max: int("max", d.max),
    };
    (campaigns, scoring)
}
