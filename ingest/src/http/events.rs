//! `POST /v1/events`: batches of anonymous counters. No visitor identifier is accepted: the
//! wire type has no field for one and unknown fields are dropped unread.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use funnel::{Event, EventBatch, FieldError};

use super::AppState;
use super::body::AnyJson;
use super::error::ApiError;
use super::guard::check_origin;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", post(record))
}

async fn record(
    State(state): State<AppState>,
    headers: HeaderMap,
    AnyJson(batch): AnyJson<EventBatch>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let site_id = batch.validate()?;
    let site = state.sites.get(site_id.as_str()).ok_or(ApiError::NotFound { what: "site", field: "site" })?;
    check_origin(site, &headers)?;
    for (i, event) in batch.events.iter().enumerate() {
        if let Event::Campaign { campaign, .. } = event
            && site.campaign(campaign).is_none()
        {
            let field = format!("events[{i}].campaign");
            return Err(FieldError::new(field, "unknown_campaign", "No such campaign on this site.").into());
        }
    }
    let day = time::OffsetDateTime::now_utc().date().to_string();
    state.counters.record(site_id.as_str(), &day, &batch.events);
    state.metrics.events(batch.events.len());
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "accepted": batch.events.len() }))))
}
