//! Signing keys: created on first need in isolation, rotated on a schedule with an overlap,
//! published as a JWKS, and reset on demand (seed 000 "in isolation", seed 001 `resetKey`).
//!
//! Every app (`/appid-<id>`) has keys of its own — access-token, id-token, service-token and
//! chain keys — and a JWKS of its own, so a token of one app never verifies in another.
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

/// Most dynamic keys an app keeps at once: a burst of rotations retires the oldest early
/// rather than growing the JWKS without bound.
pub const MAX_DYNAMIC_KEYS: usize = 8;

/// How keys are made, how long they sign and how long they keep verifying (the
/// [`SessionManager`](crate::SessionManager) derives it from its
/// [`ManagerConfig`](crate::ManagerConfig)).
#[derive(Debug)]
pub struct KeyConfig {
    /// Algorithm of access-token and id-token keys (dynamic and static).
    pub algorithm: Algorithm,
    /// A dynamic key signs for this long before a new one replaces it.
    pub rotation_interval_ms: Millis,
    /// A replaced dynamic key keeps verifying for this long (at least the access-token lifetime,
    /// so tokens it signed stay valid until they expire).
    pub retention_ms: Millis,
    /// A chain key replaced by a reset is kept this long (the refresh-token lifetime), so the
    /// refresh tokens it tagged are still recognised: replaying one is theft, not a forgery.
    pub chain_retention_ms: Millis,
    /// Seals private key material at rest when set.
    pub master_key: Option<MasterKey>,
}

/// What the API shows of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct KeyInfo {
    /// Key id, as in token headers and the JWKS.
    pub kid: String,
    /// The app the key belongs to.
    pub app_id: String,
    /// `dynamic`, `static`, `service` or `chain`.
    pub kind: &'static str,
    /// The JOSE algorithm the key is fixed to (`RS256`, `EdDSA`, `ES256`, `HS256`).
    pub alg: &'static str,
    /// Creation time (ms since the epoch).
    pub created_at: Millis,
    /// Whether this key signs new tokens of its kind.
    pub current: bool,
    /// Whether the private material is sealed with the master key.
    pub sealed: bool,
}

/// A verifying key and the app it belongs to.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AppVerifier {
    /// The key that checks the signature.
    pub key: Arc<VerifyingKey>,
    /// The app whose tokens it verifies: a token of another app must not pass.
    pub app_id: Arc<str>,
}

/// The keys a process holds in memory.
#[derive(Debug, Default)]
pub struct KeySet {
    /// Access-token and id-token verifiers (dynamic and static keys), by `kid`.
    verifiers: HashMap<String, AppVerifier>,
    /// The same verifiers by the exact access-token header sessiond issues with them: the hot
    /// path finds the key without decoding the header.
    by_access_header: HashMap<String, AppVerifier>,
    /// Service-token verifiers, by `kid`.
    service_verifiers: HashMap<String, AppVerifier>,
    /// The newest key of each kind in each app, ready to sign.
    current: HashMap<(String, KeyKind), Arc<SigningKey>>,
    /// Every chain key of each app, newest first (the retired ones recognise older refresh
    /// tokens).
    chains: HashMap<String, Vec<Arc<SigningKey>>>,
    jwks: HashMap<String, Arc<Jwks>>,
    infos: Vec<KeyInfo>,
    /// Creation time of each app's current static key: the time of its last reset (see
    /// [`KeyManager::reset_epoch`]).
    reset_epochs: HashMap<String, Millis>,
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
        f.debug_struct("KeyManager").field("cfg", &self.cfg).finish_non_exhaustive()
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

    fn signer_from(&self, old: &KeySet, rec: &KeyRecord) -> Result<Arc<SigningKey>, Error> {
        if let Some(s) = old.current.get(&(rec.app_id.clone(), rec.kind))
            && s.kid() == rec.kid
        {
            return Ok(Arc::clone(s));
        }
        if let Some(s) =
            old.chains.get(&rec.app_id).and_then(|c| c.iter().find(|k| k.kid() == rec.kid))
        {
            return Ok(Arc::clone(s));
        }
        Ok(Arc::new(SigningKey::from_material(&rec.kid, rec.alg, &self.plain_material(rec)?)?))
    }

    fn build(&self, mut records: Vec<KeyRecord>) -> Result<KeySet, Error> {
        newest_first(&mut records);
        let old = self.set.load();
        let mut set = KeySet::default();
        let mut jwks: HashMap<String, Jwks> = HashMap::new();
        let mut apps: HashMap<String, Arc<str>> = HashMap::new();
        for rec in &records {
            let app = Arc::clone(
                apps.entry(rec.app_id.clone()).or_insert_with(|| Arc::from(rec.app_id.as_str())),
            );
            let slot = (rec.app_id.clone(), rec.kind);
            let is_current = !set.current.contains_key(&slot);
            if is_current {
                if rec.kind == KeyKind::Static {
                    set.reset_epochs.insert(rec.app_id.clone(), rec.created_at);
                }
                set.current.insert(slot, self.signer_from(&old, rec)?);
            }
            let reuse =
                |m: &HashMap<String, AppVerifier>| m.get(&rec.kid).map(|v| Arc::clone(&v.key));
            match rec.kind {
                KeyKind::Dynamic | KeyKind::Static => {
                    let key = match reuse(&old.verifiers) {
                        Some(k) => k,
                        None => Arc::new(self.verifier_for(rec)?),
                    };
                    let v = AppVerifier { key, app_id: Arc::clone(&app) };
                    set.by_access_header.insert(access_header_b64(rec.alg, &rec.kid), v.clone());
                    set.verifiers.insert(rec.kid.clone(), v);
                    if let Some(j) =
                        rec.public_jwk.as_deref().and_then(|j| serde_json::from_str(j).ok())
                    {
                        jwks.entry(rec.app_id.clone()).or_default().keys.push(j);
                    }
                }
                KeyKind::Service => {
                    let key = match reuse(&old.service_verifiers) {
                        Some(k) => k,
                        None => Arc::new(self.verifier_for(rec)?),
                    };
                    set.service_verifiers
                        .insert(rec.kid.clone(), AppVerifier { key, app_id: Arc::clone(&app) });
                }
                KeyKind::Chain => {
                    let k = self.signer_from(&old, rec)?;
                    set.chains.entry(rec.app_id.clone()).or_default().push(k);
                }
            }
            set.infos.push(KeyInfo {
                kid: rec.kid.clone(),
                app_id: rec.app_id.clone(),
                kind: rec.kind.as_str(),
                alg: rec.alg.as_str(),
                created_at: rec.created_at,
                current: is_current,
                sealed: rec.sealed,
            });
        }
        set.jwks = jwks.into_iter().map(|(a, j)| (a, Arc::new(j))).collect();
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

    /// Generates a key record of `kind` for `app_id`, off the async executor (RSA generation is
    /// slow). `after` is the creation time of the key it replaces: the new key must sort after it
    /// even within the same millisecond or on a process whose clock runs behind.
    async fn generate(
        &self, app_id: &str, kind: KeyKind, after: Option<Millis>,
    ) -> Result<KeyRecord, Error> {
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
            app_id: app_id.to_owned(),
            kind,
            alg,
            material,
            sealed,
            public_jwk: jwk.map(|j| serde_json::to_string(&j).unwrap_or_default()),
            created_at: after
                .map_or(self.clock.now_ms(), |t| self.clock.now_ms().max(t.saturating_add(1))),
        })
    }

    /// The key that signs new tokens of `kind` in `app_id`, created in isolation if there is
    /// none.
    ///
    /// # Errors
    /// Store and crypto errors from creating the key.
    pub async fn signer(&self, app_id: &str, kind: KeyKind) -> Result<Arc<SigningKey>, Error> {
        let slot = (app_id.to_owned(), kind);
        if let Some(k) = self.set.load().current.get(&slot) {
            return Ok(Arc::clone(k));
        }
        let _guard = self.slow.lock().await;
        if let Some(k) = self.set.load().current.get(&slot) {
            return Ok(Arc::clone(k));
        }
        self.reload().await?;
        if let Some(k) = self.set.load().current.get(&slot) {
            return Ok(Arc::clone(k));
        }
        let candidate = self.generate(app_id, kind, None).await?;
        self.store.insert_key_if_newest(None, &candidate).await?;
        self.reload().await?;
        self.set
            .load()
            .current
            .get(&slot)
            .cloned()
            .ok_or(Error::Crypto("no key after creating one"))
    }

    /// Every chain key of `app_id`, the current one first (created if there is none).
    ///
    /// # Errors
    /// As [`KeyManager::signer`].
    pub async fn chain_keys(&self, app_id: &str) -> Result<Vec<Arc<SigningKey>>, Error> {
        if let Some(c) = self.set.load().chains.get(app_id) {
            return Ok(c.clone());
        }
        self.signer(app_id, KeyKind::Chain).await?;
        Ok(self.set.load().chains.get(app_id).cloned().unwrap_or_default())
    }

    /// The verifier whose issued access-token header is exactly `header_b64`, if any. A hit
    /// fixes the key, its algorithm, `typ` and `version` at once (no decoding); a miss means the
    /// caller must decode the header the slow way.
    pub fn verifier_for_header(&self, header_b64: &str) -> Option<AppVerifier> {
        self.set.load().by_access_header.get(header_b64).cloned()
    }

    /// Whether an access-token key with this `kid` is in memory now (no reload). A verifier
    /// that cached a token checks this on every hit, so a retired or reset key ends the cached
    /// tokens it signed.
    pub fn knows(&self, kid: &str) -> bool {
        self.set.load().verifiers.contains_key(kid)
    }

    /// The access-token verifier with this `kid`, reloading from the store (at most once a
    /// second) when it is unknown, so keys created by other processes are found at once.
    ///
    /// # Errors
    /// Store errors from the reload.
    pub async fn verifier(&self, kid: &str) -> Result<Option<AppVerifier>, Error> {
        if let Some(v) = self.set.load().verifiers.get(kid) {
            return Ok(Some(v.clone()));
        }
        if !self.may_reload_on_miss() {
            return Ok(None);
        }
        self.reload().await?;
        Ok(self.set.load().verifiers.get(kid).cloned())
    }

    /// The service-token verifier with this `kid` (same reload rule as [`KeyManager::verifier`]).
    ///
    /// # Errors
    /// Store errors from the reload.
    pub async fn service_verifier(&self, kid: &str) -> Result<Option<AppVerifier>, Error> {
        if let Some(v) = self.set.load().service_verifiers.get(kid) {
            return Ok(Some(v.clone()));
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

    /// The public keys of `app_id`'s access tokens and id tokens (dynamic and static), newest
    /// first.
    pub fn jwks(&self, app_id: &str) -> Arc<Jwks> {
        self.set.load().jwks.get(app_id).cloned().unwrap_or_default()
    }

    /// When `app_id`'s keys were last reset, as far as this process knows (0: never).
    ///
    /// The static key is created at start, before any session, and replaced only by
    /// [`KeyManager::reset`], so its creation time is the instant of the last reset. Opaque
    /// access tokens, which no key signs, are refused when issued before it.
    pub fn reset_epoch(&self, app_id: &str) -> Millis {
        self.set.load().reset_epochs.get(app_id).copied().unwrap_or(0)
    }

    /// Every key of `app_id` this process knows (every app's with `None`), newest first.
    pub fn list(&self, app_id: Option<&str>) -> Vec<KeyInfo> {
        self.set
            .load()
            .infos
            .iter()
            .filter(|k| app_id.is_none_or(|a| a == k.app_id))
            .cloned()
            .collect()
    }

    /// The apps that have keys.
    pub fn apps(&self) -> Vec<String> {
        let mut apps: Vec<String> =
            self.set.load().infos.iter().map(|k| k.app_id.clone()).collect();
        apps.sort();
        apps.dedup();
        apps
    }

    /// Replaces `app_id`'s dynamic key now (in isolation: of processes rotating concurrently
    /// from the same key, one key wins). Tokens signed by the old key keep verifying for the
    /// retention.
    ///
    /// # Errors
    /// Store and crypto errors.
    pub async fn rotate(&self, app_id: &str) -> Result<KeyInfo, Error> {
        let _guard = self.slow.lock().await;
        self.reload().await?;
        let current = self
            .list(Some(app_id))
            .into_iter()
            .find(|k| k.current && k.kind == KeyKind::Dynamic.as_str());
        let info = self.rotate_from(app_id, current.as_ref()).await?;
        self.prune(app_id).await?;
        Ok(info)
    }

    async fn rotate_from(&self, app_id: &str, current: Option<&KeyInfo>) -> Result<KeyInfo, Error> {
        let candidate =
            self.generate(app_id, KeyKind::Dynamic, current.map(|k| k.created_at)).await?;
        let expected = current.map(|k| k.kid.as_str());
        let winner = self.store.insert_key_if_newest(expected, &candidate).await?;
        self.reload().await?;
        self.list(Some(app_id))
            .into_iter()
            .find(|k| k.kid == winner.kid)
            .ok_or(Error::Crypto("rotated key missing after reload"))
    }

    /// Deletes `app_id`'s dynamic keys retired for longer than the retention, the dynamic keys
    /// beyond [`MAX_DYNAMIC_KEYS`], and chain keys retired for longer than their retention.
    async fn prune(&self, app_id: &str) -> Result<(), Error> {
        let now = self.clock.now_ms();
        let infos = self.list(Some(app_id));
        let mut expired = Vec::new();
        for (kind, retention, cap) in [
            (KeyKind::Dynamic, self.cfg.retention_ms, MAX_DYNAMIC_KEYS),
            (KeyKind::Chain, self.cfg.chain_retention_ms, usize::MAX),
        ] {
            // Newest first: key i was replaced when key i-1 was created.
            let keys: Vec<&KeyInfo> = infos.iter().filter(|k| k.kind == kind.as_str()).collect();
            for (i, w) in keys.windows(2).enumerate() {
                if now >= w[0].created_at.saturating_add(retention) || i + 1 >= cap {
                    expired.push(w[1].kid.clone());
                }
            }
        }
        if !expired.is_empty() {
            self.store.delete_keys(&expired).await?;
            self.reload().await?;
        }
        Ok(())
    }

    /// The scheduled work for every app: reload, rotate a dynamic key older than the rotation
    /// interval, prune retired keys.
    ///
    /// # Errors
    /// Store and crypto errors.
    pub async fn maintain(&self) -> Result<(), Error> {
        let _guard = self.slow.lock().await;
        self.reload().await?;
        let now = self.clock.now_ms();
        for app in self.apps() {
            let current = self
                .list(Some(&app))
                .into_iter()
                .find(|k| k.current && k.kind == KeyKind::Dynamic.as_str());
            if let Some(cur) = &current
                && now >= cur.created_at.saturating_add(self.cfg.rotation_interval_ms)
            {
                self.rotate_from(&app, Some(cur)).await?;
            }
            self.prune(&app).await?;
        }
        Ok(())
    }

    /// Replaces every dynamic, static and service key of `app_id` at once: every outstanding
    /// access token, id token and service token of the app stops verifying (seed 001
    /// `resetKey`). The chain key is replaced too (new refresh tokens are tagged with the new
    /// one), but the old one is kept, retired, for the refresh-token lifetime, so refresh tokens
    /// it tagged still refresh and a replayed one is still recognised as theft. Clients recover
    /// by refreshing.
    ///
    /// # Errors
    /// Store and crypto errors.
    pub async fn reset(&self, app_id: &str) -> Result<(), Error> {
        let _guard = self.slow.lock().await;
        let mut fresh = Vec::new();
        for kind in KeyKind::RESET {
            fresh.push(self.generate(app_id, kind, None).await?);
        }
        self.reload().await?;
        let chain_now = self
            .list(Some(app_id))
            .into_iter()
            .find(|k| k.current && k.kind == KeyKind::Chain.as_str());
        let chain =
            self.generate(app_id, KeyKind::Chain, chain_now.as_ref().map(|k| k.created_at)).await?;
        // One instant for the whole reset, taken after the (slow) generation: every token
        // issued before it is refused, opaque ones included (see `reset_epoch`).
        let epoch = self.clock.now_ms();
        for k in &mut fresh {
            k.created_at = epoch;
        }
        self.store.replace_keys(app_id, &KeyKind::RESET, &fresh).await?;
        self.store.insert_key_if_newest(chain_now.as_ref().map(|k| k.kid.as_str()), &chain).await?;
        self.reload().await?;
        // Other processes reload at once instead of at their next key sync.
        if let Err(e) = self.store.append_events(&[crate::store::EventKind::KeysReset], epoch).await
        {
            tracing::warn!(error = %e, "announcing the key reset failed; other processes see it at their next key sync");
        }
        Ok(())
    }
}
