//! The one place errors become HTTP responses.
//!
//! An [`ApiError`] has a [`Code`] from `sessiond-core`'s table ([`Code`]), which gives both
//! the text on the wire and the HTTP status; nothing here chooses a status of its own.
//! Internals never leak: a 5xx body says what kind of failure it was and nothing else.
//!
//! Turning an error into a response has no side effect. What went wrong inside travels with
//! the response as an [`ErrorReport`] extension; the telemetry layer
//! ([`crate::telemetry::track`]) logs it and takes it off before the response leaves.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sessiond_api::ErrorBody;
use sessiond_core::{Code, Error, StoreError, error_chain};

/// An HTTP-level error: anything that is not a CDI status in a 200 body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request cannot be served as sent (a 4xx): `code` says why, `message` what to fix.
    #[error("{message}")]
    Rejected {
        /// The stable code; its HTTP status comes from the table.
        code: Code,
        /// What is wrong with the request, for the client.
        message: Cow<'static, str>,
    },
    /// The store failed: fail closed (503 `STORE_UNAVAILABLE`).
    #[error("store unavailable")]
    StoreUnavailable(#[source] StoreError),
    /// The store has not been reached yet since startup (503 `STORE_UNAVAILABLE`): the
    /// server answers while it keeps trying in the background.
    #[error("the store is not connected yet; retrying")]
    NotReady,
    /// The manager failed in a way the client cannot fix: 500 with the error's own code from
    /// the table (`INTERNAL`, or `INVALID_CONFIGURATION` for a key this configuration cannot
    /// open).
    #[error("internal error")]
    Internal(#[source] Error),
    /// A request handler panicked: 500 `INTERNAL`, and the connection is closed. The panic's
    /// message is neither sent nor logged (it may quote anything the handler held).
    #[error("internal error")]
    Panicked,
}

impl ApiError {
    /// A client error with `code` (a 4xx code of the table) and a message saying what to fix.
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Rejected { code, message: message.into() }
    }

    /// The stable code of this error (its HTTP status is [`Code::http_status`]).
    pub fn code(&self) -> Code {
        match self {
            ApiError::Rejected { code, .. } => *code,
            ApiError::StoreUnavailable(_) | ApiError::NotReady => Code::StoreUnavailable,
            ApiError::Internal(e) => match e.code() {
                c if c.http_status() >= 500 && c != Code::StoreUnavailable => c,
                _ => Code::Internal,
            },
            ApiError::Panicked => Code::Internal,
        }
    }

    /// What the log should say about a failure on this side; `None` for a client error.
    fn failure(&self) -> Option<Failure> {
        let (what, detail) = match self {
            ApiError::StoreUnavailable(e) => ("store unavailable", error_chain(e)),
            ApiError::Internal(e) => ("internal error", error_chain(e)),
            ApiError::Panicked => {
                ("a request handler panicked", "its message is not logged".to_owned())
            }
            ApiError::Rejected { .. } | ApiError::NotReady => return None,
        };
        Some(Failure { what, detail })
    }
}

impl From<Error> for ApiError {
    /// Maps a manager error through the table ([`Error::code`]): 503 keeps the store error,
    /// other 5xx keep the whole error for the log, 4xx become a message for the client.
    fn from(e: Error) -> Self {
        let code = e.code();
        match e {
            Error::Store(s) if code == Code::StoreUnavailable => ApiError::StoreUnavailable(s),
            e if code.http_status() >= 500 => ApiError::Internal(e),
            Error::Store(StoreError::Duplicate) => {
                ApiError::new(code, "a session with this handle already exists; retry")
            }
            Error::Conflict => ApiError::new(code, "too many concurrent updates; retry"),
            Error::InvalidInput(m) => ApiError::new(code, m),
            e => ApiError::new(code, e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let status =
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody { code: code.as_str().to_owned(), message: self.to_string() };
        let mut resp = (status, Json(body)).into_response();
        if matches!(code, Code::RequestTimeout) || matches!(self, ApiError::Panicked) {
            // The rest of the body may still be on its way, or the handler left the request
            // half read: this connection is done.
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp.extensions_mut().insert(ErrorReport { code, failure: self.failure() });
        resp
    }
}

/// Attached to every error response for the telemetry layer, which logs it and removes it:
/// the stable code (for metrics and the request log) and, for a failure on this side, what to
/// log about it.
#[derive(Debug, Clone)]
pub struct ErrorReport {
    /// The code the response carries.
    pub code: Code,
    /// For a 5xx other than a store that is not connected yet: the log line's message and the
    /// error chain. Never sent to the client.
    pub failure: Option<Failure>,
}

/// A failure on this side, as the log records it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What failed: `store unavailable`, `internal error`, `a request handler panicked`.
    pub what: &'static str,
    /// The error and its sources (for a panic, only that its message is withheld).
    pub detail: String,
}
