//! `ApiError`: every failure a handler can answer with, rendered as the JSON error body (or,
//! for a person posting a plain HTML form, as a small page saying the same).
//! 4xx carry safe text and the field at fault; 5xx are logged and never echoed.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use funnel::{ErrorBody, ErrorDetail, FieldError};

use super::html::{self, escape};
use crate::store::StoreError;
use crate::writer::WriteError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Malformed { message: String, field: Option<String> },
    #[error("the request body is larger than this endpoint accepts ({limit} bytes)")]
    TooLarge { limit: usize },
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("{what} not found")]
    NotFound { what: &'static str, field: Cow<'static, str> },
    #[error("the origin {origin} is not among the allowed_origins of site {site} (lodestone.toml)")]
    OriginNotAllowed { origin: String, site: String },
    #[error(
        "the page hid its origin (Origin: null), so it cannot be checked against the site's allowed \
         origins; a page whose Referrer-Policy is no-referrer or same-origin does this for its \
         forms: give that page the policy strict-origin-when-cross-origin"
    )]
    OriginHidden,
    #[error("a valid token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    #[error("the request body did not arrive in time")]
    Timeout,
    #[error("this route does not answer that method")]
    MethodNotAllowed,
    #[error("too many requests; retry later")]
    RateLimited { retry_after_secs: u64 },
    #[error("submission_id was already used for a different lead: send a new submission_id for a new lead")]
    SubmissionTaken,
    #[error("the requested range is outside the file (see Content-Range for its length)")]
    RangeNotSatisfiable,
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn malformed(message: impl Into<String>, field: Option<String>) -> Self {
        Self::Malformed { message: message.into(), field }
    }

    /// Why no site or campaign has the id `raw` (`field` names which): missing or malformed
    /// (422, naming the field), or well-formed and not there (404).
    pub fn unknown(field: &'static str, raw: &str) -> Self {
        match funnel::SiteId::parse(field, raw) {
            Err(e) => e.into(),
            Ok(_) => Self::NotFound { what: field, field: field.into() },
        }
    }

    fn parts(&self) -> (StatusCode, &str, Option<String>) {
        match self {
            Self::Malformed { field, .. } => (StatusCode::BAD_REQUEST, "malformed", field.clone()),
            Self::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", Some("body".into())),
            Self::Invalid(e) => (StatusCode::UNPROCESSABLE_ENTITY, e.code, Some(e.field.clone())),
            Self::NotFound { field, .. } => (StatusCode::NOT_FOUND, "not_found", Some(field.to_string())),
            Self::OriginNotAllowed { .. } | Self::OriginHidden => {
                (StatusCode::FORBIDDEN, "origin_not_allowed", Some("origin".into()))
            }
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", Some("authorization".into())),
            Self::Timeout => (StatusCode::REQUEST_TIMEOUT, "timeout", Some("body".into())),
            Self::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", Some("method".into()))
            }
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", None),
            Self::SubmissionTaken => (StatusCode::CONFLICT, "conflict", Some("submission_id".into())),
            Self::RangeNotSatisfiable => {
                (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable", Some("range".into()))
            }
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::SubmissionTaken => Self::SubmissionTaken,
            e => Self::Internal(e.to_string()),
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Store(e) => e.into(),
            e => Self::Internal(e.to_string()),
        }
    }
}

impl ApiError {
    /// The status and the error body; a 5xx is logged here and its detail never echoed.
    fn detail(&self) -> (StatusCode, ErrorDetail) {
        let (status, code, field) = self.parts();
        let message = match self {
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                "Something went wrong on our side; nothing was stored. Please retry.".to_owned()
            }
            Self::Invalid(e) => e.message.clone(),
            other => other.to_string(),
        };
        (status, ErrorDetail { code: code.to_owned(), message, field })
    }

    /// Headers the status calls for (`Retry-After`, `WWW-Authenticate`).
    fn with_headers(&self, mut response: Response) -> Response {
        if let Self::RateLimited { retry_after_secs } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from((*retry_after_secs).max(1)));
        }
        if response.status() == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }

    /// The error as a page for a person whose browser posted a plain HTML form: the same
    /// status, the message and the field, and a link `back` to the form's page when known.
    pub fn into_html_response(self, back: Option<&str>) -> Response {
        let (status, detail) = self.detail();
        let field =
            detail.field.as_deref().map_or(String::new(), |f| format!(" <small>({})</small>", escape(f)));
        let back = back
            .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
            .map_or(String::new(), |url| format!(r#"<p><a href="{}">Back to the form</a></p>"#, escape(url)));
        let title = match status {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::PAYLOAD_TOO_LARGE => {
                "Please check your entry"
            }
            StatusCode::TOO_MANY_REQUESTS => "Please wait a moment",
            s if s.is_server_error() => "Something went wrong",
            _ => "This form could not be sent",
        };
        let body = format!("<h1>{title}</h1><p>{}{field}</p>{back}", escape(&detail.message));
        self.with_headers((status, html::page(title, &body)).into_response())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error) = self.detail();
        let response = (status, axum::Json(ErrorBody { error })).into_response();
        self.with_headers(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn page(e: ApiError, back: Option<&str>) -> (StatusCode, String) {
        let response = e.into_html_response(back);
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_form_error_page_keeps_the_status_and_links_back_only_to_web_pages() {
        let (status, html) = page(
            ApiError::NotFound { what: "campaign", field: "campaign".into() },
            Some("javascript:alert(1)"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(html.contains("<h1>This form could not be sent</h1><p>campaign not found <small>(campaign)</small></p></body>"), "{html}");
        let (status, html) = page(ApiError::Internal("disk on fire".into()), None).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(html.contains("Something went wrong") && !html.contains("disk on fire"), "{html}");
    }
}
