//! The tracker's state for one page and what it does on each event: record the view, load
//! the config, count engaged time and scroll, decide with `funnel`'s rules when a campaign
//! shows, build and queue leads, and retry the queue until the server acknowledges.

use funnel::rules::{self, Moment};
use funnel::{ScoreReport, ScoringRules, Signals, Touch, compute_score};
use wasm_bindgen::JsValue;

use crate::history::{History, Queued, touch_js};
use crate::host::Host;
use crate::js::{self, get, get_bool, get_str};
use crate::json::{self, Object};
use crate::server::{self, Sent};
use crate::site::{self, SiteCampaign};

/// Engaged time counts only while the visitor interacted this recently.
const ENGAGED_WINDOW_MS: f64 = 30_000.0;
/// Request tags: the config, the lead just submitted; queued leads use their index + 2.
const TAG_CONFIG: u32 = 0;
const TAG_SUBMIT: u32 = 1;
const TAG_QUEUE: u32 = 2;

pub struct Tracker {
    host: Host,
    site: String,
    api: String,
    /// False under Global Privacy Control or Do-Not-Track: nothing is stored.
    persist: bool,
    history: History,
    campaigns: Vec<SiteCampaign>,
    scoring: ScoringRules,
    page_started: f64,
    scroll: u8,
    last_interaction: f64,
    /// At most one interruption per page view.
    shown: bool,
    open: Option<String>,
    /// The submission id of the lead being submitted from the open popup.
    submitting: Option<String>,
    /// Submission ids of queued leads in flight, by tag.
    in_flight: Vec<String>,
}

fn opt_str(v: &JsValue, key: &str) -> Option<String> {
    get_str(v, key).filter(|s| !s.is_empty())
}

impl Tracker {
    /// Records the page view, sends its anonymous counter, retries queued leads and asks
    /// for the site config.
    pub fn start(host: Host, site: String, api: String) -> Self {
        let page = host.page();
        let persist = get_bool(&page, "gpc") != Some(true) && get_bool(&page, "dnt") != Some(true);
        let mut history = if persist { History::load(&host, &site) } else { History::default() };
        let now = js::now();
        let here = get_str(&page, "host").unwrap_or_default();
        let referrer_host = opt_str(&page, "referrer_host").filter(|h| *h != here);
        let utm = get(&page, "utm");
        let touch = Touch {
            referrer: referrer_host.as_ref().and_then(|_| opt_str(&page, "referrer")),
            landing_page: opt_str(&page, "href"),
            utm_source: opt_str(&utm, "utm_source"),
            utm_medium: opt_str(&utm, "utm_medium"),
            utm_campaign: opt_str(&utm, "utm_campaign"),
            utm_term: opt_str(&utm, "utm_term"),
            utm_content: opt_str(&utm, "utm_content"),
            at: Some(now as i64),
        };
        let tagged = touch.referrer.is_some() || touch.utm_source.is_some() || touch.utm_campaign.is_some();
        let path = opt_str(&page, "path").unwrap_or_else(|| "/".into());
        let (new_visitor, new_session) = history.record_view(now, &path, tagged.then(|| touch.clone()));

        let view = Object::new()
            .str("type", "pageview")
            .str("path", &path)
            .opt("referrer_host", &referrer_host)
            .opt("utm_source", &touch.utm_source)
            .bool("new_visitor", new_visitor && persist)
            .bool("new_session", new_session && persist)
            .end();
        host.beacon(&server::endpoint(&api, &["/v1/events"]), &server::events(&site, view));
        host.send(TAG_CONFIG, &server::endpoint(&api, &["/v1/sites/", &site, "/config"]), None);

        let mut tracker = Self {
            host,
            site,
            api,
            persist,
            history,
            campaigns: Vec::new(),
            scoring: ScoringRules::default(),
            page_started: now,
            scroll: 0,
            last_interaction: now,
            shown: false,
            open: None,
            submitting: None,
            in_flight: Vec::new(),
        };
        tracker.save();
        tracker.flush_queue();
        tracker
    }

    fn save(&mut self) {
        if self.persist {
            self.history.save(&self.host, &self.site);
        }
    }

    fn signals(&self) -> Signals {
        Signals {
            visits: self.history.visits,
            page_views: self.history.page_views,
            engaged_seconds: self.history.engaged_seconds,
            max_scroll_percent: self.history.max_scroll,
            cta_clicks: self.history.cta_clicks,
            paths: self.history.paths.clone(),
        }
    }

    pub fn score(&self) -> ScoreReport {
        compute_score(&self.scoring, &self.signals())
    }

    pub fn reset(&mut self) {
        History::erase(&self.host, &self.site);
        self.history = History::default();
    }

    /// A server answer for request `tag`.
    pub fn answered(&mut self, tag: u32, status: u32, json: &JsValue) {
        match tag {
            TAG_CONFIG if status == 200 => self.configure(json),
            TAG_CONFIG => {}
            TAG_SUBMIT => self.submitted(Sent::from_answer(status, json)),
            queued => {
                let Some(id) = self.in_flight.get((queued - TAG_QUEUE) as usize).cloned() else { return };
                match Sent::from_answer(status, json) {
                    Sent::Accepted(_) | Sent::Rejected(_) => self.history.dequeue(&id),
                    Sent::Retry => self.history.postpone(&id, js::now()),
                }
                self.save();
            }
        }
    }

    fn configure(&mut self, config: &JsValue) {
        let (campaigns, scoring) = site::parse(config);
        self.campaigns = campaigns;
        self.scoring = scoring;
        let now = js::now();
        let eligible = self
            .campaigns
            .iter()
            .any(|c| rules::frequency_allows(&c.rules, self.history.memory(&c.rules.id), now));
        if eligible {
            self.host.listen();
            self.host.prefetch();
            self.evaluate();
        }
    }

    /// Every second: engaged time, then the rules. Saving each tick (about a kilobyte) means
    /// leaving the page loses nothing, with no page-hide handler to run.
    pub fn tick(&mut self, visible: bool) {
        if visible && js::now() - self.last_interaction < ENGAGED_WINDOW_MS {
            self.history.engaged_seconds += 1;
            self.save();
        }
        self.evaluate();
    }

    pub fn scrolled(&mut self, percent: u32) {
        let pct = percent.min(100) as u8;
        self.last_interaction = js::now();
        self.scroll = self.scroll.max(pct);
        self.history.max_scroll = self.history.max_scroll.max(pct);
        self.evaluate();
    }

    pub fn interacted(&mut self) {
        self.last_interaction = js::now();
    }

    fn moment(&self) -> Moment {
        Moment {
            seconds_on_page: ((js::now() - self.page_started) / 1000.0) as u32,
            scroll_percent: self.scroll,
            page_views: self.history.page_views,
            score: self.score().total,
        }
    }

    /// Shows the campaign the rules choose now, if nothing showed on this page yet.
    fn evaluate(&mut self) {
        if self.shown || self.open.is_some() || self.campaigns.is_empty() {
            return;
        }
        let rules = self.campaigns.iter().map(|c| &c.rules);
        let chosen = rules::choose(rules, |id| self.history.memory(id), self.moment(), js::now());
        if let Some(id) = chosen.map(|c| c.id.clone()) {
            self.host.mark("lodestone:trigger");
            self.show(&id);
        }
    }

    /// Mounts campaign `id` (from a trigger or `lodestone.open`).
    pub fn show(&mut self, id: &str) {
        if self.open.is_some() {
            return;
        }
        let Some(json) = self.campaigns.iter().find(|c| c.rules.id == id).and_then(|c| js::stringify(&c.raw))
        else {
            return;
        };
        self.shown = true;
        self.open = Some(id.to_owned());
        self.host.show(&json);
    }

    pub fn mounted(&mut self) {
        if let Some(id) = self.open.clone() {
            self.campaign_event(&id, "shown");
            self.host.emit("lodestone:show", &Object::new().str("campaign", &id).end());
        }
    }

    pub fn mount_failed(&mut self) {
        self.open = None;
    }

    /// The popup closed (by the visitor, or by the API): the cooldown starts.
    pub fn closed(&mut self, reason: &str) {
        let Some(id) = self.open.take() else { return };
        let memory = self.history.memory_mut(&id);
        if memory.converted_at.is_none() {
            memory.closed_at = Some(js::now());
        }
        self.save();
        self.campaign_event(&id, "closed");
        self.host.emit("lodestone:close", &Object::new().str("campaign", &id).str("reason", reason).end());
    }

    pub fn close(&mut self) {
        if self.open.is_some() {
            self.host.hide();
            self.closed("api");
        }
    }

    fn campaign_event(&self, campaign: &str, action: &str) {
        let e = Object::new().str("type", "campaign").str("campaign", campaign).str("action", action).end();
        self.host.beacon(&server::endpoint(&self.api, &["/v1/events"]), &server::events(&self.site, e));
    }

    /// The popup's submit: queue the lead in the browser first, then send it.
    pub fn submit(&mut self, fields: &JsValue) {
        let Some(campaign) = self.open.clone() else { return self.host.settle(false, "null") };
        let id = submission_id();
        let Some(body) = self.lead_body(&campaign, &id, fields) else {
            return self.host.settle(false, "null");
        };
        self.history.queue.push(Queued { id: id.clone(), body: body.clone(), attempts: 0, next: js::now() });
        self.save();
        self.submitting = Some(id);
        self.host.send(TAG_SUBMIT, &server::endpoint(&self.api, &["/v1/leads"]), Some(body));
    }

    fn submitted(&mut self, sent: Sent) {
        let (Some(id), Some(campaign)) = (self.submitting.take(), self.open.clone()) else { return };
        let result = Object::new().str("campaign", &campaign);
        let result = match sent {
            Sent::Rejected(error) => {
                self.history.dequeue(&id);
                self.save();
                // `{field, message, code}` as the server named them.
                return self.host.settle(false, &error);
            }
            Sent::Accepted(lead) => {
                self.history.dequeue(&id);
                result.str("id", &lead).bool("queued", false).end()
            }
            Sent::Retry => {
                self.history.postpone(&id, js::now());
                result.bool("queued", true).end()
            }
        };
        self.history.memory_mut(&campaign).converted_at = Some(js::now());
        self.save();
        self.campaign_event(&campaign, "converted");
        self.host.settle(true, &result);
        self.host.emit("lodestone:lead", &result);
    }

    /// Sends the leads queued on earlier pages whose backoff has passed.
    fn flush_queue(&mut self) {
        let now = js::now();
        let url = server::endpoint(&self.api, &["/v1/leads"]);
        for q in self.history.queue.iter().filter(|q| q.next <= now) {
            self.host.send(TAG_QUEUE + self.in_flight.len() as u32, &url, Some(q.body.clone()));
            self.in_flight.push(q.id.clone());
        }
    }

    /// The full lead: the popup's answers plus this visitor's consent record, attribution,
    /// signals and score.
    fn lead_body(&self, campaign: &str, submission_id: &str, fields: &JsValue) -> Option<String> {
        let spec = &self.campaigns.iter().find(|c| c.rules.id == campaign)?.rules.consent;
        let page = self.host.page();
        let consent = Object::new()
            .bool("granted", get_bool(fields, "consent").unwrap_or(false))
            .str("text", &spec.text)
            .str("version", &spec.version)
            .end();
        let attribution = Object::new()
            .raw("first", &touch_js(&self.history.first))
            .raw("last", &touch_js(&self.history.last))
            .end();
        let sig = self.signals();
        let signals = Object::new()
            .num("visits", sig.visits.into())
            .num("page_views", sig.page_views.into())
            .num("engaged_seconds", sig.engaged_seconds.into())
            .num("max_scroll_percent", sig.max_scroll_percent.into())
            .num("cta_clicks", sig.cta_clicks.into())
            .raw("paths", &json::array(sig.paths.iter().map(|p| json::quote(p))))
            .end();
        let report = self.score();
        let items = report
            .explanation
            .iter()
            .map(|i| Object::new().str("reason", &i.reason).num("points", i.points.into()).end());
        let score =
            Object::new().num("total", report.total.into()).raw("explanation", &json::array(items)).end();
        Some(
            Object::new()
                .str("site", &self.site)
                .str("campaign", campaign)
                .str("email", &get_str(fields, "email").unwrap_or_default())
                .opt("name", &opt_str(fields, "name"))
                .str("website", &get_str(fields, "website").unwrap_or_default())
                .raw("consent", &consent)
                .str("submission_id", submission_id)
                .opt("page_url", &opt_str(&page, "href"))
                .opt("referrer", &opt_str(&page, "referrer"))
                .raw("attribution", &attribution)
                .raw("signals", &signals)
                .raw("score", &score)
                .end(),
        )
    }
}

fn submission_id() -> String {
    let mut id = String::from("ls-");
    for _ in 0..4 {
        let n = (js::random() * 4_294_967_296.0) as u32;
        for shift in (0..8).rev() {
            id.push(char::from_digit((n >> (shift * 4)) & 0xf, 16).unwrap_or('0'));
        }
    }
    id
}
