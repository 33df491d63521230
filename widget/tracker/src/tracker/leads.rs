//! Leads: a popup's submit hands the campaign and this visitor's history to lead delivery
//! (`widget/leads`: it builds the lead, queues it, sends it, retries it until the server
//! acknowledges), which reports the conversion back.

#[allow(unused_imports)]
use crate::prelude::*;

use super::Tracker;
use crate::js;

impl Tracker {
    /// The popup's submit: its campaign and the history the lead summarises (this page's
    /// alone, when privacy keeps it to this page) go to lead delivery, with the popup's answers
    /// (the bootstrap holds them).
    pub fn submit(&mut self) {
        match &self.open {
            Some(campaign) => self.host.deliver(campaign, &self.history.to_json()),
            None => self.host.settle(false, "null"),
        }
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
}

/// The score report as JSON.
#[cfg(feature = "debug")]
pub(super) fn score_json(report: &funnel::ScoreReport) -> String {
    let mut o = crate::json::Object::new();
    crate::json::score_fields(&mut o, report);
    o.end()
}
