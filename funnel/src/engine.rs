//! The decision: which campaign, if any, shows now. Combines each campaign's targeting,
//! trigger tree and frequency rules, picks the highest priority among those that pass (first
//! declared on a tie), and reports every campaign's verdicts, which is what a debug overlay
//! shows. Pure.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::conditions::{LeafVerdict, Now};
use crate::config::Campaign;
use crate::frequency::{self, Memory, Recent, SiteFrequency};
use crate::rule_text::{self, RuleReport};
use crate::targeting::Audience;

/// Everything one evaluation needs about the visitor and the page.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    pub audience: Audience<'a>,
    pub now: Now<'a>,
    pub recent: Recent,
    pub now_ms: f64,
}

/// Why one campaign did or did not qualify: every rule's verdict with the values it compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignReport {
    pub id: String,
    pub targeting: Vec<RuleReport>,
    pub trigger: Vec<LeafVerdict>,
    pub trigger_holds: bool,
    pub frequency: Vec<RuleReport>,
    pub eligible: bool,
}

/// The campaign to show now, if any: the highest priority among those whose targeting,
/// trigger and frequency all pass.
pub fn decide<'c>(
    campaigns: &'c [Campaign],
    site: &SiteFrequency,
    memory: impl Fn(&str) -> Memory,
    s: &Situation<'_>,
) -> Option<&'c Campaign> {
    campaigns
        .iter()
        .filter(|c| {
            frequency::allows(&c.frequency, site, memory(&c.id), s.recent, s.now_ms)
                && c.targeting.matches(&s.audience.for_campaign(&c.id))
                && c.trigger.holds(&s.now)
        })
        .fold(None, |best: Option<&Campaign>, c| match best {
            Some(b) if b.priority >= c.priority => Some(b),
            _ => Some(c),
        })
}

/// Every campaign's verdicts, in declaration order.
pub fn explain(
    campaigns: &[Campaign],
    site: &SiteFrequency,
    memory: impl Fn(&str) -> Memory,
    s: &Situation<'_>,
) -> Vec<CampaignReport> {
    campaigns
        .iter()
        .map(|c| {
            let audience = s.audience.for_campaign(&c.id);
            let targeting: Vec<RuleReport> = (c.targeting.verdicts(&audience).into_iter())
                .map(|v| rule_text::targeting(&c.targeting, v.rule, v.passed, &audience))
                .collect();
            let trigger = c.trigger.verdicts(&s.now);
            let trigger_holds = c.trigger.holds(&s.now);
            let m = memory(&c.id);
            let frequency: Vec<RuleReport> = (frequency::verdicts(&c.frequency, site, m, s.recent, s.now_ms)
                .into_iter())
            .map(|v| rule_text::frequency(&c.frequency, site, m, s.recent, s.now_ms, v.rule, v.passed))
            .collect();
            let eligible =
                trigger_holds && targeting.iter().all(|v| v.passed) && frequency.iter().all(|v| v.passed);
            CampaignReport { id: c.id.clone(), targeting, trigger, trigger_holds, frequency, eligible }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::{Condition, Leaf};
    use crate::targeting::{DeviceClass, Targeting};

    pub(crate) fn situation<'a>(path: &'a str, scroll: u8) -> Situation<'a> {
        Situation {
            audience: Audience {
                path,
                referrer_host: None,
                utm_source: None,
                utm_campaign: None,
                device: DeviceClass::Desktop,
                visits: 1,
                converted_any: false,
                sample_roll: 50,
                now_ms: 1_800_000_000_000,
            },
            now: Now { seconds_on_page: 10, scroll_percent: scroll, page_views: 2, ..Now::default() },
            recent: Recent::default(),
            now_ms: 1_800_000_000_000.0,
        }
    }

    fn campaign(id: &str, priority: i32, include: &str, trigger: Leaf) -> Campaign {
        Campaign {
            priority,
            targeting: Targeting { include: vec![include.into()], ..Targeting::default() },
            trigger: Condition::Leaf(trigger),
            ..Campaign::new(id)
        }
    }

    #[test]
    fn the_highest_priority_campaign_that_passes_everything_wins() {
        let campaigns = [
            campaign("blog-scroll", 5, "/blog/*", Leaf::ScrollPercent(50)),
            campaign("blog-delay", 1, "/blog/*", Leaf::DelaySeconds(5)),
            campaign("pricing", 9, "/pricing", Leaf::DelaySeconds(0)),
        ];
        let none = |_: &str| Memory::default();
        let site = SiteFrequency::default();
        let pick = |s: &Situation<'_>| decide(&campaigns, &site, none, s).map(|c| c.id.as_str());
        assert_eq!(pick(&situation("/blog/post", 10)), Some("blog-delay"));
        assert_eq!(pick(&situation("/blog/post", 60)), Some("blog-scroll"));
        assert_eq!(pick(&situation("/pricing", 0)), Some("pricing"));
        assert_eq!(pick(&situation("/about", 90)), None);
        let mut shown = situation("/blog/post", 60);
        shown.recent.shown_this_page = true;
        assert_eq!(pick(&shown), None, "one interruption per page view");
        let closed = |id: &str| Memory {
            closed_at: (id == "blog-scroll").then_some(1_800_000_000_000.0),
            ..Memory::default()
        };
        assert_eq!(
            decide(&campaigns, &site, closed, &situation("/blog/post", 60)).map(|c| c.id.as_str()),
            Some("blog-delay")
        );
    }

    #[test]
    fn each_campaign_samples_its_own_share_of_visitors() {
        let sampled = |id: &str| Campaign {
            targeting: Targeting { sample_percent: Some(50), ..Targeting::default() },
            ..Campaign::new(id)
        };
        let campaigns = [sampled("welcome"), sampled("newsletter")];
        let (mut each, mut both) = ([0; 2], 0);
        for roll in 0..100 {
            let mut s = situation("/", 0);
            s.audience.sample_roll = roll;
            let report = explain(&campaigns, &SiteFrequency::default(), |_| Memory::default(), &s);
            for (n, r) in each.iter_mut().zip(&report) {
                *n += usize::from(r.eligible);
            }
            both += usize::from(report.iter().all(|r| r.eligible));
            let alone = decide(&campaigns[..1], &SiteFrequency::default(), |_| Memory::default(), &s);
            assert_eq!(alone.is_some(), report[0].eligible);
        }
        assert_eq!(each, [50, 50]);
        assert!(both < 50, "both campaigns sampled the same half");
    }

    #[test]
    fn the_report_says_why_each_campaign_did_not_show() {
        let campaigns = [campaign("blog-scroll", 5, "/blog/*", Leaf::ScrollPercent(50))];
        let report =
            explain(&campaigns, &SiteFrequency::default(), |_| Memory::default(), &situation("/about", 20));
        let r = &report[0];
        assert!(!r.eligible);
        assert_eq!(
            r.targeting,
            [RuleReport { rule: "include", passed: false, wants: "/blog/*".into(), seen: "/about".into() }]
        );
        assert_eq!((r.trigger[0].passed, r.trigger[0].seen), (false, 20));
    }

    proptest::proptest! {
        /// Evaluation is deterministic, and the campaign `decide` picks is one `explain` calls
        /// eligible, with no eligible campaign of higher priority.
        #[test]
        fn decisions_are_deterministic_and_agree_with_the_explanation(
            scroll in 0u8..=100,
            seconds in 0u32..30,
            path in proptest::sample::select(vec!["/", "/blog/a", "/pricing", "/about"]),
            shown in proptest::bool::ANY,
        ) {
            let campaigns = [
                campaign("a", 3, "/blog/*", Leaf::ScrollPercent(40)),
                campaign("b", 7, "/*", Leaf::DelaySeconds(10)),
                campaign("c", 7, "/pricing", Leaf::DelaySeconds(5)),
                campaign("d", 1, "*", Leaf::ScrollPercent(90)),
            ];
            let mut s = situation(path, scroll);
            s.now.seconds_on_page = seconds;
            s.recent.shown_this_page = shown;
            let site = SiteFrequency::default();
            let none = |_: &str| Memory::default();
            let first = decide(&campaigns, &site, none, &s).map(|c| c.id.clone());
            proptest::prop_assert_eq!(&first, &decide(&campaigns, &site, none, &s).map(|c| c.id.clone()));
            let report = explain(&campaigns, &site, none, &s);
            let best = report.iter().zip(&campaigns).filter(|(r, _)| r.eligible).map(|(_, c)| c.priority).max();
            match &first {
                Some(id) => {
                    let (r, c) = report.iter().zip(&campaigns).find(|(r, _)| &r.id == id).unwrap();
                    proptest::prop_assert!(r.eligible);
                    proptest::prop_assert_eq!(Some(c.priority), best);
                }
                None => proptest::prop_assert_eq!(best, None),
            }
        }
    }
}
