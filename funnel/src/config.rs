//! Site and campaign configuration: what a marketer writes in `lodestone.toml` and what the
//! widget receives from `GET /v1/sites/{site}/config`.
//!
//! Unknown keys are rejected so a typo in the config file is named instead of silently ignored.

use serde::{Deserialize, Serialize};

/// The part of a site's configuration the widget needs: its campaigns and scoring rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub site: String,
    #[serde(default)]
    pub campaigns: Vec<Campaign>,
    #[serde(default)]
    pub scoring: ScoringRules,
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
    #[serde(default)]
    pub trigger: Trigger,
    /// Days the campaign stays hidden after the visitor closes it.
    #[serde(default = "default_cooldown_days")]
    pub cooldown_days: u32,
}

fn default_button_label() -> String {
    "Send it to me".into()
}

fn default_cooldown_days() -> u32 {
    7
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
#[serde(deny_unknown_fields)]
pub struct Success {
    #[serde(default = "default_success_message")]
    pub message: String,
    /// The lead magnet: a link shown on the success view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_magnet_url: Option<String>,
    /// Where a plain HTML form (no JavaScript) is redirected after a successful post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thank_you_url: Option<String>,
}

fn default_success_message() -> String {
    "Thanks! Your download is ready.".into()
}

impl Default for Success {
    fn default() -> Self {
        Self { message: default_success_message(), lead_magnet_url: None, thank_you_url: None }
    }
}

/// When a campaign fires. Every condition that is set must hold; none set means at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scroll_percent: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_page_views: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<i32>,
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
    /// Points once the visitor has scrolled at least 75% of a page.
    #[serde(default = "points_5")]
    pub deep_scroll: i32,
    #[serde(default = "points_5")]
    pub cta_click: i32,
    /// Extra points for having viewed pages matching a path pattern (`/pricing*`).
    #[serde(default)]
    pub pages: Vec<PageRule>,
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

impl Default for ScoringRules {
    fn default() -> Self {
        Self {
            page_view: 2,
            engaged_minute: 3,
            return_visit: 5,
            deep_scroll: 5,
            cta_click: 5,
            pages: Vec::new(),
            max: 100,
        }
    }
}

/// Points for having viewed a page whose path matches `path` (exact, or a prefix ending in `*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRule {
    pub path: String,
    pub points: i32,
}

impl PageRule {
    pub fn matches(&self, path: &str) -> bool {
        match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        }
    }
}
