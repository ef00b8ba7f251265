//! [`Sessions`] (built once), its tower layer, and the two routes the layer answers itself:
//! `POST {base}/session/refresh` and `POST {base}/signout`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::json;
use sessiond_cookie::SameSite;
use sessiond_core::{ClientInfo, Clock, SessionManager, SystemClock};
use tower::{Layer, Service};

use super::backend::{Backend, BackendError, CsrfCheck};
use super::config::{AntiCsrf, Protocol, names};
use super::error::SessionError;
use super::session::{VerifyOptions, get_session};
use super::transport::{Changes, Incoming, Transfer};

/// Longest IP and user agent kept for device lists (the service's limits).
const MAX_UA: usize = 512;

pub(crate) struct Inner {
    pub(crate) backend: Backend,
    pub(crate) protocol: Protocol,
}

/// Server-backed sessions for an axum app, configured once: where sessions live (a
/// [`SessionManager`] in this process, or a remote `sessiond serve`) and how they travel (the
/// SuperTokens frontend protocol). Cheap to clone.
///
/// ```
/// use std::sync::Arc;
/// use axum::{Json, Router, routing::{get, post}};
/// use serde_json::{Value, json};
/// use sessiond_axum::{Session, SessionError, SessionIssuer, Sessions};
/// use sessiond_core::{ManagerConfig, MemoryStore, SessionManager};
///
/// async fn sign_in(issuer: SessionIssuer) -> Result<Json<Value>, SessionError> {
///     // … check the credentials …
///     let s = issuer.create_new_session("alice", json!({"role": "admin"}), json!({})).await?;
///     Ok(Json(json!({"userId": s.user_id()})))
/// }
///
/// async fn me(session: Session) -> Json<Value> {
///     Json(json!({"userId": session.user_id(), "handle": session.handle()}))
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = SessionManager::new(Arc::new(MemoryStore::new()), ManagerConfig::default())?;
/// let sessions = Sessions::in_process(manager).build();
/// let app: Router = Router::new()
///     .route("/auth/signin", post(sign_in))
///     .route("/api/me", get(me))
///     .layer(sessions.layer()); // also answers POST /auth/session/refresh and /auth/signout
/// # let _ = app; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sessions {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("protocol", &self.inner.protocol).finish_non_exhaustive()
    }
}

/// Builds a [`Sessions`].
#[must_use]
pub struct SessionsBuilder {
    backend: BackendChoice,
    protocol: Protocol,
    app_id: String,
    jwks_refresh: Duration,
    revocation_hold: Duration,
}

enum BackendChoice {
    InProcess(SessionManager),
    Remote(sessiond_client::Client),
}

impl SessionsBuilder {
    /// The base path of the refresh and sign-out routes (default `/auth`, as the SDKs
    /// assume).
    pub fn api_base_path(mut self, p: impl Into<String>) -> Self {
        let p = p.into();
        self.protocol.base_path = p.trim_end_matches('/').to_owned();
        self
    }

    /// The anti-CSRF mode (default [`AntiCsrf::ViaCustomHeader`]).
    pub fn anti_csrf(mut self, mode: AntiCsrf) -> Self {
        self.protocol.anti_csrf = mode;
        self
    }

    /// Dev mode for plain HTTP on a host other than localhost: cookies lose `Secure` (unless
    /// `SameSite=None`, which browsers refuse without it).
    pub fn insecure_dev_mode(mut self, on: bool) -> Self {
        self.protocol.dev_mode = on;
        self
    }

    /// The cookies' `Domain` (default none: host-only).
    pub fn cookie_domain(mut self, d: impl Into<String>) -> Self {
        self.protocol.cookie_domain = Some(d.into());
        self
    }

    /// A fixed `SameSite` (default: `None` when a website origin is on another site than the
    /// API, `Lax` otherwise).
    pub fn same_site(mut self, s: SameSite) -> Self {
        self.protocol.same_site = Some(s);
        self
    }

    /// A website origin (`scheme://host[:port]`) that calls the API with credentials: CORS
    /// ([`Sessions::cors`]) and the `SameSite` choice. Repeatable.
    pub fn website_origin(mut self, o: impl Into<String>) -> Self {
        self.protocol.website_origins.push(o.into().trim_end_matches('/').to_owned());
        self
    }

    /// Sends seed 000's id token with every new session: the header
    /// `id-connect-token: <jwt>;<public JWK, base64url>`, the JWT carrying the public data and
    /// an expiry `validity` from now, signed by the current key.
    pub fn id_token(mut self, validity: Duration) -> Self {
        self.protocol.id_token = Some(validity);
        self
    }

    /// Whether the [`Session`](crate::Session) extractor checks the store by default (instant
    /// revocation; default off: stateless). Per route, [`VerifySession`](crate::VerifySession)
    /// decides.
    pub fn check_database(mut self, on: bool) -> Self {
        self.protocol.check_database = on;
        self
    }

    /// In process: the app sessions belong to (default `public`).
    pub fn app_id(mut self, app: impl Into<String>) -> Self {
        self.app_id = app.into();
        self
    }

    /// Remote: how often the JWKS is refetched in the background (default 60 s; an unknown
    /// `kid` refetches at once, at most once a second).
    pub fn jwks_refresh(mut self, every: Duration) -> Self {
        self.jwks_refresh = every;
        self
    }

    /// Remote: how long a session revoked at the service stays refused here from its
    /// revocation: at least the service's access-token lifetime plus clock skew (default 3,660 s,
    /// for the default lifetime of an hour).
    pub fn revocation_hold(mut self, d: Duration) -> Self {
        self.revocation_hold = d;
        self
    }

    /// Builds the sessions.
    pub fn build(self) -> Sessions {
        let backend = match self.backend {
            BackendChoice::InProcess(m) => Backend::in_process(m, self.app_id),
            BackendChoice::Remote(c) => Backend::remote(c, self.jwks_refresh, self.revocation_hold),
        };
        Sessions { inner: Arc::new(Inner { backend, protocol: self.protocol }) }
    }
}

impl Sessions {
    fn builder(backend: BackendChoice) -> SessionsBuilder {
        SessionsBuilder {
            backend,
            protocol: Protocol::default(),
            app_id: sessiond_core::model::DEFAULT_APP.to_owned(),
            jwks_refresh: Duration::from_secs(60),
            revocation_hold: Duration::from_secs(3660),
        }
    }

    /// Sessions kept by `manager` in this process (any store).
    pub fn in_process(manager: SessionManager) -> SessionsBuilder {
        Self::builder(BackendChoice::InProcess(manager))
    }

    /// Sessions kept by a running `sessiond serve` at `url` (with `/appid-…` for an app), with
    /// its API key. Access tokens are verified locally against its JWKS; everything else is a
    /// CDI call.
    ///
    /// # Errors
    /// A message for a malformed URL.
    pub fn remote(url: &str, api_key: Option<&str>) -> Result<SessionsBuilder, String> {
        let client = sessiond_client::Client::new(url, api_key).map_err(|e| e.to_string())?;
        Ok(Self::builder(BackendChoice::Remote(client)))
    }

    /// Whether the revocation feed is up to date, so routes that do not check the store still
    /// refuse sessions revoked anywhere (within about a second). While it is not — the store
    /// or service unreachable, or just started — every verification checks the session
    /// instead: slower, never wrong. Suited to a readiness probe. In remote mode the first
    /// call (or request) starts following the service's revocation stream.
    pub fn revocations_current(&self) -> bool {
        self.inner.backend.revocations_current()
    }

    /// The layer: per-request session context, the refresh and sign-out routes, and the
    /// response headers the session operations produce.
    pub fn layer(&self) -> SessionLayer {
        SessionLayer { sessions: self.clone() }
    }

    /// CORS for the configured website origins, as the frontend SDK needs it: credentials
    /// allowed, the SDK's request headers allowed (`rid`, `fdi-version`, `anti-csrf`,
    /// `authorization`, `st-auth-mode`, `content-type`) and its response headers exposed
    /// (`front-token`, `anti-csrf`, `st-access-token`, `st-refresh-token`, `id-connect-token`).
    /// Add it outside [`Sessions::layer`] (after it, in axum's `.layer` order).
    pub fn cors(&self) -> tower_http::cors::CorsLayer {
        use tower_http::cors::{AllowOrigin, CorsLayer};
        let origins: Vec<_> = self
            .inner
            .protocol
            .website_origins
            .iter()
            .filter_map(|o| header::HeaderValue::try_from(o.as_str()).ok())
            .collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers(names::ALLOWED_REQUEST_HEADERS.map(header::HeaderName::from_static))
            .expose_headers(names::EXPOSED_RESPONSE_HEADERS.map(header::HeaderName::from_static))
    }
}

/// Everything one request's session operations share.
pub(crate) struct Ctx {
    pub(crate) sessions: Sessions,
    /// The request's tokens, parsed on first need (a route without a session never pays).
    incoming: std::sync::OnceLock<Incoming>,
    host: Option<header::HeaderValue>,
    pub(crate) method: Method,
    /// The peer's address and the `User-Agent`, for device lists (made into a `ClientInfo` only
    /// when a session is created).
    peer: Option<SocketAddr>,
    user_agent: Option<header::HeaderValue>,
    pub(crate) changes: Mutex<Changes>,
}

impl Ctx {
    pub(crate) fn protocol(&self) -> &Protocol {
        &self.sessions.inner.protocol
    }

    pub(crate) fn backend(&self) -> &Backend {
        &self.sessions.inner.backend
    }

    pub(crate) fn host(&self) -> Option<&str> {
        self.host.as_ref().and_then(|h| h.to_str().ok())
    }

    /// The request's tokens (parsed from `headers` the first time).
    pub(crate) fn incoming(&self, headers: &header::HeaderMap) -> &Incoming {
        self.incoming.get_or_init(|| Incoming::read(headers))
    }

    /// The request's tokens, as parsed by an extractor before (none if nobody parsed them).
    pub(crate) fn parsed(&self) -> &Incoming {
        self.incoming.get_or_init(Incoming::default)
    }

    /// Where the request came from, for the device list.
    pub(crate) fn client_info(&self) -> ClientInfo {
        let user_agent = self.user_agent.as_ref().and_then(|v| v.to_str().ok()).map(|ua| {
            let mut end = ua.len().min(MAX_UA);
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua[..end].to_owned()
        });
        ClientInfo { ip: self.peer.map(|p| p.ip().to_string()), user_agent }
    }

    pub(crate) fn clear_all(&self) {
        self.changes.lock().clear_all(self.protocol(), self.host());
    }

    pub(crate) fn clear(&self, transfer: Transfer) {
        self.changes.lock().clear(self.protocol(), self.host(), transfer);
    }

    /// Now, in seconds since the epoch (cookie expiry dates are written from it).
    pub(crate) fn now_s() -> i64 {
        SystemClock.now_ms() / 1000
    }
}

/// The request context, in the request's extensions.
#[derive(Clone)]
pub(crate) struct CtxExt(pub(crate) Arc<Ctx>);

/// The tower layer of [`Sessions`].
#[derive(Clone, Debug)]
pub struct SessionLayer {
    sessions: Sessions,
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            sessions: self.sessions.clone(),
            refresh_path: self.sessions.inner.protocol.refresh_path(),
            signout_path: self.sessions.inner.protocol.signout_path(),
        }
    }
}

/// The service [`SessionLayer`] makes.
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    sessions: Sessions,
    refresh_path: String,
    signout_path: String,
}

impl<S> Service<Request> for SessionService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let ctx = Arc::new(Ctx {
            sessions: self.sessions.clone(),
            incoming: std::sync::OnceLock::new(),
            host: req.headers().get(header::HOST).cloned(),
            method: req.method().clone(),
            peer: req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0),
            user_agent: req.headers().get(header::USER_AGENT).cloned(),
            changes: Mutex::new(Changes::default()),
        });
        let own_route = if req.method() == Method::POST {
            let path = req.uri().path();
            if path == self.refresh_path {
                Some(true)
            } else if path == self.signout_path {
                Some(false)
            } else {
                None
            }
        } else {
            None
        };
        if own_route.is_some() {
            ctx.incoming(req.headers());
        }
        req.extensions_mut().insert(CtxExt(Arc::clone(&ctx)));
        if let Some(is_refresh) = own_route {
            // The refresh and sign-out futures are large; only their own requests carry them.
            return Box::pin(async move {
                let resp = if is_refresh { refresh(&ctx).await } else { sign_out(&ctx).await };
                Ok(finish(&ctx, resp))
            });
        }
        // Called here, on the instance `poll_ready` readied: no clone of the inner service per
        // request, and the future owns nothing of `self`.
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(finish(&ctx, resp))
        })
    }
}

/// Writes what the request's session operations produced into the response.
fn finish(ctx: &Ctx, mut resp: Response) -> Response {
    let changes = std::mem::take(&mut *ctx.changes.lock());
    if !changes.is_empty() {
        changes.apply(resp.headers_mut());
        if !resp.headers().contains_key(header::CACHE_CONTROL) {
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
        }
    }
    resp
}

/// `POST {base}/session/refresh`.
async fn refresh(ctx: &Ctx) -> Response {
    let Some((token, transfer)) = ctx.parsed().refresh_token() else {
        ctx.clear_all();
        return SessionError::Unauthorised.into_response();
    };
    let mut csrf = CsrfCheck { check: false, token: None };
    if transfer == Transfer::Cookie {
        match ctx.protocol().anti_csrf {
            AntiCsrf::None => {}
            AntiCsrf::ViaCustomHeader => {
                if !ctx.parsed().rid {
                    ctx.clear_all();
                    return SessionError::Unauthorised.into_response();
                }
            }
            AntiCsrf::ViaToken => {
                csrf = CsrfCheck { check: true, token: ctx.parsed().anti_csrf() };
            }
        }
    }
    match ctx.backend().refresh(&token, csrf).await {
        Ok(issued) => {
            // A refresh token in the other transfer method too: clear that one.
            let other = match transfer {
                Transfer::Cookie if ctx.parsed().bearer.is_some() => Some(Transfer::Header),
                Transfer::Header if ctx.parsed().refresh_cookie.is_some() => Some(Transfer::Cookie),
                _ => None,
            };
            let mut changes = ctx.changes.lock();
            if let Some(o) = other {
                changes.clear(ctx.protocol(), ctx.host(), o);
            }
            changes.attach(ctx.protocol(), ctx.host(), transfer, &issued.tokens, Ctx::now_s());
            drop(changes);
            Json(json!({})).into_response()
        }
        Err(e @ (BackendError::Theft | BackendError::Unauthorised { .. })) => {
            if e == BackendError::Theft {
                tracing::warn!("refresh token reuse detected; the session is revoked");
            }
            ctx.clear_all();
            SessionError::from(e).into_response()
        }
        Err(e) => SessionError::from(e).into_response(),
    }
}

/// `POST {base}/signout`: revokes the request's session and clears its tokens.
async fn sign_out(ctx: &Arc<Ctx>) -> Response {
    let session = match get_session(ctx, ctx.parsed(), &VerifyOptions::for_sign_out()).await {
        Ok(Some(s)) => s,
        Ok(None) => return SessionError::Unauthorised.into_response(),
        Err(e) => return e.into_response(),
    };
    match session.revoke().await {
        Ok(()) => Json(json!({"status": "OK"})).into_response(),
        Err(e) => e.into_response(),
    }
}
