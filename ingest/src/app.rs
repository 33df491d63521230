//! Assembling and running the server: open the store, start the writer and counter tasks,
//! serve until the shutdown signal, then drain in-flight requests and flush before returning.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderName;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::connection_limits::{self, PerIp};
use crate::connections::Limits;
use crate::counters::Counters;
use crate::http::{AppState, Shared, guard, router};
use crate::metrics::Metrics;
use crate::settings::ServeSettings;
use crate::sites::{ConfigError, Sites};
use crate::store::{Store, StoreError};
use crate::writer::Writer;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the data directory: {0}")]
    Store(#[from] StoreError),
    #[error("cannot start the writer thread: {0}")]
    Writer(std::io::Error),
    #[error("--client-ip-header (LODESTONE_CLIENT_IP_HEADER) is not a valid header name")]
    ClientIpHeader,
    #[error("--admin-token (LODESTONE_ADMIN_TOKEN) {0}")]
    AdminToken(&'static str),
    #[error("--metrics-token (LODESTONE_METRICS_TOKEN) {0}")]
    MetricsToken(&'static str),
}

/// The shortest admin token accepted from any source (flag, environment or config file), and
/// the shortest metrics token.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

/// The admin token the README's example `lodestone.toml` shows: refused, as a published
/// password would be.
pub const README_EXAMPLE_TOKEN: &str = "change-me-to-a-long-random-string";

/// What is wrong with a configured admin or metrics token, if anything. A token must be one
/// that an `Authorization: Bearer` header can carry and match: visible ASCII, no spaces
/// (a header value is ASCII, and the bearer value is read without surrounding spaces).
pub fn token_problem(token: &str) -> Option<&'static str> {
    if token == README_EXAMPLE_TOKEN {
        Some(
            "is the README's example value, which anyone can read: choose your own (e.g. the output of `openssl rand -hex 32`)",
        )
    } else if !token.bytes().all(|b| b.is_ascii_graphic()) {
        Some("must be visible ASCII characters only (no spaces, no accented letters)")
    } else if token.len() < MIN_ADMIN_TOKEN_LEN {
        Some("must be at least 16 characters")
    } else {
        None
    }
}

/// The settings' values a server refuses (tokens, header name); gives the parsed header.
fn check(settings: &ServeSettings) -> Result<Option<HeaderName>, StartError> {
    if let Some(problem) = settings.admin_token.as_deref().and_then(token_problem) {
        return Err(StartError::AdminToken(problem));
    }
    if let Some(problem) = settings.metrics_token.as_deref().and_then(token_problem) {
        return Err(StartError::MetricsToken(problem));
    }
    settings
        .client_ip_header
        .as_deref()
        .map(|h| HeaderName::try_from(h).map_err(|_| StartError::ClientIpHeader))
        .transpose()
}

/// A ready-to-serve server: its state and background tasks.
pub struct App {
    state: AppState,
    counter_task: JoinHandle<()>,
    stop_counters: watch::Sender<bool>,
    limits: Limits,
    /// The connection cap the settings asked for, when the file limit lowered it.
    cap_lowered_from: Option<u32>,
    /// `true` when no token was configured and one was generated for this run.
    pub token_generated: bool,
}

impl App {
    /// Loads the config and opens the store in `settings.data_dir`.
    pub fn open(settings: &ServeSettings) -> Result<Self, StartError> {
        // Everything that can be refused is, before the data directory is created.
        check(settings)?;
        let sites = Sites::load(settings.config.as_deref())?;
        let store = Store::open(&settings.data_dir, settings.cache_mb.max(1) << 20)?;
        Self::with_store(settings, sites, store)
    }

    /// Builds the server over an already opened store (tests pass `Store::temporary()`).
    /// Must be called inside a Tokio runtime: it starts the writer and counter tasks.
    pub fn with_store(settings: &ServeSettings, sites: Sites, store: Store) -> Result<Self, StartError> {
        let client_ip_header = check(settings)?;
        let configured = settings.admin_token.clone().or_else(|| sites.admin_token.clone());
        let token_generated = configured.is_none();
        let admin_token =
            configured.unwrap_or_else(|| format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()));
        let metrics = Metrics::default();
        let writer = Writer::spawn(store.clone(), metrics.clone()).map_err(StartError::Writer)?;
        let counters = Counters::default();
        let (stop_counters, stopped) = watch::channel(false);
        let counter_task = counters.clone().spawn_persister(store.clone(), stopped);
        let state = AppState::new(Shared {
            sites: Arc::new(sites),
            store,
            writer,
            counters,
            metrics,
            admin_token: admin_token.into(),
            metrics_token: settings.metrics_token.as_deref().map(Arc::from),
            limiter: guard::limiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
            client_ip_header,
            assets_dir: settings.assets_dir.clone(),
        });
        let (max, lowered) =
            connection_limits::total_cap(settings.max_connections, connection_limits::file_limit());
        // Behind a proxy every connection comes from the proxy: no cap per peer address then.
        let per_ip = match (settings.max_connections_per_ip, &state.client_ip_header) {
            (0, _) | (_, Some(_)) => None,
            (n, None) => Some(PerIp::new(n as usize)),
        };
        let limits =
            Limits { header_timeout: Duration::from_secs(settings.header_timeout_secs.max(1)), max, per_ip };
        let cap_lowered_from = settings.max_connections.filter(|_| lowered);
        Ok(Self { state, counter_task, stop_counters, limits, cap_lowered_from, token_generated })
    }

    pub fn admin_token(&self) -> &str {
        &self.state.admin_token
    }
}

/// How long a graceful shutdown waits for in-flight requests (longer than the body timeout).
pub const DRAIN_LIMIT: Duration = Duration::from_secs(15);

/// Serves `app` on `listener` until `shutdown` resolves, then lets in-flight requests finish
/// (for at most [`DRAIN_LIMIT`]), writes the pending counters and flushes the store.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let App { state, counter_task, stop_counters, limits, cap_lowered_from, .. } = app;
    if let Some(wanted) = cap_lowered_from {
        tracing::warn!(
            wanted,
            max = limits.max,
            "the file limit carries fewer connections than --max-connections asks; raise it (ulimit -n) to allow more"
        );
    }
    let metrics = state.metrics.clone();
    let store = state.store.clone();
    if let Some(limiter) = state.limiter.clone() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        });
    }
    let router = router(state);
    let (draining, drain_started) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = draining.send(());
    };
    let server = crate::connections::serve(listener, router, limits, metrics, signal);
    // In-flight requests get DRAIN_LIMIT to finish; a client that stalls longer does not keep
    // the process (and the final flush) waiting.
    let deadline = async {
        match drain_started.await {
            Ok(()) => tokio::time::sleep(DRAIN_LIMIT).await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = server => {}
        () = deadline => tracing::warn!(seconds = DRAIN_LIMIT.as_secs(), "requests still in flight after the drain limit; stopping"),
    }
    let _ = stop_counters.send(true);
    let _ = counter_task.await;
    tokio::task::spawn_blocking(move || store.flush())
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
    Ok(())
}
