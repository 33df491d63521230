//! How often campaigns may interrupt: per campaign (after a close, after a conversion, per
//! session) and across campaigns (one interruption per page view, a global cooldown between
//! any two popups). Pure, with per-rule verdicts for explanations.

#[allow(unused_imports)]
use crate::prelude::*;

use serde::{Deserialize, Serialize};

pub use crate::targeting::Verdict;

const DAY_MS: f64 = 86_400_000.0;

/// A campaign's own frequency rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frequency {
    /// Days hidden after the visitor closes it (or leaves the page while it is open).
    #[serde(default = "seven")]
    pub after_close_days: u32,
    /// Days hidden after the visitor converts; `None` means never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_conversion_days: Option<u32>,
    /// At most this many showings per session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_session: Option<u32>,
}

fn seven() -> u32 {
    7
}

impl Default for Frequency {
    fn default() -> Self {
        Self { after_close_days: 7, after_conversion_days: None, max_per_session: None }
    }
}

/// Rules across all of a site's campaigns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteFrequency {
    /// Seconds between any two popups of the site, whichever campaigns they are.
    #[serde(default)]
    pub global_cooldown_seconds: u32,
}

/// What the visitor's browser remembers about one campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Memory {
    pub closed_at: Option<f64>,
    pub converted_at: Option<f64>,
    pub shown_this_session: u32,
}

/// What the browser remembers across campaigns, for this page view and visitor.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Recent {
    /// A popup already showed on this page view.
    pub shown_this_page: bool,
    /// When the last popup of the site showed, or closed once it has.
    pub last_popup_at: Option<f64>,
}

/// Every frequency rule that applies, with its verdict, in a fixed order.
pub fn verdicts(f: &Frequency, site: &SiteFrequency, m: Memory, recent: Recent, now_ms: f64) -> Vec<Verdict> {
    let mut out = Vec::new();
    judge(f, site, m, recent, now_ms, |rule, passed| out.push(Verdict { rule, passed }));
    out
}

/// Tells `verdict` each frequency rule that applies and whether it holds, in a fixed order.
/// (Generic: where only the answer is wanted, the rules' names are left out of the widget.)
fn judge(
    f: &Frequency,
    site: &SiteFrequency,
    m: Memory,
    recent: Recent,
    now_ms: f64,
    mut verdict: impl FnMut(&'static str, bool),
) {
    let days_since = |t: f64| (now_ms - t) / DAY_MS;
    verdict("one_per_page_view", !recent.shown_this_page);
    if let Some(converted) = m.converted_at {
        verdict(
            "after_conversion",
            f.after_conversion_days.is_some_and(|d| days_since(converted) >= f64::from(d)),
        );
    }
    if let Some(closed) = m.closed_at {
        verdict("after_close", days_since(closed) >= f64::from(f.after_close_days));
    }
    if let Some(max) = f.max_per_session {
        verdict("max_per_session", m.shown_this_session < max);
    }
    if site.global_cooldown_seconds > 0
        && let Some(last) = recent.last_popup_at
    {
        verdict("global_cooldown", now_ms - last >= f64::from(site.global_cooldown_seconds) * 1000.0);
    }
}

/// Whether closing a popup that showed at `shown_at` starts its after-close cooldown: always,
/// unless the visitor converted during that showing (sent the form, then dismissed the thanks).
/// A conversion from an earlier showing does not exempt this close.
pub fn close_starts_cooldown(converted_at: Option<f64>, shown_at: Option<f64>) -> bool {
    !converted_at.is_some_and(|c| shown_at.is_none_or(|s| c >= s))
}

/// Whether every frequency rule lets the campaign show now (as [`verdicts`] says, without
/// collecting them: the widget's every-page build needs only this).
pub fn allows(f: &Frequency, site: &SiteFrequency, m: Memory, recent: Recent, now_ms: f64) -> bool {
    let mut all = true;
    judge(f, site, m, recent, now_ms, |_, passed| all &= passed);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_800_000_000_000.0;

    #[test]
    fn a_close_starts_the_cooldown_unless_the_visitor_converted_in_that_showing() {
        let shown = Some(NOW - 60_000.0);
        let cases = [
            ("never converted", None, shown, true),
            ("converted in this showing", Some(NOW - 30_000.0), shown, false),
            ("converted in an earlier showing", Some(NOW - 31.0 * DAY_MS), shown, true),
            ("converted, showing unknown", Some(NOW - 30_000.0), None, false),
        ];
        for (name, converted, shown, expected) in cases {
            assert_eq!(close_starts_cooldown(converted, shown), expected, "{name}");
        }
    }

    #[test]
    fn frequency_table() {
        let f = Frequency { after_close_days: 3, after_conversion_days: None, max_per_session: Some(2) };
        let site = SiteFrequency { global_cooldown_seconds: 60 };
        let fresh = Recent::default();
        let cases = [
            ("nothing remembered", Memory::default(), fresh, true),
            (
                "converted long ago, never again",
                Memory { converted_at: Some(NOW - 900.0 * DAY_MS), ..Memory::default() },
                fresh,
                false,
            ),
            (
                "closed 2.9 days ago",
                Memory { closed_at: Some(NOW - 2.9 * DAY_MS), ..Memory::default() },
                fresh,
                false,
            ),
            (
                "closed 3 days ago",
                Memory { closed_at: Some(NOW - 3.0 * DAY_MS), ..Memory::default() },
                fresh,
                true,
            ),
            ("shown twice this session", Memory { shown_this_session: 2, ..Memory::default() }, fresh, false),
            ("shown once this session", Memory { shown_this_session: 1, ..Memory::default() }, fresh, true),
            (
                "another popup on this page",
                Memory::default(),
                Recent { shown_this_page: true, last_popup_at: None },
                false,
            ),
            (
                "another popup 59 s ago",
                Memory::default(),
                Recent { shown_this_page: false, last_popup_at: Some(NOW - 59_000.0) },
                false,
            ),
            (
                "another popup 60 s ago",
                Memory::default(),
                Recent { shown_this_page: false, last_popup_at: Some(NOW - 60_000.0) },
                true,
            ),
        ];
        for (name, memory, recent, expected) in cases {
            assert_eq!(allows(&f, &site, memory, recent, NOW), expected, "{name}");
            // The decision and the debug overlay's verdicts agree.
            let all = verdicts(&f, &site, memory, recent, NOW).iter().all(|v| v.passed);
            assert_eq!(all, expected, "{name}");
        }
    }

    #[test]
    fn conversion_can_allow_a_return_after_n_days() {
        let f = Frequency { after_conversion_days: Some(30), ..Frequency::default() };
        let m = |days: f64| Memory { converted_at: Some(NOW - days * DAY_MS), ..Memory::default() };
        let site = SiteFrequency::default();
        assert!(!allows(&f, &site, m(29.0), Recent::default(), NOW));
        assert!(allows(&f, &site, m(30.0), Recent::default(), NOW));
    }

    #[test]
    fn verdicts_name_the_rules_that_apply() {
        let m = Memory { closed_at: Some(NOW), ..Memory::default() };
        let v = verdicts(&Frequency::default(), &SiteFrequency::default(), m, Recent::default(), NOW);
        assert_eq!(
            v,
            [
                Verdict { rule: "one_per_page_view", passed: true },
                Verdict { rule: "after_close", passed: false }
            ]
        );
    }
}
