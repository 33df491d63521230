//! A page's lead delivery: the leads its popups submitted (queued first, then sent), the
//! queued leads of earlier pages sent again, and what each answer settles.

#[allow(unused_imports)]
use crate::prelude::*;

use funnel::limits;
use widget_common::history::History;

use crate::answer::Sent;
use crate::body::{self, Lead};
use crate::host::Host;
use crate::js;
use crate::json::Object;
use crate::queue::{self, Queued};
use crate::value::{self, Value, get_str};

/// How long other tabs leave a lead to the page that submitted it (ms), unless it is left.
const HOLD_MS: f64 = 15_000.0;

pub struct Delivery {
    host: Host,
    site: String,
    /// The leads endpoint.
    url: String,
    /// Submission id and campaign of each lead submitted from a popup on this page and not
    /// answered yet (a visitor can close one popup before its answer and submit another), and
    /// whether the browser kept it in the queue.
    submitting: Vec<(String, String, bool)>,
    /// Submission ids of leads in flight, by request tag.
    in_flight: Vec<String>,
}

impl Delivery {
    /// Delivery for `site` through the ingest server at `api` (an origin without a trailing
    /// slash).
    pub fn new(host: Host, site: String, api: &str) -> Self {
        let mut url = String::from(api);
        url.push_str("/v1/leads");
        Self { host, site, url, submitting: Vec::new(), in_flight: Vec::new() }
    }

    /// A popup's submit on `campaign` (see `crate::submit`): the lead is built, queued in the
    /// browser first, then sent. Its submission id, or `None` when it could not be built.
    pub fn submit(
        &mut self,
        campaign: &str,
        history: String,
        fields: &Value,
        rules: Option<&str>,
        page: &Value,
    ) -> Option<String> {
        let rules = funnel::packed::decode_rules(rules?)?;
        let history = History::parse(Some(history), js::now());
        let id = body::submission_id();
        let lead = Lead {
            site: &self.site,
            campaign,
            id: &id,
            fields,
            page,
            history: &history,
            rules: &rules,
            now: js::now(),
        };
        // A long history could take the body past the server's limit: then the signals go
        // without their lists (the counts, score and attribution stay).
        let body = lead.body(false).filter(|b| b.len() <= limits::LEAD_BODY).or_else(|| lead.body(true))?;
        let campaign = campaign.to_owned();
        // Other tabs leave it to this page while it waits for the answer (see `leaving`).
        let lead = Queued { id: id.clone(), body: body.clone(), attempts: 0, next: js::now() + HOLD_MS };
        let mut lead = Some(lead);
        queue::update(&self.host, &self.site, &mut |q| q.extend(lead.take()));
        let kept = queue::load(&self.host, &self.site).iter().any(|q| q.id == id);
        self.submitting.push((id.clone(), campaign, kept));
        self.send(id.clone(), &body);
        Some(id)
    }

    /// Sends lead `id`; its answer comes back tagged with its slot in `in_flight`.
    fn send(&mut self, id: String, body: &str) {
        self.host.post(self.in_flight.len() as u32, &self.url, body);
        self.in_flight.push(id);
    }

    /// Sends the queued leads whose backoff has passed and that are not already in flight.
    pub fn flush(&mut self) {
        let now = js::now();
        for q in queue::load(&self.host, &self.site) {
            if q.next <= now && !self.in_flight.contains(&q.id) {
                self.send(q.id, &q.body);
            }
        }
    }

    /// The server's answer (`status`, 0 when unreachable, and its JSON) to the lead sent with
    /// request `tag`.
    pub fn answered(&mut self, tag: u32, status: u32, json: &Value) {
        let Some(slot) = self.in_flight.get_mut(tag as usize) else { return };
        let id = core::mem::take(slot);
        let sent = Sent::from_answer(status, json);
        if let Some(i) = self.submitting.iter().position(|(s, _, _)| *s == id) {
            let (_, campaign, kept) = self.submitting.remove(i);
            // Gone from the queue: another page delivered it meanwhile and told of it (this
            // one waited past the hold, or came back from the back-forward cache).
            let told = kept
                && matches!(sent, Sent::Accepted(_))
                && !queue::load(&self.host, &self.site).iter().any(|q| q.id == id);
            return self.submitted(id, campaign, sent, !told);
        }
        // A lead sent again from an earlier page.
        let Some(lead) = queue::load(&self.host, &self.site).into_iter().find(|q| q.id == id) else {
            return;
        };
        let campaign = value::parse(&lead.body).and_then(|b| get_str(&b, "campaign"));
        // No page heard an answer for it yet (the visitor left before it came): this page
        // tells of it, as that page would have.
        if let (0, Some(campaign)) = (lead.attempts, &campaign) {
            return self.submitted(id, campaign.clone(), sent, true);
        }
        if let (Sent::Accepted(_), Some(campaign)) = (&sent, &campaign) {
            self.host.converted(campaign, false, true);
        }
        match sent {
            Sent::Accepted(_) | Sent::Rejected(_) => queue::remove(&self.host, &self.site, &id),
            Sent::Retry => queue::postpone(&self.host, &self.site, &id, js::now()),
        }
    }

    /// The server's answer to lead `id`, submitted from campaign `campaign`'s popup on this
    /// page (also when that popup has closed since) or on an earlier page that never heard an
    /// answer: the first answer a page hears tells of the lead (`lodestone:lead`, the
    /// conversion counter) unless `tell` is false, and has the tracker remember the
    /// conversion. It settles the popup's form if that form still waits for it.
    fn submitted(&mut self, id: String, campaign: String, sent: Sent, tell: bool) {
        let mut result = Object::new();
        result.str("campaign", &campaign);
        let (result, count) = match sent {
            Sent::Rejected(error) => {
                queue::remove(&self.host, &self.site, &id);
                // `{field, message, code}` as the server named them.
                return self.host.settled(&id, false, &error);
            }
            Sent::Accepted(lead) => {
                queue::remove(&self.host, &self.site, &id);
                // The server's counter: once, for the lead it has (not sent towards a server
                // that could not be reached; the page that delivers the lead sends it).
                (result.str("id", &lead).bool("queued", false).end(), tell)
            }
            Sent::Retry => {
                queue::postpone(&self.host, &self.site, &id, js::now());
                // Not kept (the browser refused storage): say so rather than promise a retry
                // that cannot happen; the visitor can send again.
                if !queue::load(&self.host, &self.site).iter().any(|q| q.id == id) {
                    return self.host.settled(&id, false, "null");
                }
                (result.bool("queued", true).end(), false)
            }
        };
        self.host.converted(&campaign, true, count);
        self.host.settled(&id, true, &result);
        if tell {
            self.host.emit("lodestone:lead", &result);
        }
    }

    /// The page is going away: the leads it waits for are sent by the next page at once.
    pub fn leaving(&mut self) {
        let waiting: Vec<String> = self.submitting.iter().map(|(id, _, _)| id.clone()).collect();
        if !waiting.is_empty() {
            queue::release(&self.host, &self.site, &waiting, js::now());
        }
    }
}
