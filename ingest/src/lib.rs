//! Lodestone's ingest server as a library: the thin `lodestone` binary and the tests both
//! build an [`App`] and hand it to [`serve`].
//!
//! Code map: `settings` (CLI), `sites` (config file; `css_selector` checks its selectors), `http` (routes, one module per feature),
//! `writer` (group commit; `sched` its threads' policy), `store` + `records` (sled and the value format) + `submissions`
//! (the idempotency index, in memory), `counters` +
//! `stats` (anonymous events), `export` (CSV), `metrics` (Prometheus), `connections` +
//! `connection_limits` (the accept loop and its caps).

pub mod app;
pub mod connection_limits;
pub mod connections;
pub mod counters;
pub mod css_selector;
pub mod export;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod records;
pub mod sched;
pub mod settings;
pub mod sites;
pub mod stats;
pub mod store;
pub mod submissions;
pub mod writer;

pub use app::{App, StartError, serve};
pub use settings::ServeSettings;
pub use sites::Sites;
pub use store::Store;
