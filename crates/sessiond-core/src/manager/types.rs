//! What callers hand to and get back from the [`SessionManager`](crate::SessionManager).
//!
//! What callers hand in (`NewSession`, `VerifyOptions`, `RefreshOptions`, `SessionRef`) is built
//! with struct literals or constructors. What the manager hands back is `#[non_exhaustive]`:
//! read its fields; only the manager builds it, so a new field is not a breaking change.

use serde_json::{Map, Value};

use crate::clock::Millis;
use crate::model::{ClientInfo, DEFAULT_APP, DEFAULT_TENANT, SessionRecord};
use crate::secret::SecretString;

/// A JSON object: the shape of public and private session data.
pub type JsonObject = Map<String, Value>;

/// The request to create a session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The user the session is for.
    pub user_id: String,
    /// The login method's user id (defaults to `user_id`).
    pub recipe_user_id: Option<String>,
    /// The app the session belongs to (default `public`); each app has its own keys.
    pub app_id: String,
    /// The tenant the session belongs to (default `public`).
    pub tenant_id: String,
    /// Data that goes into every access token (readable by the client).
    pub public_data: JsonObject,
    /// Data that stays on the server.
    pub private_data: JsonObject,
    /// Issue and check anti-CSRF tokens for this session.
    pub anti_csrf: bool,
    /// Sign with the static key (`s-…`) rather than the rotating one.
    pub static_key: bool,
    /// Where the client is, for device lists.
    pub client: ClientInfo,
}

impl NewSession {
    /// A session for `user_id` with empty data, default app and tenant, no anti-CSRF.
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            recipe_user_id: None,
            app_id: DEFAULT_APP.to_owned(),
            tenant_id: DEFAULT_TENANT.to_owned(),
            public_data: JsonObject::new(),
            private_data: JsonObject::new(),
            anti_csrf: false,
            static_key: false,
            client: ClientInfo::default(),
        }
    }

    /// Sets the public data.
    pub fn public_data(mut self, data: JsonObject) -> Self {
        self.public_data = data;
        self
    }

    /// Sets the private data.
    pub fn private_data(mut self, data: JsonObject) -> Self {
        self.private_data = data;
        self
    }

    /// Enables anti-CSRF tokens.
    pub fn anti_csrf(mut self, on: bool) -> Self {
        self.anti_csrf = on;
        self
    }

    /// Sets the tenant.
    pub fn tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = tenant_id.into();
        self
    }
}

/// The part of a session every response carries.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionSummary {
    /// The session handle: what revoke, get and the data updates take.
    pub handle: String,
    /// The (primary) user the session is for.
    pub user_id: String,
    /// The login method's user id (equal to `user_id` without account linking).
    pub recipe_user_id: String,
    /// The tenant the session belongs to.
    pub tenant_id: String,
    /// The public data (the access token's user claims).
    pub public_data: JsonObject,
}

/// A token with its validity.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IssuedToken {
    /// The token to hand to the client (redacted in `Debug`).
    pub token: SecretString,
    /// Issue time (ms).
    pub created_at: Millis,
    /// Expiry (ms).
    pub expires_at: Millis,
}

/// The tokens issued by create and refresh.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IssuedTokens {
    /// The access token.
    pub access: IssuedToken,
    /// The refresh token.
    pub refresh: IssuedToken,
    /// The anti-CSRF token, when the session uses them.
    pub anti_csrf: Option<SecretString>,
}

/// A created or refreshed session and its tokens.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IssuedSession {
    /// The created or refreshed session, with the public data its new access token carries.
    pub session: SessionSummary,
    /// The access and refresh tokens (and anti-CSRF token) to hand to the client.
    pub tokens: IssuedTokens,
}

/// Options of [`SessionManager::verify`](crate::SessionManager::verify).
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions<'a> {
    /// The anti-CSRF token the client sent.
    pub anti_csrf_token: Option<&'a str>,
    /// Check `anti_csrf_token` against the access token.
    pub check_anti_csrf: bool,
    /// Also check the session in the store (instant revocation), not just the signature.
    pub check_database: bool,
    /// Confine the store check to this app: a session of another app counts as gone. `None`
    /// accepts any app. (A signature alone cannot tell apps apart: they share signing keys.)
    pub app_id: Option<&'a str>,
}

/// A verified access token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedSession {
    /// The session the token belongs to; its public data is the token's (the store's when a
    /// database check re-issued the token).
    pub session: SessionSummary,
    /// When the access token expires (ms); that of `new_access_token` when there is one.
    pub access_expires_at: Millis,
    /// A re-issued access token, when a database check found the token's public data stale
    /// (it was changed with `update_public_data`). The client should use it from now on.
    pub new_access_token: Option<IssuedToken>,
}

/// Options of [`SessionManager::refresh`](crate::SessionManager::refresh).
#[derive(Debug, Clone, Copy, Default)]
pub struct RefreshOptions<'a> {
    /// The anti-CSRF token the client sent.
    pub anti_csrf_token: Option<&'a str>,
    /// Check `anti_csrf_token` (only for sessions created with anti-CSRF).
    pub check_anti_csrf: bool,
    /// Sign the new access token with the static key (`Some(true)`) or the rotating one
    /// (`Some(false)`); `None` keeps the kind chosen at creation. SuperTokens SDKs send this on
    /// every refresh, which is how they recover from a key-kind mismatch.
    pub static_key: Option<bool>,
    /// Confine the refresh to this app: a session of another app counts as gone (and is left
    /// alone). `None` accepts any app.
    pub app_id: Option<&'a str>,
}

/// The session a handle-based operation addresses, optionally confined to one app.
///
/// A plain handle (`&str`) converts into a reference that accepts any app; the HTTP service
/// always passes the app of the request path, so one app can never read, change or revoke
/// another app's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRef<'a> {
    /// The session handle.
    pub handle: &'a str,
    /// When set, a session of another app counts as missing.
    pub app_id: Option<&'a str>,
}

impl<'a> SessionRef<'a> {
    /// The session `handle`, only if it belongs to `app_id`.
    pub fn in_app(handle: &'a str, app_id: &'a str) -> Self {
        Self { handle, app_id: Some(app_id) }
    }

    /// Whether `rec` is in the app this reference is confined to.
    pub(crate) fn admits(&self, rec: &SessionRecord) -> bool {
        self.app_id.is_none_or(|a| a == rec.app_id)
    }
}

impl<'a> From<&'a str> for SessionRef<'a> {
    fn from(handle: &'a str) -> Self {
        Self { handle, app_id: None }
    }
}

impl<'a> From<&'a String> for SessionRef<'a> {
    fn from(handle: &'a String) -> Self {
        handle.as_str().into()
    }
}

/// Everything known about a live session.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// Handle, users, tenant and public data.
    pub summary: SessionSummary,
    /// The app the session belongs to.
    pub app_id: String,
    /// The private data, which never leaves the server.
    pub private_data: JsonObject,
    /// Creation time (ms).
    pub created_at: Millis,
    /// Last activity (ms).
    pub last_active_at: Millis,
    /// The session ends at this time unless refreshed (ms).
    pub expires_at: Millis,
    /// The session ends at this time whatever happens (ms).
    pub absolute_expires_at: Millis,
    /// Where it was created from.
    pub client: ClientInfo,
    /// Data version: +1 on every data update. Pass it back to
    /// [`SessionManager::set_private_data_if_version`](crate::SessionManager::set_private_data_if_version)
    /// for a compare-and-swap update.
    pub version: u64,
}

pub(crate) fn parse_object(text: &str) -> JsonObject {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => JsonObject::new(),
    }
}

impl SessionRecord {
    pub(crate) fn summary(&self) -> SessionSummary {
        SessionSummary {
            handle: self.handle.clone(),
            user_id: self.user_id.clone(),
            recipe_user_id: self.recipe_user_id.clone(),
            tenant_id: self.tenant_id.clone(),
            public_data: parse_object(&self.public_data),
        }
    }

    pub(crate) fn info(&self) -> SessionInfo {
        SessionInfo {
            summary: self.summary(),
            app_id: self.app_id.clone(),
            private_data: parse_object(&self.private_data),
            created_at: self.created_at,
            last_active_at: self.last_active_at,
            expires_at: self.expires_at,
            absolute_expires_at: self.absolute_expires_at,
            client: self.client.clone(),
            version: self.version,
        }
    }
}
