//! The tracker's state for one page and what it does on each event: record views (also a
//! single-page app's), load the config, count engaged time, scroll, clicks and exit signals,
//! decide with `funnel`'s engine when a campaign shows. A popup's own life is in `popup`, and
//! what a submit hands to lead delivery in `leads`.

#[allow(unused_imports)]
use crate::prelude::*;

use funnel::conditions::Now;
use funnel::engine::{self, Situation};
use funnel::frequency::Recent;
use funnel::targeting::{Audience, DeviceClass, url_host};
use funnel::{Signals, Touch, limits, score_total};

use crate::history::{History, cut};
use crate::host::Host;
use crate::js;
use crate::json::Object;
use crate::server;
use crate::site::{self, Site};
use crate::storage;
use crate::value::{Value, get_bool, get_str, opt_str};

mod leads;
mod popup;
#[cfg(feature = "debug")]
mod report;

/// Engaged time counts only while the visitor interacted this recently.
const ENGAGED_WINDOW_MS: f64 = 30_000.0;
/// Exit signals count only after this long on the page.
const MIN_DWELL_MS: f64 = 3_000.0;
/// At most this many clicks and custom events are remembered per page.
const MAX_PAGE_SIGNALS: usize = 20;
/// The config's request tag (the only request whose answer the tracker hears).
const TAG_CONFIG: u32 = 0;

/// The current page as the bootstrap describes it.
struct PageNow {
    path: String,
    device: DeviceClass,
    /// Where this visit came from: this page's external referrer and UTM, else the last touch.
    referrer_host: Option<String>,
    utm_source: Option<String>,
    utm_campaign: Option<String>,
    started: f64,
    scroll: u8,
    /// The visitor has interacted since this page view began (a single-page app's too).
    interacted: bool,
    exit: bool,
    clicked: Vec<String>,
    events: Vec<String>,
    shown: bool,
}

pub struct Tracker {
    host: Host,
    site: String,
    api: String,
    /// Global Privacy Control or Do-Not-Track is on.
    gpc: bool,
    /// `lodestone.consent(...)`: `None` until the page says.
    consent: Option<bool>,
    /// Whether the history may be stored (decided once the config says how).
    persist: bool,
    /// The history in memory is not the stored one plus this page (privacy kept it to this
    /// page, or another tab wrote since it was read): storing must start by reading it again.
    stale: bool,
    history: History,
    config: Option<Site>,
    page: PageNow,
    /// When this page loaded.
    loaded_at: f64,
    /// The visitor's last interaction (page load until the first): for inactivity.
    last_interaction: f64,
    /// Whether the visitor has interacted on this page at all: engaged time needs it.
    interacted: bool,
    open: Option<String>,
    /// The open campaign is on screen (mounted), not still loading or waiting for its moment.
    mounted: bool,
    /// The open campaign was chosen by the rules for this page view (not asked for, not an
    /// exit) and is not on screen yet: a navigation before it mounts withdraws it.
    for_this_page: bool,
    /// The open campaign was chosen by the rules (for this page or an exit), not asked for:
    /// until it is on screen, another tab's showings and closes can still rule it out.
    by_rules: bool,
    /// A campaign asked for (`lodestone.open`, a click) before the config arrived.
    asked: Option<String>,
    /// Page-view counters waiting for the config, each as sent when the history is stored
    /// (new visitor and new session said) and as sent when it is not: until the config says
    /// whether this visitor's history may be used, nothing derived from it leaves the page.
    unsent: Vec<[String; 2]>,
}

/// The later of two times, either of which may be unknown.
fn later(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => a.or(b),
    }
}

/// Adds `value` once: a trigger asks whether it happened, so repeats must not fill the list.
fn push_bounded(list: &mut Vec<String>, value: String) {
    if list.len() < MAX_PAGE_SIGNALS && !list.contains(&value) {
        list.push(value);
    }
}

impl Tracker {
    /// Records the page view, sends its anonymous counter, has queued leads retried and asks
    /// for the site config. Nothing is stored until the config says the visitor allows it.
    pub fn start(host: Host, site: String, api: String) -> Self {
        let page = host.page();
        // Fails closed: a page description that could not be read says nothing was allowed.
        let gpc = get_bool(&page, "gpc") != Some(false) || get_bool(&page, "dnt") == Some(true);
        let history = storage::load(&host, &site);
        let mut tracker = Self {
            host,
            site,
            api,
            gpc,
            consent: None,
            persist: false,
            stale: false,
            history,
            config: None,
            page: PageNow {
                path: String::new(),
                device: DeviceClass::Desktop,
                referrer_host: None,
                utm_source: None,
                utm_campaign: None,
                started: 0.0,
                scroll: 0,
                interacted: false,
                exit: false,
                clicked: Vec::new(),
                events: Vec::new(),
                shown: false,
            },
            loaded_at: js::now(),
            last_interaction: js::now(),
            interacted: false,
            open: None,
            for_this_page: false,
            by_rules: false,
            mounted: false,
            asked: None,
            unsent: Vec::new(),
        };
        tracker.view(&page, false);
        let config = server::endpoint(&tracker.api, &["/v1/sites/", &tracker.site, "/config"]);
        tracker.host.send(TAG_CONFIG, &config);
        tracker.host.flush();
        tracker
    }

    /// A view of `page`: the first page, or a single-page app's navigation (`spa`). Records it
    /// in the history, starts the page's own signals afresh and sends its anonymous counter.
    fn view(&mut self, page: &Value, spa: bool) {
        let (new_visitor, new_session, touch) = self.record(page, spa);
        self.page = PageNow {
            path: cut(&opt_str(page, "path").unwrap_or_else(|| "/".into()), limits::URL),
            device: site::device(&get_str(page, "device").unwrap_or_default()),
            referrer_host: None,
            utm_source: None,
            utm_campaign: None,
            started: js::now(),
            scroll: 0,
            interacted: false,
            exit: false,
            clicked: Vec::new(),
            events: Vec::new(),
            // A popup still on screen from the page before has interrupted this view too.
            shown: self.open.is_some(),
        };
        self.arrival();
        let referrer_host = touch.referrer.as_deref().and_then(url_host);
        let counter = |known: bool| {
            Object::new()
                .str("type", "pageview")
                .str("path", &self.page.path)
                .opt("referrer_host", &referrer_host)
                .opt("utm_source", &touch.utm_source)
                .bool("new_visitor", new_visitor && known)
                .bool("new_session", new_session && known)
                .end()
        };
        self.unsent.push([counter(true), counter(false)]);
        self.send_counters();
        self.save();
    }

    /// Sends the page-view counters once the config has said whether the history may be used:
    /// whether this visitor and session are new is known (and said) only where it may.
    fn send_counters(&mut self) {
        if self.config.is_some() {
            for [stored, not] in core::mem::take(&mut self.unsent) {
                let view = if self.persist { stored } else { not };
                self.host
                    .beacon(&server::endpoint(&self.api, &["/v1/events"]), &server::events(&self.site, view));
            }
        }
    }

    /// Where this visit came from, for targeting: the last touch's referrer host and UTM, when
    /// it was made in this session (a touch from an earlier visit is not this visit's source).
    fn arrival(&mut self) {
        let since = self.history.session_start;
        let last = self.history.last.as_ref().filter(|t| t.at.is_some_and(|at| at as f64 + 1.0 > since));
        self.page.referrer_host = last.and_then(|t| t.referrer.as_deref()).and_then(url_host);
        self.page.utm_source = last.and_then(|t| t.utm_source.clone());
        self.page.utm_campaign = last.and_then(|t| t.utm_campaign.clone());
    }

    /// Records a view of `page` in the history. A touch (referrer, UTM) is recorded when the
    /// visitor arrived from another site or with UTM parameters; within a single-page app the
    /// document's referrer is the arrival's, so only UTM parameters make a new touch there.
    /// Values are cut to the server's limits. Returns (new visitor, new session, the touch).
    fn record(&mut self, page: &Value, spa: bool) -> (bool, bool, Touch) {
        let now = js::now();
        let here = get_str(page, "host").unwrap_or_default();
        let referrer_host = opt_str(page, "referrer_host").filter(|h| *h != here && !spa);
        let utm = page.get("utm");
        let u = |k: &str| opt_str(utm, k).map(|v| cut(&v, limits::UTM));
        let touch = Touch {
            referrer: referrer_host
                .as_ref()
                .and_then(|_| opt_str(page, "referrer"))
                .map(|r| cut(&r, limits::URL)),
            landing_page: opt_str(page, "href").map(|h| cut(&h, limits::URL)),
            utm_source: u("utm_source"),
            utm_medium: u("utm_medium"),
            utm_campaign: u("utm_campaign"),
            utm_term: u("utm_term"),
            utm_content: u("utm_content"),
            at: Some(now as i64),
        };
        let tagged = touch.referrer.is_some() || touch.utm_source.is_some() || touch.utm_campaign.is_some();
        let path = cut(&opt_str(page, "path").unwrap_or_else(|| "/".into()), limits::URL);
        let title = get_str(page, "title").unwrap_or_default();
        let referrer_host = referrer_host.map(|h| cut(&h, limits::UTM));
        let (new_visitor, new_session) = self.history.record_view(
            now,
            &path,
            &title,
            tagged.then(|| touch.clone()),
            referrer_host.as_deref(),
        );
        if new_visitor {
            // 0-99, once per visitor, for sampling.
            self.history.roll = (js::random() * 100.0) as u8 % 100;
        }
        (new_visitor, new_session, touch)
    }

    fn save(&mut self) {
        if self.persist {
            storage::save(&mut self.history, &self.host, &self.site);
        }
    }

    /// Decides whether the history may be stored: not under GPC/DNT when the site honours it
    /// (and what was stored before is erased),
    /// not in consent mode before `lodestone.consent(true)`, not after `consent(false)`. When
    /// it may not, the rules see this page's signals only.
    fn apply_privacy(&mut self) {
        let Some(site) = &self.config else { return };
        let refused = self.gpc && site.privacy.honor_gpc;
        if refused {
            // What was stored before the visitor turned the signal on goes too.
            storage::erase(&self.host, &self.site);
        }
        if !refused && self.consent.unwrap_or(!site.privacy.consent_mode) {
            // Storing starts now: from the stored history as it is now, plus this page.
            if !self.persist && self.stale {
                self.rebuild_history(true);
            }
            self.persist = true;
            self.save();
        } else {
            self.persist = false;
            self.rebuild_history(false);
        }
    }

    /// Replaces the history with the stored one (`stored`) or an empty one, plus this page's
    /// view, keeping what happened since this page loaded: the campaigns shown, closed or
    /// converted here (so one interruption per page view and cooldowns still hold).
    fn rebuild_history(&mut self, stored: bool) {
        let page = self.host.page();
        let fresh = if stored { storage::load(&self.host, &self.site) } else { History::default() };
        self.stale = !stored;
        let here = core::mem::replace(&mut self.history, fresh);
        self.record(&page, false);
        let since = |t: Option<f64>| t.is_some_and(|t| t >= self.loaded_at);
        let popup_here = since(here.last_popup);
        let visits = self.history.visits;
        for (id, m) in here.campaigns {
            let shown_here = if m.session == here.visits { m.shown } else { 0 };
            if since(m.closed_at) || since(m.converted_at) || (popup_here && shown_here > 0) {
                // Added to what is stored, never replacing it: a conversion stored earlier
                // still holds after a popup closed on this page.
                let s = self.history.memory_mut(&id);
                s.shown = if s.session == visits { s.shown + shown_here } else { shown_here };
                s.session = visits;
                s.closed_at = later(s.closed_at, m.closed_at);
                s.converted_at = later(s.converted_at, m.converted_at);
            }
        }
        if popup_here {
            self.history.last_popup = here.last_popup;
        }
        self.scroll_into_history();
        self.arrival();
        if stored {
            self.recheck_waiting();
        }
    }

    fn signals(&self) -> Signals {
        self.history.signals(js::now())
    }

    /// The visitor's score now (0 until the config says how to score).
    pub fn score(&self) -> i32 {
        self.config.as_ref().map_or(0, |site| score_total(&site.scoring, &self.signals()))
    }

    /// Forgets the visitor's history (leads waiting for delivery stay queued): from here the
    /// visitor is a new one, with this page's view (and a new sampling roll) and no campaign
    /// seen, closed or converted, this page's included. This page view keeps its one
    /// interruption; the next may show any campaign again.
    pub fn reset(&mut self) {
        storage::erase(&self.host, &self.site);
        self.history.campaigns.clear();
        self.history.last_popup = None;
        self.rebuild_history(false);
    }

    /// A server answer for request `tag` (leads are answered to lead delivery, not here).
    pub fn answered(&mut self, tag: u32, status: u32, json: &Value) {
        match tag {
            TAG_CONFIG if status == 200 => self.configure(json),
            TAG_CONFIG => self.config_refused(status, json),
            _ => {}
        }
    }

    fn configure(&mut self, config: &Value) {
        let site = site::parse(config);
        let has_campaigns = !site.campaigns.is_empty();
        self.host.listen();
        self.config = Some(site);
        self.apply_privacy();
        self.send_counters();
        if has_campaigns {
            self.host.prefetch();
        }
        // What happened while the config was on its way: an SPA navigation (the history
        // hooks were not installed yet) and a campaign asked for.
        self.navigated();
        if let Some(id) = self.asked.take() {
            self.show(&id);
        }
        self.evaluate();
    }

    /// Every second: engaged time (page and day), then the rules. Engagement after the
    /// session gap (the page left open, the visitor back) starts a new session.
    pub fn tick(&mut self, visible: bool) {
        let now = js::now();
        if visible && self.interacted && now - self.last_interaction < ENGAGED_WINDOW_MS {
            if self.history.resume(now) {
                self.arrival();
            }
            self.history.engaged_seconds += 1;
            self.history.today(now).engaged_seconds += 1;
            let path = self.page.path.clone();
            if let Some(p) = self.history.page_mut(&path) {
                p.engaged += 1;
            }
            self.history.last_seen = now;
            self.save();
        }
        // A hidden tab shows nothing: a delay or inactivity trigger waits until the visitor
        // looks at the page again (a tab opened in the background would otherwise spend its
        // popup, and the cooldowns, unseen).
        if visible {
            self.evaluate();
        }
    }

    /// The visitor can see `percent` of the page; `by_scrolling`: the page scrolled to it. A
    /// scroll is not an interaction (a script, a restored position or an anchor scrolls too: the
    /// visitor's own wheel, keys and touches are). What the page shows without scrolling counts
    /// only once the visitor has interacted with it (someone is there to see it); returns
    /// whether it counted.
    pub fn scrolled(&mut self, percent: u32, by_scrolling: bool) -> bool {
        if !by_scrolling && !self.page.interacted {
            return false;
        }
        self.page.scroll = self.page.scroll.max(percent.min(100) as u8);
        self.scroll_into_history();
        self.evaluate();
        true
    }

    /// This page's deepest scroll, into the site's and the page's maximum.
    fn scroll_into_history(&mut self) {
        let (path, pct) = (self.page.path.clone(), self.page.scroll);
        self.history.max_scroll = self.history.max_scroll.max(pct);
        if let Some(p) = self.history.page_mut(&path) {
            p.scroll = p.scroll.max(pct);
        }
    }

    /// Another tab of this site stored the history (`removed`: erased it). Each tab adopts the
    /// others' writes, so what it stored includes all this tab has stored: adopt it, and the
    /// next save here keeps that tab's page views instead of overwriting them. Only the scroll
    /// depth is stored at the next tick rather than at once; it is put back. An erased history
    /// (`lodestone.reset()`, consent withdrawn) stops storing here too, until this page is
    /// told otherwise. Before this page stores, the write only marks its history stale.
    pub fn stored_elsewhere(&mut self, removed: bool) {
        if !self.persist {
            self.stale = true;
            return;
        }
        if removed {
            self.persist = false;
            self.rebuild_history(false);
        } else {
            self.history = storage::load(&self.host, &self.site);
            self.scroll_into_history();
            self.recheck_waiting();
        }
    }

    /// The page is going away: stores what the next tick would have, the deepest scroll since.
    /// Onto the history as stored now, and only when deeper: the page the visitor goes to (a
    /// page restored by Back included) may have stored its view already.
    pub fn leaving(&mut self) {
        // A popup still on screen ends now: the global cooldown runs from here, as from a close
        // (unless `reset()` has forgotten its showing since).
        if let (true, Some(id)) = (self.mounted, self.open.clone())
            && self.history.campaigns.iter().any(|(c, m)| *c == id && m.closed_at.is_some())
        {
            self.end_showing(&id);
        }
        if !self.persist {
            return;
        }
        let (path, depth) = (self.page.path.clone(), self.page.scroll);
        let mut stored = storage::load(&self.host, &self.site);
        let deeper = stored.max_scroll < depth || stored.page_mut(&path).is_some_and(|p| p.scroll < depth);
        if stored.page_views > 0 && deeper {
            self.history = stored;
            self.scroll_into_history();
            self.save();
        }
    }

    pub fn interacted(&mut self) {
        self.last_interaction = js::now();
        self.interacted = true;
        self.page.interacted = true;
    }

    /// A single-page app changed the URL: a new page view when the path changed. Pending
    /// delays restart, so a delayed popup never fires on the wrong page.
    pub fn navigated(&mut self) {
        let page = self.host.page();
        if get_str(&page, "path").is_some_and(|p| p != self.page.path) {
            // Chosen for the page left and still loading: it must not appear on this one.
            if core::mem::take(&mut self.for_this_page) {
                self.open = None;
                self.host.hide();
            }
            self.view(&page, true);
            self.host.flush();
            self.evaluate();
        }
    }

    /// The page came back from the back-forward cache (Back, Forward): a new view of it, after
    /// the views stored meanwhile by the pages the visitor went to.
    pub fn restored(&mut self) {
        self.loaded_at = js::now();
        // Inactivity is counted from this new page view, as delays are.
        self.last_interaction = self.loaded_at;
        // A new page view: engaged time waits for an interaction with it (the click that left
        // it earlier does not count again).
        self.interacted = false;
        if self.persist {
            if storage::exists(&self.host, &self.site) {
                self.history = storage::load(&self.host, &self.site);
                self.recheck_waiting();
            } else {
                // Erased while this page was cached (consent withdrawn, `reset()`): a cached
                // page gets no `storage` event for it, so this stops storing as one would.
                self.stored_elsewhere(true);
            }
        }
        let page = self.host.page();
        self.view(&page, true);
        self.host.flush();
        self.evaluate();
    }

    /// An exit signal from the bootstrap: the pointer leaving through the top edge counts on
    /// desktops; a fast scroll up, the tab hidden or a back navigation on touch devices. Exit
    /// intent holds at the moment of the signal only: a visitor who stays is not leaving, so
    /// a rule waiting on something else besides never fires later without a new signal.
    pub fn exit_signal(&mut self, reason: u32) {
        let desktop = self.page.device == DeviceClass::Desktop;
        if (reason == 1) == desktop && js::now() - self.page.started >= MIN_DWELL_MS {
            self.page.exit = true;
            self.evaluate();
            self.page.exit = false;
        }
    }

    /// A click on a `data-lodestone-open` element: the visitor asked for that campaign.
    pub fn click_open(&mut self, id: &str) {
        push_bounded(&mut self.page.clicked, id.to_owned());
        self.show(id);
    }

    /// A click on a configured CTA: counted for the score, and seen by `click` triggers.
    pub fn cta(&mut self, name: String) {
        self.history.cta_clicks += 1;
        self.history.today(js::now()).cta_clicks += 1;
        push_bounded(&mut self.page.clicked, name);
        self.save();
        self.evaluate();
    }

    pub fn outbound(&mut self) {
        self.history.outbound_clicks += 1;
        self.save();
    }

    /// `lodestone.track(name)`: a custom event for `event` triggers.
    pub fn track(&mut self, name: String) {
        // An app that moves and then tells (`pushState` then `track`) means the new route: the
        // bootstrap reports the move a task later.
        self.navigated();
        push_bounded(&mut self.page.events, name);
        self.evaluate();
    }

    /// `lodestone.consent(granted)`: storage starts now (from what an earlier consent
    /// stored, plus this page), or stops and what was stored is erased.
    pub fn consent(&mut self, granted: bool) {
        self.consent = Some(granted);
        if !granted {
            storage::erase(&self.host, &self.site);
        }
        self.apply_privacy();
    }

    fn situation<'a>(&'a self, score: i32) -> Situation<'a> {
        let now = js::now();
        let h = &self.history;
        let p = &self.page;
        Situation {
            audience: Audience {
                path: &p.path,
                referrer_host: p.referrer_host.as_deref(),
                utm_source: p.utm_source.as_deref(),
                utm_campaign: p.utm_campaign.as_deref(),
                device: p.device,
                visits: h.visits,
                converted_any: h.converted_any(),
                sample_roll: h.roll,
                now_ms: now as i64,
            },
            now: Now {
                seconds_on_page: ((now - p.started) / 1000.0) as u32,
                seconds_in_session: ((now - h.session_start) / 1000.0) as u32,
                scroll_percent: p.scroll,
                exit_intent: p.exit,
                inactive_seconds: ((now - self.last_interaction) / 1000.0) as u32,
                clicked: &p.clicked,
                events: &p.events,
                page_views: h.page_views,
                visits: h.visits,
                score,
            },
            recent: Recent { shown_this_page: p.shown, last_popup_at: h.last_popup },
            now_ms: now,
        }
    }

    /// Shows the campaign the engine chooses now, if any; refreshes the debug overlay.
    fn evaluate(&mut self) {
        let Some(site) = &self.config else { return };
        if self.open.is_none() {
            let situation = self.situation(self.score());
            let memory = |id: &str| self.history.memory(id);
            let chosen =
                engine::decide(&site.campaigns, &site.frequency, memory, &situation).map(|c| c.id.clone());
            if let Some(id) = chosen {
                self.host.mark("lodestone:trigger");
                self.show(&id);
                self.by_rules = self.open.is_some();
                self.for_this_page = self.by_rules && !self.page.exit;
            }
        }
        self.refresh_overlay();
    }

    /// The debug overlay, from the state after the last decision, show or close.
    #[cfg(feature = "debug")]
    fn refresh_overlay(&self) {
        let Some(site) = &self.config else { return };
        if site.unreadable {
            // 200 with no rules this tracker reads: said as a config that could not be read.
            return self.config_refused(200, &Value::Null);
        }
        // With its explanation, which only the overlay shows.
        let score = funnel::compute_score(&site.scoring, &self.signals());
        self.host.debug(&self.report(site, &self.situation(score.total), &score));
    }

    #[cfg(not(feature = "debug"))]
    fn refresh_overlay(&self) {}

    /// The site config did not come: no campaign can show on this page. The debug build's
    /// overlay says why.
    #[cfg(feature = "debug")]
    fn config_refused(&self, status: u32, answer: &Value) {
        let url = server::endpoint(&self.api, &["/v1/sites/", &self.site, "/config"]);
        self.host.debug(&self.config_error_report(&url, status, answer));
    }

    #[cfg(not(feature = "debug"))]
    fn config_refused(&self, _: u32, _: &Value) {}

    fn campaign_event(&self, campaign: &str, action: &str) {
        let e = Object::new().str("type", "campaign").str("campaign", campaign).str("action", action).end();
        self.host.beacon(&server::endpoint(&self.api, &["/v1/events"]), &server::events(&self.site, e));
    }
}
