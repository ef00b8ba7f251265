//! The one error type of `sessiond-core`.

use crate::store::StoreError;

/// Everything a [`SessionManager`](crate::SessionManager) operation can fail with.
///
/// The variants map one to one onto what a caller must do: `Unauthorised` → sign in again,
/// `TryRefreshToken` → call refresh, `TokenTheftDetected` → the session is gone and someone
/// replayed an old refresh token, `Store` → fail closed (HTTP 503).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token or session is not valid and refreshing will not help.
    #[error("unauthorised: {0}")]
    Unauthorised(&'static str),
    /// The access token is no longer usable (expired, signed by a retired key, anti-CSRF
    /// mismatch); the client should refresh.
    #[error("try refresh token: {0}")]
    TryRefreshToken(&'static str),
    /// A refresh token from an already rotated generation was replayed outside the grace
    /// window. The session has been revoked.
    #[error("refresh token reuse detected; session {handle} revoked")]
    TokenTheftDetected {
        /// The revoked session.
        handle: String,
        /// Its user.
        user_id: String,
        /// Its recipe user.
        recipe_user_id: String,
    },
    /// No live session has this handle.
    #[error("session not found")]
    SessionNotFound,
    /// An argument is malformed (not a JSON object, a reserved claim, an empty user id…).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A versioned write lost to a concurrent writer more times than the retry budget allows.
    #[error("concurrent update conflict")]
    Conflict,
    /// The store failed or is unreachable; the operation did not happen.
    #[error("store error")]
    Store(#[from] StoreError),
    /// A cryptographic primitive failed (randomness, key parsing, signing).
    #[error("cryptographic failure: {0}")]
    Crypto(&'static str),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    /// A stable, machine-readable code for this error, used by every transport.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthorised(_) => "UNAUTHORISED",
            Error::TryRefreshToken(_) => "TRY_REFRESH_TOKEN",
            Error::TokenTheftDetected { .. } => "TOKEN_THEFT_DETECTED",
            Error::SessionNotFound => "SESSION_NOT_FOUND",
            Error::InvalidInput(_) => "INVALID_INPUT",
            Error::Conflict => "CONFLICT",
            Error::Store(StoreError::Duplicate) => "CONFLICT",
            Error::Store(_) => "STORE_UNAVAILABLE",
            Error::Crypto(_) => "INTERNAL",
            Error::Config(_) => "INVALID_CONFIGURATION",
        }
    }
}
