//! Per-session configuration, per-call overrides and the refresh policy.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::claims::JsonObject;
use crate::cookie::{Attributes, SameSite, valid_name};
use crate::error::Error;

/// Seed 003's default token lifetime.
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(15 * 60);
/// The default absolute lifetime: no refresh carries a session past 7 days after its `set`.
pub const DEFAULT_ABSOLUTE_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Seed 003's default cookie name.
pub const DEFAULT_COOKIE_NAME: &str = "session_cookie";

/// The configuration of one named session (one cookie), fixed when the
/// [`CookieSessions`](crate::CookieSessions) is built.
///
/// ```
/// use std::time::Duration;
/// use sessiond_cookie::SessionConfig;
/// let user = SessionConfig::new("user_session").expires_in(Duration::from_secs(30 * 60));
/// let admin = SessionConfig::new("admin_session").expires_in(Duration::from_secs(3600));
/// # let _ = (user, admin);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    pub(crate) name: String,
    pub(crate) expires_in: Duration,
    pub(crate) absolute_lifetime: Duration,
    pub(crate) max_age: Option<Duration>,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) http_only: bool,
    pub(crate) secure: Option<bool>,
    pub(crate) same_site: SameSite,
    pub(crate) host_prefix: bool,
    /// The cookie name reads look for (set by [`SessionConfig::prepare`]).
    pub(crate) read_name: String,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self::new(DEFAULT_COOKIE_NAME)
    }
}

impl SessionConfig {
    /// A session stored in the cookie `name`, with the defaults: tokens valid 15 minutes, an
    /// absolute lifetime of 7 days, `Path=/`, `HttpOnly`, `Secure` (unless the sessions are in
    /// dev mode), `SameSite=Lax`, the `__Host-` prefix, and a cookie kept until the absolute
    /// lifetime ends (so an expired token can still be presented for a refresh).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            expires_in: DEFAULT_EXPIRES_IN,
            absolute_lifetime: DEFAULT_ABSOLUTE_LIFETIME,
            max_age: None,
            path: "/".to_owned(),
            domain: None,
            http_only: true,
            secure: None,
            same_site: SameSite::Lax,
            host_prefix: true,
            read_name: String::new(),
        }
    }

    /// Fixes what depends on the sessions' dev mode: the cookie name reads look for.
    pub(crate) fn prepare(mut self, dev_mode: bool) -> Self {
        self.read_name = match self.attributes(dev_mode, &Overrides::default()) {
            Ok(a) => self.cookie_name(&self.name, &a),
            Err(_) => self.name.clone(),
        };
        self
    }

    /// The session's name (the cookie's name without a prefix).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long a token is valid before it needs a refresh (seed 003 `expiresIn`).
    #[must_use]
    pub fn expires_in(mut self, d: Duration) -> Self {
        self.expires_in = d;
        self
    }

    /// How long after its `set` a session ends whatever refreshes happen (default 7 days).
    #[must_use]
    pub fn absolute_lifetime(mut self, d: Duration) -> Self {
        self.absolute_lifetime = d;
        self
    }

    /// The cookie's `Max-Age` (seed 003 `maxAge`). It is capped at what is left of the absolute
    /// lifetime; the default is all of it.
    #[must_use]
    pub fn max_age(mut self, d: Duration) -> Self {
        self.max_age = Some(d);
        self
    }

    /// The cookie's `Path` (default `/`). Any other path drops the `__Host-` prefix.
    #[must_use]
    pub fn path(mut self, p: impl Into<String>) -> Self {
        self.path = p.into();
        self
    }

    /// The cookie's `Domain` (default none: host-only). Setting one drops the `__Host-` prefix.
    #[must_use]
    pub fn domain(mut self, d: impl Into<String>) -> Self {
        self.domain = Some(d.into());
        self
    }

    /// `HttpOnly` (default on): scripts cannot read the cookie.
    #[must_use]
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }

    /// `Secure` (default on). Turning it off is refused unless the sessions are built in dev
    /// mode, which turns it off for every session.
    #[must_use]
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = Some(on);
        self
    }

    /// `SameSite` (default `Lax`).
    #[must_use]
    pub fn same_site(mut self, s: SameSite) -> Self {
        self.same_site = s;
        self
    }

    /// Whether to use the `__Host-` prefix where its rules allow (`Secure`, `Path=/`, no
    /// `Domain`); default on. With it, no subdomain and no plain-HTTP page can set this cookie.
    #[must_use]
    pub fn host_prefix(mut self, on: bool) -> Self {
        self.host_prefix = on;
        self
    }

    pub(crate) fn validate(&self, dev_mode: bool) -> Result<(), Error> {
        if !valid_name(&self.name) || self.name.starts_with("__") {
            return Err(Error::Config(format!(
                "cookie name {:?} must be a token and may not start with '__' (prefixes are added for you)",
                self.name
            )));
        }
        if self.expires_in.as_secs() == 0 {
            return Err(Error::Config(format!(
                "session {}: expires_in must be at least one second",
                self.name
            )));
        }
        if self.absolute_lifetime < self.expires_in {
            return Err(Error::Config(format!(
                "session {}: absolute_lifetime must be at least expires_in",
                self.name
            )));
        }
        if self.secure == Some(false) && !dev_mode {
            return Err(Error::InsecureOverride);
        }
        self.attributes(dev_mode, &Overrides::default())?.validate()
    }

    /// The cookie attributes with `o` applied (`max_age` is filled in at issue time).
    pub(crate) fn attributes(&self, dev_mode: bool, o: &Overrides) -> Result<Attributes, Error> {
        let secure = o.secure.or(self.secure).unwrap_or(!dev_mode);
        if !secure && !dev_mode {
            return Err(Error::InsecureOverride);
        }
        let a = Attributes {
            path: o.path.clone().unwrap_or_else(|| self.path.clone()),
            domain: self.domain.clone(),
            max_age: None,
            http_only: o.http_only.unwrap_or(self.http_only),
            secure,
            same_site: o.same_site.unwrap_or(self.same_site),
        };
        if o.path.is_some() || o.same_site.is_some() {
            a.validate()?;
        }
        Ok(a)
    }

    /// The cookie name for `base` with these attributes: `__Host-base` where allowed.
    pub(crate) fn cookie_name(&self, base: &str, attrs: &Attributes) -> String {
        if self.host_prefix && attrs.allows_host_prefix() {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }
}

/// Per-call overrides of [`NamedSession::set`](crate::NamedSession::set) (seed 003's
/// `setToken` options). Unset fields keep the session's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Overrides {
    /// Another cookie name.
    pub name: Option<String>,
    /// Another token lifetime.
    pub expires_in: Option<Duration>,
    /// Another `Path` (other than `/` drops the `__Host-` prefix).
    pub path: Option<String>,
    /// Another `HttpOnly` (off lets scripts read the cookie).
    pub http_only: Option<bool>,
    /// Another `Secure` (off only in dev mode).
    pub secure: Option<bool>,
    /// Another `SameSite` (`Lax` unless configured otherwise).
    pub same_site: Option<SameSite>,
    /// Another `Max-Age`.
    pub max_age: Option<Duration>,
}

impl Overrides {
    /// Overrides that change nothing: the session's configuration as it is.
    pub fn none() -> Self {
        Self::default()
    }

    /// Writes the cookie under another name for this call.
    #[must_use]
    pub fn name(mut self, n: impl Into<String>) -> Self {
        self.name = Some(n.into());
        self
    }

    /// Another token lifetime for this call.
    #[must_use]
    pub fn expires_in(mut self, d: Duration) -> Self {
        self.expires_in = Some(d);
        self
    }

    /// Another `Path` for this call (other than `/` drops the `__Host-` prefix).
    #[must_use]
    pub fn path(mut self, p: impl Into<String>) -> Self {
        self.path = Some(p.into());
        self
    }

    /// Turns `HttpOnly` on or off for this call.
    #[must_use]
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = Some(on);
        self
    }

    /// Turns `Secure` on or off for this call (off is refused outside dev mode).
    #[must_use]
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = Some(on);
        self
    }

    /// The `SameSite` attribute for this call.
    #[must_use]
    pub fn same_site(mut self, s: SameSite) -> Self {
        self.same_site = Some(s);
        self
    }

    /// A `Max-Age` for this call's cookie.
    #[must_use]
    pub fn max_age(mut self, d: Duration) -> Self {
        self.max_age = Some(d);
        self
    }
}

/// A refresh callback: receives the expired token's payload, returns the new payload or `None`
/// to leave the session expired.
pub type RefreshFn =
    dyn Fn(JsonObject) -> Pin<Box<dyn Future<Output = Option<Value>> + Send>> + Send + Sync;

/// What [`NamedSession::get`](crate::NamedSession::get) does with an expired token whose
/// signature or tag is valid and whose session is within its absolute lifetime (seed 003's
/// `callback` argument). Past the absolute lifetime nothing refreshes.
#[derive(Clone, Default)]
pub enum Refresh {
    /// Report it as expired (seed `false`/`undefined`).
    #[default]
    Never,
    /// Re-issue it with the same payload (seed `true`).
    Always,
    /// Ask the callback (seed `function`): `Some(payload)` re-issues with that payload, `None`
    /// reports it as expired.
    Callback(Arc<RefreshFn>),
}

impl fmt::Debug for Refresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refresh::Never => "Never",
            Refresh::Always => "Always",
            Refresh::Callback(_) => "Callback",
        })
    }
}

impl Refresh {
    /// A refresh policy from an async callback.
    ///
    /// ```
    /// use serde_json::json;
    /// use sessiond_cookie::Refresh;
    /// let refresh = Refresh::with(|old| async move {
    ///     // e.g. look the user up again; None = the user is gone, do not refresh
    ///     let user = old.get("userId")?.as_str()?.to_owned();
    ///     Some(json!({"userId": user, "role": "user"}))
    /// });
    /// # let _ = refresh;
    /// ```
    pub fn with<F, Fut>(f: F) -> Self
    where
        F: Fn(JsonObject) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<Value>> + Send + 'static,
    {
        Refresh::Callback(Arc::new(move |old| Box::pin(f(old))))
    }
}
