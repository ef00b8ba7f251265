//! The one error type of `sessiond-cookie`.

use sessiond_core::Code;

/// Everything a cookie-session operation can fail with. Reading a session never fails: a
/// missing or bad cookie is reported in [`PayloadInterface::error`](crate::PayloadInterface).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key is not 32 random-looking bytes.
    #[error("weak cookie key: {0}")]
    WeakKey(&'static str),
    /// The configuration is invalid (no key, a bad cookie name or path, `SameSite=None` without
    /// `Secure`, `Secure` off outside dev mode…).
    #[error("invalid cookie-session configuration: {0}")]
    Config(String),
    /// A cryptographic primitive failed (randomness).
    #[error("cryptographic failure: {0}")]
    Crypto(&'static str),
    /// The payload is not a JSON object.
    #[error("a session payload must be a JSON object")]
    NotAnObject,
    /// The payload uses a claim name the crate writes itself.
    #[error("the payload may not contain the reserved claim '{0}'")]
    ReservedClaim(&'static str),
    /// The `Set-Cookie` header would exceed 4,096 bytes; nothing was set and the old cookie
    /// stays.
    #[error(
        "the cookie would be {size} bytes; browsers keep at most 4096 (name, value and attributes)"
    )]
    CookieTooLarge {
        /// Bytes the `Set-Cookie` header value would have had.
        size: usize,
    },
    /// `update` needs a valid, unexpired session and there is none.
    #[error("there is no valid session to update")]
    NoSession,
    /// The session has reached its absolute lifetime; nothing may extend it.
    #[error("the session has reached its absolute lifetime")]
    LifetimeExceeded,
    /// A per-call override turned `Secure` off outside dev mode.
    #[error("Secure can only be turned off in dev mode")]
    InsecureOverride,
    /// An unsafe request came from another origin.
    #[error("cross-origin request refused: {0}")]
    CrossOrigin(&'static str),
}

impl Error {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::WeakKey(_) => "WEAK_KEY",
            Error::Config(_) => Code::InvalidConfiguration.as_str(),
            Error::Crypto(_) => Code::Internal.as_str(),
            Error::NotAnObject => "PAYLOAD_NOT_AN_OBJECT",
            Error::ReservedClaim(_) => "RESERVED_CLAIM",
            Error::CookieTooLarge { .. } => "COOKIE_TOO_LARGE",
            Error::NoSession => "NO_SESSION",
            Error::LifetimeExceeded => "SESSION_LIFETIME_EXCEEDED",
            Error::InsecureOverride => "INSECURE_OVERRIDE",
            Error::CrossOrigin(_) => Code::CrossOriginRequest.as_str(),
        }
    }
}
