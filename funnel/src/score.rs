//! The engagement score: points per signal, with the explanation of which signal earned what.
//!
//! Pure integer arithmetic so the widget and the server agree bit for bit.

#[allow(unused_imports)]
use crate::prelude::*;

use serde::{Deserialize, Serialize};

use crate::config::ScoringRules;
use crate::targeting::glob_match;
use crate::wire::{DayActivity, Signals};

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

/// `n` + ` ` + `noun`, with an `s` unless `n` is 1: `1 page view`, `3 page views`.
fn count(n: u64, noun: &str) -> String {
    let mut s = text("", n, " ");
    s.push_str(noun);
    if n != 1 {
        s.push('s');
    }
    s
}

/// `before` + `n` + `after`.
fn text(before: &str, n: u64, after: &str) -> String {
    let mut s = String::with_capacity(before.len() + after.len() + 10);
    s.push_str(before);
    push_decimal(&mut s, n);
    s.push_str(after);
    s
}

/// The weight of activity `age` days old, in 1/1024ths: halved every `half_life` days, falling
/// linearly in between. Integer only (no `powf`), so every platform computes the same value.
pub fn decay_weight(age: u32, half_life: Option<u32>) -> i64 {
    let Some(hl) = half_life.filter(|h| *h > 0) else { return 1024 };
    let halvings = age / hl;
    if halvings > 10 {
        return 0;
    }
    let full = 1024i64 >> halvings;
    full - full / 2 * i64::from(age % hl) / i64::from(hl)
}

/// Activity totals: (raw count, count weighted by age in 1/1024ths).
fn activity(signals: &Signals, half_life: Option<u32>, count: impl Fn(&DayActivity) -> u32) -> (u64, i64) {
    if signals.days.is_empty() {
        return (0, 0);
    }
    signals.days.iter().fold((0, 0), |(raw, weighted), d| {
        let w = decay_weight(signals.today.saturating_sub(d.day), half_life);
        (raw + u64::from(count(d)), weighted + i64::from(count(d)) * w)
    })
}

/// The most weighted activity a component counts: its product with any `i32` weight fits in
/// an `i64` (a plain multiplication: cheaper in wasm than a saturating one). Far beyond any
/// cap: 4 million page views, CTA clicks or engaged minutes.
const ACTIVITY_CAP: i64 = 1 << 32;

/// Why a component earned its points, in words only when asked for ([`Reason::text`]): the
/// tracker's decisions need the total alone, and leave the wording out of the module.
enum Reason<'a> {
    /// `3 page views`.
    Count(u64, &'static str),
    /// `returning visitor (3 visits)`: before, the number, after.
    Text(&'static str, u64, &'static str),
    /// `viewed /pricing*`: a prefix and a rule's own pattern.
    Named(&'static str, &'a str),
}

impl Reason<'_> {
    fn text(self) -> String {
        match self {
            Self::Count(n, noun) => count(n, noun),
            Self::Text(before, n, after) => text(before, n, after),
            Self::Named(what, name) => String::from(what) + name,
        }
    }
}

/// Each component of the score of `signals` under `rules` that earns points, capped as
/// configured, to `add`: [`compute_score`] and [`score_total`] sum the same points.
fn components<'a>(rules: &'a ScoringRules, signals: &Signals, add: &mut impl FnMut(Reason<'a>, i32)) {
    let mut add = |reason: Reason<'a>, points: i64, cap: Option<i32>| {
        let points = cap.map_or(points, |c| points.min(i64::from(c)));
        let points = points.max(i32::MIN as i64).min(i32::MAX as i64) as i32;
        if points != 0 {
            add(reason, points);
        }
    };
    let hl = rules.half_life_days;
    let by_day = !signals.days.is_empty();
    let (views, views_w) = activity(signals, hl, |d| d.page_views);
    let (secs, secs_w) = activity(signals, hl, |d| d.engaged_seconds);
    let (ctas, ctas_w) = activity(signals, hl, |d| d.cta_clicks);
    let (views, views_w) = if by_day { (views, views_w) } else { flat(signals.page_views) };
    let (secs, secs_w) = if by_day { (secs, secs_w) } else { flat(signals.engaged_seconds) };
    let (ctas, ctas_w) = if by_day { (ctas, ctas_w) } else { flat(signals.cta_clicks) };
    let caps = rules.caps;
    add(
        Reason::Count(views, "page view"),
        i64::from(rules.page_view) * views_w.min(ACTIVITY_CAP) / 1024,
        caps.page_views,
    );
    add(
        Reason::Count(secs / 60, "engaged minute"),
        i64::from(rules.engaged_minute) * (secs_w / (60 * 1024)).min(ACTIVITY_CAP),
        caps.engaged_minutes,
    );
    add(
        Reason::Count(ctas, "CTA click"),
        i64::from(rules.cta_click) * ctas_w.min(ACTIVITY_CAP) / 1024,
        caps.cta_clicks,
    );
    if signals.visits > 1 {
        add(
            Reason::Text("returning visitor (", signals.visits.into(), " visits)"),
            rules.return_visit.into(),
            None,
        );
    }
    for rule in &rules.scroll {
        if signals.max_scroll_percent >= rule.percent {
            add(Reason::Text("scrolled ", rule.percent.into(), "% of a page"), rule.points.into(), None);
        }
    }
    for rule in &rules.pages {
        if signals.paths.iter().any(|p| rule.matches(p)) {
            add(Reason::Named("viewed ", &rule.path), rule.points.into(), None);
        }
    }
    let lists = [
        ("referrer ", &rules.referrers, &signals.referrer_hosts),
        ("utm_source ", &rules.utm_sources, &signals.utm_sources),
        ("utm_campaign ", &rules.utm_campaigns, &signals.utm_campaigns),
    ];
    for (what, rules, values) in lists {
        for rule in rules {
            if values.iter().any(|v| glob_match(&rule.pattern, v)) {
                add(Reason::Named(what, &rule.pattern), rule.points.into(), None);
            }
        }
    }
}

/// The components' sum, clamped to `0..=max`.
fn total(sum: i64, max: i32) -> i32 {
    // (`max`/`min` rather than `clamp`: no assertion path in the widget.)
    sum.max(0).min(max.max(0).into()) as i32
}

/// Scores `signals` under `rules`. Each component is capped as configured; the total is
/// clamped to `0..=rules.max`. Activity is read from the per-day record when there is one
/// (and then decays with the half-life), else from the totals.
pub fn compute_score(rules: &ScoringRules, signals: &Signals) -> ScoreReport {
    let mut items = Vec::new();
    components(rules, signals, &mut |reason, points| items.push(ScoreItem { reason: reason.text(), points }));
    let sum: i64 = items.iter().map(|i| i64::from(i.points)).sum();
    ScoreReport { total: total(sum, rules.max), explanation: items }
}

/// [`compute_score`]'s total alone, without the explanation's wording.
pub fn score_total(rules: &ScoringRules, signals: &Signals) -> i32 {
    let mut sum = 0i64;
    components(rules, signals, &mut |_, points| sum += i64::from(points));
    total(sum, rules.max)
}

/// A total with no per-day record: full weight.
fn flat(n: u32) -> (u64, i64) {
    (n.into(), i64::from(n) * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Caps, MatchRule, PageRule, ScrollRule};
    use proptest::prelude::*;

    fn signals(page_views: u32, engaged_seconds: u32, visits: u32, scroll: u8) -> Signals {
        Signals {
            visits,
            page_views,
            engaged_seconds,
            max_scroll_percent: scroll,
            paths: vec!["/".into(), "/pricing/team".into()],
            ..Signals::default()
        }
    }

    fn day(day: u32, page_views: u32, engaged_seconds: u32, cta_clicks: u32) -> DayActivity {
        DayActivity { day, page_views, engaged_seconds, cta_clicks }
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
    fn components_table() {
        let base = ScoringRules { scroll: vec![], ..ScoringRules::default() };
        let with = |f: fn(&mut ScoringRules)| {
            let mut r = base.clone();
            f(&mut r);
            r
        };
        let arrived = Signals {
            referrer_hosts: vec!["www.google.com".into()],
            utm_sources: vec!["newsletter".into()],
            utm_campaigns: vec!["spring-sale".into()],
            max_scroll_percent: 60,
            cta_clicks: 3,
            ..Signals::default()
        };
        let cases: Vec<(&str, ScoringRules, i32)> = vec![
            ("nothing configured matches", base.clone(), 15),
            (
                "referrer glob",
                with(|r| r.referrers = vec![MatchRule { pattern: "*.google.*".into(), points: 10 }]),
                25,
            ),
            (
                "referrer miss",
                with(|r| r.referrers = vec![MatchRule { pattern: "*.bing.*".into(), points: 10 }]),
                15,
            ),
            (
                "utm source",
                with(|r| r.utm_sources = vec![MatchRule { pattern: "news*".into(), points: 7 }]),
                22,
            ),
            (
                "utm campaign",
                with(|r| r.utm_campaigns = vec![MatchRule { pattern: "spring-*".into(), points: 4 }]),
                19,
            ),
            (
                "scroll thresholds, each once",
                with(|r| {
                    r.scroll = vec![
                        ScrollRule { percent: 25, points: 1 },
                        ScrollRule { percent: 50, points: 2 },
                        ScrollRule { percent: 75, points: 4 },
                    ]
                }),
                18,
            ),
            ("cta cap", with(|r| r.caps = Caps { cta_clicks: Some(8), ..Caps::default() }), 8),
            ("negative points", with(|r| r.cta_click = -1), 0),
        ];
        for (name, rules, expected) in cases {
            assert_eq!(compute_score(&rules, &arrived).total, expected, "{name}");
            assert_eq!(score_total(&rules, &arrived), expected, "{name}: the total alone");
        }
    }

    #[test]
    fn reasons_name_their_counts() {
        assert_eq!(count(0, "page view"), "0 page views");
        assert_eq!(count(1, "page view"), "1 page view");
        assert_eq!(count(2, "CTA click"), "2 CTA clicks");
        assert_eq!(text("(", 4_294_967_295, ")"), "(4294967295)");
        let mut s = String::from("x");
        push_decimal(&mut s, u64::MAX);
        assert_eq!(s, "x18446744073709551615");
        let report = compute_score(&ScoringRules::default(), &signals(3, 125, 2, 0));
        let reasons: Vec<_> = report.explanation.iter().map(|i| i.reason.as_str()).collect();
        assert_eq!(reasons, ["3 page views", "2 engaged minutes", "returning visitor (2 visits)"]);
    }

    #[test]
    fn the_total_and_each_component_are_capped() {
        let rules = ScoringRules { max: 10, ..ScoringRules::default() };
        assert_eq!(compute_score(&rules, &signals(50, 0, 1, 0)).total, 10);
        let rules = ScoringRules {
            caps: Caps { page_views: Some(6), engaged_minutes: Some(3), cta_clicks: None },
            ..ScoringRules::default()
        };
        let report = compute_score(&rules, &signals(50, 3600, 1, 0));
        assert_eq!(report.total, 9, "{report:?}");
    }

    #[test]
    fn the_largest_counts_under_the_largest_weights_stay_capped_and_positive() {
        let rules = ScoringRules {
            page_view: i32::MAX,
            engaged_minute: i32::MAX,
            cta_click: i32::MAX,
            max: 1000,
            ..ScoringRules::default()
        };
        let s = Signals {
            today: 99,
            days: (0..100).map(|d| day(d, u32::MAX, u32::MAX, u32::MAX)).collect(),
            ..Signals::default()
        };
        let report = compute_score(&rules, &s);
        assert_eq!(report.total, 1000, "{report:?}");
        assert!(report.explanation.iter().all(|i| i.points == i32::MAX), "{report:?}");
    }

    #[test]
    fn activity_decays_with_the_half_life() {
        let weights: Vec<_> = [0, 7, 14, 21, 3, 10].iter().map(|a| decay_weight(*a, Some(7))).collect();
        assert_eq!(weights, [1024, 512, 256, 128, 1024 - 512 * 3 / 7, 512 - 256 * 3 / 7]);
        assert_eq!(decay_weight(1000, Some(7)), 0);
        assert_eq!(decay_weight(1000, None), 1024);
        let rules = ScoringRules { half_life_days: Some(7), ..ScoringRules::default() };
        let mut s = Signals { today: 20_014, ..Signals::default() };
        // Ten page views today (20 points) and ten two weeks ago (a quarter: 5 points).
        s.days = vec![day(20_000, 10, 0, 0), day(20_014, 10, 0, 0)];
        let report = compute_score(&rules, &s);
        assert_eq!(report.explanation[0].reason, "20 page views");
        assert_eq!(report.total, 25);
        // Without a half-life the per-day record counts in full.
        assert_eq!(compute_score(&ScoringRules::default(), &s).total, 40);
    }

    proptest! {
        #[test]
        fn the_score_is_bounded_and_deterministic(pv in 0u32..100_000, secs in any::<u32>(), visits in 0u32..1000, scroll in 0u8..=100) {
            let rules = ScoringRules::default();
            let s = signals(pv, secs, visits, scroll);
            let a = compute_score(&rules, &s);
            prop_assert!(a.total >= 0 && a.total <= rules.max);
            prop_assert_eq!(score_total(&rules, &s), a.total);
            prop_assert_eq!(a, compute_score(&rules, &s));
        }

        #[test]
        fn decay_is_monotone(age in 0u32..2000, hl in 1u32..400) {
            prop_assert!(decay_weight(age + 1, Some(hl)) <= decay_weight(age, Some(hl)));
            prop_assert!(decay_weight(age, Some(hl)) <= 1024);
        }

        #[test]
        fn older_activity_never_scores_more(views in 0u32..10_000, age in 0u32..500, later in 1u32..500, hl in 1u32..60) {
            let rules = ScoringRules { half_life_days: Some(hl), max: i32::MAX, ..ScoringRules::default() };
            let at = |a: u32| {
                let s = Signals { today: 1000, days: vec![day(1000 - a, views, views, views)], ..Signals::default() };
                compute_score(&rules, &s).total
            };
            prop_assert!(at((age + later).min(1000)) <= at(age));
        }
    }
}
