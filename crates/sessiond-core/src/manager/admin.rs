//! Revocation, lookup, data updates, regeneration, id tokens and service tokens.

use std::time::Duration;

use serde_json::Value;

use super::issue::{public_text, to_text};
use super::types::{JsonObject, SessionInfo, SessionRef, SessionSummary, parse_object};
use super::verify::Expiry;
use super::{IssuedToken, SessionManager};
use crate::config::ms;
use crate::error::Error;
use crate::jose::{HeaderKind, UnverifiedJws, sign_compact};
use crate::model::{KeyKind, SessionRecord, UserQuery};
use crate::secret::{SecretString, random_bytes};
use crate::store::{DataUpdate, UpdateOutcome};
use crate::tokens::opaque::OpaqueToken;

/// How many compare-and-swap rounds a data update tries before giving up with `Conflict`.
const MAX_UPDATE_ROUNDS: usize = 32;

/// The result of [`SessionManager::regenerate`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Regenerated {
    /// The session with its new public data.
    pub session: SessionSummary,
    /// The new access token; `None` when the presented one had already expired (the data is
    /// updated all the same and the next refresh carries it).
    pub access_token: Option<IssuedToken>,
}

impl SessionManager {
    /// Revokes one session (seed 004 `delete`).
    ///
    /// # Errors
    /// [`Error::SessionNotFound`] when no session has this handle (in the app the reference is
    /// confined to); store errors.
    pub async fn revoke<'a>(&self, session: impl Into<SessionRef<'a>>) -> Result<(), Error> {
        let session = session.into();
        if session.app_id.is_some() {
            // An app may only revoke its own sessions; a session's app never changes.
            self.live(session).await?;
        }
        let gone = self
            .inner
            .store
            .delete_sessions(std::slice::from_ref(&session.handle.to_owned()))
            .await?;
        if gone.is_empty() {
            Err(Error::SessionNotFound)
        } else {
            self.announce_revoked(&gone).await;
            Ok(())
        }
    }

    /// Tells every verifier (through the store's revocation log) that these sessions are gone,
    /// and denies them in this process at once. A failure is logged, not returned: the sessions
    /// are gone from the store, so store-checked verifies refuse them; stateless ones elsewhere
    /// accept their tokens until they expire, as without the log.
    pub(crate) async fn announce_revoked(&self, handles: &[String]) {
        if handles.is_empty() {
            return;
        }
        let now = self.now_ms();
        for h in handles {
            self.inner.revocations.deny(h, now);
        }
        let events: Vec<crate::store::EventKind> = handles
            .iter()
            .map(|h| crate::store::EventKind::Revoked { handle: h.clone() })
            .collect();
        if let Err(e) = self.inner.store.append_events(&events, now).await {
            crate::telemetry::store_error();
            tracing::error!(error = %e, count = handles.len(), "appending revocation events failed; other processes learn of these revocations only when the tokens expire");
        }
    }

    /// Revokes the given sessions; returns those that existed. With `app_id`, sessions of other
    /// apps are left alone and not reported.
    ///
    /// # Errors
    /// Store errors.
    pub async fn revoke_many(
        &self, handles: &[String], app_id: Option<&str>,
    ) -> Result<Vec<String>, Error> {
        let Some(app) = app_id else {
            let gone = self.inner.store.delete_sessions(handles).await?;
            self.announce_revoked(&gone).await;
            return Ok(gone);
        };
        let now = self.now_ms();
        let mut own = Vec::with_capacity(handles.len());
        for h in handles {
            let rec = self.inner.store.load_session(h, now).await?;
            if rec.is_some_and(|r| r.app_id == app) {
                own.push(h.clone());
            }
        }
        if own.is_empty() {
            return Ok(own);
        }
        let gone = self.inner.store.delete_sessions(&own).await?;
        self.announce_revoked(&gone).await;
        Ok(gone)
    }

    /// Revokes every session selected by `query`; returns their handles.
    ///
    /// # Errors
    /// Store errors.
    pub async fn revoke_all_for_user(&self, query: &UserQuery) -> Result<Vec<String>, Error> {
        let gone = self.inner.store.delete_user_sessions(query).await?;
        self.announce_revoked(&gone).await;
        Ok(gone)
    }

    async fn live(&self, session: SessionRef<'_>) -> Result<SessionRecord, Error> {
        self.inner
            .store
            .load_session(session.handle, self.now_ms())
            .await?
            .filter(|r| session.admits(r))
            .ok_or(Error::SessionNotFound)
    }

    /// Everything about a live session.
    ///
    /// # Errors
    /// [`Error::SessionNotFound`]; store errors.
    pub async fn get<'a>(&self, session: impl Into<SessionRef<'a>>) -> Result<SessionInfo, Error> {
        Ok(self.live(session.into()).await?.info())
    }

    /// The user of a live session (seed 004 `_getUser`).
    ///
    /// # Errors
    /// [`Error::SessionNotFound`]; store errors.
    pub async fn user_of<'a>(&self, session: impl Into<SessionRef<'a>>) -> Result<String, Error> {
        Ok(self.live(session.into()).await?.user_id)
    }

    /// The live sessions selected by `query`, oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub async fn list(&self, query: &UserQuery) -> Result<Vec<SessionInfo>, Error> {
        let recs = self.inner.store.list_user_sessions(query, self.now_ms()).await?;
        Ok(recs.iter().map(SessionRecord::info).collect())
    }

    /// The handles of the live sessions selected by `query`, oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub async fn list_handles(&self, query: &UserQuery) -> Result<Vec<String>, Error> {
        let recs = self.inner.store.list_user_sessions(query, self.now_ms()).await?;
        Ok(recs.into_iter().map(|r| r.handle).collect())
    }

    /// Read-modify-write of a session's public and private data, retried on concurrent updates
    /// so no update is lost. `f` may run more than once. Returns the new data.
    ///
    /// # Errors
    /// [`Error::SessionNotFound`]; [`Error::InvalidInput`] if the public data gains a protected
    /// claim or outgrows [`MAX_PUBLIC_DATA_LEN`](crate::MAX_PUBLIC_DATA_LEN);
    /// [`Error::Conflict`] after too many lost races; store errors.
    pub async fn update_data_with<'a, F>(
        &self, session: impl Into<SessionRef<'a>>, mut f: F,
    ) -> Result<(JsonObject, JsonObject), Error>
    where
        F: FnMut(&mut JsonObject, &mut JsonObject) + Send,
    {
        let session = session.into();
        for _ in 0..MAX_UPDATE_ROUNDS {
            let rec = self.live(session).await?;
            let (mut public, mut private) =
                (parse_object(&rec.public_data), parse_object(&rec.private_data));
            f(&mut public, &mut private);
            let (pub_text, priv_text) = (public_text(&public)?, to_text(&private));
            let outcome = self
                .inner
                .store
                .update_data(&DataUpdate {
                    handle: session.handle,
                    expected_version: rec.version,
                    public_data: (pub_text != rec.public_data).then_some(pub_text.as_str()),
                    private_data: (priv_text != rec.private_data).then_some(priv_text.as_str()),
                    now: self.now_ms(),
                })
                .await?;
            match outcome {
                UpdateOutcome::Updated(_) => return Ok((public, private)),
                UpdateOutcome::VersionMismatch => tokio::task::yield_now().await,
                UpdateOutcome::NotFound => return Err(Error::SessionNotFound),
            }
        }
        Err(Error::Conflict)
    }

    /// Replaces a session's private data if the session's data version is still
    /// `expected_version` (read it from [`SessionInfo::version`]): a compare-and-swap, so a
    /// read-modify-write through this call never loses a concurrent update. Returns the new
    /// version, or `None` when the version moved (read again and retry).
    ///
    /// # Errors
    /// [`Error::SessionNotFound`]; store errors.
    pub async fn set_private_data_if_version<'a>(
        &self, session: impl Into<SessionRef<'a>>, expected_version: u64, data: &JsonObject,
    ) -> Result<Option<u64>, Error> {
        let session = session.into();
        let rec = self.live(session).await?;
        if rec.version != expected_version {
            return Ok(None);
        }
        let text = to_text(data);
        let outcome = self
            .inner
            .store
            .update_data(&DataUpdate {
                handle: session.handle,
                expected_version,
                public_data: None,
                private_data: Some(text.as_str()),
                now: self.now_ms(),
            })
            .await?;
        match outcome {
            UpdateOutcome::Updated(v) => Ok(Some(v)),
            UpdateOutcome::VersionMismatch => Ok(None),
            UpdateOutcome::NotFound => Err(Error::SessionNotFound),
        }
    }

    /// Replaces a session's private data (CDI `PUT /recipe/session/data`).
    ///
    /// # Errors
    /// As [`SessionManager::update_data_with`].
    pub async fn set_private_data<'a>(
        &self, session: impl Into<SessionRef<'a>>, data: JsonObject,
    ) -> Result<(), Error> {
        self.update_data_with(session, |_, private| *private = data.clone()).await.map(drop)
    }

    /// Replaces a session's public data; access tokens carry it from their next issue
    /// (CDI `PUT /recipe/jwt/data`).
    ///
    /// # Errors
    /// As [`SessionManager::update_data_with`].
    pub async fn set_public_data<'a>(
        &self, session: impl Into<SessionRef<'a>>, data: JsonObject,
    ) -> Result<(), Error> {
        public_text(&data)?;
        self.update_data_with(session, |public, _| *public = data.clone()).await.map(drop)
    }

    /// Replaces the public data of the session an access token belongs to and issues a new
    /// access token with it and the same expiry (CDI `/recipe/session/regenerate`, seed 003
    /// `updateToken`). An expired JWT is accepted (its signature still has to verify): the data
    /// is updated, no token is issued, and the next refresh carries the data. An opaque token
    /// must be the session's current one. With `app_id`, a session of another app is gone.
    ///
    /// # Errors
    /// [`Error::Unauthorised`] for a bad token or a session that is gone; as
    /// [`SessionManager::update_data_with`].
    pub async fn regenerate(
        &self, access_token: &str, new_public_data: Option<JsonObject>, app_id: Option<&str>,
    ) -> Result<Regenerated, Error> {
        if let Some(d) = &new_public_data {
            public_text(d)?;
        }
        let now = self.now_ms();
        let (handle, claims) = match OpaqueToken::decode(access_token) {
            Some(op) => {
                let (rec, _) =
                    self.opaque_session(&op, app_id, now).await.map_err(|e| match e {
                        Error::Store(s) => Error::Store(s),
                        _ => Error::Unauthorised("access token does not verify"),
                    })?;
                (rec.handle, None)
            }
            None => {
                let claims = self
                    .verify_signed(access_token, Expiry::Ignore, now, app_id)
                    .await
                    .map_err(|e| match e {
                        Error::Store(s) => Error::Store(s),
                        _ => Error::Unauthorised("access token does not verify"),
                    })?;
                (claims.session_handle.clone(), Some(claims))
            }
        };
        let target = SessionRef { handle: &handle, app_id };
        let not_found = |e: Error| match e {
            Error::SessionNotFound => Error::Unauthorised("Session does not exist."),
            e => e,
        };
        if let Some(d) = new_public_data {
            self.set_public_data(target, d).await.map_err(not_found)?;
        }
        let rec = self.live(target).await.map_err(not_found)?;
        let public = parse_object(&rec.public_data);
        let access_token = match claims {
            // An opaque token carries no data: the next verify reads the new data from the store.
            None => None,
            Some(claims) => {
                let exp_ms = claims.exp.saturating_mul(1000);
                if exp_ms <= now || claims.sub != rec.user_id {
                    None
                } else {
                    Some(self.remint(&rec, &claims, &public, now, Some(exp_ms)).await?)
                }
            }
        };
        let mut session = rec.summary();
        session.public_data = public;
        Ok(Regenerated { session, access_token })
    }

    /// Signs an id token (seed 000 `createIdConnectToken`, CDI `POST /recipe/jwt`): `payload`
    /// plus `iat` and `exp`, and `iss` when the payload has none, signed by `app_id`'s current
    /// dynamic key or its static key, verifiable from its JWKS.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a zero validity; key errors.
    pub async fn create_id_token(
        &self, app_id: &str, mut payload: JsonObject, validity: Duration, static_key: bool,
        issuer: Option<&str>,
    ) -> Result<SecretString, Error> {
        if validity.is_zero() {
            return Err(Error::InvalidInput("validity must be positive".to_owned()));
        }
        let now_s = self.now_ms().div_euclid(1000);
        let exp = now_s.saturating_add(ms(validity) / 1000);
        payload.insert("iat".to_owned(), Value::from(now_s));
        payload.insert("exp".to_owned(), Value::from(exp));
        if let Some(iss) = issuer {
            payload.entry("iss".to_owned()).or_insert_with(|| Value::from(iss));
        }
        let kind = if static_key { KeyKind::Static } else { KeyKind::Dynamic };
        let key = self.inner.keys.signer(app_id, kind).await?;
        let bytes = serde_json::to_vec(&payload)
            .map_err(|_| Error::Crypto("cannot serialise id-token payload"))?;
        Ok(SecretString::new(sign_compact(&key, HeaderKind::Plain, &bytes)?))
    }

    /// Creates a service token of `app_id` (seed 001 `createToken`): valid until `expires_in`
    /// from now, or until the app's next key reset when `None`.
    ///
    /// # Errors
    /// Key errors.
    pub async fn create_service_token(
        &self, app_id: &str, expires_in: Option<Duration>,
    ) -> Result<SecretString, Error> {
        let now = self.now_ms();
        let key = self.inner.keys.signer(app_id, KeyKind::Service).await?;
        let nonce: [u8; 32] = random_bytes()?;
        let mut claims = JsonObject::new();
        claims.insert("typ".to_owned(), Value::from("sessiond-service"));
        claims.insert("iat".to_owned(), Value::from(now.div_euclid(1000)));
        claims.insert("jti".to_owned(), Value::from(crate::b64::encode(nonce)));
        if let Some(d) = expires_in {
            claims
                .insert("exp".to_owned(), Value::from(now.saturating_add(ms(d)).div_euclid(1000)));
        }
        let bytes = serde_json::to_vec(&claims)
            .map_err(|_| Error::Crypto("cannot serialise service-token claims"))?;
        Ok(SecretString::new(sign_compact(&key, HeaderKind::Plain, &bytes)?))
    }

    /// Verifies a service token (seed 001 `verifyToken`): `true` only for a token signed by a
    /// current service key of `app_id` and not expired. Garbage (and another app's token) is
    /// simply `false`.
    ///
    /// # Errors
    /// [`Error::Store`] when the token names a key this process has not seen and the store
    /// cannot be asked whether it exists (fail closed: never `true`, and not a silent `false`).
    pub async fn verify_service_token(&self, app_id: &str, token: &str) -> Result<bool, Error> {
        let Ok(jws) = UnverifiedJws::parse(token) else {
            return Ok(false);
        };
        let Some(v) = self.inner.keys.service_verifier(jws.kid()).await? else {
            return Ok(false);
        };
        if *v.app_id != *app_id {
            return Ok(false);
        }
        let Ok(payload) = jws.verify(&v.key) else {
            return Ok(false);
        };
        let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&payload) else {
            return Ok(false);
        };
        if claims.get("typ").and_then(Value::as_str) != Some("sessiond-service") {
            return Ok(false);
        }
        Ok(match claims.get("exp") {
            None => true,
            Some(exp) => exp.as_i64().is_some_and(|e| e.saturating_mul(1000) > self.now_ms()),
        })
    }
}
