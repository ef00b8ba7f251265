//! Revocations pushed to every stateless verifier.
//!
//! A stateless access token keeps verifying until it expires, whoever revokes its session. To
//! close that window, every revocation (revoke, revoke-all, theft detection) and every key reset
//! is appended to a log in the store ([`Store::append_events`]), and every verifier follows the
//! log ([`RevocationFeed`]): it keeps the revoked handles in a local deny-set until the longest
//! access token they could have had has expired, and refuses them on the stateless path too.
//!
//! The log travels on the store itself: an in-process signal for the memory store, a polled table
//! on SQLite, `LISTEN`/`NOTIFY` on PostgreSQL, a stream read with `XREAD BLOCK` on Redis (and
//! Redis Cluster).
//!
//! # Fail safe
//! A verifier that cannot read the log (the store is down), or that finds events it had not read
//! trimmed away, is *degraded*: until it has caught up — and, after a gap, until every access
//! token that could have been revoked in the gap has expired — it checks every session against
//! the store. It never accepts silently.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;

use crate::clock::{Clock, Millis};
use crate::store::{EventKind, Store};

/// How many events one read takes.
const PAGE: usize = 1024;

/// What a verifier learns from the feed about one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Not revoked as far as the feed knows, and the feed is current.
    Clear,
    /// Revoked: refuse it.
    Revoked,
    /// The feed is behind or broken: ask the store.
    Unknown,
}

/// The deny-set and the state of the feed of one process.
pub struct RevocationFeed {
    /// Revoked handles, until the instant their last access token expires.
    denied: RwLock<HashMap<String, Millis>>,
    /// Fast path: nothing is denied.
    any_denied: AtomicBool,
    /// A follower is running (a manager that was never started behaves as before: stateless
    /// verification does not ask the store).
    active: AtomicBool,
    cursor: AtomicU64,
    /// Degraded until this instant (`i64::MAX`: until the log can be read again).
    degraded_until: AtomicI64,
    /// How long a revoked handle stays denied: the access-token lifetime plus clock skew.
    hold_ms: Millis,
    clock: Arc<dyn Clock>,
    /// Events applied, for tests and metrics.
    applied: AtomicU64,
    /// Wakes readers of this process's applied events (the server's event stream).
    notify: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for RevocationFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationFeed")
            .field("cursor", &self.cursor())
            .field("current", &self.is_current())
            .field("denied", &self.denied.read().len())
            .finish_non_exhaustive()
    }
}

impl RevocationFeed {
    pub(crate) fn new(hold_ms: Millis, clock: Arc<dyn Clock>) -> Self {
        Self {
            denied: RwLock::new(HashMap::new()),
            any_denied: AtomicBool::new(false),
            active: AtomicBool::new(false),
            cursor: AtomicU64::new(0),
            // Until the first read of the log, nothing is known.
            degraded_until: AtomicI64::new(i64::MAX),
            hold_ms,
            clock,
            applied: AtomicU64::new(0),
            notify: tokio::sync::watch::channel(0).0,
        }
    }

    /// Whether `handle` may be served without asking the store.
    pub fn standing(&self, handle: &str) -> Standing {
        let now = self.clock.now_ms();
        if self.any_denied.load(Ordering::Acquire)
            && self
                .denied
                .read()
                .get(handle)
                .is_some_and(|until| *until > now)
        {
            return Standing::Revoked;
        }
        if self.active.load(Ordering::Acquire) && self.degraded_until.load(Ordering::Acquire) > now
        {
            Standing::Unknown
        } else {
            Standing::Clear
        }
    }

    pub(crate) fn set_active(&self, on: bool) {
        self.active.store(on, Ordering::Release);
    }

    /// Whether the feed is running and current (not degraded).
    pub fn is_current(&self) -> bool {
        self.active.load(Ordering::Acquire)
            && self.degraded_until.load(Ordering::Acquire) <= self.clock.now_ms()
    }

    /// The cursor of the last event applied.
    pub fn cursor(&self) -> u64 {
        self.cursor.load(Ordering::Acquire)
    }

    /// How many events this feed has applied.
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    /// Changes whenever events are applied (to the cursor reached).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.notify.subscribe()
    }

    /// Denies `handle` from now on (a revocation made by this process: it need not wait for
    /// the log to come back round).
    pub fn deny(&self, handle: &str, at: Millis) {
        let until = at.saturating_add(self.hold_ms);
        if until <= self.clock.now_ms() {
            return;
        }
        self.denied.write().insert(handle.to_owned(), until);
        self.any_denied.store(true, Ordering::Release);
    }

    fn degrade(&self, until: Millis) {
        self.degraded_until.fetch_max(until, Ordering::AcqRel);
    }

    fn forget_expired(&self) {
        let now = self.clock.now_ms();
        let mut d = self.denied.write();
        d.retain(|_, until| *until > now);
        self.any_denied.store(!d.is_empty(), Ordering::Release);
    }

    /// Reads the log once, from the cursor to its end. Returns whether a key reset was seen.
    ///
    /// # Errors
    /// The store's: the feed is then degraded until a read succeeds.
    pub async fn catch_up(&self, store: &dyn Store) -> Result<bool, crate::store::StoreError> {
        let mut reset = false;
        loop {
            let cursor = self.cursor();
            let page = match store.events_since(cursor, PAGE).await {
                Ok(p) => p,
                Err(e) => {
                    self.degrade(i64::MAX);
                    return Err(e);
                }
            };
            let now = self.clock.now_ms();
            if !page.continuous && cursor != 0 {
                // Events this process had not read were trimmed: any token they revoked may be
                // out there until it expires.
                tracing::warn!(
                    cursor,
                    "revocation events were trimmed before this process read them; checking every session against the store until they can no longer matter"
                );
                self.degrade(now.saturating_add(self.hold_ms));
            }
            let n = page.events.len();
            for e in &page.events {
                match &e.kind {
                    EventKind::Revoked { handle } => self.deny(handle, e.at),
                    EventKind::KeysReset => reset = true,
                }
                self.cursor.store(e.cursor, Ordering::Release);
            }
            if n > 0 {
                self.applied.fetch_add(n as u64, Ordering::Relaxed);
                self.notify.send_replace(self.cursor());
            }
            if n < PAGE {
                break;
            }
        }
        // Read to the end: current, unless a gap still matters.
        let now = self.clock.now_ms();
        let until = self.degraded_until.load(Ordering::Acquire);
        if until == i64::MAX {
            self.degraded_until.store(now, Ordering::Release);
            if self.applied() > 0 || self.cursor() > 0 {
                tracing::info!("revocation feed is current");
            }
        }
        self.forget_expired();
        Ok(reset)
    }
}

/// Follows the log until `cancel`: waits for the store's signal (or polls), catches up, reloads
/// keys on a reset, trims old events now and then.
pub(crate) async fn follow(
    inner: std::sync::Weak<crate::manager::Inner>,
    cancel: tokio_util::sync::CancellationToken,
) {
    let Some(first) = inner.upgrade() else { return };
    let store = Arc::clone(first.store());
    let mut signal = store.event_signal();
    let poll = store.event_poll_interval();
    drop(first);
    let mut backoff = Duration::from_millis(100);
    let mut last_trim = i64::MIN;
    loop {
        let Some(inner) = inner.upgrade() else { return };
        match inner.revocations().catch_up(store.as_ref()).await {
            Ok(reset) => {
                backoff = Duration::from_millis(100);
                if reset && let Err(e) = inner.keys().reload().await {
                    tracing::warn!(error = %e, "reloading keys after a reset failed; will retry");
                }
                let now = inner.now_ms();
                // Any process may trim; once a minute is plenty.
                if now.saturating_sub(last_trim) > 60_000 {
                    last_trim = now;
                    let before = now.saturating_sub(inner.revocations().hold_ms);
                    if let Err(e) = store.trim_events(before).await {
                        tracing::debug!(error = %e, "trimming revocation events failed");
                    }
                }
            }
            Err(e) => {
                crate::telemetry::store_error();
                tracing::warn!(error = %e, "reading the revocation log failed; checking sessions against the store until it works again");
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
        drop(inner);
        let wait = if backoff > Duration::from_millis(100) {
            backoff
        } else {
            poll
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
            changed = async {
                match signal.as_mut() {
                    Some(s) => s.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            } => {
                if !changed {
                    signal = None;
                }
            }
        }
    }
}
