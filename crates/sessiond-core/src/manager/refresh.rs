//! Refresh-token rotation with theft detection and an idempotent grace window.
//!
//! A presented refresh token of generation `g` against a session at generation `n`:
//! - its tag must verify under one of the app's chain keys (the current one, or one a reset
//!   retired): otherwise it is forged — [`Error::Unauthorised`], the session left alone. One MAC
//!   per chain key, whatever `g` and `n`;
//! - `g == n` and the hash matches: rotate (compare-and-swap `n → n+1`). Losing the swap to a
//!   concurrent refresh of the same token means re-reading and landing in the next case;
//! - `g < n` and the token was superseded (generation `g+1` created) within the grace window:
//!   return the current token again, write nothing — concurrent or retried refreshes of the
//!   parent, the grandparent and so on (stale tabs) are not theft;
//! - `g < n` otherwise: theft — the session is revoked and [`Error::TokenTheftDetected`]
//!   returned;
//! - `g > n`: [`Error::Unauthorised`].
//!
//! Version 1 tokens (issued before tags) are still accepted for the current generation and,
//! within the grace window, its parent (one MAC); an older version 1 token is refused without
//! being told apart from a forgery, so no token costs more than a few MACs.
//!
//! Theft is decided before the anti-CSRF check: a genuine superseded refresh token proves a copy
//! of the session's secrets is loose, whatever else the request carries, so the session ends.
//! A forged token (or one of another app) never gets that far.

use std::sync::Arc;

use super::SessionManager;
use super::issue::{Grant, refresh_hash1};
use super::types::{IssuedSession, RefreshOptions, parse_object};
use crate::clock::Millis;
use crate::error::Error;
use crate::jose::SigningKey;
use crate::model::{MAX_RECENT_ROTATIONS, SessionRecord};
use crate::secret::{ct_eq, sha256};
use crate::store::Rotation;
use crate::tokens::chain::{Chain, Secret};
use crate::tokens::refresh::RefreshToken;

/// How many compare-and-swap rounds a refresh tries before giving up with `Conflict`.
const MAX_ROUNDS: usize = 8;

enum Plan {
    /// The token is current: rotate to `next`.
    Rotate { next: Secret },
    /// The token was superseded within the grace window: reissue `current`.
    Reissue { current: Secret },
}

/// When generation `generation` was created, if the session still remembers.
fn created_at(rec: &SessionRecord, generation: u64) -> Option<Millis> {
    let back = rec.generation.checked_sub(generation)?;
    let times = &rec.recent_rotations;
    if times.is_empty() {
        // A session rotated before rotation times were kept: only the current one is known.
        return (back == 0).then_some(rec.rotated_at);
    }
    let back = usize::try_from(back).ok()?;
    times.len().checked_sub(back + 1).map(|i| times[i])
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
        &self, token: &str, opts: RefreshOptions<'_>,
    ) -> Result<IssuedSession, Error> {
        let presented =
            RefreshToken::decode(token).ok_or(Error::Unauthorised("malformed refresh token"))?;
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
            let chains = self.inner.keys.chain_keys(&rec.app_id).await?;
            let current_key = chains.first().cloned().ok_or(Error::Crypto("no chain key"))?;
            let (plan, vouching) = self.plan(&rec, &presented, &chains, now).await?;
            if rec.flags.anti_csrf && opts.check_anti_csrf {
                let chain = Chain::new(&vouching);
                let access =
                    chain.access_secret(handle, presented.generation, &presented.secret)?;
                let expected = chain.anti_csrf(&access)?;
                let ok =
                    opts.anti_csrf_token.is_some_and(|t| ct_eq(t.as_bytes(), expected.as_bytes()));
                if !ok {
                    return Err(Error::Unauthorised("Anti CSRF token missing, or not matching"));
                }
            }
            let chain = Chain::new(&current_key);
            let (secret, generation, rec) = match plan {
                Plan::Reissue { current } => (current, rec.generation, rec),
                Plan::Rotate { next } => {
                    let next_gen = rec.generation + 1;
                    let access = chain.access_secret(handle, next_gen, &next)?;
                    let expires_at = self.session_deadline(now, now, rec.absolute_expires_at);
                    let mut recent = rec.recent_rotations.clone();
                    recent.push(now);
                    let drop = recent.len().saturating_sub(MAX_RECENT_ROTATIONS);
                    recent.drain(..drop);
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
                            recent_rotations: &recent,
                        })
                        .await?;
                    if !swapped {
                        // A concurrent refresh (or revoke) won; re-read and decide again.
                        continue;
                    }
                    let mut rotated = rec;
                    rotated.generation = next_gen;
                    rotated.rotated_at = now;
                    rotated.recent_rotations = recent;
                    rotated.expires_at = expires_at.min(rotated.absolute_expires_at);
                    (next, next_gen, rotated)
                }
            };
            let static_key = opts.static_key.unwrap_or(rec.flags.static_key);
            return self.issue_generation(&rec, &chain, secret, generation, static_key, now).await;
        }
        Err(Error::Conflict)
    }

    /// Decides what the presented token is; returns the plan and the chain key that vouches
    /// for the token (it derived the token's anti-CSRF token).
    async fn plan(
        &self, rec: &SessionRecord, presented: &RefreshToken, chains: &[Arc<SigningKey>],
        now: Millis,
    ) -> Result<(Plan, Arc<SigningKey>), Error> {
        let forged = || Error::Unauthorised("refresh token is not valid");
        let handle = rec.handle.as_str();
        let (g, n) = (presented.generation, rec.generation);
        // Which chain key issued it: one MAC per key for tagged tokens.
        let vouching = match &presented.tag {
            Some(tag) => {
                let mut found = None;
                for k in chains {
                    if ct_eq(&Chain::new(k).tag(handle, g, &presented.secret)?, tag) {
                        found = Some(Arc::clone(k));
                        break;
                    }
                }
                found.ok_or_else(forged)?
            }
            // Version 1: the current generation or its parent only (checked below by hash).
            None if g == n || g + 1 == n => chains.first().cloned().ok_or_else(forged)?,
            None => return Err(forged()),
        };
        let current_key = chains.first().ok_or_else(forged)?;
        if g == n {
            if !ct_eq(&sha256(&presented.secret), &rec.refresh_hash) {
                return Err(forged());
            }
            let next = Chain::new(current_key).successor(handle, n, &presented.secret)?;
            return Ok((Plan::Rotate { next }, vouching));
        }
        if g > n {
            return Err(forged());
        }
        // Superseded: when was generation g+1 created?
        let superseded_at = created_at(rec, g + 1);
        let in_grace =
            superseded_at.is_some_and(|t| now.saturating_sub(t) <= self.inner.policy.grace);
        // The current secret, walked forward from the presented one (at most
        // MAX_RECENT_ROTATIONS steps), under the key that derived each step.
        let walk = |key: &SigningKey| -> Result<Option<Secret>, Error> {
            let chain = Chain::new(key);
            let mut s = presented.secret;
            for gen_ in g..n {
                s = chain.successor(handle, gen_, &s)?;
            }
            Ok(ct_eq(&sha256(&s), &rec.refresh_hash).then_some(s))
        };
        if in_grace {
            for k in chains {
                if let Some(current) = walk(k)? {
                    return Ok((Plan::Reissue { current }, vouching));
                }
            }
            return Err(forged());
        }
        if presented.tag.is_none() {
            // An untagged (version 1) parent outside the window: genuine only if one step
            // reaches the current hash.
            if walk(current_key)?.is_none() {
                return Err(forged());
            }
        }
        // A genuine, superseded refresh token: somebody holds a copy of an old token.
        let gone = self.inner.store.delete_sessions(std::slice::from_ref(&rec.handle)).await?;
        self.announce_revoked(&gone).await;
        tracing::warn!(
            session = %rec.handle,
            presented_generation = g,
            current_generation = n,
            "refresh token reuse detected; session revoked"
        );
        Err(Error::TokenTheftDetected {
            handle: rec.handle.clone(),
            user_id: rec.user_id.clone(),
            recipe_user_id: rec.recipe_user_id.clone(),
        })
    }

    async fn issue_generation(
        &self, rec: &SessionRecord, chain: &Chain<'_>, secret: Secret, generation: u64,
        static_key: bool, now: Millis,
    ) -> Result<IssuedSession, Error> {
        let access = chain.access_secret(&rec.handle, generation, &secret)?;
        let anti_csrf = if rec.flags.anti_csrf { Some(chain.anti_csrf(&access)?) } else { None };
        let refresh_token = RefreshToken {
            handle: rec.handle.clone(),
            generation,
            tag: Some(chain.tag(&rec.handle, generation, &secret)?),
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
