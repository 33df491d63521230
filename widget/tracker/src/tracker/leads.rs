//! Leads: the body a popup's submit sends (answers, consent record, attribution, signals and
//! score), handed to lead delivery (`widget/leads`: queued, sent, retried until the server
//! acknowledges), and the conversions delivery reports back.

#[allow(unused_imports)]
use crate::prelude::*;

use funnel::{ScoreReport, compute_score, limits};
use wasm_bindgen::JsValue;

use super::{Tracker, opt_str};
use crate::history::{cut, write_touch};
use crate::js::{self, get_bool, get_str};
use crate::json::Object;

impl Tracker {
    /// The popup's submit: the lead, built from this visitor's signals, goes to lead delivery.
    pub fn submit(&mut self, fields: &JsValue) {
        let Some(campaign) = self.open.clone() else { return self.host.settle(false, "null") };
        let id = submission_id();
        // A long history could take the body past the server's limit: then the signals go
        // without their lists (the counts, score and attribution stay).
        let body = self.lead_body(&campaign, &id, fields, false).filter(|b| b.len() <= limits::LEAD_BODY);
        let Some(body) = body.or_else(|| self.lead_body(&campaign, &id, fields, true)) else {
            return self.host.settle(false, "null");
        };
        self.host.deliver(&id, &campaign, &body);
    }

    /// Lead delivery reports a lead of `campaign` delivered or queued: `remember` the
    /// conversion for the campaign's frequency rules, `count` it (the server's anonymous
    /// counter: once, for the lead it has).
    pub fn converted(&mut self, campaign: &str, remember: bool, count: bool) {
        if count {
            self.campaign_event(campaign, "converted");
        }
        if remember {
            let memory = self.history.memory_mut(campaign);
            memory.converted_at = Some(js::now());
            // The conversion, not the dismissal assumed when the popup showed, now decides.
            memory.closed_at = None;
            self.save();
        }
    }

    /// The full lead: the popup's answers plus this visitor's consent record, attribution,
    /// signals and score.
    fn lead_body(
        &self,
        campaign: &str,
        submission_id: &str,
        fields: &JsValue,
        compact: bool,
    ) -> Option<String> {
        let site = self.config.as_ref()?;
        let spec = &site.campaigns.iter().find(|c| c.id == campaign)?.consent;
        let page = self.host.page();
        let mut sig = self.signals();
        if compact {
            sig.paths.clear();
            sig.days.clear();
            sig.referrer_hosts.clear();
            sig.utm_sources.clear();
            sig.utm_campaigns.clear();
        }
        // The score from exactly these signals (one reading of the clock), as the server will.
        let score = compute_score(&site.scoring, &sig);
        let mut o = Object::new();
        o.str("site", &self.site)
            .str("campaign", campaign)
            .str("email", &get_str(fields, "email").unwrap_or_default())
            .opt("name", &opt_str(fields, "name"))
            .str("website", &get_str(fields, "website").unwrap_or_default())
            .open("consent")
            .bool("granted", get_bool(fields, "consent").unwrap_or(false))
            .str("text", &spec.text)
            .str("version", &spec.version)
            .close()
            .str("submission_id", submission_id)
            .opt("page_url", &opt_str(&page, "href").map(|u| cut(&u, limits::URL)))
            .opt("referrer", &opt_str(&page, "referrer").map(|u| cut(&u, limits::URL)))
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

/// The score report's fields: its total and its explanation.
fn score_fields(o: &mut Object, report: &ScoreReport) {
    o.num("total", report.total.into()).list("explanation");
    for i in &report.explanation {
        o.item().str("reason", &i.reason).num("points", i.points.into()).close();
    }
    o.close_list();
}

/// The score report as JSON.
#[cfg(feature = "debug")]
pub(super) fn score_json(report: &ScoreReport) -> String {
    let mut o = Object::new();
    score_fields(&mut o, report);
    o.end()
}

fn submission_id() -> String {
    let mut id = String::from("ls-");
    for _ in 0..4 {
        let n = (js::random() * 4_294_967_296.0) as u32;
        for shift in (0..8).rev() {
            id.push(char::from_digit((n >> (shift * 4)) & 0xf, 16).unwrap_or('0'));
        }
    }
    id
}
