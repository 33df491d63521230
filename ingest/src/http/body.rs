//! Request bodies, queries and path parameters parsed at the edge: JSON whatever the content
//! type (the widget sends `text/plain` to avoid a CORS preflight), with errors that name the field.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
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
/// enforces it, named in the error) and within [`BODY_TIMEOUT`]. A body declared larger than
/// the limit is refused before any of it is read (and before `Expect: 100-continue` is granted).
pub async fn read_body<S: Send + Sync>(req: Request, state: &S, limit: usize) -> Result<Bytes, ApiError> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge { limit });
    }
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
    // Every body is an object: serde would also fill a struct from an array, by position.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::malformed("the body must be a JSON object", Some("body".into())));
    }
    // The fast parser first; the path-tracking one only to explain a failure.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        ApiError::malformed(format!("invalid JSON body: {message}"), field_at(&path, &message))
    })?;
    // The fast parser refused what the one above took: data after the JSON value.
    de.end().map_err(|e| ApiError::malformed(format!("invalid JSON body: {e}"), None))?;
    Ok(value)
}

/// The field a JSON error is about: its path, a missing, refused or repeated field named at its
/// own path, and syntax errors (where the parser could not tell the field: `?`) at the last
/// field it could, or none.
fn field_at(path: &str, message: &str) -> Option<String> {
    let mut path = path;
    while let Some(parent) = path.strip_suffix(".?") {
        path = parent;
    }
    if path == "?" {
        path = ".";
    }
    let named = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|m| m.split('`').next());
    match (named, path) {
        (Some(name), ".") => Some(name.to_owned()),
        (Some(name), p) if p == name || p.ends_with(&format!(".{name}")) => Some(p.to_owned()),
        (Some(name), parent) => Some(format!("{parent}.{name}")),
        (None, ".") => None,
        (None, p) => Some(p.to_owned()),
    }
}

/// The name/value pairs of an `application/x-www-form-urlencoded` body or query string, in
/// order. `+` is a space; a name or value that does not decode to UTF-8 is a 400 naming it
/// (by its name, when the name itself decodes), never stored with replacement characters.
/// A `%` not followed by two hex digits stays as it is, as browsers and the URL standard do.
pub fn form_pairs(raw: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let decode = |bytes: &[u8]| {
        let spaced: Vec<u8> = bytes.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
        String::from_utf8(percent_encoding::percent_decode(&spaced).collect())
    };
    raw.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            let invalid = |field: Option<String>| {
                ApiError::malformed("invalid form data: not UTF-8 once percent-decoded", field)
            };
            let name = decode(name).map_err(|_| invalid(None))?;
            let value = decode(value).map_err(|_| invalid(Some(name.clone())))?;
            Ok((name, value))
        })
        .collect()
}

/// A query string as a map, first value of each key winning. A key with an empty value
/// (`?cursor=`, as a form or a script leaves a blank parameter) is absent.
pub fn query_map(raw: Option<&str>) -> Result<HashMap<String, String>, ApiError> {
    let mut map = HashMap::new();
    for (k, v) in form_pairs(raw.unwrap_or("").as_bytes())? {
        if !v.is_empty() {
            map.entry(k).or_insert(v);
        }
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
        assert_eq!(field_of("not json").as_deref(), Some("body"));
        // A struct is never filled from an array by position.
        assert_eq!(field_of(r#"["a",{"granted":true}]"#).as_deref(), Some("body"));
        assert_eq!(field_of(r#"  [1]"#).as_deref(), Some("body"));
        assert_eq!(field_of(""), Some("body".into()));
    }

    #[test]
    fn syntax_errors_name_the_last_field_known_and_repeats_are_named() {
        assert_eq!(field_of("{"), None);
        assert_eq!(field_of(r#"{"email":"a",}"#), None);
        assert_eq!(field_of(r#"{"email":"a","inner":{"granted":true,}}"#).as_deref(), Some("inner"));
        assert_eq!(
            field_of(r#"{"email":"a","email":"b","inner":{"granted":true}}"#).as_deref(),
            Some("email")
        );
    }

    #[test]
    fn data_after_the_json_value_is_refused() {
        let one = r#"{"email":"a","inner":{"granted":true}}"#;
        assert!(parse_json::<Outer>(one.as_bytes()).is_ok());
        for trailing in [format!("{one}{one}"), format!("{one}garbage"), format!("{one} ,")] {
            assert!(
                matches!(
                    parse_json::<Outer>(trailing.as_bytes()),
                    Err(ApiError::Malformed { field: None, .. })
                ),
                "{trailing}"
            );
        }
    }

    #[test]
    fn form_data_decodes_strictly() {
        let pairs = form_pairs(b"email=a%40b.co&name=Ada+L%C3%B6we&&flag&pct=100%ZZ").unwrap();
        let expected = [("email", "a@b.co"), ("name", "Ada L\u{f6}we"), ("flag", ""), ("pct", "100%ZZ")];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
        for (raw, field) in
            [(&b"email=%FF%FE@b.co"[..], Some("email")), (b"email=\xff", Some("email")), (b"%FF=1", None)]
        {
            match form_pairs(raw) {
                Err(ApiError::Malformed { field: f, .. }) => assert_eq!(f.as_deref(), field),
                other => panic!("{raw:?}: {other:?}"),
            }
        }
    }
}
