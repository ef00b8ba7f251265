//! Revocation, lookup, data updates, regeneration, id tokens and service tokens.

use std::time::Duration;

use serde_json::Value;

use super::issue::{check_public_data, to_text};
use super::types::{JsonObject, SessionInfo, SessionSummary, parse_object};
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
    /// [`Error::SessionNotFound`] when no session has this handle; store errors.
    pub async fn revoke(&self, handle: &str) -> Result<(), Error> {
        let gone = self
            .inner
            .store
            .delete_sessions(std::slice::from_ref(&handle.to_owned()))
            .await?;
        if gone.is_empty() {
            Err(Error::SessionNotFound)
        } else {
            Ok(())
        }
    }

    /// Revokes the given sessions; returns those that existed.
    ///
    /// # Errors
    /// Store errors.
    pub async fn revoke_many(&self, handles: &[String]) -> Result<Vec<String>, Error> {
        Ok(self.inner.store.delete_sessions(handles).await?)
    }

    /// Revokes every session selected by `query`; returns their handles.
    ///
    /// # Errors
    /// Store errors.
    pub async fn revoke_all_for_user(&self, query: &UserQuery) -> Result<Vec<String>, Error> {
        Ok(self.inner.store.delete_user_sessions(query).await?)
    }

    async fn live(&self, handle: &str) -> Result<SessionRecord, Error> {
        self.inner
            .store
            .load_session(handle, self.now_ms())
            .await?
            .ok_or(Error::SessionNotFound)
    }

    /// Everything about a live session.
    ///
    /// # Errors
    /// [`Error::SessionNotFound`]; store errors.
    pub async fn get(&self, handle: &str) -> Result<SessionInfo, Error> {
        Ok(self.live(handle).await?.info())
    }

    /// The user of a live session (seed 004 `_getUser`).
    ///
    /// # Errors
    /// [`Error::SessionNotFound`]; store errors.
    pub async fn user_of(&self, handle: &str) -> Result<String, Error> {
        Ok(self.live(handle).await?.user_id)
    }

    /// The live sessions selected by `query`, oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub async fn list(&self, query: &UserQuery) -> Result<Vec<SessionInfo>, Error> {
        let recs = self
            .inner
            .store
            .list_user_sessions(query, self.now_ms())
            .await?;
        Ok(recs.iter().map(SessionRecord::info).collect())
    }

    /// The handles of the live sessions selected by `query`, oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub async fn list_handles(&self, query: &UserQuery) -> Result<Vec<String>, Error> {
        let recs = self
            .inner
            .store
            .list_user_sessions(query, self.now_ms())
            .await?;
        Ok(recs.into_iter().map(|r| r.handle).collect())
    }

    /// Read-modify-write of a session's public and private data, retried on concurrent updates
    /// so no update is lost. `f` may run more than once. Returns the new data.
    ///
    /// # Errors
    /// [`Error::SessionNotFound`]; [`Error::InvalidInput`] if the public data gains a protected
    /// claim; [`Error::Conflict`] after too many lost races; store errors.
    pub async fn update_data_with<F>(
        &self,
        handle: &str,
        mut f: F,
    ) -> Result<(JsonObject, JsonObject), Error>
    where
        F: FnMut(&mut JsonObject, &mut JsonObject) + Send,
    {
        for _ in 0..MAX_UPDATE_ROUNDS {
            let rec = self.live(handle).await?;
            let (mut public, mut private) = (
                parse_object(&rec.public_data),
                parse_object(&rec.private_data),
            );
            f(&mut public, &mut private);
            check_public_data(&public)?;
            let (pub_text, priv_text) = (to_text(&public), to_text(&private));
            let outcome = self
                .inner
                .store
                .update_data(&DataUpdate {
                    handle,
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

    /// Replaces a session's private data (CDI `PUT /recipe/session/data`).
    ///
    /// # Errors
    /// As [`SessionManager::update_data_with`].
    pub async fn set_private_data(&self, handle: &str, data: JsonObject) -> Result<(), Error> {
        self.update_data_with(handle, |_, private| *private = data.clone())
            .await
            .map(drop)
    }

    /// Replaces a session's public data; access tokens carry it from their next issue
    /// (CDI `PUT /recipe/jwt/data`).
    ///
    /// # Errors
    /// As [`SessionManager::update_data_with`].
    pub async fn set_public_data(&self, handle: &str, data: JsonObject) -> Result<(), Error> {
        check_public_data(&data)?;
        self.update_data_with(handle, |public, _| *public = data.clone())
            .await
            .map(drop)
    }

    /// Replaces the public data of the session an access token belongs to and issues a new
    /// access token with it and the same expiry (CDI `/recipe/session/regenerate`, seed 003
    /// `updateToken`). An expired token is accepted: the data is updated, no token is issued.
    ///
    /// # Errors
    /// [`Error::Unauthorised`] for a bad token or a session that is gone; as
    /// [`SessionManager::update_data_with`].
    pub async fn regenerate(
        &self,
        access_token: &str,
        new_public_data: Option<JsonObject>,
    ) -> Result<Regenerated, Error> {
        if let Some(d) = &new_public_data {
            check_public_data(d)?;
        }
        let now = self.now_ms();
        let handle = if let Some(op) = OpaqueToken::decode(access_token) {
            op.handle
        } else {
            self.verify_signed(access_token, Expiry::Ignore, now)
                .await
                .map_err(|e| match e {
                    Error::Store(s) => Error::Store(s),
                    _ => Error::Unauthorised("access token does not verify"),
                })?
                .session_handle
        };
        let not_found = |e: Error| match e {
            Error::SessionNotFound => Error::Unauthorised("Session does not exist."),
            e => e,
        };
        if let Some(d) = new_public_data {
            self.set_public_data(&handle, d).await.map_err(not_found)?;
        }
        let rec = self.live(&handle).await.map_err(not_found)?;
        let public = parse_object(&rec.public_data);
        let access_token = match OpaqueToken::decode(access_token) {
            Some(_) => None,
            None => {
                let claims = self
                    .verify_signed(access_token, Expiry::Ignore, now)
                    .await?;
                let exp_ms = claims.exp.saturating_mul(1000);
                if exp_ms <= now || claims.sub != rec.user_id {
                    None
                } else {
                    Some(
                        self.remint(&rec, &claims, &public, now, Some(exp_ms))
                            .await?,
                    )
                }
            }
        };
        let mut session = rec.summary();
        session.public_data = public;
        Ok(Regenerated {
            session,
            access_token,
        })
    }

    /// Signs an id token (seed 000 `createIdConnectToken`, CDI `POST /recipe/jwt`): `payload`
    /// plus `iat` and `exp`, and `iss` when the payload has none, signed by the current dynamic
    /// key or the static key, verifiable from the JWKS.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a zero validity; key errors.
    pub async fn create_id_token(
        &self,
        mut payload: JsonObject,
        validity: Duration,
        static_key: bool,
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
            payload
                .entry("iss".to_owned())
                .or_insert_with(|| Value::from(iss));
        }
        let kind = if static_key {
            KeyKind::Static
        } else {
            KeyKind::Dynamic
        };
        let key = self.inner.keys.signer(kind).await?;
        let bytes = serde_json::to_vec(&payload)
            .map_err(|_| Error::Crypto("cannot serialise id-token payload"))?;
        Ok(SecretString::new(sign_compact(
            &key,
            HeaderKind::Plain,
            &bytes,
        )?))
    }

    /// Creates a service token (seed 001 `createToken`): valid until `expires_in` from now, or
    /// until the next key reset when `None`.
    ///
    /// # Errors
    /// Key errors.
    pub async fn create_service_token(
        &self,
        expires_in: Option<Duration>,
    ) -> Result<SecretString, Error> {
        let now = self.now_ms();
        let key = self.inner.keys.signer(KeyKind::Service).await?;
        let nonce: [u8; 16] = random_bytes()?;
        let mut claims = JsonObject::new();
        claims.insert("typ".to_owned(), Value::from("sessiond-service"));
        claims.insert("iat".to_owned(), Value::from(now.div_euclid(1000)));
        claims.insert("jti".to_owned(), Value::from(crate::b64::encode(nonce)));
        if let Some(d) = expires_in {
            claims.insert(
                "exp".to_owned(),
                Value::from(now.saturating_add(ms(d)).div_euclid(1000)),
            );
        }
        let bytes = serde_json::to_vec(&claims)
            .map_err(|_| Error::Crypto("cannot serialise service-token claims"))?;
        Ok(SecretString::new(sign_compact(
            &key,
            HeaderKind::Plain,
            &bytes,
        )?))
    }

    /// Verifies a service token (seed 001 `verifyToken`): `true` only for a token signed by a
    /// current service key and not expired. Garbage is simply `false`.
    ///
    /// # Errors
    /// None in practice; a store failure while looking up an unknown key yields `false`.
    pub async fn verify_service_token(&self, token: &str) -> bool {
        let Ok(jws) = UnverifiedJws::parse(token) else {
            return false;
        };
        let Ok(Some(key)) = self.inner.keys.service_verifier(jws.kid()).await else {
            return false;
        };
        let Ok(payload) = jws.verify(&key) else {
            return false;
        };
        let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&payload) else {
            return false;
        };
        if claims.get("typ").and_then(Value::as_str) != Some("sessiond-service") {
            return false;
        }
        match claims.get("exp") {
            None => true,
            Some(exp) => exp
                .as_i64()
                .is_some_and(|e| e.saturating_mul(1000) > self.now_ms()),
        }
    }
}
