//! Admin routes behind the bearer token: list leads (cursor pages), export CSV (streamed),
//! stats from the counters, and erase every lead of an email address.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, RawQuery, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use funnel::{Email, FieldError};
use futures_util::stream;
use time::{Date, Duration, OffsetDateTime};
use tokio::sync::mpsc;

use super::AppState;
use super::body::{SiteInPath, parse_json, query_map, read_body};
use super::error::ApiError;
use crate::export::{CsvRows, FieldColumns};
use crate::records::StoredLead;
use crate::stats::{DAY, ReportBuilder, StatsReport};
use crate::store::StoreError;
use crate::writer::{WriteDone, WriteOp};

/// Largest page of the leads list.
const MAX_PAGE: usize = 500;
/// Body limit of an erasure (`{"email": ...}`).
const ERASE_BODY_LIMIT: usize = 4 * 1024;
/// Longest stats range, in days.
const MAX_RANGE_DAYS: i64 = 366;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/sites/{site}/leads",
            get(list).delete(erase).layer(DefaultBodyLimit::max(ERASE_BODY_LIMIT)),
        )
        .route("/v1/sites/{site}/leads.csv", get(export_csv))
        .route("/v1/sites/{site}/stats", get(stats))
}

/// A site in the config, or one removed from it whose leads or counters are still stored: its
/// data stays reachable, to export and to erase. A malformed id is 422, an unknown one 404.
async fn known_site(state: &AppState, site: &str) -> Result<(), ApiError> {
    if state.sites.get(site).is_some() {
        return Ok(());
    }
    // Only an id that a site could have had is looked up.
    funnel::SiteId::parse("site", site)?;
    let (store, id) = (state.store.clone(), site.to_owned());
    let held = tokio::task::spawn_blocking(move || store.holds(&id))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    if held { Ok(()) } else { Err(ApiError::unknown("site", site)) }
}

#[derive(serde::Serialize)]
struct LeadList {
    leads: Vec<StoredLead>,
    next_cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    SiteInPath(site): SiteInPath,
    RawQuery(q): RawQuery,
) -> Result<Json<LeadList>, ApiError> {
    known_site(&state, &site).await?;
    let q = query_map(q.as_deref())?;
    let limit = match q.get("limit") {
        None => 50,
        Some(l) => l.parse::<usize>().ok().filter(|l| (1..=MAX_PAGE).contains(l)).ok_or_else(|| {
            FieldError::new("limit", "invalid", format!("limit must be a number from 1 to {MAX_PAGE}."))
        })?,
    };
    let cursor = q.get("cursor").cloned();
    if cursor.as_deref().is_some_and(|c| uuid::Uuid::parse_str(c).is_err()) {
        return Err(FieldError::new(
            "cursor",
            "invalid",
            "cursor must be a next_cursor from a previous page.",
        )
        .into());
    }
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || store.lead_page(&site, cursor.as_deref(), limit))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(LeadList { leads: page.leads, next_cursor: page.next_cursor }))
}

async fn export_csv(
    State(state): State<AppState>,
    SiteInPath(site): SiteInPath,
) -> Result<Response, ApiError> {
    known_site(&state, &site).await?;
    let (tx, rx) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let store = state.store.clone();
    let filename = format!("attachment; filename=\"leads-{site}.csv\"");
    tokio::task::spawn_blocking(move || {
        // A first pass chooses the columns for custom answers; the second writes the rows.
        let columns = store.lead_field_names(&site).and_then(|leads| {
            let mut columns = FieldColumns::default();
            for names in leads {
                columns.add(names?);
            }
            Ok(columns.chosen())
        });
        let sent = columns.and_then(|columns| {
            let mut rows = CsvRows::new(columns);
            let leads = store.leads(&site)?;
            for lead in leads {
                if let Some(chunk) = rows.push(&lead?)
                    && tx.blocking_send(Ok(chunk)).is_err()
                {
                    return Ok(());
                }
            }
            let _ = tx.blocking_send(Ok(rows.finish()));
            Ok(())
        });
        if let Err(e) = sent {
            tracing::error!(error = %e, "csv export stopped");
            let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
        }
    });
    let body = Body::from_stream(stream::unfold(rx, |mut rx| async { rx.recv().await.map(|c| (c, rx)) }));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        body,
    )
        .into_response())
}

fn parse_day(field: &'static str, value: Option<&String>, default: Date) -> Result<Date, ApiError> {
    match value {
        None => Ok(default),
        // Years outside 1970-9999 are refused: nothing is counted there, and date arithmetic
        // near the edges of the calendar would overflow.
        Some(v) => Date::parse(v, DAY).ok().filter(|d| (1970..=9999).contains(&d.year())).ok_or_else(|| {
            FieldError::new(field, "invalid", format!("{field} must be a date like 2026-01-31.")).into()
        }),
    }
}

async fn stats(
    State(state): State<AppState>,
    SiteInPath(site): SiteInPath,
    RawQuery(q): RawQuery,
) -> Result<Json<StatsReport>, ApiError> {
    known_site(&state, &site).await?;
    let q = query_map(q.as_deref())?;
    let today = OffsetDateTime::now_utc().date();
    let to = parse_day("to", q.get("to"), today)?;
    // By default the 30 days up to `to` (not before 1970, where nothing is counted).
    let first_day = Date::from_calendar_date(1970, time::Month::January, 1).expect("a valid date");
    let from = parse_day("from", q.get("from"), to.saturating_sub(Duration::days(29)).max(first_day))?;
    if from > to {
        return Err(FieldError::new("from", "invalid", "from must not be after to.").into());
    }
    if (to - from).whole_days() >= MAX_RANGE_DAYS {
        // Named after the bound the client gave: `to` when both, `from` when only it (`to` is
        // then today).
        let field = if q.contains_key("to") { "to" } else { "from" };
        return Err(FieldError::new(
            field,
            "invalid",
            format!("The range is at most {MAX_RANGE_DAYS} days."),
        )
        .into());
    }
    let (from, to) = (from.to_string(), to.to_string());
    let store = state.store.clone();
    let report = tokio::task::spawn_blocking(move || {
        let mut report = ReportBuilder::default();
        store.each_counter(&site, &from, &to, |day, name, value| report.add(day, name, value))?;
        if report.needs_names() {
            store.each_counter(&site, &from, &to, |_, name, _| report.name(name))?;
        }
        Ok::<_, StoreError>(report.report(&site, &from, &to))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(report))
}

/// The body of an erasure: `{"email": "..."}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EraseBody {
    email: String,
}

/// The address to erase, from the JSON body (which no proxy log records) or from the query
/// string (`?email=`, kept for scripts written against it); given in both, it is refused.
async fn address_to_erase(state: &AppState, query: Option<&str>, req: Request) -> Result<Email, ApiError> {
    let in_query = query_map(query)?.remove("email");
    let body = read_body(req, state, ERASE_BODY_LIMIT).await?;
    let in_body =
        if body.trim_ascii().is_empty() { None } else { Some(parse_json::<EraseBody>(&body)?.email) };
    let email = match (in_body, in_query) {
        (Some(_), Some(_)) => {
            return Err(ApiError::malformed(
                "give the email once: in the JSON body or in the query, not both",
                Some("email".into()),
            ));
        }
        (Some(email), None) | (None, Some(email)) => email,
        (None, None) => String::new(),
    };
    Ok(Email::parse(&email)?)
}

async fn erase(
    State(state): State<AppState>,
    SiteInPath(site): SiteInPath,
    RawQuery(q): RawQuery,
    req: Request,
) -> Result<impl IntoResponse, ApiError> {
    known_site(&state, &site).await?;
    let email = address_to_erase(&state, q.as_deref(), req).await?;
    // Find the leads with reads beside the writer, then remove them through it (durably); the
    // writer adds any written since.
    let store = state.store.clone();
    let plan = tokio::task::spawn_blocking(move || store.erasure_plan(&site, email.as_str()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let done = state.writer.write(WriteOp::Erase(Box::new(plan))).await?;
    let WriteDone::Erased(n) = done else {
        return Err(ApiError::Internal("writer answered an erase with another outcome".into()));
    };
    Ok(Json(serde_json::json!({ "erased": n })))
}
