//! What stands in front of the handlers: CORS from the sites' allowed origins, the per-IP rate
//! limit, the per-site origin check, and the admin bearer token.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
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
        // A page served with `Referrer-Policy: no-referrer` (or `same-origin`, posting to
        // another origin) hides its origin from a form post; it cannot be told from any other.
        Some(o) if o == "null" => Err(ApiError::OriginHidden),
        Some(o) => {
            // Named as sent, so a `www.` or an `http:` too many shows; a long one cut short.
            let origin = o.to_str().map_or("(not text)".to_owned(), |o| o.chars().take(200).collect());
            Err(ApiError::OriginNotAllowed { origin, site: site.config.site.clone() })
        }
    }
}

/// The per-IP limiter of the public routes.
pub type Limiter = DefaultKeyedRateLimiter<IpAddr>;

/// A limiter allowing `per_minute` requests per client on average, `burst` of them at once (the
/// bucket's size); `None` when `per_minute` is 0.
pub fn limiter(per_minute: u32, burst: u32) -> Option<Arc<Limiter>> {
    let rate = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Some(Arc::new(RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))))
}

fn client_ip(req: &Request, header: Option<&HeaderName>) -> Option<IpAddr> {
    if let Some(name) = header
        && let Some(ip) = req
            .headers()
            .get_all(name)
            .iter()
            // The right-most entry of the last line: the one the trusted proxy in front of the
            // server added (the client controls everything before it, also whole lines a proxy
            // adds its own line after rather than joining).
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| parse_ip(v.trim()))
    {
        return Some(ip);
    }
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// A client address as proxies write it: `203.0.113.7`, `2001:db8::1`, or with a port
/// (`203.0.113.7:51234`, `[2001:db8::1]:443`, as some load balancers append), or bracketed.
fn parse_ip(v: &str) -> Option<IpAddr> {
    v.parse()
        .ok()
        .or_else(|| v.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| v.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

/// The rate limit's key for a client address: an IPv4 address as is, an IPv6 address by its
/// /64 network (one subscriber's allocation, in which a client can pick a new address for every
/// request). An IPv4 address mapped into IPv6 counts as the IPv4 address.
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// Middleware: answers 429 with `Retry-After` once a client IP exceeds its quota (as a page
/// when a person's browser posted a plain form).
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let (Some(limiter), Some(ip)) = (&state.limiter, client_ip(&req, state.client_ip_header.as_ref()))
        && let Err(not_until) = limiter.check_key(&rate_key(ip))
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

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case, RFC 9110).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Whether `presented` is the admin token. Both are hashed first, so the comparison is of two
/// equal-length digests in constant time and reveals nothing about the token, not its length.
fn is_admin_token(presented: &str, token: &str) -> bool {
    // An empty token is never valid, whatever the configuration.
    !token.is_empty() && bool::from(Sha256::digest(presented).ct_eq(&Sha256::digest(token)))
}

/// Whether `headers` carry `Authorization: Bearer <token>` with one of `tokens`.
pub fn bears_one_of(headers: &axum::http::HeaderMap, tokens: &[&str]) -> bool {
    let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer_token);
    presented.is_some_and(|p| tokens.iter().any(|t| is_admin_token(p, t)))
}

/// Middleware: the admin routes need `Authorization: Bearer <token>`, compared in constant time.
pub async fn require_admin(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if bears_one_of(req.headers(), &[&state.admin_token]) {
        Ok(next.run(req).await)
    } else {
        Err(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_a_quota_per_64_network_and_ipv4_ones_per_address() {
        let key = |s: &str| rate_key(s.parse().unwrap()).to_string();
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_ne!(key("203.0.113.7"), key("203.0.113.8"));
    }

    #[test]
    fn a_client_address_is_read_with_or_without_a_port_or_brackets() {
        let ip = |s: &str| parse_ip(s).map(|ip| ip.to_string());
        for (header, expected) in [
            ("203.0.113.7", "203.0.113.7"),
            ("203.0.113.7:51234", "203.0.113.7"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
        ] {
            assert_eq!(ip(header).as_deref(), Some(expected), "{header}");
        }
        assert_eq!(ip("unknown"), None);
        assert_eq!(ip("203.0.113.7:port"), None);
    }

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case_and_an_empty_token_never_passes() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
        assert!(is_admin_token("abc", "abc"));
        assert!(!is_admin_token("abd", "abc"));
        assert!(!is_admin_token("abcd", "abc"));
        assert!(!is_admin_token("", ""));
    }
}
