//! `POST /v1/events`: batches of anonymous counters. No visitor identifier is accepted: the
//! wire type has no field for one, and a batch with an unknown field (`visitor_id`, say) is
//! refused with a 400 naming it, so a client that sends one learns it is not accepted.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use funnel::{Event, EventBatch};

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
    let site =
        state.sites.get(site_id.as_str()).ok_or(ApiError::NotFound { what: "site", field: "site".into() })?;
    check_origin(site, &headers)?;
    for (i, event) in batch.events.iter().enumerate() {
        if let Event::Campaign { campaign, .. } = event
            && site.campaign(campaign).is_none()
        {
            return Err(ApiError::NotFound {
                what: "campaign",
                field: format!("events[{i}].campaign").into(),
            });
        }
    }
    let day = time::OffsetDateTime::now_utc().date().to_string();
    state.counters.record(site_id.as_str(), &day, &batch.events);
    state.metrics.events(batch.events.len());
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "accepted": batch.events.len() }))))
}
