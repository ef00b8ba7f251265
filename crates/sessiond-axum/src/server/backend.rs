//! Where sessions live: a [`SessionManager`] in this process (any store), or a running
//! `sessiond serve` reached through `sessiond-client` (access tokens verified locally against
//! its JWKS). The layer calls the same operations on either.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sessiond_api::cdi::{
    CreateSessionRequest, RefreshSessionRequest, RefreshSessionResponse, RegenerateResponse,
    RemoveSessionsRequest, VerifySessionRequest, VerifySessionResponse,
};
use sessiond_client::{Client, ClientError};
use sessiond_core::cache::VerifiedCache;
use sessiond_core::jose::UnverifiedJws;
use sessiond_core::revocation::{RevocationFeed, Standing};
use sessiond_core::tokens::access::VerifiedClaims;
use sessiond_core::{
    ClientInfo, Error as CoreError, JsonObject, NewSession, RefreshOptions, SessionManager,
    SessionRef, UserField, UserQuery, VerifyOptions,
};

use super::jwks::JwksCache;

/// Who a session is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionIdentity {
    /// The session handle.
    pub handle: String,
    /// The (primary) user id.
    pub user_id: String,
    /// The recipe user id.
    pub recipe_user_id: String,
    /// The tenant.
    pub tenant_id: String,
}

/// Tokens to send to the client.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub(crate) user_id: String,
    pub(crate) access: String,
    pub(crate) access_exp_ms: i64,
    /// The access token's whole payload (the front-token's `up`).
    pub(crate) payload: Value,
    /// The refresh token and its expiry (ms), when one is issued.
    pub(crate) refresh: Option<(String, i64)>,
    pub(crate) anti_csrf: Option<String>,
}

/// A new or refreshed session.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) identity: SessionIdentity,
    pub(crate) tokens: Tokens,
}

/// A verified access token.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    pub(crate) identity: Arc<SessionIdentity>,
    /// The access token's whole payload.
    pub(crate) payload: Arc<JsonObject>,
    /// A re-issued access token (a database check found the payload stale).
    pub(crate) reissued: Option<Tokens>,
}

/// One signed-in device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Device {
    /// The session handle.
    pub session_handle: String,
    /// Created (ms since the epoch).
    pub created_at: i64,
    /// Last active (ms since the epoch).
    pub last_active_at: i64,
    /// Ends unless refreshed (ms since the epoch).
    pub expires_at: i64,
    /// Client IP at sign-in.
    pub ip: Option<String>,
    /// User agent at sign-in.
    pub user_agent: Option<String>,
    /// The session of the request that asked.
    pub current: bool,
}

/// Why a backend call failed, in the terms of the frontend protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// Not a session; refreshing will not help. `clear`: the session is known to be gone, so
    /// the client's tokens should be cleared.
    #[error("unauthorised")]
    Unauthorised {
        /// Clear the client's tokens.
        clear: bool,
    },
    /// The access token is expired, signed by an unknown or retired key, or failed the
    /// anti-CSRF check: refresh.
    #[error("try refresh token")]
    TryRefresh,
    /// A superseded refresh token was replayed; the session is revoked.
    #[error("token theft detected")]
    Theft,
    /// The store (or the remote service) cannot be reached: fail closed.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    /// Bad input from the app (a reserved claim, a bad user id…).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A versioned write lost too many races.
    #[error("too many concurrent updates")]
    Conflict,
    /// Anything else.
    #[error("internal error: {0}")]
    Internal(String),
}

fn from_core(e: CoreError, check_db: bool) -> BackendError {
    match e {
        CoreError::Unauthorised(_) => BackendError::Unauthorised { clear: check_db },
        CoreError::TryRefreshToken(_) => BackendError::TryRefresh,
        CoreError::TokenTheftDetected { .. } => BackendError::Theft,
        CoreError::SessionNotFound => BackendError::Unauthorised { clear: true },
        CoreError::Store(s) => BackendError::Unavailable(s.to_string()),
        CoreError::InvalidInput(m) => BackendError::InvalidInput(m),
        CoreError::Conflict => BackendError::Conflict,
        e => BackendError::Internal(e.to_string()),
    }
}

fn from_client(e: ClientError) -> BackendError {
    match e {
        ClientError::Http {
            status: 400,
            message,
            ..
        } => BackendError::InvalidInput(message),
        ClientError::Http { status: 404, .. } => BackendError::Unauthorised { clear: true },
        ClientError::Http { status: 409, .. } => BackendError::Conflict,
        ClientError::Http { status, code, .. } if status >= 500 || code == "STORE_UNAVAILABLE" => {
            BackendError::Unavailable(format!("sessiond answered {status} {code}"))
        }
        ClientError::Connect { .. } => BackendError::Unavailable(e.to_string()),
        e => BackendError::Internal(e.to_string()),
    }
}

/// The payload of a JWT, decoded without checking (the caller has verified it).
pub(crate) fn jwt_payload(token: &str) -> Option<JsonObject> {
    let seg = token.split('.').nth(1)?;
    match serde_json::from_slice(&sessiond_core::b64::decode(seg)?).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The claims of a JWT whose signature the caller has verified.
fn claims_of(token: &str) -> Option<VerifiedClaims> {
    let seg = token.split('.').nth(1)?;
    VerifiedClaims::parse(&sessiond_core::b64::decode(seg)?)
}

fn kid_of(token: &str) -> Option<String> {
    UnverifiedJws::parse(token).ok().map(|j| j.kid().to_owned())
}

/// A verified token kept in the cache.
#[derive(Debug)]
struct Cached {
    identity: Arc<SessionIdentity>,
    payload: Arc<JsonObject>,
    claims: VerifiedClaims,
    kid: String,
}

impl Cached {
    fn exp_ms(&self) -> i64 {
        self.claims.exp.saturating_mul(1000)
    }

    fn verified(&self) -> Verified {
        Verified {
            identity: Arc::clone(&self.identity),
            payload: Arc::clone(&self.payload),
            reissued: None,
        }
    }
}

/// The anti-CSRF check a verify makes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CsrfCheck<'a> {
    /// Compare the token's `antiCsrfToken` with `token`.
    pub(crate) check: bool,
    /// The `anti-csrf` header.
    pub(crate) token: Option<&'a str>,
}

impl CsrfCheck<'_> {
    fn passes(&self, expected: Option<&str>) -> bool {
        !self.check
            || matches!((expected, self.token), (Some(e), Some(t)) if sessiond_core::secret::ct_eq(e.as_bytes(), t.as_bytes()))
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Sessions in this process.
pub(crate) struct InProcess {
    pub(crate) manager: SessionManager,
    pub(crate) app_id: String,
    cache: VerifiedCache<Cached>,
}

/// Sessions in a remote `sessiond serve`.
pub(crate) struct Remote {
    pub(crate) client: Client,
    pub(crate) jwks: Arc<JwksCache>,
    cache: VerifiedCache<Cached>,
    /// The service's revocations, followed over its event stream.
    pub(crate) revocations: Arc<RevocationFeed>,
    following: std::sync::atomic::AtomicBool,
}

impl Remote {
    /// Starts following the service's revocation stream (once, on first use: it needs a
    /// runtime).
    fn follow(self: &Arc<Self>) {
        if self
            .following
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        self.revocations.set_active(true);
        tokio::spawn(follow_remote(Arc::downgrade(self)));
    }
}

/// Reads the service's revocation stream into the feed, reconnecting from the last cursor with
/// backoff; while disconnected the feed is broken, so verification asks the service.
async fn follow_remote(remote: std::sync::Weak<Remote>) {
    use sessiond_api::v1::RevocationMessage;
    use sessiond_core::store::{Event, EventKind, EventPage};
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(r) = remote.upgrade() else { return };
        let (client, feed, jwks) = (
            r.client.clone(),
            Arc::clone(&r.revocations),
            Arc::clone(&r.jwks),
        );
        drop(r);
        match client.revocations(feed.cursor()).await {
            Ok(mut stream) => {
                loop {
                    // Wake up now and then to stop when the sessions are gone.
                    let msg = tokio::select! {
                        m = stream.next() => m,
                        () = tokio::time::sleep(Duration::from_secs(30)) => {
                            if remote.strong_count() == 0 {
                                return;
                            }
                            continue;
                        }
                    };
                    let Some(msg) = msg else { break };
                    let from = feed.cursor();
                    let page = |kind, cursor, at| EventPage {
                        events: vec![Event { cursor, at, kind }],
                        continuous: true,
                    };
                    match msg {
                        Ok(RevocationMessage::Revoked { cursor, at, handle }) => {
                            feed.apply(&page(EventKind::Revoked { handle }, cursor, at), from);
                        }
                        Ok(RevocationMessage::KeysReset { cursor, at }) => {
                            feed.apply(&page(EventKind::KeysReset, cursor, at), from);
                            if let Err(e) = jwks.fetch().await {
                                tracing::warn!(error = %e, "refetching the JWKS after a key reset failed");
                            }
                        }
                        Ok(RevocationMessage::Gap) => {
                            feed.apply(
                                &EventPage {
                                    events: vec![],
                                    continuous: false,
                                },
                                from.max(1),
                            );
                        }
                        Ok(RevocationMessage::Current) => {
                            feed.mark_current();
                            backoff = Duration::from_millis(100);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "the revocation stream failed");
                            break;
                        }
                    }
                    if remote.strong_count() == 0 {
                        return;
                    }
                }
                feed.mark_broken();
            }
            Err(e) => {
                feed.mark_broken();
                tracing::warn!(error = %e, "cannot open the revocation stream; checking sessions against the service until it works");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Either backend.
#[derive(Clone)]
pub(crate) enum Backend {
    InProcess(Arc<InProcess>),
    Remote(Arc<Remote>),
}

/// How many verified tokens a backend keeps.
pub(crate) const CACHE_CAPACITY: usize = 16_384;

impl Remote {
    /// A database-checked verify by the service.
    async fn verify_checked(
        &self,
        token: &str,
        csrf: CsrfCheck<'_>,
    ) -> Result<Verified, BackendError> {
        let req = VerifySessionRequest {
            access_token: token.to_owned(),
            anti_csrf_token: csrf.token.map(str::to_owned),
            do_anti_csrf_check: csrf.check,
            enable_anti_csrf: Some(csrf.check),
            check_database: true,
        };
        match self
            .client
            .verify_session(&req)
            .await
            .map_err(from_client)?
        {
            VerifySessionResponse::Ok {
                session,
                access_token,
            } => {
                let identity = Arc::new(SessionIdentity {
                    handle: session.handle,
                    user_id: session.user_id,
                    recipe_user_id: session.recipe_user_id,
                    tenant_id: session.tenant_id,
                });
                let reissued =
                    access_token.map(|t| tokens(&identity.user_id, t.token, t.expiry, None, None));
                let payload = match &reissued {
                    Some(t) => t.payload.as_object().cloned().unwrap_or_default(),
                    None => jwt_payload(token).unwrap_or_default(),
                };
                Ok(Verified {
                    identity,
                    payload: Arc::new(payload),
                    reissued,
                })
            }
            VerifySessionResponse::Unauthorised { .. } => {
                Err(BackendError::Unauthorised { clear: true })
            }
            VerifySessionResponse::TryRefreshToken { .. } => Err(BackendError::TryRefresh),
        }
    }
}

impl Backend {
    pub(crate) fn in_process(manager: SessionManager, app_id: String) -> Self {
        Backend::InProcess(Arc::new(InProcess {
            manager,
            app_id,
            cache: VerifiedCache::new(CACHE_CAPACITY),
        }))
    }

    pub(crate) fn remote(
        client: Client,
        jwks_refresh: Duration,
        revocation_hold: Duration,
    ) -> Self {
        let hold = i64::try_from(revocation_hold.as_millis()).unwrap_or(i64::MAX);
        Backend::Remote(Arc::new(Remote {
            jwks: Arc::new(JwksCache::new(client.clone(), jwks_refresh)),
            client,
            cache: VerifiedCache::new(CACHE_CAPACITY),
            revocations: Arc::new(RevocationFeed::new(
                hold,
                Arc::new(sessiond_core::SystemClock),
            )),
            following: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    fn cache(&self) -> &VerifiedCache<Cached> {
        match self {
            Backend::InProcess(b) => &b.cache,
            Backend::Remote(b) => &b.cache,
        }
    }

    fn standing(&self, handle: &str) -> Standing {
        match self {
            Backend::InProcess(b) => b.manager.revocations().standing(handle),
            Backend::Remote(b) => {
                b.follow();
                b.revocations.standing(handle)
            }
        }
    }

    pub(crate) fn revocations_current(&self) -> bool {
        match self {
            Backend::InProcess(b) => b.manager.revocations().is_current(),
            Backend::Remote(b) => {
                b.follow();
                b.revocations.is_current()
            }
        }
    }

    fn knows_kid(&self, kid: &str) -> bool {
        match self {
            Backend::InProcess(b) => b.manager.keys().knows(kid),
            Backend::Remote(b) => b.jwks.knows(kid),
        }
    }

    /// Creates a session.
    pub(crate) async fn create(
        &self,
        user_id: &str,
        public: JsonObject,
        private: JsonObject,
        anti_csrf: bool,
        client: ClientInfo,
    ) -> Result<Issued, BackendError> {
        match self {
            Backend::InProcess(b) => {
                let mut new = NewSession::new(user_id)
                    .public_data(public)
                    .private_data(private)
                    .anti_csrf(anti_csrf);
                new.app_id.clone_from(&b.app_id);
                new.client = client;
                let s = b
                    .manager
                    .create(new)
                    .await
                    .map_err(|e| from_core(e, false))?;
                let t = s.tokens;
                Ok(issued(
                    SessionIdentity {
                        handle: s.session.handle,
                        user_id: s.session.user_id,
                        recipe_user_id: s.session.recipe_user_id,
                        tenant_id: s.session.tenant_id,
                    },
                    t.access.token.into_inner(),
                    t.access.expires_at,
                    Some((t.refresh.token.into_inner(), t.refresh.expires_at)),
                    t.anti_csrf.map(sessiond_core::SecretString::into_inner),
                ))
            }
            Backend::Remote(b) => {
                let req = CreateSessionRequest {
                    user_id: user_id.to_owned(),
                    user_data_in_jwt: Some(public),
                    user_data_in_database: Some(private),
                    enable_anti_csrf: Some(anti_csrf),
                    use_dynamic_signing_key: Some(true),
                    ip: client.ip,
                    user_agent: client.user_agent,
                };
                let s = b
                    .client
                    .create_session(None, &req)
                    .await
                    .map_err(from_client)?;
                Ok(issued_from_api(s))
            }
        }
    }

    /// Verifies an access token: statelessly (through the verified-token cache), or also
    /// against the store.
    pub(crate) async fn verify(
        &self,
        token: &str,
        check_db: bool,
        csrf: CsrfCheck<'_>,
    ) -> Result<Verified, BackendError> {
        if check_db && let Backend::Remote(b) = self {
            return Box::pin(b.verify_checked(token, csrf)).await;
        }
        let cached = self.verify_signed(token).await?;
        if !csrf.passes(cached.claims.anti_csrf_token.as_deref()) {
            return Err(BackendError::TryRefresh);
        }
        // The revocation feed: a revoked session is refused on the stateless path too, and a
        // feed that is behind sends the check to the store.
        let standing = self.standing(&cached.claims.session_handle);
        if standing == Standing::Revoked {
            return Err(BackendError::Unauthorised { clear: true });
        }
        let check_db = check_db || standing == Standing::Unknown;
        let b = match self {
            Backend::InProcess(b) => b,
            Backend::Remote(b) if check_db => {
                return Box::pin(b.verify_checked(token, csrf)).await;
            }
            Backend::Remote(_) => return Ok(cached.verified()),
        };
        if !check_db {
            return Ok(cached.verified());
        }
        // Boxed: the store call's future is large, and the stateless path should not carry it.
        let v = Box::pin(b.manager.verify_live(&cached.claims, Some(&b.app_id)))
            .await
            .map_err(|e| from_core(e, true))?;
        Ok(match v {
            None => cached.verified(),
            Some(t) => {
                let t = tokens(
                    &cached.identity.user_id,
                    t.token.into_inner(),
                    t.expires_at,
                    None,
                    None,
                );
                Verified {
                    identity: Arc::clone(&cached.identity),
                    payload: Arc::new(t.payload.as_object().cloned().unwrap_or_default()),
                    reissued: Some(t),
                }
            }
        })
    }

    /// The signature, structure and expiry check, through the cache (entries whose key has
    /// left the key set are not served).
    async fn verify_signed(&self, token: &str) -> Result<Arc<Cached>, BackendError> {
        let now = now_ms();
        if let Some(hit) = self.cache().get(token, now)
            && self.knows_kid(&hit.kid)
        {
            return Ok(hit);
        }
        // Boxed: a full verification's future is large; cache hits should not carry it.
        Box::pin(self.verify_uncached(token, now)).await
    }

    async fn verify_uncached(&self, token: &str, now: i64) -> Result<Arc<Cached>, BackendError> {
        let (claims, kid) = match self {
            Backend::InProcess(b) => {
                let opts = VerifyOptions {
                    app_id: Some(&b.app_id),
                    ..VerifyOptions::default()
                };
                b.manager
                    .verify(token, opts)
                    .await
                    .map_err(|e| from_core(e, false))?;
                let claims = claims_of(token).ok_or(BackendError::Unauthorised { clear: false })?;
                (claims, kid_of(token).unwrap_or_default())
            }
            Backend::Remote(b) => {
                let checked = b.jwks.verify(token).await?;
                if checked.claims.exp.saturating_mul(1000) <= now {
                    return Err(BackendError::TryRefresh);
                }
                (checked.claims, checked.kid)
            }
        };
        let cached = Arc::new(Cached {
            identity: Arc::new(SessionIdentity {
                handle: claims.session_handle.clone(),
                user_id: claims.sub.clone(),
                recipe_user_id: claims.rsub.clone(),
                tenant_id: claims.tenant_id.clone(),
            }),
            payload: Arc::new(jwt_payload(token).unwrap_or_default()),
            claims,
            kid,
        });
        if !cached.kid.is_empty() {
            self.cache()
                .insert(token, Arc::clone(&cached), cached.exp_ms(), now);
        }
        Ok(cached)
    }

    /// Rotates a refresh token.
    pub(crate) async fn refresh(
        &self,
        token: &str,
        csrf: CsrfCheck<'_>,
    ) -> Result<Issued, BackendError> {
        match self {
            Backend::InProcess(b) => {
                let opts = RefreshOptions {
                    anti_csrf_token: csrf.token,
                    check_anti_csrf: csrf.check,
                    static_key: None,
                    app_id: Some(&b.app_id),
                };
                let s = b.manager.refresh(token, opts).await.map_err(|e| match e {
                    CoreError::Unauthorised(_) | CoreError::TryRefreshToken(_) => {
                        BackendError::Unauthorised { clear: true }
                    }
                    e => from_core(e, true),
                })?;
                let t = s.tokens;
                Ok(issued(
                    SessionIdentity {
                        handle: s.session.handle,
                        user_id: s.session.user_id,
                        recipe_user_id: s.session.recipe_user_id,
                        tenant_id: s.session.tenant_id,
                    },
                    t.access.token.into_inner(),
                    t.access.expires_at,
                    Some((t.refresh.token.into_inner(), t.refresh.expires_at)),
                    t.anti_csrf.map(sessiond_core::SecretString::into_inner),
                ))
            }
            Backend::Remote(b) => {
                let req = RefreshSessionRequest {
                    refresh_token: token.to_owned(),
                    anti_csrf_token: csrf.token.map(str::to_owned),
                    enable_anti_csrf: Some(csrf.check),
                    use_dynamic_signing_key: None,
                };
                match b.client.refresh_session(&req).await.map_err(from_client)? {
                    RefreshSessionResponse::Ok(s) => Ok(issued_from_api(s)),
                    RefreshSessionResponse::Unauthorised { .. } => {
                        Err(BackendError::Unauthorised { clear: true })
                    }
                    RefreshSessionResponse::TokenTheftDetected { .. } => Err(BackendError::Theft),
                }
            }
        }
    }

    /// Revokes sessions; returns those that existed.
    pub(crate) async fn revoke(&self, handles: &[String]) -> Result<Vec<String>, BackendError> {
        match self {
            Backend::InProcess(b) => b
                .manager
                .revoke_many(handles, Some(&b.app_id))
                .await
                .map_err(|e| from_core(e, true)),
            Backend::Remote(b) => {
                let req = RemoveSessionsRequest {
                    session_handles: Some(handles.to_vec()),
                    ..RemoveSessionsRequest::default()
                };
                b.client
                    .remove_sessions(None, &req)
                    .await
                    .map_err(from_client)
            }
        }
    }

    /// Merges `patch` into the session's public data (RFC 7396: `null` removes) and re-issues
    /// the access token with the same expiry. `None` when the presented token had expired (the
    /// data is updated all the same; the next refresh carries it).
    pub(crate) async fn merge_public(
        &self,
        handle: &str,
        access_token: &str,
        current: &JsonObject,
        patch: &JsonObject,
    ) -> Result<Option<Tokens>, BackendError> {
        match self {
            Backend::InProcess(b) => {
                // Merge into the stored data atomically, then re-mint from it.
                b.manager
                    .update_data_with(SessionRef::in_app(handle, &b.app_id), |public, _| {
                        merge_into(public, patch);
                    })
                    .await
                    .map_err(|e| from_core(e, true))?;
                let r = b
                    .manager
                    .regenerate(access_token, None, Some(&b.app_id))
                    .await
                    .map_err(|e| from_core(e, true))?;
                Ok(r.access_token.map(|t| {
                    tokens(
                        &r.session.user_id,
                        t.token.into_inner(),
                        t.expires_at,
                        None,
                        None,
                    )
                }))
            }
            Backend::Remote(b) => {
                let mut public: JsonObject = current
                    .iter()
                    .filter(|(k, _)| !is_protected_claim(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                merge_into(&mut public, patch);
                match b
                    .client
                    .regenerate(access_token, Some(public))
                    .await
                    .map_err(from_client)?
                {
                    RegenerateResponse::Ok {
                        session,
                        access_token,
                    } => Ok(access_token
                        .map(|t| tokens(&session.user_id, t.token, t.expiry, None, None))),
                    RegenerateResponse::Unauthorised { .. } => {
                        Err(BackendError::Unauthorised { clear: true })
                    }
                }
            }
        }
    }

    /// The session's private data and its data version.
    pub(crate) async fn private_data(
        &self,
        handle: &str,
    ) -> Result<(JsonObject, u64), BackendError> {
        match self {
            Backend::InProcess(b) => {
                let i = b
                    .manager
                    .get(SessionRef::in_app(handle, &b.app_id))
                    .await
                    .map_err(|e| from_core(e, true))?;
                Ok((i.private_data, i.version))
            }
            Backend::Remote(b) => {
                let d = b
                    .client
                    .session_details(handle)
                    .await
                    .map_err(from_client)?;
                Ok((d.private_data, d.version))
            }
        }
    }

    /// Replaces the private data if the version is still `version`; `None` if it moved.
    pub(crate) async fn set_private_data_if(
        &self,
        handle: &str,
        data: &JsonObject,
        version: u64,
    ) -> Result<Option<u64>, BackendError> {
        match self {
            Backend::InProcess(b) => b
                .manager
                .set_private_data_if_version(SessionRef::in_app(handle, &b.app_id), version, data)
                .await
                .map_err(|e| from_core(e, true)),
            Backend::Remote(b) => b
                .client
                .set_private_data(handle, data, version)
                .await
                .map_err(from_client),
        }
    }

    /// The user's signed-in devices, oldest first.
    pub(crate) async fn devices(
        &self,
        user_id: &str,
        current: &str,
    ) -> Result<Vec<Device>, BackendError> {
        match self {
            Backend::InProcess(b) => {
                let q = UserQuery {
                    app_id: b.app_id.clone(),
                    user_id: user_id.to_owned(),
                    field: UserField::User,
                    tenant_id: None,
                };
                let list = b.manager.list(&q).await.map_err(|e| from_core(e, true))?;
                Ok(list
                    .into_iter()
                    .map(|i| Device {
                        current: i.summary.handle == current,
                        session_handle: i.summary.handle,
                        created_at: i.created_at,
                        last_active_at: i.last_active_at,
                        expires_at: i.expires_at,
                        ip: i.client.ip,
                        user_agent: i.client.user_agent,
                    })
                    .collect())
            }
            Backend::Remote(b) => {
                let list = b.client.user_sessions(user_id).await.map_err(from_client)?;
                Ok(list
                    .sessions
                    .into_iter()
                    .map(|d| Device {
                        current: d.handle == current,
                        session_handle: d.handle,
                        created_at: d.created_at,
                        last_active_at: d.last_active_at,
                        expires_at: d.expires_at,
                        ip: d.ip,
                        user_agent: d.user_agent,
                    })
                    .collect())
            }
        }
    }

    /// Seed 000's id token: the public data plus expiry, signed by the current key, and the
    /// public key it verifies with (a JWK).
    pub(crate) async fn id_token(
        &self,
        payload: JsonObject,
        validity: Duration,
    ) -> Result<(String, Option<Value>), BackendError> {
        match self {
            Backend::InProcess(b) => {
                let t = b
                    .manager
                    .create_id_token(&b.app_id, payload, validity, false, None)
                    .await
                    .map_err(|e| from_core(e, false))?
                    .into_inner();
                let kid = kid_of(&t).unwrap_or_default();
                let jwk = b
                    .manager
                    .keys()
                    .jwks(&b.app_id)
                    .keys
                    .iter()
                    .find(|k| k.kid == kid)
                    .and_then(|k| serde_json::to_value(k).ok());
                Ok((t, jwk))
            }
            Backend::Remote(b) => {
                let keys = b.client.jwks().await.map_err(from_client)?["keys"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let algorithm = keys
                    .first()
                    .and_then(|k| k["alg"].as_str())
                    .unwrap_or("RS256")
                    .to_owned();
                let req = sessiond_api::cdi::CreateJwtRequest {
                    payload,
                    validity: validity.as_secs().max(1),
                    use_static_signing_key: Some(false),
                    algorithm,
                    jwks_domain: None,
                };
                let sessiond_api::cdi::CreateJwtResponse::Ok { jwt } =
                    b.client.create_jwt(&req).await.map_err(from_client)?
                else {
                    return Err(BackendError::Internal(
                        "the service refused the id token's algorithm".to_owned(),
                    ));
                };
                let kid = kid_of(&jwt).unwrap_or_default();
                let jwk = keys.into_iter().find(|k| k["kid"] == kid.as_str());
                Ok((jwt, jwk))
            }
        }
    }
}

fn is_protected_claim(k: &str) -> bool {
    sessiond_core::tokens::access::is_protected(k) || k == "iss"
}

/// RFC 7396 merge of `patch` into `target` at the top level and below (`null` removes).
fn merge_into(target: &mut JsonObject, patch: &JsonObject) {
    let mut t = Value::Object(std::mem::take(target));
    sessiond_cookie::merge_patch(&mut t, Value::Object(patch.clone()));
    if let Value::Object(m) = t {
        *target = m;
    }
}

fn tokens(
    user_id: &str,
    access: String,
    access_exp_ms: i64,
    refresh: Option<(String, i64)>,
    anti_csrf: Option<String>,
) -> Tokens {
    let payload = jwt_payload(&access).map_or(Value::Null, Value::Object);
    Tokens {
        user_id: user_id.to_owned(),
        access,
        access_exp_ms,
        payload,
        refresh,
        anti_csrf,
    }
}

fn issued(
    identity: SessionIdentity,
    access: String,
    access_exp_ms: i64,
    refresh: Option<(String, i64)>,
    anti_csrf: Option<String>,
) -> Issued {
    Issued {
        tokens: tokens(&identity.user_id, access, access_exp_ms, refresh, anti_csrf),
        identity,
    }
}

fn issued_from_api(s: sessiond_api::cdi::IssuedSession) -> Issued {
    issued(
        SessionIdentity {
            handle: s.session.handle,
            user_id: s.session.user_id,
            recipe_user_id: s.session.recipe_user_id,
            tenant_id: s.session.tenant_id,
        },
        s.access_token.token,
        s.access_token.expiry,
        Some((s.refresh_token.token, s.refresh_token.expiry)),
        s.anti_csrf_token,
    )
}
