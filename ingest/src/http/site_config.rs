//! `GET /v1/sites/{site}/config` (the widget's campaign config, with ETag and 304) and
//! `GET /v1/thanks` (the thank-you page after a plain HTML form post).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::body::{SiteInPath, query_map};
use super::error::ApiError;
use super::guard::check_origin;
use super::html::{self, escape};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sites/{site}/config", get(config)).route("/v1/thanks", get(thanks))
}

async fn config(
    State(state): State<AppState>,
    SiteInPath(site): SiteInPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let site = state.sites.get(&site).ok_or(ApiError::NotFound { what: "site", field: "site" })?;
    check_origin(site, &headers)?;
    let cache = [(header::ETAG, site.etag.clone()), (header::CACHE_CONTROL, "public, max-age=60".to_owned())];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == site.etag || t.trim() == "*"));
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((cache, [(header::CONTENT_TYPE, "application/json")], site.config_json.clone()).into_response())
}

async fn thanks(State(state): State<AppState>, RawQuery(q): RawQuery) -> Result<Html<String>, ApiError> {
    let q = query_map(q.as_deref())?;
    let site = q
        .get("site")
        .and_then(|s| state.sites.get(s))
        .ok_or(ApiError::NotFound { what: "site", field: "site" })?;
    let campaign = q
        .get("campaign")
        .and_then(|c| site.campaign(c))
        .ok_or(ApiError::NotFound { what: "campaign", field: "campaign" })?;
    let link = campaign
        .success
        .lead_magnet_url
        .as_deref()
        .map_or(String::new(), |url| format!(r#"<p><a href="{}">Download it now</a></p>"#, escape(url)));
    Ok(html::page("Thank you", &format!("<h1>{}</h1>{link}", escape(&campaign.success.message))))
}
