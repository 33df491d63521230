//! Leads waiting for the server's acknowledgement, kept in localStorage under their own key
//! (`lodestone:SITE:queue`), apart from the engagement history: a lead the visitor submitted
//! is kept until delivered whatever the storage setting, and the history's caps and
//! privacy rules never touch it. Every change re-reads the stored queue first, so two tabs
//! do not overwrite each other's leads.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::host::Host;
use crate::json::Object;
use crate::value::{self, Value, get_f64, get_str, get_u32};

/// At most this many leads wait; the oldest is dropped first.
const MAX_QUEUE: usize = 10;

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

fn key(site: &str) -> String {
    let mut k = String::from("lodestone:");
    k.push_str(site);
    k.push_str(":queue");
    k
}

fn parse(q: &Value) -> Option<Queued> {
    let (id, body) = (get_str(q, "id")?, get_str(q, "body")?);
    Some(Queued { id, body, attempts: get_u32(q, "n"), next: get_f64(q, "next")? })
}

/// The stored queue of `site`, oldest first: at most its newest [`MAX_QUEUE`] leads, whatever
/// was stored.
pub fn load(host: &Host, site: &str) -> Vec<Queued> {
    let text = host.load(&key(site));
    let Some(v) = text.as_deref().and_then(value::parse) else { return Vec::new() };
    let mut queue = Vec::new();
    for q in v.newest(MAX_QUEUE) {
        queue.extend(parse(q));
    }
    queue
}

/// Applies `change` to the stored queue (read afresh) and writes it back, or removes the
/// key when nothing waits. (`dyn`: one copy of the writing for every change.)
pub fn update(host: &Host, site: &str, change: &mut dyn FnMut(&mut Vec<Queued>)) {
    let mut queue = load(host, site);
    change(&mut queue);
    let excess = queue.len().saturating_sub(MAX_QUEUE);
    if queue.len() == excess {
        return host.erase(&key(site));
    }
    let mut kept = Object::new_list();
    for q in queue.iter().skip(excess) {
        kept.item()
            .str("id", &q.id)
            .str("body", &q.body)
            .num("n", q.attempts.into())
            .num("next", q.next as i64)
            .close();
    }
    host.save(&key(site), &kept.end_list());
}

/// Lets other pages send leads `ids` (of a page being left, whose answers it may never hear)
/// from `now`.
pub fn release(host: &Host, site: &str, ids: &[String], now: f64) {
    update(host, site, &mut |queue| {
        queue.iter_mut().filter(|q| ids.contains(&q.id)).for_each(|q| q.next = now)
    });
}

/// Drops lead `id` (acknowledged, or refused for good).
pub fn remove(host: &Host, site: &str, id: &str) {
    update(host, site, &mut |q| q.retain(|l| l.id != id));
}

/// Schedules the next attempt of lead `id` after its backoff.
pub fn postpone(host: &Host, site: &str, id: &str, now: f64) {
    update(host, site, &mut |queue| {
        if let Some(q) = queue.iter_mut().find(|q| q.id == id) {
            q.next = now + crate::answer::backoff_ms(q.attempts);
            q.attempts += 1;
        }
    });
}
