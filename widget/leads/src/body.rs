//! A lead's body: the popup's answers plus the visitor's consent record, attribution, signals
//! and score (from the history the tracker hands over, and the site's rules).

#[allow(unused_imports)]
use crate::prelude::*;

use funnel::packed::Rules;
use funnel::{compute_score, limits};
use widget_common::history::{History, cut, write_touch};

use crate::js;
use crate::json::{Object, score_fields};
use crate::value::{Value, get_bool, get_str, opt_str};

/// What a lead is made of.
pub struct Lead<'a> {
    pub site: &'a str,
    pub campaign: &'a str,
    /// Its submission id: the same lead on every retry.
    pub id: &'a str,
    /// The popup's answers: `{email, name, website, consent}`.
    pub fields: &'a Value,
    /// The page it was submitted on (`href`, `referrer`).
    pub page: &'a Value,
    pub history: &'a History,
    pub rules: &'a Rules,
    /// When it was submitted (ms since the epoch).
    pub now: f64,
}

impl Lead<'_> {
    /// The full lead: the popup's answers plus this visitor's consent record, attribution,
    /// signals and score.
    pub fn body(&self, compact: bool) -> Option<String> {
        let (campaign, page, fields) = (self.campaign, self.page, self.fields);
        let spec = &self.rules.campaigns.iter().find(|c| c.id == campaign)?.consent;
        let mut sig = self.history.signals(self.now);
        if compact {
            sig.paths.clear();
            sig.days.clear();
            sig.referrer_hosts.clear();
            sig.utm_sources.clear();
            sig.utm_campaigns.clear();
        }
        // The score from exactly these signals (one reading of the clock), as the server will.
        let score = compute_score(&self.rules.scoring, &sig);
        let mut o = Object::new();
        o.str("site", self.site)
            .str("campaign", campaign)
            .str("email", &get_str(fields, "email").unwrap_or_default())
            .opt("name", &opt_str(fields, "name"))
            .str("website", &get_str(fields, "website").unwrap_or_default())
            .open("consent")
            .bool("granted", get_bool(fields, "consent").unwrap_or(false))
            .str("text", &spec.text)
            .str("version", &spec.version)
            .close()
            .str("submission_id", self.id)
            .opt("page_url", &opt_str(page, "href").map(|u| cut(&u, limits::URL)))
            .opt("referrer", &opt_str(page, "referrer").map(|u| cut(&u, limits::URL)))
            .open("attribution");
        write_touch(&mut o, "first", &self.history.first);
        write_touch(&mut o, "last", &self.history.last);
        o.close()
            .open("signals")
            .num("visits", sig.visits.into())
            .num("page_views", sig.page_views.into())
            .num("engaged_seconds", sig.engaged_seconds.into())
            .num("max_scroll_percent", sig.max_scroll_percent.into())
            .num("cta_clicks", sig.cta_clicks.into())
            .num("outbound_clicks", sig.outbound_clicks.into())
            .strs("paths", &sig.paths)
            .list("days");
        for d in &sig.days {
            o.item()
                .num("day", d.day.into())
                .num("page_views", d.page_views.into())
                .num("engaged_seconds", d.engaged_seconds.into())
                .num("cta_clicks", d.cta_clicks.into())
                .close();
        }
        o.close_list()
            .num("today", sig.today.into())
            .strs("referrer_hosts", &sig.referrer_hosts)
            .strs("utm_sources", &sig.utm_sources)
            .strs("utm_campaigns", &sig.utm_campaigns)
            .close()
            .open("score");
        score_fields(&mut o, &score);
        Some(o.close().end())
    }
}

/// A new submission id: `ls-` and 32 random hex digits.
pub fn submission_id() -> String {
    let mut id = String::from("ls-");
    for _ in 0..4 {
        let n = (js::random() * 4_294_967_296.0) as u32;
        for shift in (0..8).rev() {
            id.push(char::from_digit((n >> (shift * 4)) & 0xf, 16).unwrap_or('0'));
        }
    }
    id
}
