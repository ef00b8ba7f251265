//! [`SessionError`]: every way a server-backed session operation fails, as the response the
//! SuperTokens frontend SDK expects.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sessiond_core::Code;

use super::backend::BackendError;

/// Why a request has no usable session, or a session operation failed. Its response is what
/// supertokens-node sends in the same case, so the frontend SDK reacts the same way (refresh
/// on 401, sign out when the refresh fails, report claims on 403).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// No session: 401 `{"message":"unauthorised"}`.
    #[error("unauthorised")]
    Unauthorised,
    /// The access token is expired or otherwise not usable now, but a refresh may fix it:
    /// 401 `{"message":"try refresh token"}`.
    #[error("try refresh token")]
    TryRefreshToken,
    /// A superseded refresh token was replayed; the session is revoked and the client's tokens
    /// cleared: 401 `{"message":"token theft detected"}`.
    #[error("token theft detected")]
    TokenTheftDetected,
    /// A claim validator failed: 403 `{"message":"invalid claim","claimValidationErrors":[…]}`.
    #[error("invalid claim")]
    InvalidClaim(Vec<Value>),
    /// The session store (or the remote sessiond) cannot be reached: 503
    /// `{"message":…,"code":"STORE_UNAVAILABLE"}`. Never "logged out", never "valid".
    #[error("session store unavailable")]
    StoreUnavailable,
    /// The app passed bad input (a reserved claim, a bad user id): 400 `INVALID_INPUT`.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A versioned update lost too many races: 409 `CONFLICT` (retry).
    #[error("too many concurrent updates; retry")]
    Conflict,
    /// The route takes a session but no session layer is above it: 500.
    #[error("no sessiond session layer above this route")]
    LayerMissing,
    /// Anything else: 500 `INTERNAL`.
    #[error("internal error")]
    Internal,
}

impl SessionError {
    /// A stable, machine-readable code, from sessiond's one table ([`Code`]).
    pub fn code(&self) -> &'static str {
        let code = match self {
            SessionError::Unauthorised => Code::Unauthorised,
            SessionError::TryRefreshToken => Code::TryRefreshToken,
            SessionError::TokenTheftDetected => Code::TokenTheftDetected,
            SessionError::InvalidClaim(_) => Code::InvalidClaim,
            SessionError::StoreUnavailable => Code::StoreUnavailable,
            SessionError::InvalidInput(_) => Code::InvalidInput,
            SessionError::Conflict => Code::Conflict,
            SessionError::LayerMissing => Code::SessionLayerMissing,
            SessionError::Internal => Code::Internal,
        };
        code.as_str()
    }
}

impl From<BackendError> for SessionError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Unauthorised { .. } => SessionError::Unauthorised,
            BackendError::TryRefresh => SessionError::TryRefreshToken,
            BackendError::Theft => SessionError::TokenTheftDetected,
            BackendError::Unavailable(detail) => {
                tracing::error!(error = %detail, "session store unavailable");
                SessionError::StoreUnavailable
            }
            BackendError::InvalidInput(m) => SessionError::InvalidInput(m),
            BackendError::Conflict => SessionError::Conflict,
            BackendError::Internal(detail) => {
                tracing::error!(error = %detail, "session operation failed");
                SessionError::Internal
            }
        }
    }
}

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            SessionError::Unauthorised => {
                (StatusCode::UNAUTHORIZED, json!({"message": "unauthorised"}))
            }
            SessionError::TryRefreshToken => {
                (StatusCode::UNAUTHORIZED, json!({"message": "try refresh token"}))
            }
            SessionError::TokenTheftDetected => {
                (StatusCode::UNAUTHORIZED, json!({"message": "token theft detected"}))
            }
            SessionError::InvalidClaim(errors) => (
                StatusCode::FORBIDDEN,
                json!({"message": "invalid claim", "claimValidationErrors": errors}),
            ),
            SessionError::StoreUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"message": "session store unavailable", "code": self.code()}),
            ),
            SessionError::InvalidInput(m) => {
                (StatusCode::BAD_REQUEST, json!({"message": m, "code": self.code()}))
            }
            SessionError::Conflict => {
                (StatusCode::CONFLICT, json!({"message": self.to_string(), "code": self.code()}))
            }
            SessionError::LayerMissing | SessionError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": self.to_string(), "code": self.code()}),
            ),
        };
        (status, Json(body)).into_response()
    }
}
