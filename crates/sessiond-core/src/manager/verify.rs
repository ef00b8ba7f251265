//! Verifying access tokens: stateless by default, against the store on request.

use super::issue::Grant;
use super::types::{JsonObject, VerifiedSession, VerifyOptions, parse_object};
use super::{IssuedToken, SessionManager};
use crate::b64;
use crate::clock::Millis;
use crate::error::Error;
use crate::jose::{JwsError, Segments, UnverifiedJws};
use crate::model::{KeyKind, SessionRecord};
use crate::revocation::Standing;
use crate::secret::{ct_eq, sha256};
use crate::tokens::access::VerifiedClaims;
use crate::tokens::chain::{Chain, Secret};
use crate::tokens::opaque::OpaqueToken;

/// Whether a verify may accept a token past its `exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    Enforce,
    Ignore,
}

fn csrf_matches(expected: Option<&str>, provided: Option<&str>) -> bool {
    matches!((expected, provided), (Some(e), Some(p)) if ct_eq(e.as_bytes(), p.as_bytes()))
}

impl SessionManager {
    /// Verifies an access token.
    ///
    /// JWT access tokens are checked statelessly (signature by `kid`, structure, expiry, and the
    /// anti-CSRF token when asked); with `check_database` the session must also still exist in
    /// the store, and a token whose public data is stale is re-issued
    /// ([`VerifiedSession::new_access_token`]). Opaque tokens are always checked against the store.
    ///
    /// # Errors
    /// - [`Error::Unauthorised`]: malformed token, or (with `check_database`) the session is gone;
    /// - [`Error::TryRefreshToken`]: expired, unknown or retired key, bad signature, anti-CSRF
    ///   mismatch;
    /// - [`Error::Store`]: the store check could not be made (fail closed).
    pub async fn verify(
        &self, token: &str, opts: VerifyOptions<'_>,
    ) -> Result<VerifiedSession, Error> {
        let now = self.now_ms();
        if let Some(op) = OpaqueToken::decode(token) {
            return self.verify_opaque(&op, opts, now).await;
        }
        let claims = self.verify_signed(token, Expiry::Enforce, now, opts.app_id).await?;
        if opts.check_anti_csrf
            && !csrf_matches(claims.anti_csrf_token.as_deref(), opts.anti_csrf_token)
        {
            return Err(Error::TryRefreshToken("anti-csrf check failed"));
        }
        let access_expires_at = claims.exp.saturating_mul(1000);
        let standing = self.inner.revocations.standing(&claims.session_handle);
        if standing == Standing::Revoked {
            return Err(Error::Unauthorised(
                "Either the session has ended or has been blacklisted",
            ));
        }
        // A current revocation feed answers for the store; a degraded one does not.
        if !opts.check_database && standing == Standing::Clear {
            return Ok(VerifiedSession {
                session: super::SessionSummary {
                    handle: claims.session_handle,
                    user_id: claims.sub,
                    recipe_user_id: claims.rsub,
                    tenant_id: claims.tenant_id,
                    public_data: claims.public_data,
                },
                access_expires_at,
                new_access_token: None,
            });
        }
        let new_access_token = self.verify_live(&claims, opts.app_id).await?;
        let mut session = super::SessionSummary {
            handle: claims.session_handle,
            user_id: claims.sub,
            recipe_user_id: claims.rsub,
            tenant_id: claims.tenant_id,
            public_data: claims.public_data,
        };
        if let Some(t) = &new_access_token {
            // The re-issued token carries the stored data.
            if let Some(p) = t
                .token
                .expose()
                .split('.')
                .nth(1)
                .and_then(b64::decode)
                .and_then(|b| VerifiedClaims::parse(&b))
            {
                session.public_data = p.public_data;
            }
        }
        Ok(VerifiedSession { session, access_expires_at, new_access_token })
    }

    /// The store half of a database-checked verify, for a caller that has checked the token's
    /// signature, expiry and anti-CSRF token itself (a verifier with a verified-token cache):
    /// the session must still exist (in `app_id`, when given) and belong to the token's user and
    /// tenant; activity is recorded. Returns a re-issued access token, with the same expiry, when
    /// the token's public data is stale.
    ///
    /// # Errors
    /// [`Error::Unauthorised`] when the session is gone; [`Error::Store`].
    pub async fn verify_live(
        &self, claims: &VerifiedClaims, app_id: Option<&str>,
    ) -> Result<Option<IssuedToken>, Error> {
        let now = self.now_ms();
        let rec = self.live_session_for(claims, app_id, now).await?;
        self.touch_if_due(&rec, now);
        // Both texts are serde_json's serialisation of a map (sorted keys), so equal data is
        // equal text: no parse of the stored data on the hot path.
        if super::issue::to_text(&claims.public_data) == rec.public_data {
            return Ok(None);
        }
        let stored = parse_object(&rec.public_data);
        let exp = claims.exp.saturating_mul(1000);
        Ok(Some(self.remint(&rec, claims, &stored, now, Some(exp)).await?))
    }

    /// Checks a JWT's structure and signature (and expiry unless told not to).
    pub(crate) async fn verify_signed(
        &self, token: &str, expiry: Expiry, now: Millis, app_id: Option<&str>,
    ) -> Result<VerifiedClaims, Error> {
        // A key of another app is, to this app, a key it does not have.
        let other_app = Error::TryRefreshToken("access token signed by an unknown or retired key");
        let in_app = |v: &crate::keys::AppVerifier| app_id.is_none_or(|a| *a == *v.app_id);
        let malformed = Error::Unauthorised("malformed access token");
        let bad_signature = |e: JwsError| match e {
            JwsError::Malformed => Error::Unauthorised("malformed access token"),
            _ => Error::TryRefreshToken("access token signature does not verify"),
        };
        let segments = Segments::split(token).map_err(|_| malformed)?;
        let payload = if let Some(v) = self.inner.keys.verifier_for_header(segments.header_b64) {
            // Fast path: byte-for-byte a header sessiond issued for this key.
            if !in_app(&v) {
                return Err(other_app);
            }
            segments.verify_known_header(&v.key).map_err(bad_signature)?
        } else {
            let jws = UnverifiedJws::parse(token).map_err(|e| match e {
                JwsError::UnknownKey => Error::TryRefreshToken("access token has no key id"),
                _ => Error::Unauthorised("malformed access token"),
            })?;
            if jws.header.typ.as_deref() != Some("JWT")
                || jws.header.version.as_deref() != Some("5")
            {
                return Err(Error::Unauthorised("not a sessiond access token"));
            }
            // Known keys never need the store, so an outage cannot break stateless verification
            // of them. A key this process has not seen may have been created by another process
            // a moment ago: when the store cannot be asked, the answer is "unavailable" (503),
            // not "refresh", which would fail the same way.
            let v = self.inner.keys.verifier(jws.kid()).await?.ok_or(Error::TryRefreshToken(
                "access token signed by an unknown or retired key",
            ))?;
            if !in_app(&v) {
                return Err(other_app);
            }
            jws.verify(&v.key).map_err(bad_signature)?
        };
        let claims = VerifiedClaims::parse(&payload)
            .ok_or(Error::Unauthorised("access token claims are malformed"))?;
        if expiry == Expiry::Enforce && claims.exp.saturating_mul(1000) <= now {
            return Err(Error::TryRefreshToken("access token expired"));
        }
        Ok(claims)
    }

    /// The live session a verified token belongs to (in `app_id`, when given).
    pub(crate) async fn live_session_for(
        &self, claims: &VerifiedClaims, app_id: Option<&str>, now: Millis,
    ) -> Result<SessionRecord, Error> {
        let rec = self
            .inner
            .store
            .load_session(&claims.session_handle, now)
            .await?
            .filter(|r| app_id.is_none_or(|a| a == r.app_id))
            .ok_or(Error::Unauthorised("Either the session has ended or has been blacklisted"))?;
        if rec.user_id != claims.sub || rec.tenant_id != claims.tenant_id {
            return Err(Error::Unauthorised("access token does not match its session"));
        }
        Ok(rec)
    }

    /// A new access token for the same refresh generation with the stored public data.
    pub(crate) async fn remint(
        &self, rec: &SessionRecord, claims: &VerifiedClaims, public_data: &JsonObject, now: Millis,
        expires_at: Option<Millis>,
    ) -> Result<IssuedToken, Error> {
        self.access_token(&Grant {
            rec,
            public_data,
            refresh_hash1: &claims.refresh_token_hash1,
            access_secret: None,
            anti_csrf: claims.anti_csrf_token.as_deref(),
            static_key: rec.flags.static_key,
            now,
            expires_at,
        })
        .await
    }

    /// The session an opaque access token belongs to (in `app_id`, when given), and the
    /// token's secret, if the token is the session's current one and was issued after the last
    /// key reset.
    pub(crate) async fn opaque_session(
        &self, op: &OpaqueToken, app_id: Option<&str>, now: Millis,
    ) -> Result<(SessionRecord, Secret), Error> {
        let secret: Secret = b64::decode(&op.random)
            .and_then(|v| v.try_into().ok())
            .ok_or(Error::Unauthorised("malformed access token"))?;
        let rec = self
            .inner
            .store
            .load_session(&op.handle, now)
            .await?
            .filter(|r| app_id.is_none_or(|a| a == r.app_id))
            .ok_or(Error::Unauthorised("Either the session has ended or has been blacklisted"))?;
        match rec.access_hash {
            Some(h) if ct_eq(&h, &sha256(&secret)) => {}
            Some(_) => return Err(Error::TryRefreshToken("access token was superseded")),
            None => return Err(Error::Unauthorised("session has no opaque access token")),
        }
        // A key reset must end opaque tokens too, though nothing signs them: one issued before
        // the reset (at the session's last rotation) is refused until the client refreshes.
        if rec.rotated_at < self.inner.keys.reset_epoch(&rec.app_id) {
            return Err(Error::TryRefreshToken("access token predates the last key reset"));
        }
        Ok((rec, secret))
    }

    async fn verify_opaque(
        &self, op: &OpaqueToken, opts: VerifyOptions<'_>, now: Millis,
    ) -> Result<VerifiedSession, Error> {
        let (rec, secret) = self.opaque_session(op, opts.app_id, now).await?;
        let access_expires_at =
            rec.rotated_at.saturating_add(self.inner.policy.access_ttl).min(rec.expires_at);
        if access_expires_at <= now {
            return Err(Error::TryRefreshToken("access token expired"));
        }
        if opts.check_anti_csrf {
            let chain_key = self.inner.keys.signer(&rec.app_id, KeyKind::Chain).await?;
            let expected = Chain::new(&chain_key).anti_csrf(&secret)?;
            if !rec.flags.anti_csrf || !csrf_matches(Some(&expected), opts.anti_csrf_token) {
                return Err(Error::TryRefreshToken("anti-csrf check failed"));
            }
        }
        self.touch_if_due(&rec, now);
        Ok(VerifiedSession { session: rec.summary(), access_expires_at, new_access_token: None })
    }

    /// Records activity on a session at most once per `touch_interval`, off the request path.
    fn touch_if_due(&self, rec: &SessionRecord, now: Millis) {
        if now.saturating_sub(rec.last_active_at) < self.inner.policy.touch {
            return;
        }
        let expires_at = self.session_deadline(now, rec.rotated_at, rec.absolute_expires_at);
        let store = std::sync::Arc::clone(&self.inner.store);
        let handle = rec.handle.clone();
        self.inner.touches.spawn(async move {
            if let Err(e) = store.touch_session(&handle, now, expires_at).await {
                // Lost activity can end a session early at its idle timeout: make it visible.
                crate::telemetry::store_error();
                tracing::warn!(error = %e, "recording session activity failed");
            }
        });
    }
}
