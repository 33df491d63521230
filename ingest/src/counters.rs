//! Anonymous event counters: events are added up in memory and written to the store once a
//! second, so a crash loses at most the last second of counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use funnel::Event;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::store::Store;

/// How often pending counts are written to the store.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// At most this many distinct values of one dimension (paths, referrer hosts, UTM sources,
/// and each campaign's variant and action pairs) get a counter of their own per site and day;
/// the rest are added up as `(other)`. Visitors choose these values: unbounded, anyone could
/// grow the store without limit.
pub const MAX_DISTINCT_PER_DAY: usize = 1000;

/// The value that stands for everything beyond [`MAX_DISTINCT_PER_DAY`].
pub const OTHER: &str = "(other)";

/// The dimension a counter belongs to, as the prefix its names share, and the name its
/// overflow is counted under: `path:/x` is in `path:` (overflow `path:(other)`), and
/// `campaign:ID:VARIANT:ACTION` in `campaign:ID:` (overflow `campaign:ID:(other):ACTION`,
/// so the stats still see the action). `None` for the fixed totals (`pageviews`, ...). Pure.
pub fn dimension(name: &str) -> Option<(&str, String)> {
    let (kind, rest) = name.split_once(':')?;
    if kind == "campaign" {
        let (campaign, variant_action) = rest.split_once(':')?;
        let action = variant_action.rsplit_once(':').map_or(variant_action, |(_, a)| a);
        let prefix = &name[..kind.len() + campaign.len() + 2];
        return Some((prefix, format!("{prefix}{OTHER}:{action}")));
    }
    Some((&name[..kind.len() + 1], format!("{kind}:{OTHER}")))
}

/// Calls `f` with each counter name one event increments, as parts to concatenate (no
/// allocation but for a referrer host with capitals). Pure: the vocabulary of the stats report.
pub fn each_counter(event: &Event, mut f: impl FnMut(&[&str])) {
    match event {
        Event::Pageview { path, referrer_host, utm_source, new_visitor, new_session } => {
            f(&["pageviews"]);
            if holds_address(path) {
                f(&["path:", &without_addresses(path)]);
            } else {
                f(&["path:", path]);
            }
            if *new_visitor {
                f(&["visitors"]);
            }
            if *new_session {
                f(&["sessions"]);
            }
            if let Some(host) = referrer_host.as_deref().filter(|h| !h.is_empty()) {
                if host.bytes().any(|b| b.is_ascii_uppercase()) {
                    f(&["referrer:", &host.to_ascii_lowercase()]);
                } else {
                    f(&["referrer:", host]);
                }
            }
            if let Some(src) = utm_source.as_deref().filter(|s| !s.is_empty()) {
                f(&["utm_source:", if holds_address(src) { ADDRESS } else { src }]);
            }
        }
        Event::Campaign { campaign, variant, action } => {
            f(&["campaign:", campaign, ":", variant.as_deref().unwrap_or("-"), ":", action.as_str()]);
        }
    }
}

/// What the counters keep of a path segment or UTM source holding an email address: they are
/// anonymous, and a page such as `/unsubscribe/jane@example.com` must not put one in them.
pub const ADDRESS: &str = "(address)";

/// Whether `value` may hold an email address: an `@`, also percent-encoded.
fn holds_address(value: &str) -> bool {
    value.contains('@') || value.contains("%40")
}

/// `path` with each segment that may hold an address replaced by [`ADDRESS`].
fn without_addresses(path: &str) -> String {
    path.split('/')
        .map(|segment| if holds_address(segment) { ADDRESS } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

/// The counter names one event increments, as strings.
pub fn counter_names(event: &Event) -> Vec<String> {
    let mut names = Vec::new();
    each_counter(event, |parts| names.push(parts.concat()));
    names
}

/// Pending counts keyed `site 0 day 0 name`: one string per counter, found without allocating.
type Pending = HashMap<String, u64>;

/// How many counters each `(site, day, dimension)` has in the store, once looked up.
type Distinct = HashMap<(String, String, String), usize>;

/// Counts waiting to be written. Cloneable handle.
#[derive(Clone, Default)]
pub struct Counters {
    pending: Arc<Mutex<Pending>>,
    distinct: Arc<Mutex<Distinct>>,
}

impl Counters {
    /// Adds one to each counter of each event, for `site` on `day`. The batch is added up
    /// first, so the shared lock is held only to merge a few totals.
    pub fn record(&self, site: &str, day: &str, events: &[Event]) {
        let mut local: Vec<(String, u64)> = Vec::with_capacity(16);
        let mut name = String::with_capacity(64);
        for event in events {
            each_counter(event, |parts| {
                name.clear();
                parts.iter().for_each(|p| name.push_str(p));
                match local.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, count)) => *count += 1,
                    None => local.push((name.clone(), 1)),
                }
            });
        }
        let mut key = format!("{site}\0{day}\0");
        let prefix = key.len();
        let mut pending = self.pending.lock().expect("counter lock");
        for (name, count) in local {
            key.truncate(prefix);
            key.push_str(&name);
            match pending.get_mut(key.as_str()) {
                Some(total) => *total += count,
                None => {
                    pending.insert(key.clone(), count);
                }
            }
        }
    }

    /// Adds one to the leads stored for `campaign` (its `variant`, if any) on `day`, as the
    /// counter `campaign:ID:VARIANT:lead`: counted when the store takes a new lead, whether
    /// the widget, a plain HTML form or another program posted it.
    pub fn lead(&self, site: &str, day: &str, campaign: &str, variant: Option<&str>) {
        let variant = variant.unwrap_or("-");
        let mut key = String::with_capacity(site.len() + day.len() + campaign.len() + variant.len() + 20);
        for part in [site, "\0", day, "\0campaign:", campaign, ":", variant, ":lead"] {
            key.push_str(part);
        }
        *self.pending.lock().expect("counter lock").entry(key).or_default() += 1;
    }

    /// Writes every pending count to `store` and flushes it. Blocking.
    pub fn persist(&self, store: &Store) -> Result<(), crate::store::StoreError> {
        let taken = std::mem::take(&mut *self.pending.lock().expect("counter lock"));
        if taken.is_empty() {
            return Ok(());
        }
        let result = self.bounded(store, &taken).and_then(|deltas| {
            store.add_counters(deltas.iter().map(|(site, day, name, v)| (*site, *day, name.as_str(), *v)))
        });
        if result.is_err() {
            // What was counted for names that never reached the store is looked up again.
            self.distinct.lock().expect("counter lock").clear();
            let mut pending = self.pending.lock().expect("counter lock");
            for (k, v) in taken {
                *pending.entry(k).or_default() += v;
            }
        }
        result?;
        store.flush()?;
        Ok(())
    }

    /// Each pending count as `(site, day, name, delta)`, where a name the store does not have
    /// yet, beyond its dimension's [`MAX_DISTINCT_PER_DAY`] for that site and day, becomes
    /// `DIMENSION:(other)`.
    fn bounded<'a>(
        &self,
        store: &Store,
        taken: &'a Pending,
    ) -> Result<Vec<(&'a str, &'a str, String, u64)>, crate::store::StoreError> {
        let mut distinct = self.distinct.lock().expect("counter lock");
        let mut out = Vec::with_capacity(taken.len());
        let mut oldest_day: Option<&str> = None;
        for (key, delta) in taken {
            let mut parts = key.splitn(3, '\0');
            let (Some(site), Some(day), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            oldest_day = Some(oldest_day.map_or(day, |d| d.min(day)));
            let name = match dimension(name) {
                Some((prefix, overflow)) if !store.has_counter(site, day, name)? => {
                    let id = (site.to_owned(), day.to_owned(), prefix.to_owned());
                    let count = match distinct.entry(id) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(store.count_counters(site, day, prefix, MAX_DISTINCT_PER_DAY)?)
                        }
                    };
                    if *count < MAX_DISTINCT_PER_DAY {
                        *count += 1;
                        name.to_owned()
                    } else {
                        overflow
                    }
                }
                _ => name.to_owned(),
            };
            out.push((site, day, name, *delta));
        }
        // Days before this batch's get no more counts: forget what was looked up for them.
        if let Some(oldest) = oldest_day {
            distinct.retain(|(_, day, _), _| day.as_str() >= oldest);
        }
        Ok(out)
    }

    /// Persists every [`FLUSH_EVERY`] until `stop` turns true, then once more.
    pub fn spawn_persister(self, store: Store, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let stopping = tokio::select! {
                    _ = tick.tick() => false,
                    _ = stop.changed() => true,
                };
                let (c, s) = (self.clone(), store.clone());
                match tokio::task::spawn_blocking(move || c.persist(&s)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "writing counters failed; kept for the next try")
                    }
                    Err(e) => tracing::error!(error = %e, "counter task failed"),
                }
                if stopping {
                    break;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use funnel::CampaignAction;

    #[test]
    fn each_event_names_the_counters_it_increments() {
        let pv = Event::Pageview {
            path: "/pricing".into(),
            referrer_host: Some("News.Example".into()),
            utm_source: Some("mail".into()),
            new_visitor: true,
            new_session: false,
        };
        assert_eq!(
            counter_names(&pv),
            ["pageviews", "path:/pricing", "visitors", "referrer:news.example", "utm_source:mail"]
        );
        let shown =
            Event::Campaign { campaign: "welcome".into(), variant: None, action: CampaignAction::Shown };
        assert_eq!(counter_names(&shown), ["campaign:welcome:-:shown"]);
        // An address in a path or a UTM source is not counted by name.
        let pv = Event::Pageview {
            path: "/unsubscribe/jane.doe@example.com/confirm/joe%40example.com".into(),
            referrer_host: None,
            utm_source: Some("jane.doe%40example.com".into()),
            new_visitor: false,
            new_session: false,
        };
        assert_eq!(
            counter_names(&pv),
            ["pageviews", "path:/unsubscribe/(address)/confirm/(address)", "utm_source:(address)"]
        );
    }

    #[test]
    fn recorded_counts_reach_the_store_once() {
        let store = Store::temporary().unwrap();
        let counters = Counters::default();
        let pv = Event::Pageview {
            path: "/".into(),
            referrer_host: None,
            utm_source: None,
            new_visitor: false,
            new_session: true,
        };
        counters.record("s", "2026-11-22", &[pv.clone(), pv]);
        counters.persist(&store).unwrap();
        counters.persist(&store).unwrap();
        let rows = store.counters("s", "2026-11-22", "2026-11-22").unwrap();
        let get = |n: &str| rows.iter().find(|r| r.name == n).map(|r| r.value);
        assert_eq!(get("pageviews"), Some(2));
        assert_eq!(get("sessions"), Some(2));
        assert_eq!(get("visitors"), None);
    }

    #[test]
    fn each_dimension_overflows_into_its_own_other() {
        assert_eq!(dimension("path:/a:b"), Some(("path:", "path:(other)".to_owned())));
        assert_eq!(dimension("referrer:news.example"), Some(("referrer:", "referrer:(other)".to_owned())));
        assert_eq!(
            dimension("campaign:welcome:b:shown"),
            Some(("campaign:welcome:", "campaign:welcome:(other):shown".to_owned()))
        );
        assert_eq!(dimension("pageviews"), None);
    }

    #[test]
    fn junk_variants_of_one_campaign_leave_the_others_counts_alone() {
        let store = Store::temporary().unwrap();
        let counters = Counters::default();
        let shown = |campaign: &str, variant: String| Event::Campaign {
            campaign: campaign.into(),
            variant: Some(variant),
            action: CampaignAction::Shown,
        };
        let mut events: Vec<Event> =
            (0..MAX_DISTINCT_PER_DAY + 2).map(|i| shown("welcome", format!("v{i}"))).collect();
        events.push(shown("exit", "a".into()));
        counters.record("s", "2026-11-22", &events);
        counters.persist(&store).unwrap();
        let rows = store.counters("s", "2026-11-22", "2026-11-22").unwrap();
        let get = |n: &str| rows.iter().find(|r| r.name == n).map(|r| r.value);
        assert_eq!(get("campaign:welcome:(other):shown"), Some(2));
        assert_eq!(get("campaign:exit:a:shown"), Some(1));
        let report = crate::stats::build_report("s", "2026-11-22", "2026-11-22", &rows);
        let other =
            report.campaigns.iter().find(|c| c.campaign == "welcome" && c.variant.as_deref() == Some(OTHER));
        // Ten variants listed by name; the overflow and every other variant under `(other)`.
        let expected = (MAX_DISTINCT_PER_DAY + 2 - crate::stats::TOP_VARIANTS) as u64;
        assert_eq!(other.map(|c| c.shown), Some(expected), "the stats report shows the overflow");
    }

    fn pageview(path: &str) -> Event {
        Event::Pageview {
            path: path.into(),
            referrer_host: None,
            utm_source: None,
            new_visitor: false,
            new_session: false,
        }
    }

    #[test]
    fn distinct_values_beyond_the_daily_bound_are_added_up_as_other_also_after_a_restart() {
        let store = Store::temporary().unwrap();
        let (site, day) = ("s", "2026-11-22");
        let counters = Counters::default();
        let paths: Vec<Event> = (0..MAX_DISTINCT_PER_DAY + 5).map(|i| pageview(&format!("/p{i}"))).collect();
        counters.record(site, day, &paths);
        counters.record(site, "2026-11-23", &[pageview("/next-day")]);
        counters.persist(&store).unwrap();
        let paths_stored = |day: &str| {
            let rows = store.counters(site, day, day).unwrap();
            rows.into_iter()
                .filter(|r| r.name.starts_with("path:"))
                .map(|r| (r.name, r.value))
                .collect::<Vec<_>>()
        };
        let rows = paths_stored(day);
        assert_eq!(rows.len(), MAX_DISTINCT_PER_DAY + 1, "the bound, plus one (other)");
        let other = |rows: &[(String, u64)]| rows.iter().find(|(n, _)| n == "path:(other)").map(|(_, v)| *v);
        assert_eq!(other(&rows), Some(5));
        assert_eq!(paths_stored("2026-11-23").len(), 1, "another day has its own bound");
        assert_eq!(
            store.counters(site, day, day).unwrap().iter().find(|r| r.name == "pageviews").unwrap().value,
            1005
        );

        // A restarted server (new counters) knows the bound from the store: new paths go to
        // (other), known ones keep counting on their own.
        let known = rows.iter().map(|(n, _)| n.as_str()).find(|n| *n != "path:(other)").unwrap().to_owned();
        let restarted = Counters::default();
        let known_path = known.trim_start_matches("path:");
        restarted.record(site, day, &[pageview(known_path), pageview("/new-1"), pageview("/new-2")]);
        restarted.persist(&store).unwrap();
        let rows = paths_stored(day);
        assert_eq!(rows.len(), MAX_DISTINCT_PER_DAY + 1);
        assert_eq!(other(&rows), Some(7));
        assert_eq!(rows.iter().find(|(n, _)| *n == known).map(|(_, v)| *v), Some(2));
    }
}
