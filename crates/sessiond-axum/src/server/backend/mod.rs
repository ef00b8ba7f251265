//! Where sessions live: a [`SessionManager`] in this process (any store), or a running
//! `sessiond serve` reached through `sessiond-client` (access tokens verified locally against
//! its JWKS). The layer calls the same operations on either.
//!
//! This module holds the types the layer sees and the dispatch to either backend; `remote`
//! holds what only the remote backend needs (its error mapping, the revocation stream it
//! follows, its database-checked verify), and `tokens` the token helpers both share.

mod remote;
mod tokens;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sessiond_api::cdi::{
    CreateSessionRequest, RefreshSessionRequest, RefreshSessionResponse, RegenerateResponse,
    RemoveSessionsRequest,
};
use sessiond_client::Client;
use sessiond_core::cache::VerifiedCache;
use sessiond_core::revocation::{RevocationFeed, Standing};
use sessiond_core::{
    ClientInfo, Clock, Error as CoreError, JsonObject, NewSession, RefreshOptions, SessionManager,
    SessionRef, SystemClock, UserField, UserQuery, VerifyOptions,
};

use self::remote::{Remote, from_client, issued_from_api};
pub(crate) use self::tokens::Payload;
use self::tokens::{
    Cached, claims_of, is_protected_claim, issued_from_core, kid_of, merge_into, tokens,
};
use super::jwks::JwksCache;

/// Who a session is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionIdentity {
    /// The session handle: what revocation and the data calls take.
    pub handle: String,
    /// The (primary) user id.
    pub user_id: String,
    /// The login method's user id (equal to `user_id` without account linking).
    pub recipe_user_id: String,
    /// The tenant the session belongs to.
    pub tenant_id: String,
}

/// Tokens to send to the client.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub(crate) access: String,
    /// The access token's whole payload.
    pub(crate) payload: Arc<Payload>,
    /// The `front-token` header that goes with the access token.
    pub(crate) front_token: String,
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
    pub(crate) payload: Arc<Payload>,
    /// A re-issued access token (a database check found the payload stale).
    pub(crate) reissued: Option<Tokens>,
}

/// One signed-in device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Device {
    /// The device's session handle, to revoke it with.
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
    /// Any other failure (a bug, a key that cannot sign, an answer the layer does not expect).
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

/// Sessions in this process.
pub(crate) struct InProcess {
    pub(crate) manager: SessionManager,
    pub(crate) app_id: String,
    cache: VerifiedCache<Cached>,
}

/// Where the sessions live: this process's manager or a remote service; the layer calls one
/// set of operations on either.
#[derive(Clone)]
pub(crate) enum Backend {
    InProcess(Arc<InProcess>),
    Remote(Arc<Remote>),
}

/// How many verified tokens a backend keeps.
pub(crate) const CACHE_CAPACITY: usize = 16_384;

impl Backend {
    pub(crate) fn in_process(manager: SessionManager, app_id: String) -> Self {
        Backend::InProcess(Arc::new(InProcess {
            manager,
            app_id,
            cache: VerifiedCache::new(CACHE_CAPACITY),
        }))
    }

    pub(crate) fn remote(
        client: Client, jwks_refresh: Duration, revocation_hold: Duration,
    ) -> Self {
        let hold = i64::try_from(revocation_hold.as_millis()).unwrap_or(i64::MAX);
        Backend::Remote(Arc::new(Remote {
            jwks: Arc::new(JwksCache::new(client.clone(), jwks_refresh)),
            client,
            cache: VerifiedCache::new(CACHE_CAPACITY),
            revocations: Arc::new(RevocationFeed::new(hold, Arc::new(SystemClock))),
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

    /// Creates a session for `user_id` with its public (access-token) and private data.
    pub(crate) async fn create(
        &self, user_id: &str, public: JsonObject, private: JsonObject, anti_csrf: bool,
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
                let s = b.manager.create(new).await.map_err(|e| from_core(e, false))?;
                Ok(issued_from_core(s))
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
                let s = b.client.create_session(None, &req).await.map_err(from_client)?;
                Ok(issued_from_api(s))
            }
        }
    }

    /// Verifies an access token: statelessly (through the verified-token cache), or also
    /// against the store.
    pub(crate) async fn verify(
        &self, token: &str, check_db: bool, csrf: CsrfCheck<'_>,
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
                    payload: Arc::clone(&t.payload),
                    reissued: Some(t),
                }
            }
        })
    }

    /// The signature, structure and expiry check, through the cache (entries whose key has
    /// left the key set are not served).
    async fn verify_signed(&self, token: &str) -> Result<Arc<Cached>, BackendError> {
        let now = SystemClock.now_ms();
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
                let opts = VerifyOptions { app_id: Some(&b.app_id), ..VerifyOptions::default() };
                b.manager.verify(token, opts).await.map_err(|e| from_core(e, false))?;
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
            payload: Payload::of_token(token),
            claims,
            kid,
        });
        if !cached.kid.is_empty() {
            self.cache().insert(token, Arc::clone(&cached), cached.exp_ms(), now);
        }
        Ok(cached)
    }

    /// Rotates a refresh token: a new access and refresh token for the same session, or
    /// [`BackendError::Theft`] when a superseded refresh token is replayed.
    pub(crate) async fn refresh(
        &self, token: &str, csrf: CsrfCheck<'_>,
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
                Ok(issued_from_core(s))
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
                b.client.remove_sessions(None, &req).await.map_err(from_client)
            }
        }
    }

    /// Merges `patch` into the session's public data (RFC 7396: `null` removes) and re-issues
    /// the access token with the same expiry. `None` when the presented token had expired (the
    /// data is updated all the same; the next refresh carries it).
    pub(crate) async fn merge_public(
        &self, handle: &str, access_token: &str, current: &JsonObject, patch: &JsonObject,
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
                    tokens(&r.session.user_id, t.token.into_inner(), t.expires_at, None, None)
                }))
            }
            Backend::Remote(b) => {
                let mut public: JsonObject = current
                    .iter()
                    .filter(|(k, _)| !is_protected_claim(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                merge_into(&mut public, patch);
                match b.client.regenerate(access_token, Some(public)).await.map_err(from_client)? {
                    RegenerateResponse::Ok { session, access_token } => Ok(access_token
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
        &self, handle: &str,
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
                let d = b.client.session_details(handle).await.map_err(from_client)?;
                Ok((d.private_data, d.version))
            }
        }
    }

    /// Replaces the private data if the version is still `version`; `None` if it moved.
    pub(crate) async fn set_private_data_if(
        &self, handle: &str, data: &JsonObject, version: u64,
    ) -> Result<Option<u64>, BackendError> {
        match self {
            Backend::InProcess(b) => b
                .manager
                .set_private_data_if_version(SessionRef::in_app(handle, &b.app_id), version, data)
                .await
                .map_err(|e| from_core(e, true)),
            Backend::Remote(b) => {
                b.client.set_private_data(handle, data, version).await.map_err(from_client)
            }
        }
    }

    /// The user's signed-in devices, oldest first.
    pub(crate) async fn devices(
        &self, user_id: &str, current: &str,
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
        &self, payload: JsonObject, validity: Duration,
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
                let algorithm =
                    keys.first().and_then(|k| k["alg"].as_str()).unwrap_or("RS256").to_owned();
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
