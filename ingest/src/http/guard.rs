//! What stands in front of the handlers: CORS from the sites' allowed origins, the per-IP rate
//! limit, the per-site origin check, and the admin bearer token.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use subtle::ConstantTimeEq;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::AppState;
use super::error::ApiError;
use super::html;
use crate::sites::{Site, Sites};

/// CORS for the public API: any origin that some site allows may call it; the handlers then
/// check the origin against the specific site named in the request.
pub fn cors(sites: Arc<Sites>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|o| sites.any_allows_origin(o))
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .max_age(Duration::from_secs(24 * 3600))
}

/// Rejects a browser request whose `Origin` the site does not allow. Requests without an
/// `Origin` (servers, command-line clients) pass: the header only protects browsers.
pub fn check_origin(site: &Site, headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(header::ORIGIN) {
        None => Ok(()),
        Some(o) if o.to_str().is_ok_and(|o| site.allows_origin(o)) => Ok(()),
        Some(_) => Err(ApiError::OriginNotAllowed),
    }
}

/// The per-IP limiter of the public routes.
pub type Limiter = DefaultKeyedRateLimiter<IpAddr>;

/// A limiter allowing `per_minute` requests per IP with `burst` above it; `None` when 0.
pub fn limiter(per_minute: u32, burst: u32) -> Option<Arc<Limiter>> {
    let rate = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Some(Arc::new(RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))))
}

fn client_ip(req: &Request, header: Option<&HeaderName>) -> Option<IpAddr> {
    if let Some(name) = header
        && let Some(ip) = req
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            // The right-most entry: the one the trusted proxy in front of the server added
            // (the client controls everything to its left).
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// Middleware: answers 429 with `Retry-After` once a client IP exceeds its quota (as a page
/// when a person's browser posted a plain form).
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let (Some(limiter), Some(ip)) = (&state.limiter, client_ip(&req, state.client_ip_header.as_ref()))
        && let Err(not_until) = limiter.check_key(&ip)
    {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let error = ApiError::RateLimited { retry_after_secs: wait.as_secs_f64().ceil() as u64 };
        return match html::is_browser_form_post(req.headers()) {
            true => error.into_html_response(html::referer(req.headers())),
            false => error.into_response(),
        };
    }
    next.run(req).await
}

/// Middleware: the admin routes need `Authorization: Bearer <token>`, compared in constant time.
pub async fn require_admin(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // An empty token is never valid, whatever the configuration.
    if !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(state.admin_token.as_bytes())) {
        Ok(next.run(req).await)
    } else {
        Err(ApiError::Unauthorized)
    }
}
