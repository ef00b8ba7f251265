//! Refresh-token rotation with theft detection and an idempotent grace window.
//!
//! A presented refresh token of generation `g` against a session at generation `n`:
//! - `g == n` and the hash matches: rotate (compare-and-swap `n → n+1`). Losing the swap to a
//!   concurrent refresh of the same token means re-reading and landing in the next case;
//! - `g == n-1`, a genuine parent (its derived successor hashes to the stored hash) and the
//!   rotation happened within the grace window: return the same successor again, write nothing;
//! - `g < n` and genuine, outside the window or older than the parent: theft — the session is
//!   revoked and [`Error::TokenTheftDetected`] returned;
//! - anything else (forged secret, future generation): [`Error::Unauthorised`], and the session
//!   is left alone, so nobody can revoke a session just by knowing its handle.
//!
//! Theft is decided before the anti-CSRF check: a genuine superseded refresh token proves a copy
//! of the session's secrets is loose, whatever else the request carries, so the session ends.
//! A forged token (or one of another app) never gets that far.

use super::SessionManager;
use super::issue::{Grant, refresh_hash1};
use super::types::{IssuedSession, RefreshOptions, parse_object};
use crate::clock::Millis;
use crate::error::Error;
use crate::model::{KeyKind, SessionRecord};
use crate::secret::{ct_eq, sha256};
use crate::store::Rotation;
use crate::tokens::chain::{Chain, Secret};
use crate::tokens::refresh::RefreshToken;

/// How many compare-and-swap rounds a refresh tries before giving up with `Conflict`.
const MAX_ROUNDS: usize = 8;
/// Longest chain walked to tell a replayed ancestor from a forgery. A forged token naming a
/// real handle at generation 0 costs this many HMACs (about 30 ms here), so the bound caps what
/// one request can make the server compute. A genuine token more than this many refreshes old
/// is refused as `UNAUTHORISED` rather than reported as theft (a year of refreshing every ten
/// minutes is about 52,000 generations).
const MAX_CHAIN_WALK: u64 = 65_536;

enum Plan {
    /// The token is current: rotate to `next`.
    Rotate { next: Secret },
    /// The token is the parent of the current one, within the grace window: reissue `current`.
    Reissue { current: Secret },
}

impl SessionManager {
    /// Rotates a refresh token: returns a new access token and the successor refresh token.
    ///
    /// # Errors
    /// - [`Error::Unauthorised`]: malformed or forged token, session gone or expired, anti-CSRF
    ///   mismatch;
    /// - [`Error::TokenTheftDetected`]: a superseded token was replayed; the session is revoked;
    /// - [`Error::Store`]: the store failed; nothing was rotated.
    ///
    /// # Security
    /// Atomic under any interleaving: all refreshes of one token agree on one successor, so a
    /// session never has two usable sibling refresh tokens.
    pub async fn refresh(
        &self,
        token: &str,
        opts: RefreshOptions<'_>,
    ) -> Result<IssuedSession, Error> {
        let presented =
            RefreshToken::decode(token).ok_or(Error::Unauthorised("malformed refresh token"))?;
        let chain_key = self.inner.keys.signer(KeyKind::Chain).await?;
        let chain = Chain::new(&chain_key);
        let handle = presented.handle.as_str();
        for _ in 0..MAX_ROUNDS {
            let now = self.now_ms();
            let rec = self
                .inner
                .store
                .load_session(handle, now)
                .await?
                // Another app's session is as good as missing, and is left alone.
                .filter(|r| opts.app_id.is_none_or(|a| a == r.app_id))
                .ok_or(Error::Unauthorised("Session missing in db or has expired"))?;
            let plan = self.plan(&rec, &presented, &chain, now).await?;
            if rec.flags.anti_csrf && opts.check_anti_csrf {
                let access =
                    chain.access_secret(handle, presented.generation, &presented.secret)?;
                let expected = chain.anti_csrf(&access)?;
                let ok = opts
                    .anti_csrf_token
                    .is_some_and(|t| ct_eq(t.as_bytes(), expected.as_bytes()));
                if !ok {
                    return Err(Error::Unauthorised(
                        "Anti CSRF token missing, or not matching",
                    ));
                }
            }
            let (secret, generation, rec) = match plan {
                Plan::Reissue { current } => (current, rec.generation, rec),
                Plan::Rotate { next } => {
                    let next_gen = rec.generation + 1;
                    let access = chain.access_secret(handle, next_gen, &next)?;
                    let expires_at = self.session_deadline(now, now, rec.absolute_expires_at);
                    let swapped = self
                        .inner
                        .store
                        .rotate_refresh(&Rotation {
                            handle,
                            from_generation: rec.generation,
                            from_refresh_hash: rec.refresh_hash,
                            to_refresh_hash: sha256(&next),
                            to_access_hash: rec.flags.opaque.then(|| sha256(&access)),
                            now,
                            expires_at,
                        })
                        .await?;
                    if !swapped {
                        // A concurrent refresh (or revoke) won; re-read and decide again.
                        continue;
                    }
                    let mut rotated = rec;
                    rotated.generation = next_gen;
                    rotated.rotated_at = now;
                    rotated.expires_at = expires_at.min(rotated.absolute_expires_at);
                    (next, next_gen, rotated)
                }
            };
            let static_key = opts.static_key.unwrap_or(rec.flags.static_key);
            return self
                .issue_generation(&rec, &chain, secret, generation, static_key, now)
                .await;
        }
        Err(Error::Conflict)
    }

    async fn plan(
        &self,
        rec: &SessionRecord,
        presented: &RefreshToken,
        chain: &Chain<'_>,
        now: Millis,
    ) -> Result<Plan, Error> {
        let forged = Error::Unauthorised("refresh token is not valid");
        let handle = rec.handle.as_str();
        if presented.generation == rec.generation {
            if !ct_eq(&sha256(&presented.secret), &rec.refresh_hash) {
                return Err(forged);
            }
            let next = chain.successor(handle, rec.generation, &presented.secret)?;
            return Ok(Plan::Rotate { next });
        }
        let steps = rec
            .generation
            .checked_sub(presented.generation)
            .ok_or(forged)?;
        if steps > MAX_CHAIN_WALK {
            return Err(Error::Unauthorised("refresh token is not valid"));
        }
        let mut secret = presented.secret;
        for g in presented.generation..rec.generation {
            secret = chain.successor(handle, g, &secret)?;
        }
        if !ct_eq(&sha256(&secret), &rec.refresh_hash) {
            return Err(Error::Unauthorised("refresh token is not valid"));
        }
        if steps == 1 && now.saturating_sub(rec.rotated_at) <= self.inner.policy.grace {
            return Ok(Plan::Reissue { current: secret });
        }
        // A genuine, superseded refresh token: somebody holds a copy of an old token.
        let gone = self
            .inner
            .store
            .delete_sessions(std::slice::from_ref(&rec.handle))
            .await?;
        self.announce_revoked(&gone).await;
        tracing::warn!(
            session = %rec.handle,
            presented_generation = presented.generation,
            current_generation = rec.generation,
            "refresh token reuse detected; session revoked"
        );
        Err(Error::TokenTheftDetected {
            handle: rec.handle.clone(),
            user_id: rec.user_id.clone(),
            recipe_user_id: rec.recipe_user_id.clone(),
        })
    }

    async fn issue_generation(
        &self,
        rec: &SessionRecord,
        chain: &Chain<'_>,
        secret: Secret,
        generation: u64,
        static_key: bool,
        now: Millis,
    ) -> Result<IssuedSession, Error> {
        let access = chain.access_secret(&rec.handle, generation, &secret)?;
        let anti_csrf = if rec.flags.anti_csrf {
            Some(chain.anti_csrf(&access)?)
        } else {
            None
        };
        let refresh_token = RefreshToken {
            handle: rec.handle.clone(),
            generation,
            secret,
        }
        .encode();
        let public_data = parse_object(&rec.public_data);
        let tokens = self
            .issue(
                Grant {
                    rec,
                    public_data: &public_data,
                    refresh_hash1: &refresh_hash1(&refresh_token),
                    access_secret: Some(&access),
                    anti_csrf: anti_csrf.as_deref(),
                    static_key,
                    now,
                    expires_at: None,
                },
                refresh_token,
            )
            .await?;
        let mut session = rec.summary();
        session.public_data = public_data;
        Ok(IssuedSession { session, tokens })
    }
}
