//! Signing keys: created on first need in isolation, rotated on a schedule with an overlap,
//! published as a JWKS, and reset on demand (seed 000 "in isolation", seed 001 `resetKey`).
//!
//! The keys live in the [`Store`](crate::store::Store), so every process sharing a store shares
//! them. Each process keeps a [`KeySet`] in memory, swapped atomically on reload, so the verify
//! hot path never touches the store. A process picks up keys created or reset elsewhere at its
//! next sync (the manager's background task, every `key_sync_interval`) or, for a token signed
//! by a key it has not seen, at once (rate-limited to one reload per second).

mod seal;

pub use seal::MasterKey;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::clock::{Clock, Millis};
use crate::error::Error;
use crate::jose::{
    Algorithm, Jwk, Jwks, SigningKey, VerifyingKey, access_header_b64, generate_key,
};
use crate::model::{KeyKind, KeyRecord};
use crate::store::Store;

/// How often, at most, an unknown `kid` triggers a reload from the store.
const MISS_RELOAD_EVERY_MS: Millis = 1_000;

/// Key policy.
#[derive(Debug)]
pub struct KeyConfig {
    /// Algorithm of access-token and id-token keys (dynamic and static).
    pub algorithm: Algorithm,
    /// A dynamic key signs for this long before a new one replaces it.
    pub rotation_interval_ms: Millis,
    /// A replaced dynamic key keeps verifying for this long (at least the access-token lifetime,
    /// so tokens it signed stay valid until they expire).
    pub retention_ms: Millis,
    /// Seals private key material at rest when set.
    pub master_key: Option<MasterKey>,
}

/// What the API shows of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    /// Key id.
    pub kid: String,
    /// `dynamic`, `static`, `service` or `chain`.
    pub kind: &'static str,
    /// Algorithm.
    pub alg: &'static str,
    /// Creation time (ms since the epoch).
    pub created_at: Millis,
    /// Whether this key signs new tokens of its kind.
    pub current: bool,
    /// Whether the private material is sealed with the master key.
    pub sealed: bool,
}

/// The keys a process holds in memory.
#[derive(Debug, Default)]
pub struct KeySet {
    /// Access-token and id-token verifiers (dynamic and static keys), by `kid`.
    verifiers: HashMap<String, Arc<VerifyingKey>>,
    /// The same verifiers by the exact access-token header sessiond issues with them: the hot
    /// path finds the key without decoding the header.
    by_access_header: HashMap<String, Arc<VerifyingKey>>,
    /// Service-token verifiers, by `kid`.
    service_verifiers: HashMap<String, Arc<VerifyingKey>>,
    /// The newest key of each kind, ready to sign.
    current: HashMap<KeyKind, Arc<SigningKey>>,
    jwks: Arc<Jwks>,
    infos: Vec<KeyInfo>,
    /// Creation time of the current static key: the time of the last reset (see
    /// [`KeyManager::reset_epoch`]).
    reset_epoch: Millis,
}

/// Loads, creates, rotates and resets keys; see the module documentation.
pub struct KeyManager {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    cfg: KeyConfig,
    set: ArcSwap<KeySet>,
    /// Serialises slow paths in this process so racing tasks generate one key, not many.
    slow: tokio::sync::Mutex<()>,
    last_miss_reload: AtomicI64,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

fn new_kid(kind: KeyKind) -> String {
    format!("{}{}", kind.kid_prefix(), uuid::Uuid::new_v4().simple())
}

fn newest_first(records: &mut [KeyRecord]) {
    records.sort_by(|a, b| (b.created_at, &b.kid).cmp(&(a.created_at, &a.kid)));
}

impl KeyManager {
    /// A key manager over `store`; holds no key until [`KeyManager::reload`] or first use.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, cfg: KeyConfig) -> Self {
        Self {
            store,
            clock,
            cfg,
            set: ArcSwap::from_pointee(KeySet::default()),
            slow: tokio::sync::Mutex::new(()),
            last_miss_reload: AtomicI64::new(i64::MIN),
        }
    }

    /// The algorithm of access-token keys.
    pub fn algorithm(&self) -> Algorithm {
        self.cfg.algorithm
    }

    fn algorithm_of(&self, kind: KeyKind) -> Algorithm {
        match kind {
            KeyKind::Dynamic | KeyKind::Static => self.cfg.algorithm,
            KeyKind::Service | KeyKind::Chain => Algorithm::HS256,
        }
    }

    fn plain_material(&self, rec: &KeyRecord) -> Result<Vec<u8>, Error> {
        if !rec.sealed {
            return Ok(rec.material.clone());
        }
        self.cfg
            .master_key
            .as_ref()
            .ok_or(Error::Config(format!(
                "key {} is sealed but no master key is configured",
                rec.kid
            )))?
            .open(&rec.kid, &rec.material)
    }

    fn verifier_for(&self, rec: &KeyRecord) -> Result<VerifyingKey, Error> {
        if rec.alg.is_symmetric() {
            return VerifyingKey::hmac(&rec.kid, &self.plain_material(rec)?);
        }
        let jwk: Jwk = rec
            .public_jwk
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .ok_or(Error::Crypto("stored key has no public JWK"))?;
        if jwk.kid != rec.kid {
            return Err(Error::Crypto("stored JWK kid does not match its key"));
        }
        VerifyingKey::from_jwk(rec.alg, &jwk)
    }

    fn build(&self, mut records: Vec<KeyRecord>) -> Result<KeySet, Error> {
        newest_first(&mut records);
        let old = self.set.load();
        let mut set = KeySet::default();
        let mut jwks = Jwks::default();
        for rec in &records {
            let is_current = !set.current.contains_key(&rec.kind);
            if is_current {
                if rec.kind == KeyKind::Static {
                    set.reset_epoch = rec.created_at;
                }
                let signer = match old.current.get(&rec.kind) {
                    Some(s) if s.kid() == rec.kid => Arc::clone(s),
                    _ => Arc::new(SigningKey::from_material(
                        &rec.kid,
                        rec.alg,
                        &self.plain_material(rec)?,
                    )?),
                };
                set.current.insert(rec.kind, signer);
            }
            match rec.kind {
                KeyKind::Dynamic | KeyKind::Static => {
                    let v = match old.verifiers.get(&rec.kid) {
                        Some(v) => Arc::clone(v),
                        None => Arc::new(self.verifier_for(rec)?),
                    };
                    set.by_access_header
                        .insert(access_header_b64(rec.alg, &rec.kid), Arc::clone(&v));
                    set.verifiers.insert(rec.kid.clone(), v);
                    if let Some(j) = rec
                        .public_jwk
                        .as_deref()
                        .and_then(|j| serde_json::from_str(j).ok())
                    {
                        jwks.keys.push(j);
                    }
                }
                KeyKind::Service => {
                    let v = match old.service_verifiers.get(&rec.kid) {
                        Some(v) => Arc::clone(v),
                        None => Arc::new(self.verifier_for(rec)?),
                    };
                    set.service_verifiers.insert(rec.kid.clone(), v);
                }
                KeyKind::Chain => {}
            }
            set.infos.push(KeyInfo {
                kid: rec.kid.clone(),
                kind: rec.kind.as_str(),
                alg: rec.alg.as_str(),
                created_at: rec.created_at,
                current: is_current,
                sealed: rec.sealed,
            });
        }
        set.jwks = Arc::new(jwks);
        Ok(set)
    }

    /// Replaces the in-memory key set with what the store holds now.
    ///
    /// # Errors
    /// Store errors; [`Error::Crypto`]/[`Error::Config`] when a stored key cannot be used.
    pub async fn reload(&self) -> Result<(), Error> {
        let records = self.store.load_keys().await?;
        let set = self.build(records)?;
        self.set.store(Arc::new(set));
        Ok(())
    }

    /// Generates a key record of `kind`, off the async executor (RSA generation is slow).
    /// `after` is the creation time of the key it replaces: the new key must sort after it even
    /// within the same millisecond or on a process whose clock runs behind.
    async fn generate(&self, kind: KeyKind, after: Option<Millis>) -> Result<KeyRecord, Error> {
        let alg = self.algorithm_of(kind);
        let kid = new_kid(kind);
        let kid2 = kid.clone();
        let (material, jwk) = tokio::task::spawn_blocking(move || generate_key(alg, &kid2))
            .await
            .map_err(|_| Error::Crypto("key generation task failed"))??;
        let (material, sealed) = match &self.cfg.master_key {
            Some(mk) => (mk.seal(&kid, &material)?, true),
            None => (material, false),
        };
        Ok(KeyRecord {
            kid,
            kind,
            alg,
            material,
            sealed,
            public_jwk: jwk.map(|j| serde_json::to_string(&j).unwrap_or_default()),
            created_at: after.map_or(self.clock.now_ms(), |t| {
                self.clock.now_ms().max(t.saturating_add(1))
            }),
        })
    }

    /// The key that signs new tokens of `kind`, created in isolation if there is none.
    ///
    /// # Errors
    /// Store and crypto errors from creating the key.
    pub async fn signer(&self, kind: KeyKind) -> Result<Arc<SigningKey>, Error> {
        if let Some(k) = self.set.load().current.get(&kind) {
            return Ok(Arc::clone(k));
        }
        let _guard = self.slow.lock().await;
        if let Some(k) = self.set.load().current.get(&kind) {
            return Ok(Arc::clone(k));
        }
        self.reload().await?;
        if let Some(k) = self.set.load().current.get(&kind) {
            return Ok(Arc::clone(k));
        }
        let candidate = self.generate(kind, None).await?;
        self.store.insert_key_if_newest(None, &candidate).await?;
        self.reload().await?;
        self.set
            .load()
            .current
            .get(&kind)
            .cloned()
            .ok_or(Error::Crypto("no key after creating one"))
    }

    /// The verifier whose issued access-token header is exactly `header_b64`, if any. A hit
    /// fixes the key, its algorithm, `typ` and `version` at once (no decoding); a miss means the
    /// caller must decode the header the slow way.
    pub fn verifier_for_header(&self, header_b64: &str) -> Option<Arc<VerifyingKey>> {
        self.set.load().by_access_header.get(header_b64).cloned()
    }

    /// The access-token verifier with this `kid`, reloading from the store (at most once a
    /// second) when it is unknown, so keys created by other processes are found at once.
    ///
    /// # Errors
    /// Store errors from the reload.
    pub async fn verifier(&self, kid: &str) -> Result<Option<Arc<VerifyingKey>>, Error> {
        if let Some(v) = self.set.load().verifiers.get(kid) {
            return Ok(Some(Arc::clone(v)));
        }
        if !self.may_reload_on_miss() {
            return Ok(None);
        }
        self.reload().await?;
        Ok(self.set.load().verifiers.get(kid).cloned())
    }

    /// Whether an access-token key with this `kid` is in memory now (no reload). A verifier
    /// that cached a token checks this on every hit, so a retired or reset key ends the cached
    /// tokens it signed.
    pub fn knows(&self, kid: &str) -> bool {
        self.set.load().verifiers.contains_key(kid)
    }

    /// The service-token verifier with this `kid` (same reload rule as [`KeyManager::verifier`]).
    ///
    /// # Errors
    /// Store errors from the reload.
    pub async fn service_verifier(&self, kid: &str) -> Result<Option<Arc<VerifyingKey>>, Error> {
        if let Some(v) = self.set.load().service_verifiers.get(kid) {
            return Ok(Some(Arc::clone(v)));
        }
        if !self.may_reload_on_miss() {
            return Ok(None);
        }
        self.reload().await?;
        Ok(self.set.load().service_verifiers.get(kid).cloned())
    }

    fn may_reload_on_miss(&self) -> bool {
        let now = self.clock.now_ms();
        let last = self.last_miss_reload.load(Ordering::Relaxed);
        now.saturating_sub(last) >= MISS_RELOAD_EVERY_MS
            && self
                .last_miss_reload
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// The public keys of access tokens and id tokens (dynamic and static), newest first.
    pub fn jwks(&self) -> Arc<Jwks> {
        Arc::clone(&self.set.load().jwks)
    }

    /// When the keys were last reset, as far as this process knows (0: never).
    ///
    /// The static key is created at start, before any session, and replaced only by
    /// [`KeyManager::reset`], so its creation time is the instant of the last reset. Opaque
    /// access tokens, which no key signs, are refused when issued before it.
    pub fn reset_epoch(&self) -> Millis {
        self.set.load().reset_epoch
    }

    /// Every key this process knows, newest first.
    pub fn list(&self) -> Vec<KeyInfo> {
        self.set.load().infos.clone()
    }

    /// Replaces the dynamic key now (in isolation: of processes rotating concurrently from the
    /// same key, one key wins). Tokens signed by the old key keep verifying for the retention.
    ///
    /// # Errors
    /// Store and crypto errors.
    pub async fn rotate(&self) -> Result<KeyInfo, Error> {
        let _guard = self.slow.lock().await;
        self.reload().await?;
        let current = self
            .list()
            .into_iter()
            .find(|k| k.current && k.kind == KeyKind::Dynamic.as_str());
        self.rotate_from(current.as_ref()).await
    }

    async fn rotate_from(&self, current: Option<&KeyInfo>) -> Result<KeyInfo, Error> {
        let candidate = self
            .generate(KeyKind::Dynamic, current.map(|k| k.created_at))
            .await?;
        let expected = current.map(|k| k.kid.as_str());
        let winner = self
            .store
            .insert_key_if_newest(expected, &candidate)
            .await?;
        self.reload().await?;
        self.list()
            .into_iter()
            .find(|k| k.kid == winner.kid)
            .ok_or(Error::Crypto("rotated key missing after reload"))
    }

    /// The scheduled work: reload, rotate the dynamic key when it is older than the rotation
    /// interval, and delete dynamic keys retired for longer than the retention.
    ///
    /// # Errors
    /// Store and crypto errors.
    pub async fn maintain(&self) -> Result<(), Error> {
        let _guard = self.slow.lock().await;
        self.reload().await?;
        let now = self.clock.now_ms();
        let set = self.set.load_full();
        let dynamic: Vec<&KeyInfo> = set
            .infos
            .iter()
            .filter(|k| k.kind == KeyKind::Dynamic.as_str())
            .collect();
        if let Some(cur) = dynamic.first()
            && now >= cur.created_at.saturating_add(self.cfg.rotation_interval_ms)
        {
            self.rotate_from(Some(cur)).await?;
        }
        // dynamic is newest first: key i was replaced when key i-1 was created.
        let expired: Vec<String> = dynamic
            .windows(2)
            .filter(|w| now >= w[0].created_at.saturating_add(self.cfg.retention_ms))
            .map(|w| w[1].kid.clone())
            .collect();
        if !expired.is_empty() {
            self.store.delete_keys(&expired).await?;
            self.reload().await?;
        }
        Ok(())
    }

    /// Replaces every dynamic, static and service key at once: every outstanding access token,
    /// id token and service token stops verifying (seed 001 `resetKey`). Refresh tokens keep
    /// working, so clients recover by refreshing.
    ///
    /// # Errors
    /// Store and crypto errors.
    pub async fn reset(&self) -> Result<(), Error> {
        let _guard = self.slow.lock().await;
        let mut fresh = Vec::new();
        for kind in KeyKind::RESET {
            fresh.push(self.generate(kind, None).await?);
        }
        // One instant for the whole reset, taken after the (slow) generation: every token
        // issued before it is refused, opaque ones included (see `reset_epoch`).
        let epoch = self.clock.now_ms();
        for k in &mut fresh {
            k.created_at = epoch;
        }
        self.store.replace_keys(&KeyKind::RESET, &fresh).await?;
        self.reload().await?;
        // Other processes reload at once instead of at their next key sync.
        if let Err(e) = self
            .store
            .append_events(&[crate::store::EventKind::KeysReset], epoch)
            .await
        {
            tracing::warn!(error = %e, "announcing the key reset failed; other processes see it at their next key sync");
        }
        Ok(())
    }
}
