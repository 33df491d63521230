//! Request bodies, queries and path parameters parsed at the edge: JSON whatever the content
//! type (the widget sends `text/plain` to avoid a CORS preflight), with errors that name the field.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Body limit of `POST /v1/leads`.
pub const LEAD_BODY_LIMIT: usize = funnel::limits::LEAD_BODY;
/// Body limit of `POST /v1/events`.
pub const EVENT_BODY_LIMIT: usize = 32 * 1024;

/// A JSON body of an event batch, parsed whatever its content type.
pub struct AnyJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AnyJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(req, state, EVENT_BODY_LIMIT).await?;
        parse_json(&bytes).map(AnyJson)
    }
}

/// The `{site}` segment of a route's path. A segment that is not valid percent-encoded UTF-8
/// is a 400 naming `site`, as JSON like every other error (axum's own rejection is plain text).
pub struct SiteInPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SiteInPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(site)) => Ok(Self(site)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                Err(ApiError::malformed(format!("invalid site in the path: {e}"), Some("site".into())))
            }
            // A route without a `{site}` segment: the server's mistake, not the client's.
            Err(other) => Err(ApiError::Internal(other.to_string())),
        }
    }
}

/// How long a client may take to send a body once its headers are in: a stalled client is
/// answered 408 instead of holding its connection (and a graceful shutdown) forever.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the whole body within the route's limit (`limit`, as the route's `DefaultBodyLimit`
/// enforces it, named in the error) and within [`BODY_TIMEOUT`].
pub async fn read_body<S: Send + Sync>(req: Request, state: &S, limit: usize) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(BODY_TIMEOUT, Bytes::from_request(req, state)).await {
        Ok(read) => read.map_err(|rejection| body_error(rejection, limit)),
        Err(_) => Err(ApiError::Timeout),
    }
}

fn body_error(rejection: BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge { limit }
    } else {
        ApiError::malformed(format!("cannot read the request body: {rejection}"), None)
    }
}

/// Parses JSON, naming the field at fault when the shape is wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // The fast parser first; the path-tracking one only to explain a failure.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        // A missing or refused field is named at its own path, not only at its parent's.
        let named = message
            .strip_prefix("missing field `")
            .or_else(|| message.strip_prefix("unknown field `"))
            .and_then(|m| m.split('`').next());
        let field = match (named, path.as_str()) {
            (Some(name), ".") => Some(name.to_owned()),
            (Some(name), p) if p == name || p.ends_with(&format!(".{name}")) => Some(p.to_owned()),
            (Some(name), parent) => Some(format!("{parent}.{name}")),
            (None, ".") => None,
            (None, p) => Some(p.to_owned()),
        };
        ApiError::malformed(format!("invalid JSON body: {message}"), field)
    })
}

/// A query string as a map, first value of each key winning.
pub fn query_map(raw: Option<&str>) -> Result<HashMap<String, String>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ApiError::malformed(format!("invalid query string: {e}"), None))?;
    let mut map = HashMap::new();
    for (k, v) in pairs {
        map.entry(k).or_insert(v);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        email: String,
        inner: Inner,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        granted: bool,
    }

    fn field_of(json: &str) -> Option<String> {
        match parse_json::<Outer>(json.as_bytes()) {
            Err(ApiError::Malformed { field, .. }) => field,
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn shape_errors_name_the_field() {
        assert_eq!(field_of(r#"{"inner":{"granted":true}}"#).as_deref(), Some("email"));
        assert_eq!(field_of(r#"{"email":1,"inner":{"granted":true}}"#).as_deref(), Some("email"));
        assert_eq!(field_of(r#"{"email":"a","inner":{"granted":"yes"}}"#).as_deref(), Some("inner.granted"));
        assert_eq!(field_of(r#"{"email":"a","inner":{}}"#).as_deref(), Some("inner.granted"));
        assert_eq!(field_of("not json"), None);
    }
}
