//! [`SessionManager`]: the whole session lifecycle over one [`Store`].

pub mod admin;
mod issue;
mod refresh;
mod types;
mod verify;

pub use issue::MAX_PUBLIC_DATA_LEN;
pub use types::{
    IssuedSession, IssuedToken, IssuedTokens, JsonObject, NewSession, RefreshOptions, SessionInfo,
    SessionRef, SessionSummary, VerifiedSession, VerifyOptions,
};

use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{Clock, Millis, SystemClock};
use crate::config::{ManagerConfig, TokenFormat, ms};
use crate::error::Error;
use crate::keys::{KeyConfig, KeyManager};
use crate::model::{DEFAULT_APP, KeyKind};
use crate::store::Store;

/// Options of [`SessionManager::start`].
#[derive(Debug, Clone, Copy, Default)]
pub struct StartOptions {
    /// Wipe every session and key in the store before starting (seed 001 `fresh`).
    pub fresh: bool,
}

/// Policy in milliseconds, derived once from [`ManagerConfig`].
#[derive(Debug, Clone, Copy)]
struct Policy {
    access_ttl: Millis,
    refresh_ttl: Millis,
    idle: Millis,
    absolute: Millis,
    grace: Millis,
    touch: Millis,
    key_sync: Millis,
    sweep: Millis,
    sweep_batch: usize,
    format: TokenFormat,
    revocation_feed: bool,
}

pub(crate) struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    policy: Policy,
    keys: KeyManager,
    revocations: crate::revocation::RevocationFeed,
    tasks: Mutex<Option<Background>>,
    /// Activity records written off the request path; `stop` waits for them.
    touches: TaskTracker,
}

struct Background {
    cancel: CancellationToken,
    handles: Vec<JoinHandle<()>>,
}

/// Creates, verifies, refreshes and revokes sessions; owns the signing keys.
///
/// Cheap to clone (an `Arc`). Every operation is safe to call concurrently from many tasks and,
/// through a shared store, from many processes.
#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("store", &self.inner.store.backend())
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// A manager over `store` with the system clock.
    ///
    /// # Errors
    /// [`Error::Config`] when `config` is incoherent.
    pub fn new(store: Arc<dyn Store>, config: ManagerConfig) -> Result<Self, Error> {
        Self::with_clock(store, config, Arc::new(SystemClock))
    }

    /// A manager over `store` with an injected clock (tests use [`crate::ManualClock`]).
    ///
    /// # Errors
    /// [`Error::Config`] when `config` is incoherent.
    pub fn with_clock(
        store: Arc<dyn Store>, config: ManagerConfig, clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        config.validate()?;
        let policy = Policy {
            access_ttl: ms(config.access_token_ttl),
            refresh_ttl: ms(config.refresh_token_ttl),
            idle: ms(config.idle_timeout),
            absolute: ms(config.absolute_lifetime),
            grace: ms(config.refresh_grace),
            // Activity must be recorded well within the idle timeout, or a session in use
            // through database-checked verifies alone would still time out.
            touch: ms(config.touch_interval).min(ms(config.idle_timeout) / 2),
            key_sync: ms(config.key_sync_interval),
            sweep: ms(config.sweep_interval),
            sweep_batch: config.sweep_batch,
            format: config.token_format,
            revocation_feed: config.revocation_feed,
        };
        let keys = KeyManager::new(
            Arc::clone(&store),
            Arc::clone(&clock),
            KeyConfig {
                algorithm: config.algorithm,
                rotation_interval_ms: ms(config.key_rotation_interval),
                // A replaced key verifies until every token it signed has expired, plus a minute
                // of clock skew between processes.
                retention_ms: policy.access_ttl.saturating_add(60_000),
                chain_retention_ms: policy.refresh_ttl.saturating_add(60_000),
                master_key: config.master_key,
            },
        );
        let revocations = crate::revocation::RevocationFeed::new(
            // A revoked handle stays denied while any access token of it can be alive: the
            // access-token lifetime plus a minute of clock skew between processes.
            policy.access_ttl.saturating_add(60_000),
            Arc::clone(&clock),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                clock,
                policy,
                keys,
                revocations,
                tasks: Mutex::new(None),
                touches: TaskTracker::new(),
            }),
        })
    }

    /// The store this manager keeps its sessions and keys in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The key manager: list, rotate and reset keys, and the JWKS of each app.
    pub fn keys(&self) -> &KeyManager {
        &self.inner.keys
    }

    /// This process's view of the revocation log: the deny-set every stateless verify checks.
    pub fn revocations(&self) -> &crate::revocation::RevocationFeed {
        &self.inner.revocations
    }

    /// The current time by the manager's clock.
    pub fn now_ms(&self) -> Millis {
        self.inner.clock.now_ms()
    }

    /// Starts the manager (seed 001 `start`): optionally wipes the store (`fresh`), loads or
    /// creates the signing keys in isolation, and starts the background work (key sync and
    /// rotation every `key_sync_interval`, expired-session sweep every `sweep_interval`).
    /// Starting a started manager restarts its background work.
    ///
    /// # Errors
    /// Store and key errors.
    pub async fn start(&self, opts: StartOptions) -> Result<(), Error> {
        self.stop_background().await;
        if opts.fresh {
            self.inner.store.wipe().await?;
        }
        self.inner.keys.reload().await?;
        // The default app's keys at once (others are created on first use), the static key too
        // so the JWKS is complete before any client asks for it.
        for kind in [KeyKind::Chain, KeyKind::Dynamic, KeyKind::Static] {
            self.inner.keys.signer(DEFAULT_APP, kind).await?;
        }
        self.inner.keys.maintain().await?;
        let cancel = CancellationToken::new();
        let mut handles = Vec::new();
        if self.inner.policy.revocation_feed {
            // Start current: read what was revoked while this process was not following.
            self.inner.revocations.set_active(true);
            if let Err(e) = self.inner.revocations.catch_up(self.inner.store.as_ref()).await {
                tracing::warn!(error = %e, "reading the revocation log failed; will retry");
            }
            handles.push(tokio::spawn(crate::revocation::follow(
                Arc::downgrade(&self.inner),
                cancel.clone(),
            )));
        }
        handles.extend([
            spawn_every(
                Arc::downgrade(&self.inner),
                cancel.clone(),
                self.inner.policy.key_sync,
                |inner| async move {
                    if let Err(e) = inner.keys.maintain().await {
                        count_store_error(&e);
                        tracing::warn!(error = %e, "key maintenance failed; will retry");
                    }
                },
            ),
            spawn_every(
                Arc::downgrade(&self.inner),
                cancel.clone(),
                self.inner.policy.sweep,
                |inner| async move {
                    if let Err(e) = (SessionManager { inner }).sweep_expired().await {
                        count_store_error(&e);
                        tracing::warn!(error = %e, "expired-session sweep failed; will retry");
                    }
                },
            ),
        ]);
        *self.inner.tasks.lock() = Some(Background { cancel, handles });
        Ok(())
    }

    async fn stop_background(&self) {
        self.inner.revocations.set_active(false);
        let bg = self.inner.tasks.lock().take();
        if let Some(bg) = bg {
            bg.cancel.cancel();
            for h in bg.handles {
                let _ = h.await;
            }
        }
    }

    /// Stops the background work, waits for pending activity records, and returns once every
    /// acknowledged write is durable (seed 001 `stop`).
    ///
    /// # Errors
    /// Store errors from the flush.
    pub async fn stop(&self) -> Result<(), Error> {
        self.stop_background().await;
        self.inner.touches.close();
        self.inner.touches.wait().await;
        self.inner.touches.reopen();
        self.inner.store.flush().await?;
        Ok(())
    }

    /// Stops the manager and deletes every session and key in the store (seed 001 `destroy`).
    ///
    /// # Errors
    /// Store errors.
    pub async fn destroy(&self) -> Result<(), Error> {
        self.stop_background().await;
        self.inner.store.wipe().await?;
        self.inner.store.flush().await?;
        self.inner.keys.reload().await?;
        Ok(())
    }

    /// Deletes expired sessions in batches of `sweep_batch` until none is left; returns how many.
    ///
    /// # Errors
    /// Store errors.
    pub async fn sweep_expired(&self) -> Result<usize, Error> {
        let batch = self.inner.policy.sweep_batch;
        let mut total = 0;
        loop {
            let n = self.inner.store.delete_expired(self.now_ms(), batch).await?;
            total += n;
            if n < batch {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// When a session that is active now, last refreshed at `rotated_at`, ends.
    fn session_deadline(&self, now: Millis, rotated_at: Millis, absolute: Millis) -> Millis {
        let p = &self.inner.policy;
        now.saturating_add(p.idle).min(rotated_at.saturating_add(p.refresh_ttl)).min(absolute)
    }
}

impl Inner {
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) fn keys(&self) -> &KeyManager {
        &self.keys
    }

    pub(crate) fn revocations(&self) -> &crate::revocation::RevocationFeed {
        &self.revocations
    }

    pub(crate) fn now_ms(&self) -> Millis {
        self.clock.now_ms()
    }
}

fn count_store_error(e: &Error) {
    if matches!(e, Error::Store(_)) {
        crate::telemetry::store_error();
    }
}

fn spawn_every<F, Fut>(
    inner: Weak<Inner>, cancel: CancellationToken, every_ms: Millis, work: F,
) -> JoinHandle<()>
where
    F: Fn(Arc<Inner>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let period = std::time::Duration::from_millis(u64::try_from(every_ms).unwrap_or(1000));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(period) => {}
            }
            let Some(inner) = inner.upgrade() else { return };
            work(inner).await;
        }
    })
}
