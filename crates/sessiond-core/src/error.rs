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
    /// The stable code of this error, from the one table ([`Code`]) that the HTTP server, the
    /// axum layer and the CLI also answer with.
    pub fn code(&self) -> Code {
        match self {
            Error::Unauthorised(_) => Code::Unauthorised,
            Error::TryRefreshToken(_) => Code::TryRefreshToken,
            Error::TokenTheftDetected { .. } => Code::TokenTheftDetected,
            Error::SessionNotFound => Code::SessionNotFound,
            Error::InvalidInput(_) => Code::InvalidInput,
            Error::Conflict | Error::Store(StoreError::Duplicate) => Code::Conflict,
            Error::Store(StoreError::Corrupt(_)) | Error::Crypto(_) => Code::Internal,
            Error::Store(StoreError::Config(_)) | Error::Config(_) => Code::InvalidConfiguration,
            Error::Store(_) => Code::StoreUnavailable,
        }
    }
}

/// Defines [`Code`] from one table: variant, wire text, HTTP status, meaning.
macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $text:literal, $status:literal;)*) => {
        /// Every stable error code sessiond answers with, in one table: the text on the wire
        /// (`code` of an error body, or a CDI `status`) and the HTTP status it has when it is
        /// an error response.
        ///
        /// The CDI endpoints carry `UNAUTHORISED`, `TRY_REFRESH_TOKEN` and
        /// `TOKEN_THEFT_DETECTED` as a `status` in a 200 body, as the SuperTokens SDKs expect;
        /// everywhere else (the axum layer, `/sessiond/v1`) they are the status listed here.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The text on the wire, e.g. `STORE_UNAVAILABLE`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }

            /// The HTTP status of an error response with this code.
            pub const fn http_status(self) -> u16 {
                match self {
                    $(Code::$variant => $status,)*
                }
            }
        }
    };
}

codes! {
    /// Malformed input: a field has the wrong type or value, a claim is reserved, a limit is
    /// exceeded.
    InvalidInput = "INVALID_INPUT", 400;
    /// The body is not JSON.
    InvalidJson = "INVALID_JSON", 400;
    /// The body is JSON, but a field is missing or has the wrong type.
    InvalidField = "INVALID_FIELD", 400;
    /// The query string is malformed.
    InvalidQuery = "INVALID_QUERY", 400;
    /// The request body broke off while it was read (the client's connection failed mid-body).
    InvalidBody = "INVALID_BODY", 400;
    /// The `/appid-…` path segment is empty or malformed (never mapped to the public app).
    InvalidAppId = "INVALID_APP_ID", 400;
    /// The session is not valid and refreshing will not help: sign in again.
    Unauthorised = "UNAUTHORISED", 401;
    /// The access token is not usable now (expired, unknown key, anti-CSRF): refresh.
    TryRefreshToken = "TRY_REFRESH_TOKEN", 401;
    /// A superseded refresh token was replayed; the session is revoked.
    TokenTheftDetected = "TOKEN_THEFT_DETECTED", 401;
    /// The API key is missing or wrong.
    InvalidApiKey = "INVALID_API_KEY", 401;
    /// A claim validator refused the session (axum layer).
    InvalidClaim = "INVALID_CLAIM", 403;
    /// A state-changing request came from another origin (cookie sessions).
    CrossOriginRequest = "CROSS_ORIGIN_REQUEST", 403;
    /// No such route or resource.
    NotFound = "NOT_FOUND", 404;
    /// No live session has this handle (in this app).
    SessionNotFound = "SESSION_NOT_FOUND", 404;
    /// The route exists, not with this method.
    MethodNotAllowed = "METHOD_NOT_ALLOWED", 405;
    /// The request body did not arrive in time; the connection is closed.
    RequestTimeout = "REQUEST_TIMEOUT", 408;
    /// A write lost to concurrent writers (or met a row it must not overwrite): retry.
    Conflict = "CONFLICT", 409;
    /// The body exceeds the size limit.
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", 413;
    /// A bug or an impossible state (a handler panicked, a cryptographic primitive failed,
    /// stored data that does not decode); the detail is in the log only.
    Internal = "INTERNAL", 500;
    /// The configuration cannot work (a malformed store URL, a weak key).
    InvalidConfiguration = "INVALID_CONFIGURATION", 500;
    /// A route takes a session but no session layer is above it (axum layer).
    SessionLayerMissing = "SESSION_LAYER_MISSING", 500;
    /// The store (or the remote sessiond) cannot be reached: fail closed, retry later.
    StoreUnavailable = "STORE_UNAVAILABLE", 503;
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `e` and its sources, `: `-separated (for log lines, start-up errors and CLI messages).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_upper_snake_case_with_error_statuses() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            let t = c.as_str();
            assert!(seen.insert(t), "{t} twice");
            assert!(t.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'), "{t}");
            assert!((400..600).contains(&c.http_status()), "{t}");
        }
    }

    #[test]
    fn core_errors_map_into_the_table() {
        let cases = [
            (Error::SessionNotFound, "SESSION_NOT_FOUND", 404),
            (Error::Conflict, "CONFLICT", 409),
            (Error::Store(StoreError::Duplicate), "CONFLICT", 409),
            (Error::Store(StoreError::Closed), "STORE_UNAVAILABLE", 503),
            (Error::Store(StoreError::Corrupt("x")), "INTERNAL", 500),
            (Error::Store(StoreError::Config("x".into())), "INVALID_CONFIGURATION", 500),
            (Error::Crypto("x"), "INTERNAL", 500),
            (Error::InvalidInput("x".into()), "INVALID_INPUT", 400),
        ];
        for (e, text, status) in cases {
            assert_eq!((e.code().as_str(), e.code().http_status()), (text, status), "{e}");
        }
    }
}
