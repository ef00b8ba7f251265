//! Local verification of access tokens against a remote sessiond's JWKS, as the SuperTokens
//! SDKs do it: the key set is cached, refetched (at most once a second) when a token names a
//! key it does not hold, and refreshed in the background every `refresh_every`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use sessiond_client::Client;
use sessiond_core::jose::{
    Algorithm, Jwks, JwsError, Segments, UnverifiedJws, VerifyingKey, access_header_b64,
};
use sessiond_core::tokens::access::VerifiedClaims;
use sessiond_core::{Clock, SystemClock};

use super::backend::BackendError;

/// At most one refetch for an unknown key per this many ms.
const MISS_REFETCH_MS: i64 = 1000;

#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<VerifyingKey>>,
    by_header: HashMap<String, Arc<VerifyingKey>>,
}

/// The remote service's public keys.
pub(crate) struct JwksCache {
    client: Client,
    keys: ArcSwap<KeySet>,
    fetched_at: AtomicI64,
    last_miss_fetch: AtomicI64,
    refreshing: AtomicBool,
    refresh_every_ms: i64,
    fetch_lock: tokio::sync::Mutex<()>,
}

/// A token whose signature verified, with the key that verified it.
pub(crate) struct Checked {
    pub(crate) claims: VerifiedClaims,
    pub(crate) kid: String,
}

impl JwksCache {
    pub(crate) fn new(client: Client, refresh_every: Duration) -> Self {
        Self {
            client,
            keys: ArcSwap::from_pointee(KeySet::default()),
            fetched_at: AtomicI64::new(i64::MIN),
            last_miss_fetch: AtomicI64::new(i64::MIN),
            refreshing: AtomicBool::new(false),
            refresh_every_ms: i64::try_from(refresh_every.as_millis()).unwrap_or(60_000),
            fetch_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether the key `kid` is in the cached set now.
    pub(crate) fn knows(&self, kid: &str) -> bool {
        self.keys.load().by_kid.contains_key(kid)
    }

    /// Fetches the key set now.
    pub(crate) async fn fetch(&self) -> Result<(), BackendError> {
        let _g = self.fetch_lock.lock().await;
        let value = self
            .client
            .jwks()
            .await
            .map_err(|e| BackendError::Unavailable(format!("fetching the JWKS: {e}")))?;
        let jwks: Jwks = serde_json::from_value(value)
            .map_err(|e| BackendError::Unavailable(format!("the JWKS does not parse: {e}")))?;
        let mut set = KeySet::default();
        for jwk in &jwks.keys {
            let Some(alg) = Algorithm::parse(&jwk.alg) else {
                continue;
            };
            let Ok(key) = VerifyingKey::from_jwk(alg, jwk) else {
                continue;
            };
            let key = Arc::new(key);
            set.by_header.insert(access_header_b64(alg, &jwk.kid), Arc::clone(&key));
            set.by_kid.insert(jwk.kid.clone(), key);
        }
        self.keys.store(Arc::new(set));
        self.fetched_at.store(SystemClock.now_ms(), Ordering::Relaxed);
        Ok(())
    }

    /// Starts a background refetch when the set is older than `refresh_every`.
    fn refresh_if_stale(self: &Arc<Self>) {
        let age = SystemClock.now_ms().saturating_sub(self.fetched_at.load(Ordering::Relaxed));
        if age < self.refresh_every_ms || self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = me.fetch().await {
                tracing::warn!(error = %e, "refreshing the JWKS failed; keeping the cached keys");
            }
            me.refreshing.store(false, Ordering::Release);
        });
    }

    fn may_refetch_on_miss(&self) -> bool {
        let now = SystemClock.now_ms();
        let last = self.last_miss_fetch.load(Ordering::Relaxed);
        now.saturating_sub(last) >= MISS_REFETCH_MS
            && self
                .last_miss_fetch
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Verifies a token's signature and structure (not its expiry).
    pub(crate) async fn verify(self: &Arc<Self>, token: &str) -> Result<Checked, BackendError> {
        self.refresh_if_stale();
        let malformed = BackendError::Unauthorised { clear: false };
        let bad = |e: JwsError| match e {
            JwsError::Malformed => BackendError::Unauthorised { clear: false },
            _ => BackendError::TryRefresh,
        };
        let segments = Segments::split(token).map_err(|_| malformed.clone())?;
        let hit = self.keys.load().by_header.get(segments.header_b64).cloned();
        let (payload, kid) = if let Some(key) = hit {
            (segments.verify_known_header(&key).map_err(bad)?, key.kid().to_owned())
        } else {
            let jws = UnverifiedJws::parse(token).map_err(|_| malformed.clone())?;
            let kid = jws.kid().to_owned();
            let mut key = self.keys.load().by_kid.get(&kid).cloned();
            if key.is_none() && self.may_refetch_on_miss() {
                self.fetch().await?;
                key = self.keys.load().by_kid.get(&kid).cloned();
            }
            let key = key.ok_or(BackendError::TryRefresh)?;
            (jws.verify(&key).map_err(bad)?, kid)
        };
        let claims = VerifiedClaims::parse(&payload).ok_or(malformed)?;
        Ok(Checked { claims, kid })
    }
}
