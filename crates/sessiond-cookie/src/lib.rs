//! # sessiond-cookie
//!
//! Stateless cookie sessions for web apps without a store (seed 003's JWT-in-cookie helper),
//! framework-neutral: the token format, the key ring, the refresh policy, deep merge, the
//! verified-token cache and the cross-origin check. `sessiond-axum` puts a tower layer and an
//! axum extractor on top.
//!
//! | seed 003 | here |
//! |---|---|
//! | `session.handle({secret, expiresIn})` | [`CookieSessions::builder`] once, then a [`Scope`] per request (the axum layer makes it) |
//! | `session.run(config, cb)` | [`CookieSessions::run`] / [`CookieSessions::scope`] |
//! | `setToken(data, options)` | [`NamedSession::set`] with [`Overrides`] |
//! | `getToken(name, callback, nocache)` | [`Scope::named`]`(name).`[`get`](NamedSession::get)`(`[`Refresh`]`)` / [`get_uncached`](NamedSession::get_uncached) |
//! | `updateToken(newPayload)` | [`NamedSession::update`] (RFC 7396 deep merge) |
//! | `clearToken(name, path)` | [`NamedSession::clear_at`] |
//! | `deleteToken(name, path)` | [`NamedSession::delete_at`] |
//! | `PayloadInterface` | [`PayloadInterface`] |
//! | `new Session()` per cookie | [`SessionConfig`] per named session |
//!
//! # Security (what the seed did not do)
//! - No default secret: a [`CookieKey`] is 32 random bytes; short or pass-phrase keys are
//!   refused with a message.
//! - Tokens are standard JWTs: encrypted by default (JWE `dir` + `A256GCM`), signed (JWS `HS256`)
//!   on request; a key ring rotates keys without logging anyone out.
//! - Every token carries its session's start (`auth_time`); no refresh passes the absolute
//!   lifetime (default 7 days).
//! - A cookie over 4,096 bytes is refused at `set`/`update`, keeping the old one.
//! - Unsafe requests from another origin are refused ([`OriginPolicy`]) on top of `SameSite=Lax`;
//!   cookies use the `__Host-` prefix where its rules allow.
//! - Per-request state lives in the [`Scope`], never in shared configuration.

pub mod cookie;

mod cache;
mod claims;
mod codec;
mod config;
mod error;
mod key;
mod merge;
mod origin;
mod payload;
mod scope;
mod sessions;

pub use claims::{JsonObject, RESERVED_CLAIMS};
pub use codec::{Format, MAX_TOKEN_LEN};
pub use config::{
    DEFAULT_ABSOLUTE_LIFETIME, DEFAULT_COOKIE_NAME, DEFAULT_EXPIRES_IN, Overrides, Refresh,
    RefreshFn, SessionConfig,
};
pub use cookie::{MAX_COOKIE_BYTES, SameSite};
pub use error::Error;
pub use key::{CookieKey, KEY_LEN, KeyRing};
pub use merge::merge_patch;
pub use origin::OriginPolicy;
pub use payload::{PayloadInterface, ReadError};
pub use scope::{NamedSession, Scope};
pub use sessions::{Builder, CookieSessions, DEFAULT_CACHE_CAPACITY};
