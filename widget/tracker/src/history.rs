//! The visitor's own history, kept in their browser's localStorage and never sent anywhere
//! except summarised inside a lead they submit. Bounded in size and age.

use funnel::Touch;
use funnel::rules::CampaignMemory;
use wasm_bindgen::JsValue;

use crate::host::Host;
use crate::js::{self, get, get_f64, get_str, get_u32, items};
use crate::json::{self, Object};

/// A new session starts after this much inactivity.
pub const SESSION_GAP_MS: f64 = 30.0 * 60_000.0;
/// History older than this is forgotten.
const MAX_AGE_MS: f64 = 90.0 * 86_400_000.0;
/// At most this many distinct paths are remembered, oldest dropped first.
const MAX_PATHS: usize = 30;
/// At most this many queued leads are kept.
const MAX_QUEUE: usize = 10;
/// Above this many bytes, the oldest paths and queued leads are dropped.
const MAX_BYTES: usize = 16 * 1024;

/// A lead waiting for the server's acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// Its submission id: the same lead on every retry.
    pub id: String,
    /// The lead's JSON, ready to POST.
    pub body: String,
    pub attempts: u32,
    /// Not before this time (ms since the epoch).
    pub next: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub visits: u32,
    pub page_views: u32,
    pub engaged_seconds: u32,
    pub max_scroll: u8,
    pub cta_clicks: u32,
    pub last_seen: f64,
    pub paths: Vec<String>,
    pub first: Option<Touch>,
    pub last: Option<Touch>,
    pub campaigns: Vec<(String, CampaignMemory)>,
    pub queue: Vec<Queued>,
}

fn key(site: &str) -> String {
    let mut k = String::from("lodestone:");
    k.push_str(site);
    k
}

fn touch_json(t: &Touch) -> String {
    Object::new()
        .opt("referrer", &t.referrer)
        .opt("landing_page", &t.landing_page)
        .opt("utm_source", &t.utm_source)
        .opt("utm_medium", &t.utm_medium)
        .opt("utm_campaign", &t.utm_campaign)
        .opt("utm_term", &t.utm_term)
        .opt("utm_content", &t.utm_content)
        .num("at", t.at.unwrap_or(0))
        .end()
}

fn touch_from_js(v: &JsValue) -> Option<Touch> {
    if !v.is_object() {
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

/// The touch as JSON, `null` when absent.
pub fn touch_js(t: &Option<Touch>) -> String {
    t.as_ref().map_or_else(|| "null".into(), touch_json)
}

/// Removes the first element (without `Vec::remove`, whose panic path costs bytes).
fn drop_oldest<T>(v: &mut Vec<T>) {
    *v = std::mem::take(v).into_iter().skip(1).collect();
}

impl History {
    /// Reads the history of `site`; empty when absent, unreadable or older than the age cap.
    pub fn load(host: &Host, site: &str) -> Self {
        let text = host.load(&key(site));
        let Some(v) = text.as_deref().and_then(js::parse) else { return Self::default() };
        let last_seen = get_f64(&v, "seen").unwrap_or(0.0);
        if js::now() - last_seen > MAX_AGE_MS {
            return Self::default();
        }
        let memory = |m: &JsValue| CampaignMemory {
            closed_at: get_f64(m, "closed"),
            converted_at: get_f64(m, "converted"),
        };
        Self {
            visits: get_u32(&v, "visits"),
            page_views: get_u32(&v, "views"),
            engaged_seconds: get_u32(&v, "engaged"),
            max_scroll: get_u32(&v, "scroll").min(100) as u8,
            cta_clicks: get_u32(&v, "cta"),
            last_seen,
            paths: items(&get(&v, "paths")).filter_map(|p| p.as_string()).collect(),
            first: touch_from_js(&get(&v, "first")),
            last: touch_from_js(&get(&v, "last")),
            campaigns: items(&get(&v, "camps"))
                .filter_map(|c| Some((get_str(&c, "id")?, memory(&c))))
                .collect(),
            queue: items(&get(&v, "queue"))
                .filter_map(|q| {
                    let (id, body) = (get_str(&q, "id")?, get_str(&q, "body")?);
                    Some(Queued { id, body, attempts: get_u32(&q, "n"), next: get_f64(&q, "next")? })
                })
                .collect(),
        }
    }

    fn to_json(&self) -> String {
        let camps = self.campaigns.iter().map(|(id, m)| {
            let o = Object::new().str("id", id);
            let o = match m.closed_at {
                Some(t) => o.num("closed", t as i64),
                None => o,
            };
            match m.converted_at {
                Some(t) => o.num("converted", t as i64),
                None => o,
            }
            .end()
        });
        let queue = self.queue.iter().map(|q| {
            Object::new()
                .str("id", &q.id)
                .str("body", &q.body)
                .num("n", q.attempts as i64)
                .num("next", q.next as i64)
                .end()
        });
        Object::new()
            .num("visits", self.visits as i64)
            .num("views", self.page_views as i64)
            .num("engaged", self.engaged_seconds as i64)
            .num("scroll", self.max_scroll as i64)
            .num("cta", self.cta_clicks as i64)
            .num("seen", self.last_seen as i64)
            .raw("paths", &json::array(self.paths.iter().map(|p| json::quote(p))))
            .raw("first", &touch_js(&self.first))
            .raw("last", &touch_js(&self.last))
            .raw("camps", &json::array(camps))
            .raw("queue", &json::array(queue))
            .end()
    }

    /// Writes the history of `site`, dropping the oldest paths, then queued leads, to stay
    /// under the size cap. Storage errors (quota, disabled storage) are ignored.
    pub fn save(&mut self, host: &Host, site: &str) {
        if self.queue.len() > MAX_QUEUE {
            let excess = self.queue.len() - MAX_QUEUE;
            self.queue = std::mem::take(&mut self.queue).into_iter().skip(excess).collect();
        }
        loop {
            let text = self.to_json();
            if text.len() <= MAX_BYTES || (self.paths.is_empty() && self.queue.is_empty()) {
                host.save(&key(site), &text);
                return;
            }
            if !self.paths.is_empty() {
                drop_oldest(&mut self.paths);
            } else {
                drop_oldest(&mut self.queue);
            }
        }
    }

    /// Removes the stored history of `site`.
    pub fn erase(host: &Host, site: &str) {
        host.erase(&key(site));
    }

    /// Records a page view at `now`: a new session after the gap, the path, and touches.
    /// Returns (new visitor, new session).
    pub fn record_view(&mut self, now: f64, path: &str, touch: Option<Touch>) -> (bool, bool) {
        let new_visitor = self.visits == 0;
        let new_session = new_visitor || now - self.last_seen > SESSION_GAP_MS;
        if new_session {
            self.visits += 1;
        }
        self.page_views += 1;
        self.last_seen = now;
        self.paths.retain(|p| p != path);
        self.paths.push(path.to_owned());
        if self.paths.len() > MAX_PATHS {
            drop_oldest(&mut self.paths);
        }
        if let Some(t) = touch {
            if self.first.is_none() {
                self.first = Some(t.clone());
            }
            self.last = Some(t);
        }
        (new_visitor, new_session)
    }

    /// Drops the queued lead `id` (acknowledged, or refused for good).
    pub fn dequeue(&mut self, id: &str) {
        self.queue.retain(|q| q.id != id);
    }

    /// Schedules the next attempt of queued lead `id` after its backoff.
    pub fn postpone(&mut self, id: &str, now: f64) {
        if let Some(q) = self.queue.iter_mut().find(|q| q.id == id) {
            q.next = now + crate::server::backoff_ms(q.attempts);
            q.attempts += 1;
        }
    }

    pub fn memory(&self, campaign: &str) -> CampaignMemory {
        self.campaigns.iter().find(|(id, _)| id == campaign).map(|(_, m)| *m).unwrap_or_default()
    }

    pub fn memory_mut(&mut self, campaign: &str) -> &mut CampaignMemory {
        let i = match self.campaigns.iter().position(|(id, _)| id == campaign) {
            Some(i) => i,
            None => {
                self.campaigns.push((campaign.to_owned(), CampaignMemory::default()));
                self.campaigns.len() - 1
            }
        };
        &mut self.campaigns[i].1
    }
}
