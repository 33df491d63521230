//! The debug overlay's data, in the debug build of the tracker only (`--features debug`,
//! loaded with `?lodestone_debug=1`): every campaign's verdicts with the values they saw, the
//! score and its explanation, and the cooldowns. Visitors' pages never load this code.

#[allow(unused_imports)]
use crate::prelude::*;

use funnel::ScoreReport;
use funnel::engine::{self, Situation};
use funnel::rule_text::{self, RuleReport};

use super::Tracker;
use super::leads::score_json;
use crate::json::{self, Object};
use crate::site::Site;
use crate::value::{Value, get_str};

impl Tracker {
    /// The debug overlay's data when the site config at `url` did not come: the status and the
    /// server's reason (status 0: no answer the page could read).
    pub(super) fn config_error_report(&self, url: &str, status: u32, answer: &Value) -> String {
        let error = answer.get("error");
        let message = get_str(error, "message").unwrap_or_else(|| {
            match status {
                0 => "no answer this page could read: is the server up, and is data-api (or the script's origin) its address?",
                200 => "the config has no rules this tracker reads: is the server at data-api (or the script's origin) Lodestone, of the widget's version?",
                _ => "the server gave no reason",
            }
            .into()
        });
        let failure = Object::new()
            .str("url", url)
            .num("status", status.into())
            .str("code", &get_str(error, "code").unwrap_or_default())
            .str("message", &message)
            .end();
        Object::new().str("site", &self.site).str("path", &self.page.path).raw("config_error", &failure).end()
    }

    /// The debug overlay's data: every campaign's verdicts, the score and the cooldowns.
    pub(super) fn report(&self, site: &Site, s: &Situation<'_>, score: &ScoreReport) -> String {
        let rules = &site.campaigns;
        let verdicts = |list: &[RuleReport]| {
            json::array(list.iter().map(|v| {
                Object::new()
                    .str("rule", v.rule)
                    .bool("passed", v.passed)
                    .str("wants", &v.wants)
                    .str("seen", &v.seen)
                    .end()
            }))
        };
        let reports = engine::explain(rules, &site.frequency, |id| self.history.memory(id), s);
        let campaigns = reports.iter().zip(rules).map(|(r, c)| {
            let m = self.history.memory(&r.id);
            let leaves = r.trigger.iter().map(|v| {
                Object::new()
                    .str("rule", v.leaf.name())
                    .bool("passed", v.passed)
                    .str("wants", &v.leaf.wants())
                    .num("seen", v.seen)
                    .end()
            });
            let memory = Object::new()
                .num("closed", m.closed_at.unwrap_or(0.0) as i64)
                .num("converted", m.converted_at.unwrap_or(0.0) as i64)
                .num("shown", m.shown_this_session.into())
                .end();
            Object::new()
                .str("id", &r.id)
                .num("priority", c.priority.into())
                .bool("eligible", r.eligible)
                .bool("showing", self.open.as_deref() == Some(&r.id))
                .raw("targeting", &verdicts(&r.targeting))
                .raw("trigger", &json::array(leaves))
                .bool("trigger_holds", r.trigger_holds)
                .raw("frequency", &verdicts(&r.frequency))
                .raw("memory", &memory)
                .end()
        });
        // Why storage is off, when it is: the rule that turned it off.
        let privacy = match self.consent {
            _ if self.gpc && site.privacy.honor_gpc => "gpc",
            Some(false) => "consent withdrawn",
            None if site.privacy.consent_mode => "no consent yet",
            _ => "erased in another tab",
        };
        Object::new()
            .str("site", &self.site)
            .str("path", &self.page.path)
            .str("device", rule_text::device(self.page.device))
            .num("visits", self.history.visits.into())
            .num("page_views", self.history.page_views.into())
            .bool("stored", self.persist)
            .str("privacy", privacy)
            .raw("score", &score_json(score))
            .raw("campaigns", &json::array(campaigns))
            .end()
    }
}
