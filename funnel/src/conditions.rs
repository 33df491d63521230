//! Trigger conditions as a tree: leaves for each signal (delay, time on site, scroll, exit
//! intent, inactivity, a click, page views, Nth visit, score, a custom event) combined with
//! `all` and `any`. Evaluation also yields each leaf's verdict with the value it saw, which is
//! what a debug overlay shows. Pure.
//!
//! In `lodestone.toml`: `trigger = { any = [{ scroll_percent = 60 }, { all = [{ exit_intent = true }, { delay_seconds = 10 }] }] }`.

#[allow(unused_imports)]
use crate::prelude::*;

use serde::{Deserialize, Serialize};

/// One signal threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Leaf {
    DelaySeconds(u32),
    TimeOnSiteSeconds(u32),
    ScrollPercent(u8),
    ExitIntent(bool),
    InactiveSeconds(u32),
    /// An element clicked on this page: a `data-lodestone-open` value or a configured selector key.
    Click(String),
    MinPageViews(u32),
    MinVisits(u32),
    MinScore(i32),
    /// A custom event, from `lodestone.track("name")`.
    Event(String),
}

/// A condition tree. Each table has exactly one key: `all`, `any` or a leaf's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Condition {
    All { all: Vec<Condition> },
    Any { any: Vec<Condition> },
    Leaf(Leaf),
}

const LEAVES: &[&str] = &[
    "delay_seconds",
    "time_on_site_seconds",
    "scroll_percent",
    "exit_intent",
    "inactive_seconds",
    "click",
    "min_page_views",
    "min_visits",
    "min_score",
    "event",
];

/// Reads one-key tables so that a wrong key is named in the error (an untagged enum would
/// only say that nothing matched).
impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct One;
        impl<'de> serde::de::Visitor<'de> for One {
            type Value = Condition;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a table with one key: all, any, or a condition such as scroll_percent")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Condition, A::Error> {
                use serde::de::Error;
                let Some(key) = map.next_key::<String>()? else {
                    return Err(A::Error::custom("empty condition: use all, any, or a condition"));
                };
                let c = match key.as_str() {
                    "all" => Condition::All { all: map.next_value()? },
                    "any" => Condition::Any { any: map.next_value()? },
                    "delay_seconds" => Condition::Leaf(Leaf::DelaySeconds(map.next_value()?)),
                    "time_on_site_seconds" => Condition::Leaf(Leaf::TimeOnSiteSeconds(map.next_value()?)),
                    "scroll_percent" => Condition::Leaf(Leaf::ScrollPercent(map.next_value()?)),
                    "exit_intent" => Condition::Leaf(Leaf::ExitIntent(map.next_value()?)),
                    "inactive_seconds" => Condition::Leaf(Leaf::InactiveSeconds(map.next_value()?)),
                    "click" => Condition::Leaf(Leaf::Click(map.next_value()?)),
                    "min_page_views" => Condition::Leaf(Leaf::MinPageViews(map.next_value()?)),
                    "min_visits" => Condition::Leaf(Leaf::MinVisits(map.next_value()?)),
                    "min_score" => Condition::Leaf(Leaf::MinScore(map.next_value()?)),
                    "event" => Condition::Leaf(Leaf::Event(map.next_value()?)),
                    other => return Err(A::Error::unknown_field(other, LEAVES)),
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(A::Error::custom(format_args!(
                        "`{extra}` beside `{key}`: one condition per table, combine them with all = [...] or any = [...]"
                    )));
                }
                Ok(c)
            }
        }
        d.deserialize_map(One)
    }
}

/// The signals a condition is evaluated against, on the current page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Now<'a> {
    pub seconds_on_page: u32,
    pub seconds_in_session: u32,
    pub scroll_percent: u8,
    pub exit_intent: bool,
    pub inactive_seconds: u32,
    pub clicked: &'a [String],
    pub events: &'a [String],
    pub page_views: u32,
    pub visits: u32,
    pub score: i32,
}

/// One leaf's verdict and the value it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafVerdict {
    pub leaf: Leaf,
    pub passed: bool,
    /// What the signal was (`40` for a scroll percent, `true` for exit intent, ...).
    pub seen: i64,
}

impl Leaf {
    /// The leaf's name, as written in the config.
    pub fn name(&self) -> &'static str {
        match self {
            Self::DelaySeconds(_) => LEAVES[0],
            Self::TimeOnSiteSeconds(_) => LEAVES[1],
            Self::ScrollPercent(_) => LEAVES[2],
            Self::ExitIntent(_) => LEAVES[3],
            Self::InactiveSeconds(_) => LEAVES[4],
            Self::Click(_) => LEAVES[5],
            Self::MinPageViews(_) => LEAVES[6],
            Self::MinVisits(_) => LEAVES[7],
            Self::MinScore(_) => LEAVES[8],
            Self::Event(_) => LEAVES[9],
        }
    }

    /// What the leaf asks for, as text (`60`, `true`, `demo-cta`).
    pub fn wants(&self) -> String {
        let mut out = String::new();
        match self {
            Self::DelaySeconds(n)
            | Self::TimeOnSiteSeconds(n)
            | Self::InactiveSeconds(n)
            | Self::MinPageViews(n)
            | Self::MinVisits(n) => crate::score::push_decimal(&mut out, (*n).into()),
            Self::ScrollPercent(p) => crate::score::push_decimal(&mut out, (*p).into()),
            Self::MinScore(s) => {
                if *s < 0 {
                    out.push('-');
                }
                crate::score::push_decimal(&mut out, s.unsigned_abs().into());
            }
            Self::ExitIntent(b) => out.push_str(if *b { "true" } else { "false" }),
            Self::Click(k) | Self::Event(k) => out.push_str(k),
        }
        out
    }

    /// Whether the leaf holds, and the value it compared.
    pub fn check(&self, now: &Now<'_>) -> (bool, i64) {
        let at_least = |seen: u32, needed: u32| (seen >= needed, i64::from(seen));
        match self {
            Self::DelaySeconds(s) => at_least(now.seconds_on_page, *s),
            Self::TimeOnSiteSeconds(s) => at_least(now.seconds_in_session, *s),
            Self::ScrollPercent(p) => at_least(now.scroll_percent.into(), (*p).into()),
            Self::ExitIntent(want) => (now.exit_intent == *want, i64::from(now.exit_intent)),
            Self::InactiveSeconds(s) => at_least(now.inactive_seconds, *s),
            Self::Click(key) => {
                let n = now.clicked.iter().filter(|c| *c == key).count();
                (n > 0, n as i64)
            }
            Self::MinPageViews(n) => at_least(now.page_views, *n),
            Self::MinVisits(n) => at_least(now.visits, *n),
            Self::MinScore(s) => (now.score >= *s, i64::from(now.score)),
            Self::Event(name) => {
                let n = now.events.iter().filter(|e| *e == name).count();
                (n > 0, n as i64)
            }
        }
    }
}

impl Condition {
    /// Whether the tree holds at `now`. An empty `all` holds; an empty `any` does not.
    pub fn holds(&self, now: &Now<'_>) -> bool {
        match self {
            Self::All { all } => all.iter().all(|c| c.holds(now)),
            Self::Any { any } => any.iter().any(|c| c.holds(now)),
            Self::Leaf(leaf) => leaf.check(now).0,
        }
    }

    /// Every leaf's verdict, depth first, whether or not it decided the outcome.
    pub fn verdicts(&self, now: &Now<'_>) -> Vec<LeafVerdict> {
        let mut out = Vec::new();
        self.collect(now, &mut out);
        out
    }

    fn collect(&self, now: &Now<'_>, out: &mut Vec<LeafVerdict>) {
        match self {
            Self::All { all: children } | Self::Any { any: children } => {
                children.iter().for_each(|c| c.collect(now, out));
            }
            Self::Leaf(leaf) => {
                let (passed, seen) = leaf.check(now);
                out.push(LeafVerdict { leaf: leaf.clone(), passed, seen });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now<'a>(clicked: &'a [String], events: &'a [String]) -> Now<'a> {
        Now {
            seconds_on_page: 12,
            seconds_in_session: 300,
            scroll_percent: 40,
            exit_intent: false,
            inactive_seconds: 5,
            clicked,
            events,
            page_views: 3,
            visits: 2,
            score: 25,
        }
    }

    #[test]
    fn each_leaf_table() {
        let clicked = vec!["demo-cta".to_owned()];
        let events = vec!["video_played".to_owned()];
        let n = now(&clicked, &events);
        let cases = [
            (Leaf::DelaySeconds(12), true, 12),
            (Leaf::DelaySeconds(13), false, 12),
            (Leaf::TimeOnSiteSeconds(300), true, 300),
            (Leaf::ScrollPercent(41), false, 40),
            (Leaf::ExitIntent(true), false, 0),
            (Leaf::ExitIntent(false), true, 0),
            (Leaf::InactiveSeconds(5), true, 5),
            (Leaf::Click("demo-cta".into()), true, 1),
            (Leaf::Click("other".into()), false, 0),
            (Leaf::MinPageViews(4), false, 3),
            (Leaf::MinVisits(2), true, 2),
            (Leaf::MinScore(25), true, 25),
            (Leaf::MinScore(26), false, 25),
            (Leaf::Event("video_played".into()), true, 1),
            (Leaf::Event("signup".into()), false, 0),
        ];
        for (leaf, passed, seen) in cases {
            assert_eq!(leaf.check(&n), (passed, seen), "{leaf:?}");
        }
    }

    #[test]
    fn all_and_any_combine_and_every_leaf_is_explained() {
        let n = now(&[], &[]);
        let scroll = Condition::Leaf(Leaf::ScrollPercent(30));
        let exit = Condition::Leaf(Leaf::ExitIntent(true));
        let tree = Condition::Any {
            any: vec![
                exit.clone(),
                Condition::All { all: vec![scroll.clone(), Condition::Leaf(Leaf::MinScore(20))] },
            ],
        };
        assert!(tree.holds(&n));
        assert!(!Condition::All { all: vec![scroll, exit] }.holds(&n));
        assert!(Condition::All { all: vec![] }.holds(&n));
        assert!(!Condition::Any { any: vec![] }.holds(&n));
        let verdicts: Vec<_> = tree.verdicts(&n).into_iter().map(|v| (v.passed, v.seen)).collect();
        assert_eq!(verdicts, [(false, 0), (true, 40), (true, 25)]);
        let described: Vec<_> = tree.verdicts(&n).iter().map(|v| (v.leaf.name(), v.leaf.wants())).collect();
        assert_eq!(
            described,
            [("exit_intent", "true".into()), ("scroll_percent", "30".into()), ("min_score", "20".into())]
        );
        assert_eq!(Leaf::MinScore(-5).wants(), "-5");
    }

    #[test]
    fn trees_read_from_the_config_syntax() {
        #[derive(Deserialize)]
        struct Campaign {
            trigger: Condition,
        }
        let c: Campaign = toml::from_str(
            r#"trigger = { any = [{ scroll_percent = 60 }, { all = [{ exit_intent = true }, { delay_seconds = 10 }] }] }"#,
        )
        .expect("valid condition");
        let expected = Condition::Any {
            any: vec![
                Condition::Leaf(Leaf::ScrollPercent(60)),
                Condition::All {
                    all: vec![
                        Condition::Leaf(Leaf::ExitIntent(true)),
                        Condition::Leaf(Leaf::DelaySeconds(10)),
                    ],
                },
            ],
        };
        assert_eq!(c.trigger, expected);
    }
}
