//! The stats report built from stored counters: totals, per day, top paths and sources, and
//! per-campaign conversion. Pure.

use std::collections::BTreeMap;

use serde::Serialize;

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
    match name {
        "pageviews" => t.pageviews += value,
        "visitors" => t.visitors += value,
        "sessions" => t.sessions += value,
        _ => {}
    }
}

fn top(map: BTreeMap<String, u64>) -> Vec<Ranked> {
    let mut v: Vec<_> = map.into_iter().map(|(key, count)| Ranked { key, count }).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    v.truncate(TOP);
    v
}

/// Builds the report for `site` over `from..=to` from its counter rows.
pub fn build_report(site: &str, from: &str, to: &str, rows: &[CounterRow]) -> StatsReport {
    let mut totals = Totals::default();
    let mut days: BTreeMap<&str, Totals> = BTreeMap::new();
    let (mut paths, mut referrers, mut sources) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut campaigns: BTreeMap<(String, String), CampaignStats> = BTreeMap::new();
    for row in rows {
        add_total(&mut totals, &row.name, row.value);
        add_total(days.entry(&row.day).or_default(), &row.name, row.value);
        let (kind, rest) = row.name.split_once(':').unwrap_or((&row.name, ""));
        match kind {
            "path" => *paths.entry(rest.to_owned()).or_default() += row.value,
            "referrer" => *referrers.entry(rest.to_owned()).or_default() += row.value,
            "utm_source" => *sources.entry(rest.to_owned()).or_default() += row.value,
            "campaign" => {
                let mut parts = rest.rsplitn(3, ':');
                let (Some(action), Some(variant), Some(campaign)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let entry = campaigns.entry((campaign.to_owned(), variant.to_owned())).or_insert_with(|| {
                    CampaignStats {
                        campaign: campaign.to_owned(),
                        variant: (variant != "-").then(|| variant.to_owned()),
                        ..CampaignStats::default()
                    }
                });
                match action {
                    "shown" => entry.shown += row.value,
                    "closed" => entry.closed += row.value,
                    "converted" => entry.converted += row.value,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let campaigns = campaigns
        .into_values()
        .map(|mut c| {
            c.conversion_rate = if c.shown == 0 { 0.0 } else { c.converted as f64 / c.shown as f64 };
            c
        })
        .collect();
    StatsReport {
        site: site.to_owned(),
        from: from.to_owned(),
        to: to.to_owned(),
        totals,
        days: days.into_iter().map(|(d, totals)| DayStats { date: d.to_owned(), totals }).collect(),
        top_paths: top(paths),
        top_referrers: top(referrers),
        top_utm_sources: top(sources),
        campaigns,
    }
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
            row("2026-11-02", "referrer:news.example", 2),
        ];
        let r = build_report("s", "2026-11-01", "2026-11-02", &rows);
        assert_eq!(r.totals, Totals { pageviews: 15, visitors: 2, sessions: 0 });
        assert_eq!(r.days.len(), 2);
        assert_eq!(r.top_paths[0], Ranked { key: "/pricing".into(), count: 8 });
        assert_eq!(r.top_referrers[0].key, "news.example");
        assert_eq!(r.campaigns[0].shown, 4);
        assert_eq!(r.campaigns[0].variant, None);
        assert!((r.campaigns[0].conversion_rate - 0.25).abs() < 1e-9);
    }
}
