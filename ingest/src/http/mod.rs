//! The HTTP API: one module per feature, each with its own `router()`, merged here.
//! `router(state)` is pure: it binds nothing, so tests serve it on port 0.

pub mod admin;
pub mod assets;
pub mod body;
pub mod error;
pub mod events;
pub mod guard;
pub mod html;
pub mod leads;
pub mod ops;
pub mod site_config;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use axum::middleware::from_fn_with_state;

use crate::counters::Counters;
use crate::metrics::Metrics;
use crate::sites::Sites;
use crate::store::Store;
use crate::writer::Writer;

/// What every handler may reach: one `Arc`, so the per-request clones extractors make cost one
/// atomic increment.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The server's shared parts.
pub struct Shared {
    pub sites: Arc<Sites>,
    pub store: Store,
    pub writer: Writer,
    pub counters: Counters,
    pub metrics: Metrics,
    pub admin_token: Arc<str>,
    /// When set, `GET /metrics` needs it (or the admin token) as a bearer token.
    pub metrics_token: Option<Arc<str>>,
    pub limiter: Option<Arc<guard::Limiter>>,
    pub client_ip_header: Option<HeaderName>,
    pub assets_dir: Option<PathBuf>,
}

/// The whole API: public routes (CORS, rate limit), admin routes (token), operations, assets.
pub fn router(state: AppState) -> Router {
    let public = Router::new()
        .merge(leads::router().layer(DefaultBodyLimit::max(body::LEAD_BODY_LIMIT)))
        .merge(events::router().layer(DefaultBodyLimit::max(body::EVENT_BODY_LIMIT)))
        .merge(site_config::router())
        // Before the layers, so a wrong method still gets the CORS answer (and preflights work).
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), guard::rate_limit))
        .layer(guard::cors(state.sites.clone()));
    let admin = admin::router()
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), guard::require_admin));
    Router::new()
        .merge(public)
        .merge(admin)
        .merge(ops::router().method_not_allowed_fallback(method_not_allowed))
        .merge(assets::router(state.assets_dir.clone()).method_not_allowed_fallback(method_not_allowed))
        .fallback(|| async { error::ApiError::NotFound { what: "route", field: "path".into() } })
        .layer(from_fn_with_state(state.clone(), ops::track))
        .with_state(state)
}

/// A known path asked with a method it does not answer: the JSON error (axum adds `Allow`).
async fn method_not_allowed() -> error::ApiError {
    error::ApiError::MethodNotAllowed
}
