//! The widget's files: `/lodestone.js` (stable URL, short cache) and `/assets/*` (content-hashed,
//! immutable). Public to every origin: `Access-Control-Allow-Origin: *`, no credentials, because
//! any page embedding the snippet must be able to fetch the wasm.

use std::path::PathBuf;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
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
            let hashed = ServeDir::new(dir.join("assets")).precompressed_br().precompressed_gzip();
            Router::new()
                .route_service("/lodestone.js", script)
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(SHORT),
                ))
                .merge(Router::new().nest_service("/assets", hashed).layer(
                    SetResponseHeaderLayer::overriding(
                        header::CACHE_CONTROL,
                        HeaderValue::from_static(IMMUTABLE),
                    ),
                ))
        }
        None => Router::new().route("/lodestone.js", get(missing)).route("/assets/{*file}", get(missing)),
    };
    routes.layer(cors).layer(corp)
}

async fn missing() -> impl IntoResponse {
    ApiError::NotFound { what: "widget asset", field: "path" }
}
