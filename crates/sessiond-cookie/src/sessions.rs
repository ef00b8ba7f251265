//! [`CookieSessions`]: the configuration built once (keys, named sessions, dev mode, trusted
//! origins) and the shared verified-token cache.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use arc_swap::ArcSwap;
use sessiond_core::{Clock, SystemClock};

use crate::cache::OpenedCache;
use crate::codec::Format;
use crate::config::SessionConfig;
use crate::error::Error;
use crate::key::{CookieKey, KeyRing};
use crate::origin::OriginPolicy;
use crate::scope::Scope;

/// Default number of verified tokens kept.
pub const DEFAULT_CACHE_CAPACITY: usize = 16_384;

pub(crate) struct Inner {
    pub(crate) ring: ArcSwap<KeyRing>,
    /// Every registered session; the first is the default one.
    pub(crate) sessions: Vec<Arc<SessionConfig>>,
    pub(crate) dev_mode: bool,
    pub(crate) cache: OpenedCache,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) origins: OriginPolicy,
}

/// Stateless cookie sessions for one app: configured once, then used per request through a
/// [`Scope`]. Cheap to clone; immutable except for key rotation, so one request can never
/// change another's configuration (seed 003's singleton race cannot happen).
///
/// ```
/// use std::time::Duration;
/// use serde_json::json;
/// use sessiond_cookie::{CookieKey, CookieSessions, Overrides, Refresh, SessionConfig};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sessiond_cookie::Error> {
/// let sessions = CookieSessions::builder([CookieKey::generate()?])
///     .session(SessionConfig::new("user_session").expires_in(Duration::from_secs(30 * 60)))
///     .session(SessionConfig::new("admin_session").expires_in(Duration::from_secs(3600)))
///     .build()?;
///
/// // One request: no cookie yet; log in.
/// let login = sessions.scope(None);
/// let set = login.session().set(json!({"userId": 123, "role": "admin"}), Overrides::none())?;
/// assert!(set.is_valid());
/// let cookies = login.set_cookie_headers();
/// assert!(cookies[0].starts_with("__Host-user_session="));
///
/// // The next request carries the cookie back.
/// let pair = cookies[0].split(';').next().unwrap();
/// let next = sessions.scope(Some(pair));
/// let got = next.session().get(Refresh::Never).await;
/// assert_eq!(got.payload["userId"], 123);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CookieSessions {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for CookieSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieSessions")
            .field("ring", &**self.inner.ring.load())
            .field("sessions", &self.inner.sessions)
            .field("dev_mode", &self.inner.dev_mode)
            .finish_non_exhaustive()
    }
}

/// Builds a [`CookieSessions`].
#[must_use]
pub struct Builder {
    keys: Vec<CookieKey>,
    format: Format,
    sessions: Vec<SessionConfig>,
    dev_mode: bool,
    cache_capacity: usize,
    clock: Arc<dyn Clock>,
    origins: OriginPolicy,
    trusted: Vec<String>,
}

impl Builder {
    /// Writes signed tokens (JWS `HS256`: the client can read the payload) instead of
    /// encrypted ones.
    pub fn signed(mut self) -> Self {
        self.format = Format::Signed;
        self
    }

    /// Writes tokens in `format`.
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Registers a named session. The first registered is the default one; without any, the
    /// default is seed 003's `session_cookie`.
    pub fn session(mut self, config: SessionConfig) -> Self {
        self.sessions.push(config);
        self
    }

    /// Dev mode, for plain-HTTP development only: cookies lose `Secure` (and so the `__Host-`
    /// prefix). Nothing else turns `Secure` off.
    pub fn insecure_dev_mode(mut self, on: bool) -> Self {
        self.dev_mode = on;
        self
    }

    /// How many verified tokens to keep (default 16,384; 0 turns the cache off).
    pub fn cache_capacity(mut self, n: usize) -> Self {
        self.cache_capacity = n;
        self
    }

    /// The time source (tests use `sessiond_core::ManualClock`).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Trusts unsafe requests from `origin` (`scheme://host[:port]`) besides the request's own
    /// origin (see [`OriginPolicy`]). Checked at [`Builder::build`].
    pub fn trusted_origin(mut self, origin: impl Into<String>) -> Self {
        self.trusted.push(origin.into());
        self
    }

    /// Builds the sessions.
    ///
    /// # Errors
    /// [`Error::Config`] for no key, duplicate keys or session names, bad names, paths or
    /// lifetimes, bad trusted origins; [`Error::InsecureOverride`] for `Secure` off outside dev
    /// mode.
    pub fn build(self) -> Result<CookieSessions, Error> {
        let ring = KeyRing::new(self.keys, self.format)?;
        let mut sessions = self.sessions;
        if sessions.is_empty() {
            sessions.push(SessionConfig::default());
        }
        for (i, s) in sessions.iter().enumerate() {
            s.validate(self.dev_mode)?;
            if sessions[..i].iter().any(|o| o.name == s.name) {
                return Err(Error::Config(format!("session {} is registered twice", s.name)));
            }
        }
        let mut origins = self.origins;
        for o in &self.trusted {
            origins = origins.trust(o)?;
        }
        Ok(CookieSessions {
            inner: Arc::new(Inner {
                ring: ArcSwap::from_pointee(ring),
                sessions: sessions
                    .into_iter()
                    .map(|s| Arc::new(s.prepare(self.dev_mode)))
                    .collect(),
                dev_mode: self.dev_mode,
                cache: OpenedCache::new(self.cache_capacity),
                clock: self.clock,
                origins,
            }),
        })
    }
}

impl CookieSessions {
    /// Starts a configuration with `keys`: the first seals, all open. There is no default key.
    pub fn builder(keys: impl IntoIterator<Item = CookieKey>) -> Builder {
        Builder {
            keys: keys.into_iter().collect(),
            format: Format::Encrypted,
            sessions: Vec::new(),
            dev_mode: false,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            clock: Arc::new(SystemClock),
            origins: OriginPolicy::same_origin(),
            trusted: Vec::new(),
        }
    }

    /// A scope for one request (or one job): the `Cookie` header text it carries, if any.
    /// What the scope sets comes out of [`Scope::set_cookie_headers`].
    pub fn scope(&self, cookie_header: Option<&str>) -> Scope {
        Scope::new(self.clone(), cookie_header.unwrap_or_default().to_owned())
    }

    /// [`CookieSessions::scope`] taking the `Cookie` header text by value (no copy).
    pub fn scope_owned(&self, cookie_header: String) -> Scope {
        Scope::new(self.clone(), cookie_header)
    }

    /// Runs `f` in a scope outside any request (seed 003's `run`: tests, background jobs) and
    /// returns its result with the `Set-Cookie` header values it produced.
    pub async fn run<F, Fut, R>(&self, cookie_header: Option<&str>, f: F) -> (R, Vec<String>)
    where
        F: FnOnce(Arc<Scope>) -> Fut,
        Fut: Future<Output = R>,
    {
        let scope = Arc::new(self.scope(cookie_header));
        let r = f(Arc::clone(&scope)).await;
        (r, scope.set_cookie_headers())
    }

    /// The registered sessions, default first.
    pub fn sessions(&self) -> impl Iterator<Item = &SessionConfig> {
        self.inner.sessions.iter().map(|s| &**s)
    }

    /// Whether cookies are built without `Secure`.
    pub fn dev_mode(&self) -> bool {
        self.inner.dev_mode
    }

    /// The origins that may send unsafe requests.
    pub fn origin_policy(&self) -> &OriginPolicy {
        &self.inner.origins
    }

    /// The key ids, sealing key first.
    pub fn kids(&self) -> Vec<String> {
        self.inner.ring.load().kids().into_iter().map(str::to_owned).collect()
    }

    /// Puts `key` in front of the ring: it seals from now on, and cookies opened with the
    /// other keys are re-issued under it as they are read.
    ///
    /// # Errors
    /// [`Error::Config`] when the key is already in the ring.
    pub fn add_key(&self, key: &CookieKey) -> Result<(), Error> {
        let new = self.inner.ring.load().with_front(key)?;
        self.inner.ring.store(Arc::new(new));
        Ok(())
    }

    /// Removes the key `kid` from the ring and flushes the verified-token cache, so nothing it
    /// opened is served again.
    ///
    /// # Errors
    /// [`Error::Config`] when it is the last key or not in the ring.
    pub fn remove_key(&self, kid: &str) -> Result<(), Error> {
        let ring = self.inner.ring.load();
        if ring.by_kid(kid).is_none() {
            return Err(Error::Config(format!("key {kid} is not in the ring")));
        }
        if ring.keys.len() == 1 {
            return Err(Error::Config("cannot remove the last key".to_owned()));
        }
        self.inner.ring.store(Arc::new(ring.without(kid)));
        self.inner.cache.flush();
        Ok(())
    }

    pub(crate) fn now_s(&self) -> i64 {
        self.inner.clock.now_ms().div_euclid(1000)
    }
}
