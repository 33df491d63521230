//! The site config as the tracker needs it, read from the JSON the server sends into the
//! shared `funnel` types (copy fields stay in the raw JSON handed to the popup).

#[allow(unused_imports)]
use crate::prelude::*;

use funnel::conditions::{Condition, Leaf};
use funnel::config::{Caps, MatchRule, PageRule, Privacy, ScrollRule};
use funnel::frequency::{Frequency, SiteFrequency};
use funnel::targeting::{DeviceClass, Targeting, VisitorKind};
use funnel::{Campaign, ConsentSpec, ScoringRules};
use wasm_bindgen::JsValue;

use crate::js::{self, get, get_bool, get_f64, get_str, items};

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

fn opt_u32(v: &JsValue, key: &str) -> Option<u32> {
    get_f64(v, key).map(|n| n.clamp(0.0, u32::MAX as f64) as u32)
}

fn int(v: &JsValue, key: &str) -> Option<i32> {
    get_f64(v, key).map(|n| n as i32)
}

/// A device class by its config (and bootstrap) name.
pub fn device(s: &str) -> DeviceClass {
    match s {
        "mobile" => DeviceClass::Mobile,
        "tablet" => DeviceClass::Tablet,
        _ => DeviceClass::Desktop,
    }
}

/// A trigger tree: `{all: [...]}`, `{any: [...]}` or a one-key leaf. Unknown leaves never hold.
fn condition(v: &JsValue) -> Condition {
    let all = get(v, "all");
    if !all.is_undefined() {
        return Condition::All { all: items(&all).map(|c| condition(&c)).collect() };
    }
    let any = get(v, "any");
    if !any.is_undefined() {
        return Condition::Any { any: items(&any).map(|c| condition(&c)).collect() };
    }
    let n = |k| opt_u32(v, k);
    let s = |k| get_str(v, k);
    let leaf = n("delay_seconds")
        .map(Leaf::DelaySeconds)
        .or_else(|| n("time_on_site_seconds").map(Leaf::TimeOnSiteSeconds))
        .or_else(|| n("scroll_percent").map(|p| Leaf::ScrollPercent(p.min(100) as u8)))
        .or_else(|| get_bool(v, "exit_intent").map(Leaf::ExitIntent))
        .or_else(|| n("inactive_seconds").map(Leaf::InactiveSeconds))
        .or_else(|| s("click").map(Leaf::Click))
        .or_else(|| n("min_page_views").map(Leaf::MinPageViews))
        .or_else(|| n("min_visits").map(Leaf::MinVisits))
        .or_else(|| int(v, "min_score").map(Leaf::MinScore))
        .or_else(|| s("event").map(Leaf::Event));
    leaf.map_or(Condition::Any { any: Vec::new() }, Condition::Leaf)
}

fn targeting(t: &JsValue) -> Targeting {
    let time = |k| get_f64(t, k).map(|v| v as i64);
    Targeting {
        include: js::strings(&get(t, "include"), u32::MAX),
        exclude: js::strings(&get(t, "exclude"), u32::MAX),
        referrer: get_str(t, "referrer"),
        utm_source: get_str(t, "utm_source"),
        utm_campaign: get_str(t, "utm_campaign"),
        devices: items(&get(t, "devices")).filter_map(|d| d.as_string()).map(|d| device(&d)).collect(),
        visitor: get_str(t, "visitor")
            .map(|v| if v == "new" { VisitorKind::New } else { VisitorKind::Returning }),
        converted: get_bool(t, "converted"),
        sample_percent: opt_u32(t, "sample_percent").map(|p| p.min(100) as u8),
        starts_at: time("starts_at"),
        ends_at: time("ends_at"),
    }
}

fn campaign(raw: &JsValue) -> Option<Campaign> {
    let c = get(raw, "consent");
    let f = get(raw, "frequency");
    Some(Campaign {
        priority: int(raw, "priority").unwrap_or(0),
        consent: ConsentSpec {
            required: get_bool(&c, "required").unwrap_or(true),
            // The server always sends both; no fallback copy is shipped in the tracker.
            text: get_str(&c, "text").unwrap_or_default(),
            version: get_str(&c, "version").unwrap_or_default(),
        },
        targeting: targeting(&get(raw, "targeting")),
        trigger: condition(&get(raw, "trigger")),
        frequency: Frequency {
            after_close_days: opt_u32(&f, "after_close_days").unwrap_or(7),
            after_conversion_days: opt_u32(&f, "after_conversion_days"),
            max_per_session: opt_u32(&f, "max_per_session"),
        },
        ..Campaign::new(&get_str(raw, "id")?)
    })
}

fn match_rules(v: &JsValue) -> Vec<MatchRule> {
    items(v)
        .filter_map(|r| Some(MatchRule { pattern: get_str(&r, "pattern")?, points: int(&r, "points")? }))
        .collect()
}

fn scoring(s: &JsValue) -> ScoringRules {
    let d = ScoringRules::default();
    let caps = get(s, "caps");
    let scroll = get(s, "scroll");
    ScoringRules {
        page_view: int(s, "page_view").unwrap_or(d.page_view),
        engaged_minute: int(s, "engaged_minute").unwrap_or(d.engaged_minute),
        return_visit: int(s, "return_visit").unwrap_or(d.return_visit),
        cta_click: int(s, "cta_click").unwrap_or(d.cta_click),
        scroll: if scroll.is_undefined() {
            d.scroll
        } else {
            items(&scroll)
                .filter_map(|r| {
                    Some(ScrollRule {
                        percent: opt_u32(&r, "percent")?.min(100) as u8,
                        points: int(&r, "points")?,
                    })
                })
                .collect()
        },
        pages: items(&get(s, "pages"))
            .filter_map(|p| Some(PageRule { path: get_str(&p, "path")?, points: int(&p, "points")? }))
            .collect(),
        referrers: match_rules(&get(s, "referrers")),
        utm_sources: match_rules(&get(s, "utm_sources")),
        utm_campaigns: match_rules(&get(s, "utm_campaigns")),
        caps: Caps {
            page_views: int(&caps, "page_views"),
            engaged_minutes: int(&caps, "engaged_minutes"),
            cta_clicks: int(&caps, "cta_clicks"),
        },
        half_life_days: opt_u32(s, "half_life_days"),
        max: int(s, "max").unwrap_or(d.max),
    }
}

/// The campaigns, scoring, frequency and privacy rules of a site config.
pub fn parse(config: &JsValue) -> Site {
    let p = get(config, "privacy");
    let (campaigns, raw) =
        items(&get(config, "campaigns")).filter_map(|raw| Some((campaign(&raw)?, raw))).unzip();
    Site {
        campaigns,
        raw,
        scoring: scoring(&get(config, "scoring")),
        frequency: SiteFrequency {
            global_cooldown_seconds: opt_u32(&get(config, "frequency"), "global_cooldown_seconds")
                .unwrap_or(0),
        },
        privacy: Privacy {
            honor_gpc: get_bool(&p, "honor_gpc").unwrap_or(true),
            // Fails closed: a config that is not Lodestone's (a proxy's error page, an SPA's
            // index.html) stores nothing until the page grants consent.
            consent_mode: get_bool(&p, "consent_mode").unwrap_or(true),
        },
        cta: get(config, "cta"),
    }
}
