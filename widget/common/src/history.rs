//! The visitor's own history, kept in their browser's localStorage (by the tracker) and never
//! sent anywhere except summarised inside a lead they submit (by lead delivery, which reads
//! the tracker's copy in the same format). Bounded in size and age.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::json::Object;
use crate::value::{self, Value, get_f64, get_str, get_u32, strings};
use funnel::frequency::Memory;
use funnel::{DayActivity, Signals, Touch};

/// A new session starts after this much inactivity.
pub const SESSION_GAP_MS: f64 = 30.0 * 60_000.0;
/// History older than this is forgotten.
const MAX_AGE_MS: f64 = 90.0 * 86_400_000.0;
/// At most this many distinct paths are remembered, oldest dropped first.
const MAX_PATHS: usize = 30;
/// At most this many referrer hosts, UTM sources or campaigns are remembered.
const MAX_ARRIVALS: usize = 10;
/// Per-day activity is kept this many days.
const MAX_DAYS: u32 = 90;
const DAY_MS: f64 = 86_400_000.0;
/// Page titles are cut to this many characters.
const MAX_TITLE: usize = 80;
/// Above this many bytes, the oldest entries are dropped (see [`History::fitted`]).
const MAX_BYTES: usize = 16 * 1024;
/// A stored history far over the cap cannot be ours: it starts afresh rather than stall the
/// page trimming it.
pub const MAX_STORED: usize = 4 * MAX_BYTES;

/// One page of the site as the visitor has seen it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub path: String,
    pub title: String,
    pub views: u32,
    pub engaged: u32,
    pub scroll: u8,
    /// When it was last viewed (ms since the epoch); older than the age cap, it is forgotten.
    pub seen: f64,
}

/// What the browser remembers about one campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CampaignMemory {
    pub closed_at: Option<f64>,
    pub converted_at: Option<f64>,
    /// Showings in session number `session`.
    pub shown: u32,
    pub session: u32,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub visits: u32,
    pub page_views: u32,
    pub engaged_seconds: u32,
    pub max_scroll: u8,
    pub cta_clicks: u32,
    pub outbound_clicks: u32,
    pub last_seen: f64,
    pub session_start: f64,
    /// When any popup of the site last showed.
    pub last_popup: Option<f64>,
    /// 0-99, rolled once per visitor, for sampling.
    pub roll: u8,
    /// Pages, most recently viewed last.
    pub pages: Vec<Page>,
    pub days: Vec<DayActivity>,
    pub referrer_hosts: Vec<String>,
    pub utm_sources: Vec<String>,
    pub utm_campaigns: Vec<String>,
    pub first: Option<Touch>,
    pub last: Option<Touch>,
    pub campaigns: Vec<(String, CampaignMemory)>,
}

/// Days since the Unix epoch (UTC) at `ms`.
pub fn day_of(ms: f64) -> u32 {
    (ms / DAY_MS).max(0.0) as u32
}

/// Adds `value` to a bounded most-recent-last list of distinct values.
fn remember(list: &mut Vec<String>, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        list.retain(|x| x != v);
        list.push(v.to_owned());
        if list.len() > MAX_ARRIVALS {
            drop_oldest(list);
        }
    }
}

/// The localStorage key of `site`'s history.
pub fn key(site: &str) -> String {
    let mut k = String::from("lodestone:");
    k.push_str(site);
    k
}

fn touch_from(v: &Value) -> Option<Touch> {
    if !matches!(v, Value::Obj(_)) {
        return None;
    }
    Some(Touch {
        referrer: get_str(v, "referrer"),
        landing_page: get_str(v, "landing_page"),
        utm_source: get_str(v, "utm_source"),
        utm_medium: get_str(v, "utm_medium"),
        utm_campaign: get_str(v, "utm_campaign"),
        utm_term: get_str(v, "utm_term"),
        utm_content: get_str(v, "utm_content"),
        at: get_f64(v, "at").map(|a| a as i64).filter(|a| *a > 0),
    })
}

/// Writes the touch as the value of `key`, `null` when absent.
pub fn write_touch(o: &mut Object, key: &str, t: &Option<Touch>) {
    let Some(t) = t else {
        o.raw(key, "null");
        return;
    };
    o.open(key)
        .opt("referrer", &t.referrer)
        .opt("landing_page", &t.landing_page)
        .opt("utm_source", &t.utm_source)
        .opt("utm_medium", &t.utm_medium)
        .opt("utm_campaign", &t.utm_campaign)
        .opt("utm_term", &t.utm_term)
        .opt("utm_content", &t.utm_content)
        .num("at", t.at.unwrap_or(0))
        .close();
}

/// The first `max` characters of `s` (whole characters, as the server's limits count them).
pub fn cut(s: &str, max: usize) -> String {
    // The byte index of the first character past `max` is a character boundary, so `get`
    // succeeds; copied whole rather than pushed character by character (smaller here).
    let end = s.char_indices().nth(max).map_or(s.len(), |(i, _)| i);
    s.get(..end).unwrap_or(s).to_owned()
}

/// Removes the first element, if any (`Vec::remove` cannot panic on a list that has one; the
/// in-place collect this replaced cost about a kilobyte more of the module per element type).
fn drop_oldest<T>(v: &mut Vec<T>) {
    if !v.is_empty() {
        v.remove(0);
    }
}

impl History {
    /// The history stored as `text`, read at `now`; empty when absent, unreadable or older
    /// than the age cap.
    pub fn parse(text: Option<String>, now: f64) -> Self {
        let Some(v) = text.as_deref().and_then(value::parse) else { return Self::default() };
        // A time in the future (another clock, an edited value) counts as now, so no cooldown
        // outlasts its setting.
        let past = |t: Option<f64>| t.map(|t| t.min(now));
        let last_seen = past(get_f64(&v, "seen")).unwrap_or(0.0);
        if now - last_seen > MAX_AGE_MS {
            return Self::default();
        }
        let memory = |m: &Value| CampaignMemory {
            closed_at: past(get_f64(m, "closed")),
            converted_at: past(get_f64(m, "converted")),
            shown: get_u32(m, "shown"),
            session: get_u32(m, "session"),
        };
        let today = day_of(now);
        // A first or last touch older than the age cap (or without a time) is forgotten.
        let recent = |t: Option<Touch>| t.filter(|t| now - t.at.unwrap_or(0) as f64 <= MAX_AGE_MS);
        // Plain pushes in plain loops: iterator chains cost a copy of their code per list in
        // the module.
        let mut pages = Vec::new();
        for p in v.get("pages").newest(MAX_PATHS) {
            let seen = past(get_f64(p, "a")).unwrap_or(now);
            if let (Some(path), true) = (get_str(p, "p"), now - seen <= MAX_AGE_MS) {
                pages.push(Page {
                    path,
                    title: get_str(p, "t").unwrap_or_default(),
                    views: get_u32(p, "v"),
                    engaged: get_u32(p, "e"),
                    scroll: get_u32(p, "s").min(100) as u8,
                    seen,
                });
            }
        }
        let mut days = Vec::new();
        for d in v.get("days").newest(MAX_DAYS as usize) {
            let day = get_u32(d, "d");
            if day + MAX_DAYS > today && day <= today {
                days.push(DayActivity {
                    day,
                    page_views: get_u32(d, "v"),
                    engaged_seconds: get_u32(d, "e"),
                    cta_clicks: get_u32(d, "c"),
                });
            }
        }
        let mut campaigns = Vec::new();
        for c in v.get("camps").newest(64) {
            if let Some(id) = get_str(c, "id") {
                campaigns.push((id, memory(c)));
            }
        }
        Self {
            visits: get_u32(&v, "visits"),
            page_views: get_u32(&v, "views"),
            engaged_seconds: get_u32(&v, "engaged"),
            max_scroll: get_u32(&v, "scroll").min(100) as u8,
            cta_clicks: get_u32(&v, "cta"),
            outbound_clicks: get_u32(&v, "out"),
            last_seen,
            session_start: past(get_f64(&v, "since")).unwrap_or(last_seen),
            last_popup: past(get_f64(&v, "popup")),
            roll: get_u32(&v, "roll").min(99) as u8,
            pages,
            days,
            referrer_hosts: strings(v.get("refs"), MAX_ARRIVALS),
            utm_sources: strings(v.get("sources"), MAX_ARRIVALS),
            utm_campaigns: strings(v.get("utms"), MAX_ARRIVALS),
            first: recent(touch_from(v.get("first"))),
            last: recent(touch_from(v.get("last"))),
            campaigns,
        }
    }

    /// The history as stored (see [`History::parse`]), without the size cap.
    pub fn to_json(&self) -> String {
        let mut o = Object::new();
        o.num("visits", self.visits.into())
            .num("views", self.page_views.into())
            .num("engaged", self.engaged_seconds.into())
            .num("scroll", self.max_scroll.into())
            .num("cta", self.cta_clicks.into())
            .num("out", self.outbound_clicks.into())
            .num("seen", self.last_seen as i64)
            .num("since", self.session_start as i64)
            .num("roll", self.roll.into())
            .time("popup", self.last_popup)
            .list("pages");
        for p in &self.pages {
            o.item()
                .str("p", &p.path)
                .str("t", &p.title)
                .num("v", p.views.into())
                .num("e", p.engaged.into())
                .num("s", p.scroll.into())
                .num("a", p.seen as i64)
                .close();
        }
        o.close_list().list("days");
        for d in &self.days {
            o.item()
                .num("d", d.day.into())
                .num("v", d.page_views.into())
                .num("e", d.engaged_seconds.into())
                .num("c", d.cta_clicks.into())
                .close();
        }
        o.close_list()
            .strs("refs", &self.referrer_hosts)
            .strs("sources", &self.utm_sources)
            .strs("utms", &self.utm_campaigns);
        write_touch(&mut o, "first", &self.first);
        write_touch(&mut o, "last", &self.last);
        o.list("camps");
        for (id, m) in &self.campaigns {
            o.item()
                .str("id", id)
                .num("shown", m.shown.into())
                .num("session", m.session.into())
                .time("closed", m.closed_at)
                .time("converted", m.converted_at)
                .close();
        }
        o.close_list().end()
    }

    /// The history as stored, under the size cap. Over it, the oldest entries go first: pages
    /// but the current one, then the oldest referrer hosts, UTM sources and UTM campaigns,
    /// then the first touch, then the last. What remains (one page, at most 90 days of
    /// activity, the campaigns, counts) is far below the cap.
    pub fn fitted(&mut self) -> String {
        loop {
            let text = self.to_json();
            if text.len() <= MAX_BYTES || !self.drop_oldest_entry() {
                return text;
            }
        }
    }

    /// Drops the entry [`History::fitted`] gives up first; `false` when none is left to drop.
    fn drop_oldest_entry(&mut self) -> bool {
        let list = [&mut self.referrer_hosts, &mut self.utm_sources, &mut self.utm_campaigns]
            .into_iter()
            .find(|l| !l.is_empty());
        if self.pages.len() > 1 {
            drop_oldest(&mut self.pages);
        } else if let Some(list) = list {
            drop_oldest(list);
        } else if self.first.take().is_none() && self.last.take().is_none() {
            return false;
        }
        true
    }

    /// Starts a new session at `now` for a first visit or after the session gap: at a page
    /// view, and on activity on a page left open that long. `true` when it did.
    pub fn resume(&mut self, now: f64) -> bool {
        let new_session = self.visits == 0 || now - self.last_seen > SESSION_GAP_MS;
        if new_session {
            self.visits += 1;
            self.session_start = now;
        }
        new_session
    }

    /// Records a page view at `now`: a new session after the gap, the page, the day's
    /// activity, and where the visitor came from. Returns (new visitor, new session): a new
    /// visitor's sampling `roll` is the caller's to draw.
    pub fn record_view(
        &mut self,
        now: f64,
        path: &str,
        title: &str,
        touch: Option<Touch>,
        referrer_host: Option<&str>,
    ) -> (bool, bool) {
        let new_visitor = self.visits == 0;
        let new_session = self.resume(now);
        self.page_views += 1;
        self.last_seen = now;
        let mut page = match self.pages.iter().find(|p| p.path == path) {
            Some(p) => {
                let p = p.clone();
                self.pages.retain(|p| p.path != path);
                p
            }
            None => Page { path: path.to_owned(), ..Page::default() },
        };
        page.views += 1;
        page.seen = now;
        page.title = cut(title, MAX_TITLE);
        self.pages.push(page);
        if self.pages.len() > MAX_PATHS {
            drop_oldest(&mut self.pages);
        }
        self.today(now).page_views += 1;
        remember(&mut self.referrer_hosts, referrer_host);
        if let Some(t) = touch {
            remember(&mut self.utm_sources, t.utm_source.as_deref());
            remember(&mut self.utm_campaigns, t.utm_campaign.as_deref());
            if self.first.is_none() {
                self.first = Some(t.clone());
            }
            self.last = Some(t);
        }
        (new_visitor, new_session)
    }

    /// Today's activity record, created when missing; days past the age cap are dropped.
    pub fn today(&mut self, now: f64) -> &mut DayActivity {
        let day = day_of(now);
        self.days.retain(|d| d.day + MAX_DAYS > day);
        if self.days.last().is_none_or(|d| d.day != day) {
            self.days.push(DayActivity { day, ..DayActivity::default() });
        }
        // Just pushed when missing. (No indexing: a bounds-check panic would bring integer
        // formatting into the module.)
        self.days.last_mut().unwrap()
    }

    /// The page record of `path` (the current page), if kept.
    pub fn page_mut(&mut self, path: &str) -> Option<&mut Page> {
        self.pages.iter_mut().rev().find(|p| p.path == path)
    }

    /// The frequency engine's view of campaign `id` in session `visits`.
    pub fn memory(&self, campaign: &str) -> Memory {
        let m = self.campaigns.iter().find(|(id, _)| id == campaign).map(|(_, m)| *m).unwrap_or_default();
        Memory {
            closed_at: m.closed_at,
            converted_at: m.converted_at,
            shown_this_session: if m.session == self.visits { m.shown } else { 0 },
        }
    }

    pub fn converted_any(&self) -> bool {
        self.campaigns.iter().any(|(_, m)| m.converted_at.is_some())
    }

    /// The signals the engine and a lead's score read, at `now`.
    pub fn signals(&self, now: f64) -> Signals {
        Signals {
            visits: self.visits,
            page_views: self.page_views,
            engaged_seconds: self.engaged_seconds,
            max_scroll_percent: self.max_scroll,
            cta_clicks: self.cta_clicks,
            paths: self.pages.iter().map(|p| p.path.clone()).collect(),
            outbound_clicks: self.outbound_clicks,
            days: self.days.clone(),
            today: day_of(now),
            referrer_hosts: self.referrer_hosts.clone(),
            utm_sources: self.utm_sources.clone(),
            utm_campaigns: self.utm_campaigns.clone(),
        }
    }

    pub fn memory_mut(&mut self, campaign: &str) -> &mut CampaignMemory {
        if !self.campaigns.iter().any(|(id, _)| id == campaign) {
            self.campaigns.push((campaign.to_owned(), CampaignMemory::default()));
        }
        // Present now; found again rather than indexed (see `today`).
        &mut self.campaigns.iter_mut().find(|(id, _)| id == campaign).unwrap().1
    }
}
