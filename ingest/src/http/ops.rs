//! Operations routes: `GET /healthz`, `GET /metrics`, and the middleware counting requests by
//! route and status (route templates only: no query strings, so no personal data, reach logs).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use super::error::ApiError;
use super::guard::bears_one_of;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(health)).route("/metrics", get(metrics))
}

/// 200 while the store makes writes durable; 503 once a flush has failed (a full disk, an I/O
/// error): leads are refused then until the server is restarted, so a supervisor should do it.
async fn health(State(state): State<AppState>) -> Response {
    if state.store.failing() {
        let body = serde_json::json!({
            "status": "failing",
            "error": {
                "code": "storage_failing",
                "message": "the store cannot make writes durable (disk full or an I/O error): leads are refused; free the disk and restart the server",
                "field": null,
            },
        });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// The metrics; behind the metrics token (or the admin token) when one is set.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    if let Some(token) = &state.metrics_token
        && !bears_one_of(&headers, &[token, &state.admin_token])
    {
        return Err(ApiError::Unauthorized);
    }
    // The encoder writes OpenMetrics (`_total` samples under a `counter` family, `# EOF`):
    // labelled as the older Prometheus text format, every counter would lose its type.
    Ok((
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.render(),
    ))
}

/// Middleware: counts each request under its route template and status, and logs the same.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = req.method().clone();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    state.metrics.request(&route, status);
    tracing::debug!(%method, route, status, ms = started.elapsed().as_secs_f64() * 1e3, "request");
    response
}
