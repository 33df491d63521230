//! The engagement score: points per signal, with the explanation of which signal earned what.
//!
//! Pure integer arithmetic so the widget and the server agree bit for bit.

use serde::{Deserialize, Serialize};

use crate::config::ScoringRules;
use crate::wire::Signals;

/// A score and the reasons behind it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreReport {
    pub total: i32,
    #[serde(default)]
    pub explanation: Vec<ScoreItem>,
}

/// One line of a score's explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreItem {
    pub reason: String,
    pub points: i32,
}

/// Appends `n` in decimal, without `format!` (core::fmt costs kilobytes in the widget).
pub fn push_decimal(out: &mut String, n: u64) {
    // Least significant digit first, then written out in reverse. No string slicing: its
    // panic path alone would pull Unicode tables into the widget.
    let mut digits = [b'0'; 20];
    let (mut n, mut len) = (n, 0);
    for d in digits.iter_mut() {
        *d = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits.iter().take(len).rev().map(|d| char::from(*d)));
}

/// `before` + `n` + `after`.
fn text(before: &str, n: u32, after: &str) -> String {
    let mut s = String::with_capacity(before.len() + after.len() + 10);
    s.push_str(before);
    push_decimal(&mut s, n.into());
    s.push_str(after);
    s
}

/// Scores `signals` under `rules`. The total is clamped to `0..=rules.max`.
pub fn compute_score(rules: &ScoringRules, signals: &Signals) -> ScoreReport {
    let mut items = Vec::new();
    let mut add = |reason: String, points: i64| {
        let points = points.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
        if points != 0 {
            items.push(ScoreItem { reason, points });
        }
    };
    add(text("", signals.page_views, " page views"), rules.page_view as i64 * signals.page_views as i64);
    let minutes = signals.engaged_seconds / 60;
    add(text("", minutes, " engaged minutes"), rules.engaged_minute as i64 * minutes as i64);
    if signals.visits > 1 {
        add(text("returning visitor (", signals.visits, " visits)"), rules.return_visit as i64);
    }
    if signals.max_scroll_percent >= 75 {
        add("scrolled 75% of a page".into(), rules.deep_scroll as i64);
    }
    add(text("", signals.cta_clicks, " CTA clicks"), rules.cta_click as i64 * signals.cta_clicks as i64);
    for rule in &rules.pages {
        if signals.paths.iter().any(|p| rule.matches(p)) {
            add(String::from("viewed ") + &rule.path, rule.points as i64);
        }
    }
    let sum: i64 = items.iter().map(|i| i.points as i64).sum();
    let total = sum.clamp(0, rules.max.max(0) as i64) as i32;
    ScoreReport { total, explanation: items }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PageRule;
    use proptest::prelude::*;

    fn signals(page_views: u32, engaged_seconds: u32, visits: u32, scroll: u8) -> Signals {
        Signals {
            visits,
            page_views,
            engaged_seconds,
            max_scroll_percent: scroll,
            cta_clicks: 0,
            paths: vec!["/".into(), "/pricing/team".into()],
        }
    }

    #[test]
    fn each_signal_earns_its_configured_points_with_a_reason() {
        let mut rules = ScoringRules::default();
        rules.pages.push(PageRule { path: "/pricing*".into(), points: 15 });
        let cases = [
            (signals(0, 0, 1, 0), 15),
            (signals(3, 0, 1, 0), 6 + 15),
            (signals(1, 179, 1, 0), 2 + 6 + 15),
            (signals(1, 0, 2, 80), 2 + 5 + 5 + 15),
        ];
        for (s, expected) in cases {
            let report = compute_score(&rules, &s);
            assert_eq!(report.total, expected, "{s:?} -> {report:?}");
            let sum: i32 = report.explanation.iter().map(|i| i.points).sum();
            assert_eq!(sum, expected);
        }
    }

    #[test]
    fn reasons_name_their_counts() {
        assert_eq!(text("", 0, " page views"), "0 page views");
        assert_eq!(text("(", 4_294_967_295, ")"), "(4294967295)");
        let mut s = String::from("x");
        push_decimal(&mut s, u64::MAX);
        assert_eq!(s, "x18446744073709551615");
        let report = compute_score(&ScoringRules::default(), &signals(3, 125, 2, 0));
        let reasons: Vec<_> = report.explanation.iter().map(|i| i.reason.as_str()).collect();
        assert_eq!(reasons, ["3 page views", "2 engaged minutes", "returning visitor (2 visits)"]);
    }

    #[test]
    fn the_total_is_capped_at_the_configured_maximum() {
        let rules = ScoringRules { max: 10, ..ScoringRules::default() };
        assert_eq!(compute_score(&rules, &signals(50, 0, 1, 0)).total, 10);
    }

    proptest! {
        #[test]
        fn the_score_is_bounded_and_deterministic(pv in 0u32..100_000, secs in any::<u32>(), visits in 0u32..1000, scroll in 0u8..=100) {
            let rules = ScoringRules::default();
            let s = signals(pv, secs, visits, scroll);
            let a = compute_score(&rules, &s);
            prop_assert!(a.total >= 0 && a.total <= rules.max);
            prop_assert_eq!(a, compute_score(&rules, &s));
        }
    }
}
