//! The stats report built from stored counters: totals, per day, top paths and sources, and
//! per-campaign conversion (the most shown variants by name, the rest as `(other)`). Pure,
//! and bounded: a report over many days of visitor-chosen names keeps a hash and a count per
//! name, and only the names it lists.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};

use serde::Serialize;

use crate::counters::OTHER;
#[cfg(test)]
use crate::store::CounterRow;

/// How many entries the top lists hold.
const TOP: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub pageviews: u64,
    pub visitors: u64,
    pub sessions: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayStats {
    pub date: String,
    #[serde(flatten)]
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ranked {
    pub key: String,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CampaignStats {
    pub campaign: String,
    pub variant: Option<String>,
    pub shown: u64,
    pub closed: u64,
    pub converted: u64,
    /// Leads the server stored for it (from the widget, plain HTML forms and other programs
    /// alike; `converted` counts only the widget's conversions).
    pub leads: u64,
    /// converted / shown, 0 when never shown.
    pub conversion_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsReport {
    pub site: String,
    pub from: String,
    pub to: String,
    pub totals: Totals,
    pub days: Vec<DayStats>,
    pub top_paths: Vec<Ranked>,
    pub top_referrers: Vec<Ranked>,
    pub top_utm_sources: Vec<Ranked>,
    pub campaigns: Vec<CampaignStats>,
}

fn add_total(t: &mut Totals, name: &str, value: u64) {
    let total = match name {
        "pageviews" => &mut t.pageviews,
        "visitors" => &mut t.visitors,
        "sessions" => &mut t.sessions,
        _ => return,
    };
    *total = total.saturating_add(value);
}

/// How many variants of one campaign the report lists; the others are added up as `(other)`.
pub const TOP_VARIANTS: usize = 10;

/// The variant name of a campaign event without one.
const NO_VARIANT: &str = "-";

/// At most this many names are looked up for one list: the leaders, and those tied with the
/// last of them (the ties are then ordered by name; beyond this, which tie makes the list is
/// arbitrary).
const CANDIDATES: usize = 100;

/// One campaign variant's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Actions {
    shown: u64,
    closed: u64,
    converted: u64,
    leads: u64,
}

impl Actions {
    fn add(&mut self, other: Actions) {
        self.shown = self.shown.saturating_add(other.shown);
        self.closed = self.closed.saturating_add(other.closed);
        self.converted = self.converted.saturating_add(other.converted);
        self.leads = self.leads.saturating_add(other.leads);
    }

    /// How variants rank: most shown, then most converted.
    fn rank(&self) -> (u64, u64) {
        (self.shown, self.converted)
    }
}

/// What a counter name counts toward.
enum Counted<'a> {
    Total,
    Path(&'a str),
    Referrer(&'a str),
    Source(&'a str),
    Campaign { campaign: &'a str, variant: &'a str, action: &'a str },
}

fn classify(name: &str) -> Counted<'_> {
    let (kind, rest) = name.split_once(':').unwrap_or((name, ""));
    match kind {
        "path" => Counted::Path(rest),
        "referrer" => Counted::Referrer(rest),
        "utm_source" => Counted::Source(rest),
        "campaign" => {
            let mut parts = rest.rsplitn(3, ':');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(action), Some(variant), Some(campaign)) => {
                    Counted::Campaign { campaign, variant, action }
                }
                _ => Counted::Total,
            }
        }
        _ => Counted::Total,
    }
}

/// Counts (`C`) by the hash of their name: memory per distinct name is a few words whatever
/// its length (visitors choose paths, hosts, sources and variants, up to 2 KB each).
struct Tallies<C> {
    counts: HashMap<u64, C>,
    /// After the first pass: the names wanted, filled in by the second.
    names: HashMap<u64, Option<String>>,
}

impl<C> Default for Tallies<C> {
    fn default() -> Self {
        Self { counts: HashMap::new(), names: HashMap::new() }
    }
}

/// The hashes of the `keep` best of `items` by `rank` (descending), and of those tied with
/// the last of them, at most [`CANDIDATES`].
fn candidates<R: Ord + Copy>(items: impl Iterator<Item = (u64, R)>, keep: usize) -> Vec<u64> {
    let mut all: Vec<(u64, R)> = items.collect();
    all.sort_unstable_by_key(|a| core::cmp::Reverse(a.1));
    let Some(&(_, last)) = all.get(keep.saturating_sub(1)) else {
        return all.into_iter().map(|(h, _)| h).collect();
    };
    all.into_iter().take_while(|(_, r)| *r >= last).take(CANDIDATES).map(|(h, _)| h).collect()
}

impl<C> Tallies<C> {
    /// Wants the names of `hashes`.
    fn want(&mut self, hashes: Vec<u64>) {
        self.names = hashes.into_iter().map(|h| (h, None)).collect();
    }

    fn name(&mut self, hash: u64, name: &str) {
        if let Some(slot @ None) = self.names.get_mut(&hash) {
            *slot = Some(name.to_owned());
        }
    }
}

impl Tallies<u64> {
    fn add(&mut self, hash: u64, value: u64) {
        let count = self.counts.entry(hash).or_default();
        *count = count.saturating_add(value);
    }

    fn choose(&mut self) {
        self.want(candidates(self.counts.iter().map(|(h, c)| (*h, *c)), TOP));
    }

    fn top(self) -> Vec<Ranked> {
        let counts = self.counts;
        let mut v: Vec<Ranked> = self
            .names
            .into_iter()
            .filter_map(|(h, name)| Some(Ranked { key: name?, count: counts[&h] }))
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        v.truncate(TOP);
        v
    }
}

/// Builds a [`StatsReport`] in two passes over a site's counters, in memory bounded by the
/// number of distinct names rather than their size: [`ReportBuilder::add`] every counter,
/// then, if [`ReportBuilder::needs_names`], [`ReportBuilder::name`] every counter again (only
/// the names that made the report are kept), then [`ReportBuilder::report`]. Pure.
pub struct ReportBuilder {
    hasher: RandomState,
    totals: Totals,
    days: BTreeMap<String, Totals>,
    paths: Tallies<u64>,
    referrers: Tallies<u64>,
    sources: Tallies<u64>,
    /// Each campaign's variants.
    campaigns: BTreeMap<String, Tallies<Actions>>,
    chosen: bool,
}

impl Default for ReportBuilder {
    fn default() -> Self {
        Self {
            // A fresh key per report: nobody can choose names that collide.
            hasher: RandomState::new(),
            totals: Totals::default(),
            days: BTreeMap::new(),
            paths: Tallies::default(),
            referrers: Tallies::default(),
            sources: Tallies::default(),
            campaigns: BTreeMap::new(),
            chosen: false,
        }
    }
}

impl ReportBuilder {
    /// First pass: adds counter `name` of `day`.
    pub fn add(&mut self, day: &str, name: &str, value: u64) {
        add_total(&mut self.totals, name, value);
        match self.days.get_mut(day) {
            Some(t) => add_total(t, name, value),
            None => add_total(self.days.entry(day.to_owned()).or_default(), name, value),
        }
        let hash = |s: &str| self.hasher.hash_one(s);
        match classify(name) {
            Counted::Total => {}
            Counted::Path(p) => self.paths.add(hash(p), value),
            Counted::Referrer(r) => self.referrers.add(hash(r), value),
            Counted::Source(s) => self.sources.add(hash(s), value),
            Counted::Campaign { campaign, variant, action } => {
                let v = hash(variant);
                let variants = match self.campaigns.get_mut(campaign) {
                    Some(v) => v,
                    None => self.campaigns.entry(campaign.to_owned()).or_default(),
                };
                let a = variants.counts.entry(v).or_default();
                let count = match action {
                    "shown" => &mut a.shown,
                    "closed" => &mut a.closed,
                    "converted" => &mut a.converted,
                    "lead" => &mut a.leads,
                    _ => return,
                };
                *count = count.saturating_add(value);
            }
        }
    }

    /// Ends the first pass: picks the names the report needs (the leaders, with `(other)`
    /// among them if it leads: it is merged, not listed twice). Whether a second pass is needed.
    pub fn needs_names(&mut self) -> bool {
        self.choose();
        [&self.paths, &self.referrers, &self.sources].iter().any(|t| !t.names.is_empty())
            || self.campaigns.values().any(|v| !v.names.is_empty())
    }

    /// Picks the names the report needs, once.
    fn choose(&mut self) {
        if self.chosen {
            return;
        }
        self.chosen = true;
        for t in [&mut self.paths, &mut self.referrers, &mut self.sources] {
            t.choose();
        }
        // A campaign's events without a variant (`-`) are always listed.
        let plain = self.hasher.hash_one(NO_VARIANT);
        for variants in self.campaigns.values_mut() {
            let ranked = variants.counts.iter().filter(|(h, _)| **h != plain);
            variants.want(candidates(ranked.map(|(h, a)| (*h, a.rank())), TOP_VARIANTS));
            if variants.counts.contains_key(&plain) {
                variants.names.insert(plain, Some(NO_VARIANT.to_owned()));
            }
        }
    }

    /// Second pass: keeps counter `name`'s name if the report needs it.
    pub fn name(&mut self, name: &str) {
        self.choose();
        let hash = |s: &str| self.hasher.hash_one(s);
        match classify(name) {
            Counted::Total => {}
            Counted::Path(p) => self.paths.name(hash(p), p),
            Counted::Referrer(r) => self.referrers.name(hash(r), r),
            Counted::Source(s) => self.sources.name(hash(s), s),
            Counted::Campaign { campaign, variant, .. } => {
                if let Some(variants) = self.campaigns.get_mut(campaign) {
                    variants.name(hash(variant), variant);
                }
            }
        }
    }

    /// The report for `site` over `from..=to`.
    pub fn report(mut self, site: &str, from: &str, to: &str) -> StatsReport {
        self.choose();
        let mut campaigns = Vec::new();
        for (campaign, variants) in self.campaigns {
            let Tallies { counts: mut by_hash, names } = variants;
            let mut named: Vec<(String, Actions)> = names
                .into_iter()
                .filter_map(|(h, name)| name.filter(|n| n != OTHER).map(|n| (h, n)))
                .filter_map(|(h, name)| Some((name, by_hash.remove(&h)?)))
                .collect();
            let plain = named.iter().position(|(name, _)| name == NO_VARIANT).map(|i| named.remove(i));
            named.sort_by(|a, b| b.1.rank().cmp(&a.1.rank()).then_with(|| a.0.cmp(&b.0)));
            let mut other = Actions::default();
            for (_, rest) in named.drain(named.len().min(TOP_VARIANTS)..) {
                other.add(rest);
            }
            named.extend(plain);
            // Everything not listed by name (including the counters' own `(other)`).
            by_hash.into_values().for_each(|a| other.add(a));
            if other != Actions::default() {
                named.push((OTHER.to_owned(), other));
            }
            named.sort_by(|a, b| a.0.cmp(&b.0));
            campaigns.extend(named.into_iter().map(|(variant, a)| CampaignStats {
                campaign: campaign.clone(),
                variant: (variant != NO_VARIANT).then_some(variant),
                shown: a.shown,
                closed: a.closed,
                converted: a.converted,
                leads: a.leads,
                conversion_rate: if a.shown == 0 { 0.0 } else { a.converted as f64 / a.shown as f64 },
            }));
        }
        StatsReport {
            site: site.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            totals: self.totals,
            days: {
                // Every day of the range, a day without counts as zeros: a chart's series.
                let mut days = self.days;
                for date in each_day(from, to) {
                    days.entry(date).or_default();
                }
                days.into_iter().map(|(date, totals)| DayStats { date, totals }).collect()
            },
            top_paths: self.paths.top(),
            top_referrers: self.referrers.top(),
            top_utm_sources: self.sources.top(),
            campaigns,
        }
    }
}

/// A day as the report and its range name it: `2026-11-01`.
pub const DAY: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// The days `from..=to`, none when either is not a [`DAY`].
fn each_day(from: &str, to: &str) -> Vec<String> {
    let (Ok(mut d), Ok(to)) = (time::Date::parse(from, DAY), time::Date::parse(to, DAY)) else {
        return Vec::new();
    };
    let mut days = Vec::new();
    while d <= to {
        days.push(d.to_string());
        let Some(next) = d.next_day() else { break };
        d = next;
    }
    days
}

/// Builds the report for `site` over `from..=to` from counter rows held in memory.
#[cfg(test)]
pub fn build_report(site: &str, from: &str, to: &str, rows: &[CounterRow]) -> StatsReport {
    let mut b = ReportBuilder::default();
    rows.iter().for_each(|r| b.add(&r.day, &r.name, r.value));
    if b.needs_names() {
        rows.iter().for_each(|r| b.name(&r.name));
    }
    b.report(site, from, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(day: &str, name: &str, value: u64) -> CounterRow {
        CounterRow { day: day.into(), name: name.into(), value }
    }

    #[test]
    fn the_report_adds_up_days_tops_and_conversion() {
        let rows = [
            row("2026-11-01", "pageviews", 10),
            row("2026-11-01", "path:/", 7),
            row("2026-11-01", "path:/pricing", 3),
            row("2026-11-02", "pageviews", 5),
            row("2026-11-02", "path:/pricing", 5),
            row("2026-11-02", "visitors", 2),
            row("2026-11-02", "campaign:welcome:-:shown", 4),
            row("2026-11-02", "campaign:welcome:-:converted", 1),
            row("2026-11-01", "campaign:welcome:-:lead", 3),
            row("2026-11-02", "campaign:welcome:-:lead", 2),
            row("2026-11-02", "referrer:news.example", 2),
        ];
        let r = build_report("s", "2026-10-31", "2026-11-03", &rows);
        assert_eq!(r.totals, Totals { pageviews: 15, visitors: 2, sessions: 0 });
        // Every day of the range, those without counts as zeros.
        let days: Vec<(&str, u64)> = r.days.iter().map(|d| (d.date.as_str(), d.totals.pageviews)).collect();
        assert_eq!(days, [("2026-10-31", 0), ("2026-11-01", 10), ("2026-11-02", 5), ("2026-11-03", 0)]);
        assert_eq!(each_day("2026-12-31", "2027-01-01"), ["2026-12-31", "2027-01-01"]);
        assert!(each_day("2026-11-02", "2026-11-01").is_empty());
        assert_eq!(r.top_paths[0], Ranked { key: "/pricing".into(), count: 8 });
        assert_eq!(r.top_referrers[0].key, "news.example");
        assert_eq!(r.campaigns[0].shown, 4);
        assert_eq!(r.campaigns[0].variant, None);
        assert_eq!((r.campaigns[0].converted, r.campaigns[0].leads), (1, 5));
        assert!((r.campaigns[0].conversion_rate - 0.25).abs() < 1e-9);
    }

    #[test]
    fn variants_past_the_most_shown_are_added_up_as_other() {
        let mut rows = Vec::new();
        for v in 0..15u64 {
            rows.push(row("2026-11-01", &format!("campaign:w:v{v:02}:shown"), 100 + v));
            rows.push(row("2026-11-02", &format!("campaign:w:v{v:02}:converted"), 1));
        }
        rows.push(row("2026-11-01", "campaign:w:(other):shown", 7));
        rows.push(row("2026-11-01", "campaign:w:-:closed", 2));
        let r = build_report("s", "2026-11-01", "2026-11-02", &rows);
        let names: Vec<_> = r.campaigns.iter().map(|c| c.variant.as_deref().unwrap_or("-")).collect();
        // The ten most shown (v05..v14) by name, `(other)` with the rest, and the events
        // without a variant however few.
        let listed: Vec<String> = (5..15).map(|v| format!("v{v:02}")).collect();
        let want: Vec<&str> = ["(other)", "-"].into_iter().chain(listed.iter().map(String::as_str)).collect();
        assert_eq!(names, want);
        let other = &r.campaigns[0];
        assert_eq!((other.shown, other.converted), (100 + 101 + 102 + 103 + 104 + 7, 5));
        let total: u64 = r.campaigns.iter().map(|c| c.shown).sum();
        assert_eq!(total, (0..15).map(|v| 100 + v).sum::<u64>() + 7, "nothing lost");
        assert_eq!(r.campaigns[1].closed, 2);
        // Only `(other)`, named as such, among the most shown.
        let rows =
            [row("2026-11-01", "campaign:w:(other):shown", 9), row("2026-11-01", "campaign:w:a:shown", 1)];
        let r = build_report("s", "2026-11-01", "2026-11-01", &rows);
        let shown: Vec<_> = r.campaigns.iter().map(|c| (c.variant.as_deref(), c.shown)).collect();
        assert_eq!(shown, [(Some("(other)"), 9), (Some("a"), 1)]);
    }

    #[test]
    fn ties_rank_by_name_and_only_the_listed_names_are_kept() {
        let mut b = ReportBuilder::default();
        // Ten thousand long paths (a visitor's choice), each seen on one of two days; fifty
        // seen on both; two seen more.
        let long = "x".repeat(2000);
        let names: Vec<String> = (0..10_000).map(|i| format!("path:/{i:05}{long}")).collect();
        for (i, n) in names.iter().enumerate() {
            b.add(if i % 2 == 0 { "2026-11-01" } else { "2026-11-02" }, n, 1);
        }
        for (i, n) in names.iter().enumerate().filter(|(i, _)| i % 200 == 7) {
            b.add(if i % 2 == 0 { "2026-11-02" } else { "2026-11-01" }, n, 1);
        }
        for day in ["2026-11-01", "2026-11-02"] {
            b.add(day, "path:/pricing", 5);
            b.add(day, "path:/", 3);
        }
        assert!(b.needs_names());
        for n in &names {
            b.name(n);
        }
        b.name("path:/pricing");
        b.name("path:/");
        let kept = b.paths.names.values().filter(|n| n.is_some()).count();
        assert!(kept <= CANDIDATES, "{kept} names kept");
        let r = b.report("s", "2026-11-01", "2026-11-02");
        let top: Vec<_> = r.top_paths.iter().map(|p| (p.key.get(..6).unwrap_or(&p.key), p.count)).collect();
        assert_eq!(top[..2], [("/prici", 10), ("/", 6)]);
        assert_eq!(top.len(), TOP);
        // Among the fifty tied at 2, which are listed does not depend on the run: the first by name.
        assert_eq!(top[2..4], [("/00007", 2), ("/00207", 2)]);
        assert_eq!(r.totals, Totals::default());
    }
}
