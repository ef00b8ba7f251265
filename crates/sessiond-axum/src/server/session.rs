//! The extractors of server-backed sessions ([`Session`], [`MaybeSession`], [`SessionIssuer`]),
//! the per-route [`VerifySession`] layer, and the verification flow they share.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::Method;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::Value;
use sessiond_core::JsonObject;
use tower::{Layer, Service};

use super::backend::{CsrfCheck, Device, Payload, SessionIdentity};
use super::claims::ClaimValidator;
use super::config::AntiCsrf;
use super::error::SessionError;
use super::layer::{Ctx, CtxExt};
use super::transport::Transfer;

/// How many compare-and-swap rounds a private-data update tries.
const MAX_UPDATE_ROUNDS: usize = 32;

/// How a route verifies its session.
#[derive(Debug, Clone, Default)]
pub(crate) struct VerifyOptions {
    /// `None`: the layer's default.
    pub(crate) check_database: Option<bool>,
    /// `None`: check unsafe methods (all but `GET`) of cookie-authenticated requests.
    pub(crate) anti_csrf_check: Option<bool>,
    pub(crate) claims: Vec<ClaimValidator>,
    pub(crate) required: bool,
}

impl VerifyOptions {
    pub(crate) fn for_sign_out() -> Self {
        Self { required: true, ..Self::default() }
    }
}

struct SessionInner {
    ctx: Arc<Ctx>,
    identity: Arc<SessionIdentity>,
    transfer: Transfer,
    /// The current access token and its payload (a merge replaces both).
    current: Mutex<(Arc<str>, Arc<Payload>)>,
}

/// A request's verified session. Take it in a handler to require one: without a valid access
/// token the request is answered as supertokens-node would (401 `try refresh token` when a
/// refresh may help, 401 `unauthorised` otherwise, 503 when the store cannot be asked).
///
/// ```
/// use axum::Json;
/// use serde_json::{Value, json};
/// use sessiond_axum::{Session, SessionError};
///
/// async fn profile(session: Session) -> Result<Json<Value>, SessionError> {
///     session.merge_into_access_token_payload(json!({"seen": true})).await?;
///     let private = session.private_data().await?;
///     Ok(Json(json!({"user": session.user_id(), "cart": private.get("cart")})))
/// }
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("handle", &self.inner.identity.handle)
            .field("user_id", &self.inner.identity.user_id)
            .finish_non_exhaustive()
    }
}

impl Session {
    fn new(
        ctx: Arc<Ctx>, identity: Arc<SessionIdentity>, transfer: Transfer, token: Arc<str>,
        payload: Arc<Payload>,
    ) -> Self {
        Self {
            inner: Arc::new(SessionInner {
                ctx,
                identity,
                transfer,
                current: Mutex::new((token, payload)),
            }),
        }
    }

    /// The (primary) user id.
    pub fn user_id(&self) -> &str {
        &self.inner.identity.user_id
    }

    /// The login method's user id (equal to [`user_id`](Self::user_id) without account
    /// linking).
    pub fn recipe_user_id(&self) -> &str {
        &self.inner.identity.recipe_user_id
    }

    /// The session handle: what revocation and the device list name a session by.
    pub fn handle(&self) -> &str {
        &self.inner.identity.handle
    }

    /// The tenant the session belongs to.
    pub fn tenant_id(&self) -> &str {
        &self.inner.identity.tenant_id
    }

    /// The whole access-token payload (the session's claims and public data), as the frontend
    /// sees it.
    pub fn access_token_payload(&self) -> Arc<JsonObject> {
        let payload = Arc::clone(&self.inner.current.lock().1);
        payload.object()
    }

    /// The public data: the payload without the protocol's own claims.
    pub fn public_data(&self) -> JsonObject {
        self.access_token_payload()
            .iter()
            .filter(|(k, _)| !sessiond_core::tokens::access::is_protected(k) && *k != "iss")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The access token of this request (a merge replaces it).
    pub fn access_token(&self) -> String {
        self.inner.current.lock().0.to_string()
    }

    /// Merges `patch` into the public data (RFC 7396: objects merge, `null` removes) and
    /// re-issues the access token, with the same expiry, and its `front-token`, on this
    /// response. Protected claims cannot be set.
    ///
    /// # Errors
    /// [`SessionError::InvalidInput`] for a patch that is not an object or names a protected
    /// claim; [`SessionError::Unauthorised`] when the session is gone (tokens cleared);
    /// [`SessionError::StoreUnavailable`].
    pub async fn merge_into_access_token_payload(&self, patch: Value) -> Result<(), SessionError> {
        let Value::Object(patch) = patch else {
            return Err(SessionError::InvalidInput("the patch must be a JSON object".to_owned()));
        };
        let ctx = &self.inner.ctx;
        let (token, payload) = self.inner.current.lock().clone();
        let reissued = ctx
            .backend()
            .merge_public(self.handle(), &token, &payload.object(), &patch)
            .await
            .map_err(|e| self.fail(e))?;
        if let Some(tokens) = reissued {
            *self.inner.current.lock() =
                (tokens.access.as_str().into(), Arc::clone(&tokens.payload));
            ctx.changes.lock().attach(
                ctx.protocol(),
                ctx.host(),
                self.inner.transfer,
                &tokens,
                Ctx::now_s(),
            );
        }
        Ok(())
    }

    /// The session's private data (it never leaves the server).
    ///
    /// # Errors
    /// [`SessionError::Unauthorised`] when the session is gone; [`SessionError::StoreUnavailable`].
    pub async fn private_data(&self) -> Result<JsonObject, SessionError> {
        let (data, _) =
            self.inner.ctx.backend().private_data(self.handle()).await.map_err(|e| self.fail(e))?;
        Ok(data)
    }

    /// Read-modify-write of the private data: `f` gets the current data and changes it; the
    /// write is a compare-and-swap on the session's data version, retried when another writer
    /// got there first, so no update is lost. `f` may run more than once. Returns the new data.
    ///
    /// # Errors
    /// As [`Session::private_data`]; [`SessionError::Conflict`] after 32 lost races.
    pub async fn update_private_data<F>(&self, mut f: F) -> Result<JsonObject, SessionError>
    where
        F: FnMut(&mut JsonObject) + Send,
    {
        let backend = self.inner.ctx.backend();
        for _ in 0..MAX_UPDATE_ROUNDS {
            let (mut data, version) =
                backend.private_data(self.handle()).await.map_err(|e| self.fail(e))?;
            f(&mut data);
            match backend
                .set_private_data_if(self.handle(), &data, version)
                .await
                .map_err(|e| self.fail(e))?
            {
                Some(_) => return Ok(data),
                None => tokio::task::yield_now().await,
            }
        }
        Err(SessionError::Conflict)
    }

    /// Revokes this session and clears its tokens on this response.
    ///
    /// # Errors
    /// [`SessionError::StoreUnavailable`].
    pub async fn revoke(&self) -> Result<(), SessionError> {
        let ctx = &self.inner.ctx;
        ctx.backend()
            .revoke(std::slice::from_ref(&self.inner.identity.handle))
            .await
            .map_err(|e| self.fail(e))?;
        ctx.clear(self.inner.transfer);
        Ok(())
    }

    /// The user's signed-in devices (this one marked `current`), oldest first.
    ///
    /// # Errors
    /// [`SessionError::StoreUnavailable`].
    pub async fn devices(&self) -> Result<Vec<Device>, SessionError> {
        self.inner
            .ctx
            .backend()
            .devices(self.user_id(), self.handle())
            .await
            .map_err(|e| self.fail(e))
    }

    /// "Sign out other devices": revokes every other session of the user, keeps this one.
    /// Returns the revoked handles.
    ///
    /// # Errors
    /// [`SessionError::StoreUnavailable`].
    pub async fn revoke_other_devices(&self) -> Result<Vec<String>, SessionError> {
        let others: Vec<String> = self
            .devices()
            .await?
            .into_iter()
            .filter(|d| !d.current)
            .map(|d| d.session_handle)
            .collect();
        if others.is_empty() {
            return Ok(others);
        }
        self.inner.ctx.backend().revoke(&others).await.map_err(|e| self.fail(e))
    }

    /// Maps a backend error, clearing the client's tokens when the session is known gone.
    fn fail(&self, e: super::backend::BackendError) -> SessionError {
        if matches!(e, super::backend::BackendError::Unauthorised { clear: true }) {
            self.inner.ctx.clear_all();
        }
        e.into()
    }
}

fn ctx_of(parts: &Parts) -> Result<Arc<Ctx>, SessionError> {
    parts.extensions.get::<CtxExt>().map(|c| Arc::clone(&c.0)).ok_or(SessionError::LayerMissing)
}

/// The flow of supertokens-node's `getSession`: find the access token, check anti-CSRF, verify
/// (statelessly or against the store), send a re-issued token, check the claims.
pub(crate) async fn get_session(
    ctx: &Arc<Ctx>, incoming: &super::transport::Incoming, opts: &VerifyOptions,
) -> Result<Option<Session>, SessionError> {
    let Some((token, transfer)) = incoming.access.clone() else {
        return if opts.required { Err(SessionError::Unauthorised) } else { Ok(None) };
    };
    if incoming.duplicate_access_cookie && transfer == Transfer::Cookie {
        return Err(SessionError::TryRefreshToken);
    }
    let mut csrf = CsrfCheck { check: false, token: None };
    let check_csrf =
        opts.anti_csrf_check.unwrap_or(ctx.method != Method::GET) && transfer == Transfer::Cookie;
    if check_csrf {
        match ctx.protocol().anti_csrf {
            AntiCsrf::None => {}
            AntiCsrf::ViaCustomHeader => {
                if !incoming.rid {
                    return Err(SessionError::TryRefreshToken);
                }
            }
            AntiCsrf::ViaToken => {
                csrf = CsrfCheck { check: true, token: incoming.anti_csrf() };
            }
        }
    }
    let check_db = opts.check_database.unwrap_or(ctx.protocol().check_database);
    let v = match ctx.backend().verify(&token, check_db, csrf).await {
        Ok(v) => v,
        Err(e) => {
            if matches!(e, super::backend::BackendError::Unauthorised { clear: true }) {
                ctx.clear_all();
            }
            return Err(e.into());
        }
    };
    let (token, payload) = match v.reissued {
        Some(t) => {
            ctx.changes.lock().attach(ctx.protocol(), ctx.host(), transfer, &t, Ctx::now_s());
            let p = Arc::clone(&t.payload);
            (Arc::from(t.access), p)
        }
        None => (token, v.payload),
    };
    if !opts.claims.is_empty() {
        let object = payload.object();
        let errors: Vec<Value> = opts.claims.iter().filter_map(|c| c.validate(&object)).collect();
        if !errors.is_empty() {
            return Err(SessionError::InvalidClaim(errors));
        }
    }
    Ok(Some(Session::new(Arc::clone(ctx), v.identity, transfer, token, payload)))
}

/// The session a [`VerifySession`] layer already verified for this request.
#[derive(Clone)]
struct Verified(Option<Session>);

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(Verified(v)) = parts.extensions.get::<Verified>() {
            return v.clone().ok_or(SessionError::Unauthorised);
        }
        let ctx = ctx_of(parts)?;
        let opts = VerifyOptions { required: true, ..VerifyOptions::default() };
        get_session(&ctx, ctx.incoming(&parts.headers), &opts)
            .await?
            .ok_or(SessionError::Unauthorised)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = SessionError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        if let Some(Verified(v)) = parts.extensions.get::<Verified>() {
            return Ok(v.clone());
        }
        let ctx = ctx_of(parts)?;
        get_session(&ctx, ctx.incoming(&parts.headers), &VerifyOptions::default()).await
    }
}

/// An optional session: `MaybeSession(None)` when the request carries no access token at all
/// (an expired or invalid one is still an error, as in supertokens-node's
/// `sessionRequired: false`).
#[derive(Clone, Debug)]
pub struct MaybeSession(pub Option<Session>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeSession {
    type Rejection = SessionError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        <Session as OptionalFromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(MaybeSession)
    }
}

/// Per-route verification options, as a route layer: check the store (instant revocation),
/// the anti-CSRF check, claim validators, optional sessions. The route's [`Session`] or
/// [`MaybeSession`] extractor then takes the verified session.
///
/// ```
/// use axum::{Router, routing::get};
/// use serde_json::json;
/// use sessiond_axum::{ClaimValidator, Session, VerifySession};
///
/// async fn admin(session: Session) -> String { session.user_id().to_owned() }
///
/// let app: Router = Router::new().route(
///     "/api/admin",
///     get(admin).route_layer(
///         VerifySession::new()
///             .check_database(true)
///             .claim(ClaimValidator::equals("role", json!("admin"))),
///     ),
/// );
/// # let _ = app;
/// ```
#[derive(Clone, Debug, Default)]
pub struct VerifySession {
    opts: VerifyOptions,
}

impl VerifySession {
    /// Requires a session, with the layer's defaults.
    pub fn new() -> Self {
        Self { opts: VerifyOptions { required: true, ..VerifyOptions::default() } }
    }

    /// Checks the session in the store (it must not be revoked), not just the signature.
    #[must_use]
    pub fn check_database(mut self, on: bool) -> Self {
        self.opts.check_database = Some(on);
        self
    }

    /// Forces the anti-CSRF check on or off (default: on for every method but `GET`, for
    /// cookie-authenticated requests).
    #[must_use]
    pub fn anti_csrf_check(mut self, on: bool) -> Self {
        self.opts.anti_csrf_check = Some(on);
        self
    }

    /// Adds a claim validator (403 `invalid claim` when it fails).
    #[must_use]
    pub fn claim(mut self, v: ClaimValidator) -> Self {
        self.opts.claims.push(v);
        self
    }

    /// Lets requests without any access token through (the handler takes a [`MaybeSession`]).
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.opts.required = false;
        self
    }
}

impl<S> Layer<S> for VerifySession {
    type Service = VerifySessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifySessionService { inner, opts: Arc::new(self.opts.clone()) }
    }
}

/// The service of [`VerifySession`].
#[derive(Clone, Debug)]
pub struct VerifySessionService<S> {
    inner: S,
    opts: Arc<VerifyOptions>,
}

impl<S> Service<Request> for VerifySessionService<S>
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
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let opts = Arc::clone(&self.opts);
        // (The verification is async, so the readied inner service moves into the future.)
        Box::pin(async move {
            let Some(ctx) = req.extensions().get::<CtxExt>().map(|c| Arc::clone(&c.0)) else {
                return Ok(SessionError::LayerMissing.into_response());
            };
            let incoming = ctx.incoming(req.headers());
            match get_session(&ctx, incoming, &opts).await {
                Ok(s) => {
                    req.extensions_mut().insert(Verified(s));
                    inner.call(req).await
                }
                Err(e) => Ok(e.into_response()),
            }
        })
    }
}

/// Creates sessions in login handlers (`createNewSession`): the tokens go out in the transfer
/// method the client asked for (`st-auth-mode: cookie`, else headers, as supertokens-node
/// does), with the `front-token`, the anti-CSRF token (`VIA_TOKEN`, cookies) and, when
/// configured, seed 000's id token.
#[derive(Clone)]
pub struct SessionIssuer {
    ctx: Arc<Ctx>,
}

impl std::fmt::Debug for SessionIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionIssuer").finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionIssuer {
    type Rejection = SessionError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ctx = ctx_of(parts)?;
        ctx.incoming(&parts.headers);
        Ok(Self { ctx })
    }
}

impl SessionIssuer {
    /// Creates a session for `user_id` with `public` data (in every access token) and `private`
    /// data (server only), and sends its tokens on this response.
    ///
    /// # Errors
    /// [`SessionError::InvalidInput`] for data that is not an object, a protected claim or a bad
    /// user id; [`SessionError::StoreUnavailable`].
    pub async fn create_new_session(
        &self, user_id: &str, public: Value, private: Value,
    ) -> Result<Session, SessionError> {
        let (Value::Object(public), Value::Object(private)) = (public, private) else {
            return Err(SessionError::InvalidInput(
                "public and private data must be JSON objects".to_owned(),
            ));
        };
        let ctx = &self.ctx;
        let transfer = match ctx.parsed().auth_mode {
            Some(Transfer::Cookie) => Transfer::Cookie,
            _ => Transfer::Header,
        };
        let anti_csrf =
            ctx.protocol().anti_csrf == AntiCsrf::ViaToken && transfer == Transfer::Cookie;
        let id_payload = ctx.protocol().id_token.map(|v| (public.clone(), v));
        let issued = ctx
            .backend()
            .create(user_id, public, private, anti_csrf, ctx.client_info())
            .await
            .map_err(SessionError::from)?;
        let id_token = match id_payload {
            Some((mut payload, validity)) => {
                payload.insert("sub".to_owned(), Value::from(user_id));
                let (jwt, jwk) = ctx.backend().id_token(payload, validity).await?;
                let key =
                    jwk.map(|k| sessiond_core::b64::encode(k.to_string())).unwrap_or_default();
                Some(format!("{jwt};{key}"))
            }
            None => None,
        };
        {
            let mut changes = ctx.changes.lock();
            // Tokens of the other transfer method in the request would shadow the new ones.
            let other_has_token = match transfer {
                Transfer::Cookie => ctx.parsed().bearer.is_some(),
                Transfer::Header => {
                    ctx.parsed().refresh_cookie.is_some()
                        || ctx.parsed().access.as_ref().is_some_and(|(_, t)| *t == Transfer::Cookie)
                }
            };
            if other_has_token {
                let other =
                    if transfer == Transfer::Cookie { Transfer::Header } else { Transfer::Cookie };
                changes.clear(ctx.protocol(), ctx.host(), other);
            }
            changes.attach(ctx.protocol(), ctx.host(), transfer, &issued.tokens, Ctx::now_s());
            if let Some(t) = id_token {
                changes.id_token(t);
            }
        }
        Ok(Session::new(
            Arc::clone(ctx),
            Arc::new(issued.identity),
            transfer,
            issued.tokens.access.into(),
            issued.tokens.payload,
        ))
    }
}
