//! What reading or writing a session returns: seed 003's `PayloadInterface`.

use serde::Serialize;
use serde_json::Value;

/// The result of every session operation, as seed 003 returns it.
///
/// Serialises to `{"payload", "expired", "error", "exp", "iat"}` exactly; the other fields are
/// for Rust callers.
///
/// | state | `payload` | `expired` | `error` |
/// |---|---|---|---|
/// | valid | the object | `false` | `null` |
/// | expired (not refreshed, or past the absolute lifetime) | the old object | `true` | `null` |
/// | no cookie, garbled, tampered, unknown key | `null` | `false` | a code |
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PayloadInterface {
    /// The session data (a JSON object), or `null` when there is no readable session.
    pub payload: Value,
    /// The token is past its expiry and was not refreshed.
    pub expired: bool,
    /// Why there is no readable session.
    pub error: Option<ReadError>,
    /// Expiry of the token (seconds since the epoch; 0 without a token).
    pub exp: i64,
    /// Issue time of the token (seconds since the epoch; 0 without a token).
    pub iat: i64,
    /// When the session started: its last `set` (seconds since the epoch; 0 without a token).
    #[serde(skip)]
    pub auth_time: i64,
    /// This read refreshed the token (a new cookie goes out with the response).
    #[serde(skip)]
    pub refreshed: bool,
}

impl PayloadInterface {
    /// A valid session.
    pub fn is_valid(&self) -> bool {
        self.error.is_none() && !self.expired
    }

    /// The payload of a valid session, or `None`.
    pub fn valid_payload(&self) -> Option<&serde_json::Map<String, Value>> {
        if self.is_valid() { self.payload.as_object() } else { None }
    }

    pub(crate) fn error(e: ReadError) -> Self {
        Self {
            payload: Value::Null,
            expired: false,
            error: Some(e),
            exp: 0,
            iat: 0,
            auth_time: 0,
            refreshed: false,
        }
    }
}

/// Why a session could not be read. Serialises as its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum ReadError {
    /// No cookie of that name.
    #[serde(rename = "SESSION_MISSING")]
    Missing,
    /// The cookie is not a token of the configured format (garbled, truncated, wrong algorithm,
    /// unexpected header fields).
    #[serde(rename = "TOKEN_MALFORMED")]
    Malformed,
    /// The token names a key that is not in the ring.
    #[serde(rename = "TOKEN_UNKNOWN_KEY")]
    UnknownKey,
    /// The tag or signature does not verify: the token was changed or sealed with another key.
    #[serde(rename = "TOKEN_TAMPERED")]
    Tampered,
    /// The token opened but its claims are not a session's (missing or incoherent times).
    #[serde(rename = "TOKEN_CLAIMS_INVALID")]
    InvalidClaims,
}

impl ReadError {
    /// The stable code the `error` field carries (`SESSION_MISSING`, `TOKEN_TAMPERED`, …).
    pub fn code(self) -> &'static str {
        match self {
            ReadError::Missing => "SESSION_MISSING",
            ReadError::Malformed => "TOKEN_MALFORMED",
            ReadError::UnknownKey => "TOKEN_UNKNOWN_KEY",
            ReadError::Tampered => "TOKEN_TAMPERED",
            ReadError::InvalidClaims => "TOKEN_CLAIMS_INVALID",
        }
    }
}
