//! [`Scope`]: the cookies of one request (or one job), and [`NamedSession`]: seed 003's
//! `setToken` / `getToken` / `updateToken` / `clearToken` / `deleteToken` on one session of it.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;

use crate::cache::Opened;
use crate::claims::{Claims, payload_object};
use crate::codec::{self, OpenError};
use crate::config::{Overrides, Refresh, SessionConfig};
use crate::cookie::{Attributes, MAX_COOKIE_BYTES, pairs};
use crate::error::Error;
use crate::merge::merge_patch;
use crate::payload::{PayloadInterface, ReadError};
use crate::sessions::CookieSessions;

/// At most this many cookies of one name are tried (a browser sends one per matching path).
const MAX_SAME_NAME: usize = 4;

#[derive(Default)]
struct State {
    /// Cookies this scope has set or deleted, by cookie name: later reads in the same scope see
    /// them (`None`: deleted).
    overlay: Vec<(String, Option<String>)>,
    /// `Set-Cookie` values to send, keyed by (cookie name, path); the last write wins.
    pending: Vec<((String, String), String)>,
}

/// The cookies of one request or job. Every session operation goes through one; nothing in it
/// is shared with another request.
pub struct Scope {
    sessions: CookieSessions,
    cookie_header: String,
    state: Mutex<State>,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}

impl Scope {
    pub(crate) fn new(sessions: CookieSessions, cookie_header: String) -> Self {
        Self { sessions, cookie_header, state: Mutex::new(State::default()) }
    }

    /// The default session (the first registered).
    pub fn session(&self) -> NamedSession<'_> {
        NamedSession { scope: self, config: Cow::Borrowed(&self.sessions.inner.sessions[0]) }
    }

    /// The session `name`: a registered one with its own configuration, or else a cookie of
    /// that name with the default session's configuration (seed 003's `cookieName` argument).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use serde_json::json;
    /// # use sessiond_cookie::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// let sessions = CookieSessions::builder([CookieKey::generate()?])
    ///     .session(SessionConfig::new("user_session").expires_in(Duration::from_secs(1800)))
    ///     .session(SessionConfig::new("admin_session").expires_in(Duration::from_secs(3600)))
    ///     .build()?;
    /// let scope = sessions.scope(None);
    /// let admin = scope.named("admin_session").set(json!({"admin": true}), Overrides::none())?;
    /// assert_eq!(admin.exp - admin.iat, 3600);
    /// assert!(scope.named("user_session").get(Refresh::Never).await.error.is_some());
    /// # Ok(()) }
    /// ```
    pub fn named(&self, name: &str) -> NamedSession<'_> {
        let registered = self.sessions.inner.sessions.iter().find(|s| s.name == name);
        let config = match registered {
            Some(c) => Cow::Borrowed(&**c),
            None => Cow::Owned(
                SessionConfig {
                    name: name.to_owned(),
                    ..(*self.sessions.inner.sessions[0]).clone()
                }
                .prepare(self.sessions.dev_mode()),
            ),
        };
        NamedSession { scope: self, config }
    }

    /// [`NamedSession::set`] on the default session.
    ///
    /// # Errors
    /// As [`NamedSession::set`].
    pub fn set(&self, data: impl Serialize, o: Overrides) -> Result<PayloadInterface, Error> {
        self.session().set(data, o)
    }

    /// [`NamedSession::get`] on the default session.
    pub async fn get(&self, refresh: Refresh) -> PayloadInterface {
        self.session().get(refresh).await
    }

    /// [`NamedSession::get_uncached`] on the default session.
    pub async fn get_uncached(&self, refresh: Refresh) -> PayloadInterface {
        self.session().get_uncached(refresh).await
    }

    /// [`NamedSession::update`] on the default session.
    ///
    /// # Errors
    /// As [`NamedSession::update`].
    pub async fn update(&self, patch: impl Serialize) -> Result<PayloadInterface, Error> {
        self.session().update(patch).await
    }

    /// [`NamedSession::clear`] on the default session.
    ///
    /// # Errors
    /// As [`NamedSession::clear`].
    pub async fn clear(&self) -> Result<(), Error> {
        self.session().clear().await
    }

    /// [`NamedSession::delete`] on the default session.
    pub fn delete(&self) {
        self.session().delete();
    }

    /// Takes the `Set-Cookie` header values produced so far (in order, one per cookie name and
    /// path, the last write winning).
    pub fn set_cookie_headers(&self) -> Vec<String> {
        std::mem::take(&mut self.state.lock().pending).into_iter().map(|(_, v)| v).collect()
    }

    /// Whether anything is waiting in [`Scope::set_cookie_headers`].
    pub fn has_changes(&self) -> bool {
        !self.state.lock().pending.is_empty()
    }

    /// What this scope itself set for `cookie_name`: `Some(None)` if it deleted it, `None` if it
    /// did not touch it (then the request's cookies count).
    fn own_write(&self, cookie_name: &str) -> Option<Option<String>> {
        let st = self.state.lock();
        st.overlay.iter().find(|(n, _)| n == cookie_name).map(|(_, v)| v.clone())
    }

    /// The request's cookies named `cookie_name` (at most a few).
    fn request_tokens<'s>(&'s self, cookie_name: &'s str) -> impl Iterator<Item = &'s str> {
        pairs(&self.cookie_header)
            .filter(move |(n, _)| *n == cookie_name)
            .take(MAX_SAME_NAME)
            .map(|(_, v)| v)
    }

    fn record(&self, cookie_name: &str, path: &str, token: Option<String>, header: String) {
        let mut st = self.state.lock();
        match st.overlay.iter_mut().find(|(n, _)| n == cookie_name) {
            Some(slot) => slot.1 = token,
            None => st.overlay.push((cookie_name.to_owned(), token)),
        }
        let key = (cookie_name.to_owned(), path.to_owned());
        match st.pending.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = header,
            None => st.pending.push((key, header)),
        }
    }
}

/// One session of a [`Scope`]: seed 003's methods.
pub struct NamedSession<'a> {
    scope: &'a Scope,
    config: Cow<'a, SessionConfig>,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl NamedSession<'_> {
    fn sessions(&self) -> &CookieSessions {
        &self.scope.sessions
    }

    fn deadline(&self, auth_time: i64) -> i64 {
        auth_time.saturating_add(secs(self.config.absolute_lifetime))
    }

    /// The cookie name reads use: `__Host-name` when the configuration allows the prefix.
    pub fn cookie_name(&self) -> &str {
        &self.config.read_name
    }

    /// Starts a session with `data` (seed `setToken`): a new token with `iat` and `auth_time`
    /// now, valid for `expires_in`, in a cookie with the session's attributes and `o` applied.
    ///
    /// # Errors
    /// [`Error::NotAnObject`], [`Error::ReservedClaim`] (`iat`, `exp`, `nbf`, `auth_time`),
    /// [`Error::CookieTooLarge`] (the old cookie stays), [`Error::InsecureOverride`],
    /// [`Error::Config`] for a bad override.
    ///
    /// ```
    /// # use serde_json::json;
    /// # use sessiond_cookie::*;
    /// # fn main() -> Result<(), Error> {
    /// # let sessions = CookieSessions::builder([CookieKey::generate()?]).build()?;
    /// let scope = sessions.scope(None);
    /// let r = scope.session().set(json!({"userId": 123}), Overrides::none().expires_in(std::time::Duration::from_secs(3600)))?;
    /// assert_eq!(r.exp - r.iat, 3600);
    /// # Ok(()) }
    /// ```
    pub fn set(&self, data: impl Serialize, o: Overrides) -> Result<PayloadInterface, Error> {
        let data = serde_json::to_value(data).map_err(|_| Error::NotAnObject)?;
        let payload = payload_object(data)?;
        let now = self.sessions().now_s();
        self.issue(payload, now, now, &o)
    }

    /// Reads the session (seed `getToken`), refreshing an expired token as `refresh` says.
    /// Uses the verified-token cache. Never fails: see [`PayloadInterface`].
    ///
    /// ```
    /// # use serde_json::json;
    /// # use sessiond_cookie::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// # let sessions = CookieSessions::builder([CookieKey::generate()?]).build()?;
    /// let scope = sessions.scope(Some("__Host-session_cookie=garbage"));
    /// let r = scope.session().get(Refresh::Never).await;
    /// assert_eq!(r.error, Some(ReadError::Malformed));
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, refresh: Refresh) -> PayloadInterface {
        self.read(refresh, false).await
    }

    /// [`NamedSession::get`] without the verified-token cache (seed `nocache`).
    pub async fn get_uncached(&self, refresh: Refresh) -> PayloadInterface {
        self.read(refresh, true).await
    }

    /// Deep-merges `patch` into the payload of the valid session (seed `updateToken`; RFC 7396:
    /// objects merge, arrays and scalars replace, `null` removes the key) and re-issues the
    /// token. The session keeps its start, so the absolute lifetime still counts from it.
    ///
    /// # Errors
    /// [`Error::NoSession`] without a valid, unexpired session; as [`NamedSession::set`].
    ///
    /// ```
    /// # use serde_json::json;
    /// # use sessiond_cookie::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// # let sessions = CookieSessions::builder([CookieKey::generate()?]).build()?;
    /// let scope = sessions.scope(None);
    /// scope.session().set(json!({"prefs": {"theme": "light", "lang": "en"}}), Overrides::none())?;
    /// let r = scope.session().update(json!({"prefs": {"theme": "dark"}})).await?;
    /// assert_eq!(r.payload, json!({"prefs": {"theme": "dark", "lang": "en"}}));
    /// # Ok(()) }
    /// ```
    pub async fn update(&self, patch: impl Serialize) -> Result<PayloadInterface, Error> {
        let patch = serde_json::to_value(patch).map_err(|_| Error::NotAnObject)?;
        if !patch.is_object() {
            return Err(Error::NotAnObject);
        }
        let current = self.read(Refresh::Never, false).await;
        if !current.is_valid() {
            return Err(Error::NoSession);
        }
        let mut merged = current.payload;
        merge_patch(&mut merged, patch);
        let payload = payload_object(merged)?;
        let now = self.sessions().now_s();
        self.issue(payload, current.auth_time, now, &Overrides::default())
    }

    /// Empties the payload but keeps the cookie (seed `clearToken`), at the session's path.
    ///
    /// # Errors
    /// As [`NamedSession::set`].
    ///
    /// ```
    /// # use serde_json::json;
    /// # use sessiond_cookie::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// # let sessions = CookieSessions::builder([CookieKey::generate()?]).build()?;
    /// let scope = sessions.scope(None);
    /// scope.session().set(json!({"cart": [1, 2]}), Overrides::none())?;
    /// scope.session().clear().await?;
    /// assert_eq!(scope.session().get(Refresh::Never).await.payload, json!({}));
    /// # Ok(()) }
    /// ```
    pub async fn clear(&self) -> Result<(), Error> {
        self.clear_at(None).await
    }

    /// [`NamedSession::clear`] for the cookie at `path` (seed `clearToken(name, path)`).
    ///
    /// # Errors
    /// As [`NamedSession::set`].
    pub async fn clear_at(&self, path: Option<&str>) -> Result<(), Error> {
        let current = self.read(Refresh::Never, false).await;
        let now = self.sessions().now_s();
        let auth_time = if current.is_valid() { current.auth_time } else { now };
        let o = Overrides { path: path.map(str::to_owned), ..Overrides::default() };
        self.issue(serde_json::Map::new(), auth_time, now, &o).map(drop)
    }

    /// Removes the cookie (seed `deleteToken`): an expired, empty cookie with the same name,
    /// `Path`, `Domain`, `Secure` and `SameSite`, so the browser drops it.
    ///
    /// ```
    /// # use sessiond_cookie::*;
    /// # fn main() -> Result<(), Error> {
    /// # let sessions = CookieSessions::builder([CookieKey::generate()?])
    /// #     .session(SessionConfig::new("user_session")).build()?;
    /// let scope = sessions.scope(Some("__Host-user_session=…"));
    /// scope.named("user_session").delete();
    /// assert_eq!(
    ///     scope.set_cookie_headers(),
    ///     ["__Host-user_session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax"]
    /// );
    /// # Ok(()) }
    /// ```
    pub fn delete(&self) {
        self.delete_at(None);
    }

    /// [`NamedSession::delete`] for the cookie at `path` (seed `deleteToken(name, path)`).
    pub fn delete_at(&self, path: Option<&str>) {
        let o = Overrides { path: path.map(str::to_owned), ..Overrides::default() };
        let attrs = match self.config.attributes(self.sessions().dev_mode(), &o) {
            Ok(a) => a,
            // A bad path cannot match any cookie this crate set.
            Err(_) => return,
        };
        let name = self.config.cookie_name(&self.config.name, &attrs);
        let header = attrs.removal(&name);
        self.scope.record(&name, &attrs.path, None, header);
    }

    /// Seals `payload` for a session started at `auth_time` and queues the cookie.
    fn issue(
        &self, payload: serde_json::Map<String, Value>, auth_time: i64, now: i64, o: &Overrides,
    ) -> Result<PayloadInterface, Error> {
        let deadline = self.deadline(auth_time);
        if deadline <= now {
            return Err(Error::LifetimeExceeded);
        }
        let expires_in = o.expires_in.unwrap_or(self.config.expires_in);
        if expires_in.as_secs() == 0 {
            return Err(Error::Config("expires_in must be at least one second".to_owned()));
        }
        let claims = Claims {
            payload,
            iat: now,
            exp: now.saturating_add(secs(expires_in)).min(deadline),
            auth_time,
        };
        self.seal_and_queue(claims, now, o)
    }

    fn seal_and_queue(
        &self, claims: Claims, now: i64, o: &Overrides,
    ) -> Result<PayloadInterface, Error> {
        let mut attrs: Attributes = self.config.attributes(self.sessions().dev_mode(), o)?;
        let left = self.deadline(claims.auth_time).saturating_sub(now);
        let max_age = o.max_age.or(self.config.max_age).map_or(left, secs);
        attrs.max_age = Some(max_age.min(left));
        let base = o.name.as_deref().unwrap_or(&self.config.name);
        if !crate::cookie::valid_name(base) {
            return Err(Error::Config(format!("cookie name {base:?} is not a token")));
        }
        let name = self.config.cookie_name(base, &attrs);
        let ring = self.sessions().inner.ring.load();
        let token = codec::seal(&ring, &claims.to_json())?;
        let header = attrs.set_cookie(&name, &token);
        if header.len() > MAX_COOKIE_BYTES {
            return Err(Error::CookieTooLarge { size: header.len() });
        }
        // Not put in the verified-token cache: the first request that brings the cookie back
        // opens and caches it. A login flood then costs no cache churn, and the cache holds
        // only tokens that clients use.
        self.scope.record(&name, &attrs.path, Some(token), header);
        Ok(PayloadInterface {
            payload: Value::Object(claims.payload),
            expired: false,
            error: None,
            exp: claims.exp,
            iat: claims.iat,
            auth_time: claims.auth_time,
            refreshed: false,
        })
    }

    /// Opens `token` (through the cache unless `nocache`); returns it with whether it was
    /// opened by the sealing key.
    fn open(&self, token: &str, nocache: bool, now: i64) -> Result<(Arc<Opened>, bool), ReadError> {
        let inner = &self.sessions().inner;
        let ring = inner.ring.load();
        if !nocache
            && let Some(hit) = inner.cache.get(token, now)
            && let Some((index, _)) = ring.by_kid(&hit.kid)
        {
            return Ok((hit, index == 0));
        }
        let (json, index) = codec::open(&ring, token).map_err(|e| match e {
            OpenError::Malformed => ReadError::Malformed,
            OpenError::UnknownKey => ReadError::UnknownKey,
            OpenError::Tampered => ReadError::Tampered,
        })?;
        let claims = Claims::parse(&json).ok_or(ReadError::InvalidClaims)?;
        let exp = claims.exp;
        let opened = Arc::new(Opened { claims, kid: ring.keys[index].kid.clone() });
        inner.cache.insert(token, Arc::clone(&opened), exp, now);
        Ok((opened, index == 0))
    }

    async fn read(&self, refresh: Refresh, nocache: bool) -> PayloadInterface {
        let name = self.cookie_name();
        let now = self.sessions().now_s();
        let own = self.scope.own_write(name);
        // This scope's own write if it made one, else the request's cookies (no allocation).
        let written = own.as_ref().map(|w| w.as_deref().into_iter());
        let from_request = own.is_none().then(|| self.scope.request_tokens(name));
        let candidates = written.into_iter().flatten().chain(from_request.into_iter().flatten());
        let mut first_error = ReadError::Missing;
        let mut found = None;
        for (i, t) in candidates.enumerate() {
            match self.open(t, nocache, now) {
                Ok(o) => {
                    found = Some(o);
                    break;
                }
                Err(e) if i == 0 => first_error = e,
                Err(_) => {}
            }
        }
        let Some((opened, by_sealing_key)) = found else {
            return PayloadInterface::error(first_error);
        };
        let c = &opened.claims;
        let deadline = self.deadline(c.auth_time);
        let view = |refreshed| PayloadInterface {
            payload: Value::Object(c.payload.clone()),
            expired: false,
            error: None,
            exp: c.exp,
            iat: c.iat,
            auth_time: c.auth_time,
            refreshed,
        };
        if now < c.exp && now < deadline {
            if !by_sealing_key {
                // Opened with an older key: the same claims, sealed under the first key. A
                // failure leaves the old cookie, which still opens.
                let _ = self.seal_and_queue(c.clone(), now, &Overrides::default());
            }
            return view(false);
        }
        let expired = PayloadInterface { expired: true, ..view(false) };
        if now >= deadline {
            return expired;
        }
        let new_payload = match refresh {
            Refresh::Never => return expired,
            Refresh::Always => c.payload.clone(),
            Refresh::Callback(f) => match f(c.payload.clone()).await.map(payload_object) {
                Some(Ok(p)) => p,
                _ => return expired,
            },
        };
        match self.issue(new_payload, c.auth_time, now, &Overrides::default()) {
            Ok(mut fresh) => {
                fresh.refreshed = true;
                fresh
            }
            Err(_) => expired,
        }
    }
}
