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
    /// A feed that keeps revoked handles denied for `hold_ms` (the longest access-token
    /// lifetime plus clock skew), inactive until [`RevocationFeed::set_active`]. Managers make
    /// their own; a verifier that follows the log another way (a remote service's event stream)
    /// makes one and feeds it with [`RevocationFeed::apply`].
    pub fn new(hold_ms: Millis, clock: Arc<dyn Clock>) -> Self {
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
            && self.denied.read().get(handle).is_some_and(|until| *until > now)
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

    /// Turns the feed on (verifiers consult it; degraded until the first read) or off.
    pub fn set_active(&self, on: bool) {
        self.active.store(on, Ordering::Release);
    }

    /// The log cannot be read (the store or the stream is down): degraded until it can.
    pub fn mark_broken(&self) {
        self.degrade(i64::MAX);
    }

    /// Applies a page of events read after `from` (the cursor it was read from); returns
    /// whether it held a key reset.
    pub fn apply(&self, page: &crate::store::EventPage, from: u64) -> bool {
        let now = self.clock.now_ms();
        if !page.continuous && from != 0 {
            // Events this process had not read were trimmed: any token they revoked may be out
            // there until it expires.
            tracing::warn!(
                cursor = from,
                "revocation events were trimmed before this process read them; checking every session against the store until they can no longer matter"
            );
            self.degrade(now.saturating_add(self.hold_ms));
        }
        let mut reset = false;
        for e in &page.events {
            match &e.kind {
                EventKind::Revoked { handle } => self.deny(handle, e.at),
                EventKind::KeysReset => reset = true,
            }
            self.cursor.fetch_max(e.cursor, Ordering::AcqRel);
        }
        if !page.events.is_empty() {
            self.applied.fetch_add(page.events.len() as u64, Ordering::Relaxed);
            self.notify.send_replace(self.cursor());
        }
        reset
    }

    /// The log has been read to its end: current, unless a gap still matters.
    pub fn mark_current(&self) {
        let now = self.clock.now_ms();
        if self.degraded_until.load(Ordering::Acquire) == i64::MAX {
            self.degraded_until.store(now, Ordering::Release);
            tracing::info!("revocation feed is current");
        }
        self.forget_expired();
    }

    /// How long a revoked handle stays denied (ms).
    pub fn hold_ms(&self) -> Millis {
        self.hold_ms
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
                    self.mark_broken();
                    return Err(e);
                }
            };
            reset |= self.apply(&page, cursor);
            if page.events.len() < PAGE {
                break;
            }
        }
        self.mark_current();
        Ok(reset)
    }
}

/// Follows the log until `cancel`: waits for the store's signal (or polls), catches up, reloads
/// keys on a reset, trims old events now and then.
pub(crate) async fn follow(
    inner: std::sync::Weak<crate::manager::Inner>, cancel: tokio_util::sync::CancellationToken,
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
        let wait = if backoff > Duration::from_millis(100) { backoff } else { poll };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use crate::store::{Event, EventPage, MemoryStore};

    fn feed(clock: &ManualClock) -> RevocationFeed {
        let f = RevocationFeed::new(10_000, Arc::new(clock.clone()));
        f.set_active(true);
        f
    }

    fn revoked(cursor: u64, at: Millis, handle: &str) -> Event {
        Event { cursor, at, kind: EventKind::Revoked { handle: handle.to_owned() } }
    }

    #[test]
    fn unknown_until_read_then_revoked_handles_are_denied_for_the_hold() {
        let clock = ManualClock::new(1_000_000);
        let f = feed(&clock);
        assert_eq!(f.standing("h"), Standing::Unknown, "nothing read yet");
        let page = EventPage { events: vec![revoked(1, 1_000_000, "h")], continuous: true };
        f.apply(&page, 0);
        f.mark_current();
        assert_eq!(f.standing("h"), Standing::Revoked);
        assert_eq!(f.standing("other"), Standing::Clear);
        clock.advance_ms(10_001);
        assert_eq!(f.standing("h"), Standing::Clear, "its tokens have expired");
        f.set_active(false);
        assert_eq!(f.standing("x"), Standing::Clear, "an inactive feed changes nothing");
    }

    #[test]
    fn a_gap_or_a_broken_log_means_asking_the_store() {
        let clock = ManualClock::new(1_000_000);
        let f = feed(&clock);
        f.apply(&EventPage::default(), 0);
        f.mark_current();
        assert_eq!(f.standing("h"), Standing::Clear);
        // Events after cursor 5 were trimmed before we read them.
        f.apply(&EventPage { events: vec![], continuous: false }, 5);
        f.mark_current();
        assert_eq!(f.standing("h"), Standing::Unknown, "degraded for the hold");
        clock.advance_ms(10_001);
        assert_eq!(f.standing("h"), Standing::Clear);
        f.mark_broken();
        assert_eq!(f.standing("h"), Standing::Unknown);
        f.mark_current();
        assert_eq!(f.standing("h"), Standing::Clear);
    }

    #[tokio::test]
    async fn catching_up_from_a_store() {
        let clock = ManualClock::new(1_000_000);
        let store = MemoryStore::new();
        let f = feed(&clock);
        store
            .append_events(
                &[EventKind::Revoked { handle: "a".into() }, EventKind::KeysReset],
                1_000_000,
            )
            .await
            .unwrap();
        assert!(f.catch_up(&store).await.unwrap(), "saw the reset");
        assert_eq!(f.standing("a"), Standing::Revoked);
        assert_eq!(f.cursor(), 2);
        assert!(!f.catch_up(&store).await.unwrap());
    }
}
