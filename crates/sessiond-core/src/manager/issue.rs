//! Creating sessions and issuing access tokens.

use super::types::{IssuedSession, IssuedToken, IssuedTokens, JsonObject, NewSession};
use super::{SessionManager, SessionSummary};
use crate::clock::Millis;
use crate::config::TokenFormat;
use crate::error::Error;
use crate::jose::{HeaderKind, sign_compact};
use crate::model::{KeyKind, SessionFlags, SessionRecord};
use crate::secret::{SecretString, random_bytes, sha256};
use crate::tokens::access::{IssueClaims, is_protected};
use crate::tokens::chain::{Chain, Secret};
use crate::tokens::opaque::OpaqueToken;
use crate::tokens::refresh::RefreshToken;

/// Longest user id, recipe user id, app id or tenant id accepted.
pub(crate) const MAX_ID_LEN: usize = 200;

/// Checks an app or tenant id: 1–64 characters of `[a-z0-9-]`, like SuperTokens.
pub(crate) fn check_scope_id(what: &str, id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!("{what} must be 1-64 characters of a-z, 0-9 and '-'")))
    }
}

pub(crate) fn check_user_id(what: &str, id: &str) -> Result<(), Error> {
    if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!(
            "{what} must be 1-{MAX_ID_LEN} bytes without control characters"
        )));
    }
    Ok(())
}

/// Largest public data accepted, in bytes of JSON text. With the longest ids, an anti-CSRF
/// token and an RSA-2048 signature, the access token that carries it stays under
/// [`MAX_TOKEN_LEN`](crate::jose::MAX_TOKEN_LEN), so every token sessiond issues also verifies.
pub const MAX_PUBLIC_DATA_LEN: usize = 10 * 1024;

/// Checks public data (no protected claim name, small enough to fit in an access token) and
/// returns it as JSON text.
pub(crate) fn public_text(data: &JsonObject) -> Result<String, Error> {
    if let Some(k) = data.keys().find(|k| is_protected(k)) {
        return Err(Error::InvalidInput(format!(
            "public data may not contain the protected claim '{k}'"
        )));
    }
    let text = to_text(data);
    if text.len() > MAX_PUBLIC_DATA_LEN {
        return Err(Error::InvalidInput(format!(
            "public data is {} bytes of JSON; at most {MAX_PUBLIC_DATA_LEN} fit in an access token",
            text.len()
        )));
    }
    Ok(text)
}

pub(crate) fn to_text(data: &JsonObject) -> String {
    // Serialising a map of JSON values cannot fail.
    serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned())
}

/// What is needed to issue an access token for one refresh generation.
pub(crate) struct Grant<'a> {
    pub(crate) rec: &'a SessionRecord,
    pub(crate) public_data: &'a JsonObject,
    /// Hex SHA-256 of the refresh token the access token goes with.
    pub(crate) refresh_hash1: &'a str,
    /// The access secret of this generation (needed for opaque tokens only).
    pub(crate) access_secret: Option<&'a Secret>,
    pub(crate) anti_csrf: Option<&'a str>,
    /// Sign with the static key instead of the rotating one.
    pub(crate) static_key: bool,
    pub(crate) now: Millis,
    /// Expiry of the access token; `None` for the policy's (now + TTL, capped by the session).
    pub(crate) expires_at: Option<Millis>,
}

impl SessionManager {
    /// Creates a session and issues its access, refresh and (optionally) anti-CSRF tokens.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for bad ids or protected claims in the public data; store and
    /// key errors. Nothing is stored unless the whole operation succeeds.
    ///
    /// # Security
    /// The refresh secret is 256 bits from the OS CSPRNG; only its SHA-256 reaches the store.
    pub async fn create(&self, new: NewSession) -> Result<IssuedSession, Error> {
        check_user_id("userId", &new.user_id)?;
        let recipe_user_id = new.recipe_user_id.clone().unwrap_or_else(|| new.user_id.clone());
        check_user_id("recipeUserId", &recipe_user_id)?;
        check_scope_id("appId", &new.app_id)?;
        check_scope_id("tenantId", &new.tenant_id)?;
        let public_text = public_text(&new.public_data)?;

        let now = self.now_ms();
        let p = self.inner.policy;
        // Time-ordered (v7): handles are not secrets (every access token carries one), and
        // ordered keys turn index inserts into appends, which multiplies durable write throughput.
        // One OS-randomness read for both the refresh secret and the handle's random bits.
        let random: [u8; 42] = random_bytes()?;
        let mut secret: Secret = [0u8; 32];
        secret.copy_from_slice(&random[..32]);
        let mut handle_random = [0u8; 10];
        handle_random.copy_from_slice(&random[32..]);
        let handle = crate::model::new_handle_with(
            &new.app_id,
            &new.user_id,
            &new.tenant_id,
            u64::try_from(now).unwrap_or(0),
            &handle_random,
        );
        let chain_key = self.inner.keys.signer(&new.app_id, KeyKind::Chain).await?;
        let chain = Chain::new(&chain_key);
        let opaque = p.format == TokenFormat::Opaque;
        if opaque {
            // The static key's creation time is the reset epoch opaque tokens are checked
            // against; it must exist before the first opaque session (`start` creates it too).
            self.inner.keys.signer(&new.app_id, KeyKind::Static).await?;
        }
        // The access secret is only used by opaque tokens and to derive the anti-CSRF token.
        let access_secret = if opaque || new.anti_csrf {
            Some(chain.access_secret(&handle, 0, &secret)?)
        } else {
            None
        };
        let anti_csrf = match (&access_secret, new.anti_csrf) {
            (Some(a), true) => Some(chain.anti_csrf(a)?),
            _ => None,
        };
        let absolute = now.saturating_add(p.absolute);
        let rec = SessionRecord {
            handle: handle.clone(),
            app_id: new.app_id,
            tenant_id: new.tenant_id,
            user_id: new.user_id,
            recipe_user_id,
            public_data: public_text,
            private_data: to_text(&new.private_data),
            created_at: now,
            last_active_at: now,
            rotated_at: now,
            expires_at: self.session_deadline(now, now, absolute),
            absolute_expires_at: absolute,
            generation: 0,
            refresh_hash: sha256(&secret),
            access_hash: access_secret.as_ref().filter(|_| opaque).map(|a| sha256(a)),
            flags: SessionFlags { anti_csrf: new.anti_csrf, static_key: new.static_key, opaque },
            version: 0,
            client: new.client,
            recent_rotations: Vec::new(),
        };
        let refresh_token = RefreshToken {
            tag: Some(chain.tag(&handle, 0, &secret)?),
            handle,
            generation: 0,
            secret,
        }
        .encode();
        let tokens = self
            .issue(
                Grant {
                    rec: &rec,
                    public_data: &new.public_data,
                    refresh_hash1: &refresh_hash1(&refresh_token),
                    access_secret: access_secret.as_ref(),
                    anti_csrf: anti_csrf.as_deref(),
                    static_key: rec.flags.static_key,
                    now,
                    expires_at: None,
                },
                refresh_token,
            )
            .await?;
        self.inner.store.create_session(&rec).await?;
        Ok(IssuedSession {
            session: SessionSummary {
                handle: rec.handle,
                user_id: rec.user_id,
                recipe_user_id: rec.recipe_user_id,
                tenant_id: rec.tenant_id,
                public_data: new.public_data,
            },
            tokens,
        })
    }

    /// Issues the access token of a grant, with the refresh token and anti-CSRF token beside it.
    pub(crate) async fn issue(
        &self, g: Grant<'_>, refresh_token: SecretString,
    ) -> Result<IssuedTokens, Error> {
        let p = self.inner.policy;
        let access = self.access_token(&g).await?;
        Ok(IssuedTokens {
            access,
            refresh: IssuedToken {
                token: refresh_token,
                created_at: g.now,
                expires_at: g.now.saturating_add(p.refresh_ttl).min(g.rec.expires_at.max(g.now)),
            },
            anti_csrf: g.anti_csrf.map(SecretString::new),
        })
    }

    pub(crate) async fn access_token(&self, g: &Grant<'_>) -> Result<IssuedToken, Error> {
        let p = self.inner.policy;
        let exp_ms = g
            .expires_at
            .unwrap_or_else(|| g.now.saturating_add(p.access_ttl).min(g.rec.expires_at));
        if g.rec.flags.opaque {
            let secret =
                g.access_secret.ok_or(Error::Crypto("opaque access token without its secret"))?;
            return Ok(IssuedToken {
                token: OpaqueToken::new(&g.rec.handle, secret).encode(),
                created_at: g.now,
                expires_at: exp_ms,
            });
        }
        let kind = if g.static_key { KeyKind::Static } else { KeyKind::Dynamic };
        let key = self.inner.keys.signer(&g.rec.app_id, kind).await?;
        let exp = exp_ms.div_euclid(1000);
        let iat = g.now.div_euclid(1000);
        let claims = IssueClaims {
            sub: &g.rec.user_id,
            rsub: &g.rec.recipe_user_id,
            session_handle: &g.rec.handle,
            tenant_id: &g.rec.tenant_id,
            iat,
            exp,
            refresh_token_hash1: g.refresh_hash1,
            anti_csrf_token: g.anti_csrf,
            public_data: g.public_data,
        };
        let payload = serde_json::to_vec(&claims)
            .map_err(|_| Error::Crypto("cannot serialise access-token claims"))?;
        // Whole seconds, as in the token (`iat * 1000`, `exp * 1000`), like the Java core.
        Ok(IssuedToken {
            token: SecretString::new(sign_compact(&key, HeaderKind::AccessToken, &payload)?),
            created_at: iat * 1000,
            expires_at: exp * 1000,
        })
    }
}

/// Hex SHA-256 of a refresh token: the `refreshTokenHash1` claim.
pub(crate) fn refresh_hash1(token: &SecretString) -> String {
    hex::encode(sha256(token.expose().as_bytes()))
}
