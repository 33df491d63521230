//! Site and campaign configuration: what a marketer writes in `lodestone.toml` and what the
//! widget receives from `GET /v1/sites/{site}/config`.
//!
//! Unknown keys are rejected so a typo in the config file is named instead of silently ignored.

#[allow(unused_imports)]
use crate::prelude::*;

use serde::{Deserialize, Serialize};

use crate::conditions::Condition;
use crate::frequency::{Frequency, SiteFrequency};
use crate::targeting::Targeting;

/// The part of a site's configuration the widget needs: its campaigns and scoring rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub site: String,
    #[serde(default)]
    pub campaigns: Vec<Campaign>,
    #[serde(default)]
    pub scoring: ScoringRules,
    /// Rules across the site's campaigns (a cooldown between any two popups).
    #[serde(default)]
    pub frequency: SiteFrequency,
    /// Elements whose clicks count as CTA clicks and can trigger campaigns (`click` leaf).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cta: Vec<CtaSelector>,
    #[serde(default)]
    pub privacy: Privacy,
}

/// A named CTA: clicks on elements matching `selector` (or inside one) count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtaSelector {
    pub name: String,
    pub selector: String,
}

/// What the tracker may keep in the visitor's browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Privacy {
    /// With Global Privacy Control or Do-Not-Track on, store nothing and decide from the
    /// current page's signals only.
    #[serde(default = "yes")]
    pub honor_gpc: bool,
    /// Store nothing until the page calls `lodestone.consent(true)`.
    #[serde(default)]
    pub consent_mode: bool,
}

impl Default for Privacy {
    fn default() -> Self {
        Self { honor_gpc: true, consent_mode: false }
    }
}

impl SiteConfig {
    pub fn campaign(&self, id: &str) -> Option<&Campaign> {
        self.campaigns.iter().find(|c| c.id == id)
    }
}

/// One lead-capture campaign: its copy, form, consent, trigger and frequency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub id: String,
    #[serde(default)]
    pub display: Display,
    /// Higher wins when several campaigns are eligible at once.
    #[serde(default)]
    pub priority: i32,
    pub headline: String,
    #[serde(default)]
    pub body: String,
    #[serde(default = "default_button_label")]
    pub button_label: String,
    /// Show an optional name input beside the email.
    #[serde(default)]
    pub ask_name: bool,
    #[serde(default)]
    pub consent: ConsentSpec,
    #[serde(default)]
    pub success: Success,
    /// Who and where: URL, referrer, UTM, device, new or returning, sampling, dates.
    #[serde(default)]
    pub targeting: Targeting,
    /// When: a condition tree over the visitor's signals; none set means at once.
    #[serde(default = "at_once")]
    pub trigger: Condition,
    /// How often: after a close, after a conversion, per session.
    #[serde(default)]
    pub frequency: Frequency,
    /// The popup's own words (labels, messages), for campaigns not in English.
    #[serde(default, skip_serializing_if = "InterfaceText::is_empty")]
    pub text: InterfaceText,
    /// The language of the campaign's words, a BCP 47 tag like `fr` or `pt-BR`, declared on
    /// the popup so screen readers speak them in it; unset, the page's language applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// The popup's text direction; `auto` (the default) follows the headline's first letter.
    #[serde(default, skip_serializing_if = "TextDirection::is_auto")]
    pub dir: TextDirection,
}

/// A campaign's text direction, as HTML's `dir` attribute takes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextDirection {
    /// From the first strong character of the text (HTML's `dir="auto"`).
    #[default]
    Auto,
    /// Left to right, whatever the text begins with.
    Ltr,
    /// Right to left, whatever the text begins with (a headline opening with a brand name in
    /// Latin letters, say).
    Rtl,
}

impl TextDirection {
    /// Whether this is the default, `auto`.
    pub fn is_auto(&self) -> bool {
        *self == Self::Auto
    }
}

/// Whether the language tag `tag` names English (`en`, `en-GB`, any letter case).
pub fn is_english(tag: &str) -> bool {
    tag.split('-').next().is_some_and(|primary| primary.eq_ignore_ascii_case("en"))
}

/// Whether `tag` is shaped like a BCP 47 language tag: subtags of 1-8 ASCII letters or digits
/// joined by `-`, the first a language code of 2 or 3 letters (not a name: `English` is
/// refused), at most 35 characters in all (`fr`, `pt-BR`,
/// `zh-Hant-TW`, `sr-Latn`).
pub fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let first_ok = subtags
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && tag.len() <= 35
        && subtags.all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The words of the popup around the campaign's copy. Each is optional: the popup's English
/// default stands in for any not set (shown after each field).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceText {
    /// The email field's label: "Email".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The name field's label: "Name".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Beside the name label: "(optional)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<String>,
    /// No email given: "Please enter your email address."
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_required: Option<String>,
    /// Not an email address: "Please enter a valid email address, like name@example.com."
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_invalid: Option<String>,
    /// Consent required and not given: "Please tick the box to agree before continuing."
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_required: Option<String>,
    /// A refusal naming neither the email nor the consent (the anti-spam field filled, the
    /// browser refusing to keep the lead); unset, the server's own message shows. A server that
    /// cannot be reached, is busy (408, 429) or fails (5xx) is no refusal: the lead is kept and
    /// sent later, and the success view shows `unsent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Success view, the server not reached and the lead kept to send later: "We could not
    /// reach the server just now: your details are saved in this browser and will be sent
    /// automatically."
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsent: Option<String>,
    /// The lead magnet's link: "Download now".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<String>,
    /// The close button's accessible name: "Close".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close: Option<String>,
}

impl InterfaceText {
    /// Whether no text is set (the popup's defaults throughout).
    pub fn is_empty(&self) -> bool {
        self.entries().iter().all(|(_, v)| v.is_none())
    }

    /// Every entry by its config key, in a fixed order (for checks).
    pub fn entries(&self) -> [(&'static str, Option<&str>); 10] {
        [
            ("email", self.email.as_deref()),
            ("name", self.name.as_deref()),
            ("optional", self.optional.as_deref()),
            ("email_required", self.email_required.as_deref()),
            ("email_invalid", self.email_invalid.as_deref()),
            ("consent_required", self.consent_required.as_deref()),
            ("error", self.error.as_deref()),
            ("unsent", self.unsent.as_deref()),
            ("download", self.download.as_deref()),
            ("close", self.close.as_deref()),
        ]
    }
}

impl Campaign {
    /// A campaign with default copy, consent, targeting, trigger (at once) and frequency.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.into(),
            display: Display::Modal,
            priority: 0,
            headline: String::new(),
            body: String::new(),
            button_label: default_button_label(),
            ask_name: false,
            consent: ConsentSpec::default(),
            success: Success::default(),
            targeting: Targeting::default(),
            trigger: at_once(),
            frequency: Frequency::default(),
            text: InterfaceText::default(),
            lang: None,
            dir: TextDirection::Auto,
        }
    }
}

fn at_once() -> Condition {
    Condition::All { all: Vec::new() }
}

fn default_button_label() -> String {
    "Send it to me".into()
}

/// How a campaign is displayed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Display {
    #[default]
    Modal,
}

/// The consent checkbox: whether it is required, and the exact text and version recorded with a lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentSpec {
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default = "default_consent_text")]
    pub text: String,
    #[serde(default = "default_consent_version")]
    pub version: String,
}

fn yes() -> bool {
    true
}

fn default_consent_text() -> String {
    "I agree to receive emails from this site. I can unsubscribe at any time.".into()
}

fn default_consent_version() -> String {
    "1".into()
}

impl Default for ConsentSpec {
    fn default() -> Self {
        Self { required: true, text: default_consent_text(), version: default_consent_version() }
    }
}

/// What the visitor gets after converting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "SuccessFields")]
pub struct Success {
    /// By default, a download's or a sign-up's thanks, as the campaign offers one or not.
    pub message: String,
    /// The lead magnet: a link shown on the success view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_magnet_url: Option<String>,
    /// Where a plain HTML form (no JavaScript) is redirected after a successful post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thank_you_url: Option<String>,
}

const SIGNED_UP: &str = "Thanks! You're signed up.";

/// `success` as written: the message may be left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuccessFields {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    lead_magnet_url: Option<String>,
    #[serde(default)]
    thank_you_url: Option<String>,
}

impl From<SuccessFields> for Success {
    fn from(f: SuccessFields) -> Self {
        // No download is promised where the campaign offers none.
        let default = if f.lead_magnet_url.is_some() { "Thanks! Your download is ready." } else { SIGNED_UP };
        Self {
            message: f.message.unwrap_or_else(|| default.into()),
            lead_magnet_url: f.lead_magnet_url,
            thank_you_url: f.thank_you_url,
        }
    }
}

impl Default for Success {
    fn default() -> Self {
        Self { message: SIGNED_UP.into(), lead_magnet_url: None, thank_you_url: None }
    }
}

/// Points the engagement score gives per signal. Integer arithmetic only, so the browser and
/// the server compute the same total bit for bit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringRules {
    #[serde(default = "points_2")]
    pub page_view: i32,
    #[serde(default = "points_3")]
    pub engaged_minute: i32,
    #[serde(default = "points_5")]
    pub return_visit: i32,
    #[serde(default = "points_5")]
    pub cta_click: i32,
    /// Points once the visitor has scrolled at least `percent` of a page (each threshold once).
    #[serde(default = "default_scroll")]
    pub scroll: Vec<ScrollRule>,
    /// Points for having viewed a page whose path matches a pattern (`/pricing*`).
    #[serde(default)]
    pub pages: Vec<PageRule>,
    /// Points for having arrived from a referrer host matching a pattern (`*.google.*`).
    #[serde(default)]
    pub referrers: Vec<MatchRule>,
    #[serde(default)]
    pub utm_sources: Vec<MatchRule>,
    #[serde(default)]
    pub utm_campaigns: Vec<MatchRule>,
    /// Upper bounds of what page views, engaged minutes and CTA clicks can earn.
    #[serde(default)]
    pub caps: Caps,
    /// Activity (page views, engaged minutes, CTA clicks) loses half its points every this
    /// many days; none set means no decay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_life_days: Option<u32>,
    /// Upper bound of the total.
    #[serde(default = "points_100")]
    pub max: i32,
}

fn points_2() -> i32 {
    2
}
fn points_3() -> i32 {
    3
}
fn points_5() -> i32 {
    5
}
fn points_100() -> i32 {
    100
}
fn default_scroll() -> Vec<ScrollRule> {
    vec![ScrollRule { percent: 75, points: 5 }]
}

impl Default for ScoringRules {
    fn default() -> Self {
        Self {
            page_view: 2,
            engaged_minute: 3,
            return_visit: 5,
            cta_click: 5,
            scroll: default_scroll(),
            pages: Vec::new(),
            referrers: Vec::new(),
            utm_sources: Vec::new(),
            utm_campaigns: Vec::new(),
            caps: Caps::default(),
            half_life_days: None,
            max: 100,
        }
    }
}

/// Points for having viewed a page whose path matches `path` (a glob: `*` is any text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRule {
    pub path: String,
    pub points: i32,
}

impl PageRule {
    pub fn matches(&self, path: &str) -> bool {
        crate::targeting::glob_match(&self.path, path)
    }
}

/// Points for a scroll depth reached on any page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrollRule {
    pub percent: u8,
    pub points: i32,
}

/// Points when a value (a referrer host, a UTM source or campaign) matches a glob pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    pub pattern: String,
    pub points: i32,
}

/// Per-component caps, in points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_views: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engaged_minutes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cta_clicks: Option<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_are_told_from_other_text() {
        for tag in ["fr", "pt-BR", "zh-Hant-TW", "sr-Latn", "es-419", "de-CH-1996", "haw"] {
            assert!(is_language_tag(tag), "{tag}");
        }
        assert!(is_english("en") && is_english("EN-gb") && !is_english("eng") && !is_english("fr-en"));
        let long = format!("en-{}", ["abcdefgh"; 4].join("-"));
        for tag in [
            "",
            "f",
            "1a",
            "fr_FR",
            "fr-",
            "-fr",
            "en--GB",
            "fr FR",
            "en-abcdefghi",
            "fr\"",
            long.as_str(),
            "English",
            "fran",
        ] {
            assert!(!is_language_tag(tag), "{tag}");
        }
    }

    #[test]
    fn the_default_thanks_promise_a_download_only_where_there_is_one() {
        let c: Campaign = serde_json::from_str(r#"{"id":"a","headline":"h"}"#).unwrap();
        assert_eq!(c.success.message, "Thanks! You're signed up.");
        assert_eq!(Success::default().message, c.success.message);
        let c: Campaign =
            serde_json::from_str(r#"{"id":"a","headline":"h","success":{"lead_magnet_url":"/g.pdf"}}"#)
                .unwrap();
        assert_eq!(c.success.message, "Thanks! Your download is ready.");
        let c: Campaign =
            serde_json::from_str(r#"{"id":"a","headline":"h","success":{"message":"Merci !"}}"#).unwrap();
        assert_eq!(c.success.message, "Merci !");
        let unknown =
            serde_json::from_str::<Campaign>(r#"{"id":"a","headline":"h","success":{"mesage":"x"}}"#);
        assert!(alloc::format!("{}", unknown.unwrap_err()).contains("unknown field `mesage`"));
    }

    #[test]
    fn the_direction_reads_as_html_writes_it_and_is_left_out_when_auto() {
        let c: Campaign =
            serde_json::from_str(r#"{"id":"a","headline":"h","dir":"rtl","lang":"ar"}"#).unwrap();
        assert_eq!((c.dir, c.lang.as_deref()), (TextDirection::Rtl, Some("ar")));
        let json = serde_json::to_value(Campaign::new("b")).unwrap();
        assert!(json.get("dir").is_none() && json.get("lang").is_none(), "{json}");
        assert!(serde_json::from_str::<Campaign>(r#"{"id":"a","headline":"h","dir":"up"}"#).is_err());
    }
}
