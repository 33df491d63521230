//! Prometheus metrics: requests by route and status, leads stored, commit batch size and
//! flush latency, open and refused connections, rendered in the Prometheus text format for `GET /metrics`.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

/// Every metric the server exports. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    leads_stored: Counter,
    events: Counter,
    batch_size: Histogram,
    flush_seconds: Histogram,
    connections_open: Gauge,
    connections_refused: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("lodestone");
        let requests = Family::<RequestLabels, Counter>::default();
        let leads_stored = Counter::default();
        let events = Counter::default();
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        let flush_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        let connections_open = Gauge::default();
        let connections_refused = Counter::default();
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        registry.register("leads_stored", "Leads durably stored (new, not retries)", leads_stored.clone());
        registry.register("events", "Anonymous events counted", events.clone());
        registry.register("commit_batch_size", "Writes made durable by one flush", batch_size.clone());
        registry.register("flush_seconds", "Latency of one durable flush", flush_seconds.clone());
        registry.register("connections_open", "Connections open now", connections_open.clone());
        registry.register(
            "connections_refused",
            "Connections closed at once: their client IP held its share already",
            connections_refused.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                leads_stored,
                events,
                batch_size,
                flush_seconds,
                connections_open,
                connections_refused,
            }),
        }
    }
}

impl Metrics {
    pub fn request(&self, route: &str, status: u16) {
        self.inner.requests.get_or_create(&RequestLabels { route: route.to_owned(), status }).inc();
    }

    pub fn lead_stored(&self) {
        self.inner.leads_stored.inc();
    }

    pub fn events(&self, n: usize) {
        self.inner.events.inc_by(n as u64);
    }

    pub fn observe_commit(&self, batch: usize, flush: Duration) {
        self.inner.batch_size.observe(batch as f64);
        self.inner.flush_seconds.observe(flush.as_secs_f64());
    }

    pub fn connection_opened(&self) {
        self.inner.connections_open.inc();
    }

    pub fn connection_closed(&self) {
        self.inner.connections_open.dec();
    }

    pub fn connection_refused(&self) {
        self.inner.connections_refused.inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)
            .expect("writing to a String");
        out
    }
}
