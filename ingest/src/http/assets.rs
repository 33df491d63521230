//! The widget's files: `/lodestone.js` (stable URL, short cache) and `/assets/*` (content-hashed,
//! immutable). Public to every origin: `Access-Control-Allow-Origin: *`, no credentials, because
//! any page embedding the snippet must be able to fetch the wasm.

use std::path::PathBuf;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use super::AppState;
use super::error::ApiError;

const SHORT: &str = "public, max-age=300";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub fn router(dir: Option<PathBuf>) -> Router<AppState> {
    let cors = SetResponseHeaderLayer::overriding(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    let corp = SetResponseHeaderLayer::overriding(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("cross-origin"),
    );
    let routes = match dir {
        Some(dir) => {
            let script = ServeFile::new(dir.join("lodestone.js")).precompressed_br().precompressed_gzip();
            // No directory listings or redirects (a redirect would drop the `/assets` prefix).
            // Served from `dir` under the route `/assets/{*file}` (not nested): the request's
            // own path then names the file, and the metrics see the route.
            let hashed = ServeDir::new(&dir)
                .append_index_html_on_directories(false)
                .precompressed_br()
                .precompressed_gzip();
            Router::new()
                .route_service("/lodestone.js", script)
                .layer(map_response(|r: Response| async move { finish(r, SHORT) }))
                .merge(
                    Router::new()
                        .route_service("/assets/{*file}", hashed)
                        .layer(map_response(|r: Response| async move { finish(r, IMMUTABLE) })),
                )
        }
        None => Router::new()
            .route("/lodestone.js", get(|| async { missing() }))
            .route("/assets/{*file}", get(|| async { missing() })),
    };
    routes.layer(cors).layer(corp)
}

/// A file response as the widget routes answer it: found (or not modified) with its cache
/// lifetime, varying by `Accept-Encoding` (the file may be sent brotli- or gzip-compressed, so
/// a shared cache must not hand one encoding to a browser that asked for another); not found, a
/// wrong method or a range past the file's end as the API's JSON error, never cached for long.
fn finish(mut response: Response, cache: &'static str) -> Response {
    match response.status() {
        StatusCode::NOT_FOUND => missing().into_response(),
        StatusCode::METHOD_NOT_ALLOWED => {
            let mut refused = ApiError::MethodNotAllowed.into_response();
            refused.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET,HEAD"));
            refused
        }
        // The file's length stays in `Content-Range`; the body says why, as every error does.
        StatusCode::RANGE_NOT_SATISFIABLE => {
            let mut refused = ApiError::RangeNotSatisfiable.into_response();
            if let Some(range) = response.headers_mut().remove(header::CONTENT_RANGE) {
                refused.headers_mut().insert(header::CONTENT_RANGE, range);
            }
            refused
        }
        s if s.is_success() || s == StatusCode::NOT_MODIFIED => {
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            response
        }
        _ => response,
    }
}

fn missing() -> ApiError {
    ApiError::NotFound { what: "widget asset", field: "path".into() }
}
