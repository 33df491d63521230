//! `ApiError`: every failure a handler can answer with, rendered as the JSON error body.
//! 4xx carry safe text and the field at fault; 5xx are logged and never echoed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use funnel::{ErrorBody, ErrorDetail, FieldError};

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
    NotFound { what: &'static str, field: &'static str },
    #[error("this origin is not allowed for the site")]
    OriginNotAllowed,
    #[error("a valid admin token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    #[error("too many requests; retry later")]
    RateLimited { retry_after_secs: u64 },
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn malformed(message: impl Into<String>, field: Option<String>) -> Self {
        Self::Malformed { message: message.into(), field }
    }

    fn parts(&self) -> (StatusCode, &str, Option<String>) {
        match self {
            Self::Malformed { field, .. } => (StatusCode::BAD_REQUEST, "malformed", field.clone()),
            Self::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", None),
            Self::Invalid(e) => (StatusCode::UNPROCESSABLE_ENTITY, e.code, Some(e.field.clone())),
            Self::NotFound { field, .. } => (StatusCode::NOT_FOUND, "not_found", Some((*field).to_owned())),
            Self::OriginNotAllowed => (StatusCode::FORBIDDEN, "origin_not_allowed", Some("origin".into())),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", Some("authorization".into())),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", None),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = self.parts();
        let message = match &self {
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                "Something went wrong on our side; nothing was stored. Please retry.".to_owned()
            }
            Self::Invalid(e) => e.message.clone(),
            other => other.to_string(),
        };
        let body = ErrorBody { error: ErrorDetail { code: code.to_owned(), message, field } };
        let mut response = (status, axum::Json(body)).into_response();
        if let Self::RateLimited { retry_after_secs } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
