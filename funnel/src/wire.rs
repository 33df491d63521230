//! JSON wire types exchanged between the widget and the ingest server.
//!
//! Unknown fields are ignored so an older server accepts a newer widget's payload; every
//! optional field defaults so a plain HTML form can send only what it has.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::score::ScoreReport;

/// A lead as the widget (or a plain HTML form) submits it to `POST /v1/leads`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadSubmission {
    // The required fields also default: one left out is refused by validation as `required`
    // (422, named), as in a form, rather than as a malformed body.
    #[serde(default)]
    pub site: String,
    #[serde(default)]
    pub campaign: String,
    #[serde(default)]
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Custom answers, keyed by field name. A name given twice is refused, not overwritten.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "unique_names")]
    pub fields: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentGiven>,
    /// Idempotency key chosen by the client; a retry with the same key is the same lead.
    #[serde(default)]
    pub submission_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Attribution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<Signals>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<ScoreReport>,
    /// Honeypot: hidden from people, so it must arrive empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

/// A map of answers in which each name appears once: JSON objects may repeat a key, and a map
/// would silently keep only the last value.
fn unique_names<'de, D: serde::Deserializer<'de>>(de: D) -> Result<BTreeMap<String, String>, D::Error> {
    struct Names;
    impl<'de> serde::de::Visitor<'de> for Names {
        type Value = BTreeMap<String, String>;

        fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
            f.write_str("an object of text answers")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut names = BTreeMap::new();
            while let Some((name, value)) = map.next_entry::<String, String>()? {
                if names.contains_key(&name) {
                    return Err(serde::de::Error::custom(format_args!("duplicate field `{name}`")));
                }
                names.insert(name, value);
            }
            Ok(names)
        }
    }
    de.deserialize_map(Names)
}

/// What the visitor agreed to: the exact text shown and its version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentGiven {
    pub granted: bool,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub version: String,
}

/// First- and last-touch attribution, kept by the widget in the visitor's browser.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Touch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Touch>,
}

/// One touch: where the visitor came from and with which campaign tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing_page: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_term: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_content: Option<String>,
    /// Milliseconds since the Unix epoch, by the visitor's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
}

impl Touch {
    /// The touch's text values with the names they are validated under.
    pub fn texts(&self) -> [(&'static str, &Option<String>); 7] {
        [
            ("referrer", &self.referrer),
            ("landing_page", &self.landing_page),
            ("utm_source", &self.utm_source),
            ("utm_medium", &self.utm_medium),
            ("utm_campaign", &self.utm_campaign),
            ("utm_term", &self.utm_term),
            ("utm_content", &self.utm_content),
        ]
    }
}

/// A summary of the visitor's engagement, computed in their browser and sent only with a lead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    #[serde(default)]
    pub visits: u32,
    #[serde(default)]
    pub page_views: u32,
    #[serde(default)]
    pub engaged_seconds: u32,
    #[serde(default)]
    pub max_scroll_percent: u8,
    #[serde(default)]
    pub cta_clicks: u32,
    /// Distinct paths viewed, most recent last.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Clicks on links to other sites.
    #[serde(default)]
    pub outbound_clicks: u32,
    /// Activity per day, for the score's time decay.
    #[serde(default)]
    pub days: Vec<DayActivity>,
    /// The visitor's day (days since the Unix epoch, UTC) when the score was computed.
    #[serde(default)]
    pub today: u32,
    /// Referrer hosts, UTM sources and campaigns the visitor arrived with, oldest first.
    #[serde(default)]
    pub referrer_hosts: Vec<String>,
    #[serde(default)]
    pub utm_sources: Vec<String>,
    #[serde(default)]
    pub utm_campaigns: Vec<String>,
}

/// One day of a visitor's activity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayActivity {
    /// Days since the Unix epoch (UTC).
    pub day: u32,
    #[serde(default)]
    pub page_views: u32,
    #[serde(default)]
    pub engaged_seconds: u32,
    #[serde(default)]
    pub cta_clicks: u32,
}

/// The server's answer to an accepted lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadAccepted {
    pub id: String,
    /// `false` when this submission id had been stored before and nothing new was written.
    pub created: bool,
}

/// A batch of anonymous counters for `POST /v1/events`. It carries no visitor identifier, and
/// unknown fields are refused so none can be smuggled in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// Missing reads as empty, which validation names (`422`) as it does an empty one.
    #[serde(default)]
    pub site: String,
    pub events: Vec<Event>,
}

/// One anonymous counter increment: `{"type": "pageview", ...}` or `{"type": "campaign", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Pageview {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        referrer_host: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        utm_source: Option<String>,
        #[serde(default)]
        new_visitor: bool,
        #[serde(default)]
        new_session: bool,
    },
    Campaign {
        campaign: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        variant: Option<String>,
        action: CampaignAction,
    },
}

const PAGEVIEW_FIELDS: &[&str] =
    &["type", "path", "referrer_host", "utm_source", "new_visitor", "new_session"];
const CAMPAIGN_FIELDS: &[&str] = &["type", "campaign", "variant", "action"];

/// Reads an event in one pass over a flat record. (serde's internally tagged enums buffer
/// every event into an intermediate tree first, which was most of the events endpoint's CPU.)
/// Unknown fields, and fields of the other type, are refused by name.
impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;

        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Kind {
            Pageview,
            Campaign,
        }

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Flat {
            #[serde(rename = "type")]
            kind: Kind,
            path: Option<String>,
            referrer_host: Option<String>,
            utm_source: Option<String>,
            new_visitor: Option<bool>,
            new_session: Option<bool>,
            campaign: Option<String>,
            variant: Option<String>,
            action: Option<CampaignAction>,
        }

        let f = Flat::deserialize(d)?;
        let refuse = |present: bool, name: &'static str, expected: &'static [&'static str]| {
            if present { Err(D::Error::unknown_field(name, expected)) } else { Ok(()) }
        };
        match f.kind {
            Kind::Pageview => {
                refuse(f.campaign.is_some(), "campaign", PAGEVIEW_FIELDS)?;
                refuse(f.variant.is_some(), "variant", PAGEVIEW_FIELDS)?;
                refuse(f.action.is_some(), "action", PAGEVIEW_FIELDS)?;
                Ok(Event::Pageview {
                    path: f.path.ok_or_else(|| D::Error::missing_field("path"))?,
                    referrer_host: f.referrer_host,
                    utm_source: f.utm_source,
                    new_visitor: f.new_visitor.unwrap_or(false),
                    new_session: f.new_session.unwrap_or(false),
                })
            }
            Kind::Campaign => {
                refuse(f.path.is_some(), "path", CAMPAIGN_FIELDS)?;
                refuse(f.referrer_host.is_some(), "referrer_host", CAMPAIGN_FIELDS)?;
                refuse(f.utm_source.is_some(), "utm_source", CAMPAIGN_FIELDS)?;
                refuse(f.new_visitor.is_some(), "new_visitor", CAMPAIGN_FIELDS)?;
                refuse(f.new_session.is_some(), "new_session", CAMPAIGN_FIELDS)?;
                Ok(Event::Campaign {
                    // Missing reads as empty, which validation names (`422`) as it does an empty one.
                    campaign: f.campaign.unwrap_or_default(),
                    variant: f.variant,
                    action: f.action.ok_or_else(|| D::Error::missing_field("action"))?,
                })
            }
        }
    }
}

/// What happened to a campaign on a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignAction {
    Shown,
    Closed,
    Converted,
}

impl CampaignAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shown => "shown",
            Self::Closed => "closed",
            Self::Converted => "converted",
        }
    }
}
