//! The one place errors become HTTP responses. Internals never leak: a 5xx says what kind of
//! failure it was and nothing else; the detail goes to the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sessiond_api::ErrorBody;
use sessiond_core::{Error, StoreError};

/// An HTTP-level error: anything that is not a CDI status in a 200 body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed (400) with a stable code.
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The body exceeds the limit (413).
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body did not arrive within the body-read timeout (408); the connection is closed.
    #[error("the request body did not arrive within {secs} s")]
    RequestTimeout {
        /// The timeout, seconds.
        secs: u64,
    },
    /// Missing or wrong API key (401).
    #[error("missing or invalid API key")]
    Unauthorized,
    /// No such route or resource (404).
    #[error("{0}")]
    NotFound(&'static str),
    /// No live session has this handle (in the request's app) (404).
    #[error("session not found")]
    SessionNotFound,
    /// Wrong method for the route (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A write lost too many races with concurrent writers, or met a row it must not overwrite
    /// (409); retrying is safe.
    #[error("{0}")]
    Conflict(&'static str),
    /// The store failed: fail closed (503).
    #[error("store unavailable")]
    StoreUnavailable(#[source] StoreError),
    /// The store has not been reached yet since startup (503, `STORE_UNAVAILABLE`): the
    /// server answers while it keeps trying in the background.
    #[error("the store is not connected yet; retrying")]
    NotReady,
    /// Anything else (500).
    #[error("internal error")]
    Internal(#[source] Error),
}

impl ApiError {
    /// A 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
            }
            ApiError::RequestTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, "REQUEST_TIMEOUT"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "INVALID_API_KEY"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ApiError::SessionNotFound => (StatusCode::NOT_FOUND, "SESSION_NOT_FOUND"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            ApiError::StoreUnavailable(_) | ApiError::NotReady => {
                (StatusCode::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE")
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(StoreError::Duplicate) => {
                ApiError::Conflict("a session with this handle already exists; retry")
            }
            Error::Store(s @ StoreError::Corrupt(_)) => ApiError::Internal(Error::Store(s)),
            Error::Store(s) => ApiError::StoreUnavailable(s),
            Error::InvalidInput(m) => ApiError::bad_request("INVALID_INPUT", m),
            Error::SessionNotFound => ApiError::SessionNotFound,
            Error::Conflict => ApiError::Conflict("too many concurrent updates; retry"),
            e => ApiError::Internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        match &self {
            ApiError::StoreUnavailable(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(e), "store unavailable");
            }
            ApiError::Internal(e) => tracing::error!(error = %e, "internal error"),
            _ => {}
        }
        let body = ErrorBody {
            code: code.to_owned(),
            message: self.to_string(),
        };
        let mut resp = (status, Json(body)).into_response();
        if matches!(self, ApiError::RequestTimeout { .. }) {
            // The rest of the body may still be on its way: this connection is done.
            resp.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        resp.extensions_mut().insert(ErrorCode(code));
        resp
    }
}

/// Attached to error responses so logging and metrics can see the stable code.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);
