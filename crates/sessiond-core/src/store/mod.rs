//! The `Store` trait: the small, atomic set of operations every backend provides, and the
//! in-process [`MemoryStore`].
//!
//! Every backend passes the same conformance suite (`sessiond-store-tests`). The guarantees it
//! checks are written on each method below; a backend that cannot give one of them is not a
//! sessiond store.

mod events;
mod memory;

pub use events::{Event, EventKind, EventPage};
pub use memory::MemoryStore;

use async_trait::async_trait;

use crate::clock::Millis;
use crate::model::{KeyKind, KeyRecord, SessionRecord, UserQuery};
use crate::secret::SecretHash;

/// A boxed error from a backend driver, kept as the source of [`StoreError::Unavailable`].
pub type DriverError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `create_session` found a row with the same handle; nothing was written.
    #[error("a session with this handle already exists")]
    Duplicate,
    /// The backend could not be reached or failed; the operation may not have happened.
    #[error("store unavailable")]
    Unavailable(#[source] DriverError),
    /// A stored row could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(&'static str),
    /// The store was closed (`stop`) and takes no more operations.
    #[error("store is closed")]
    Closed,
    /// The store's configuration cannot work (a malformed URL, an unknown parameter): retrying
    /// will not help, unlike [`StoreError::Unavailable`].
    #[error("invalid store configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// Wraps a driver error as [`StoreError::Unavailable`].
    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Unavailable(Box::new(e))
    }
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A compare-and-swap rotation of a session's refresh token.
#[derive(Debug, Clone, Copy)]
pub struct Rotation<'a> {
    /// The session.
    pub handle: &'a str,
    /// The generation the caller saw; the swap happens only if it is still current.
    pub from_generation: u64,
    /// Hash of the refresh token the caller presented; must equal the stored hash.
    pub from_refresh_hash: SecretHash,
    /// Hash of the successor refresh token (stored as the new current hash).
    pub to_refresh_hash: SecretHash,
    /// Hash of the successor opaque access token, if the session uses opaque tokens.
    pub to_access_hash: Option<SecretHash>,
    /// Now: becomes `rotated_at` and `last_active_at`.
    pub now: Millis,
    /// The new `expires_at` (never past `absolute_expires_at`).
    pub expires_at: Millis,
    /// The new [`SessionRecord::recent_rotations`] (the old list with `now` appended, at most
    /// `MAX_RECENT_ROTATIONS` long).
    pub recent_rotations: &'a [Millis],
}

/// A compare-and-swap update of a session's data.
#[derive(Debug, Clone, Copy)]
pub struct DataUpdate<'a> {
    /// The session.
    pub handle: &'a str,
    /// The version the caller read; the update happens only if it is still current.
    pub expected_version: u64,
    /// New public data (JSON object text), or `None` to keep it.
    pub public_data: Option<&'a str>,
    /// New private data (JSON object text), or `None` to keep it.
    pub private_data: Option<&'a str>,
    /// Now: rows that expired before it count as missing.
    pub now: Millis,
}

/// Outcome of [`Store::update_data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Written; the session now has this version.
    Updated(u64),
    /// The session exists but its version is not the expected one; nothing written.
    VersionMismatch,
    /// No live session has this handle; nothing written.
    NotFound,
}

/// A session store.
///
/// # Guarantees (checked by the conformance suite)
/// - `create_session` never overwrites: a duplicate handle fails with [`StoreError::Duplicate`].
/// - Reads never return a row whose `expires_at` is at or before the `now` they are given.
/// - `rotate_refresh` and `update_data` are compare-and-swap: of any number of concurrent calls
///   with the same expectation, at most one succeeds.
/// - Deletion is final: no later or concurrent write brings a deleted session back.
/// - `insert_key_if_newest` is isolated: of many concurrent callers (in one process or many)
///   expecting the same newest key, exactly one inserts.
/// - An acknowledged write is durable to the degree the backend documents.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Short backend name for logs and metrics (`memory`, `sqlite`, …).
    fn backend(&self) -> &'static str;

    /// Inserts a new session.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] if the handle exists (expired or not); nothing is written.
    async fn create_session(&self, rec: &SessionRecord) -> StoreResult<()>;

    /// Loads a live session (`expires_at > now`).
    async fn load_session(&self, handle: &str, now: Millis) -> StoreResult<Option<SessionRecord>>;

    /// Rotates the refresh token if the session is live and still at `from_generation` with
    /// `from_refresh_hash`. Returns whether the swap happened.
    async fn rotate_refresh(&self, rot: &Rotation<'_>) -> StoreResult<bool>;

    /// Replaces public and/or private data if the session is live and at `expected_version`.
    async fn update_data(&self, upd: &DataUpdate<'_>) -> StoreResult<UpdateOutcome>;

    /// Records activity: `last_active_at = max(last_active_at, now)` and
    /// `expires_at = max(expires_at, min(expires_at_candidate, absolute_expires_at))`, on a live
    /// session only. Never creates a row.
    async fn touch_session(&self, handle: &str, now: Millis, expires_at: Millis)
    -> StoreResult<()>;

    /// Deletes the given sessions; returns the handles that existed (live or not).
    async fn delete_sessions(&self, handles: &[String]) -> StoreResult<Vec<String>>;

    /// Deletes every session selected by `query`; returns their handles.
    async fn delete_user_sessions(&self, query: &UserQuery) -> StoreResult<Vec<String>>;

    /// Lists the live sessions selected by `query`, oldest first.
    async fn list_user_sessions(
        &self,
        query: &UserQuery,
        now: Millis,
    ) -> StoreResult<Vec<SessionRecord>>;

    /// Deletes up to `limit` sessions with `expires_at <= now`; returns how many.
    async fn delete_expired(&self, now: Millis, limit: usize) -> StoreResult<usize>;

    /// Deletes every session and every key.
    async fn wipe(&self) -> StoreResult<()>;

    /// Returns once every write acknowledged so far is durable.
    async fn flush(&self) -> StoreResult<()>;

    /// Checks that the backend answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Every stored key.
    async fn load_keys(&self) -> StoreResult<Vec<KeyRecord>>;

    /// In isolation: if the newest key of `key.kind` in `key.app_id` has kid `expected_newest`
    /// (`None`: there is no key of that kind in that app), inserts `key`. Returns the newest key
    /// of that kind and app afterwards — `key` itself, or the one a concurrent caller inserted
    /// first.
    async fn insert_key_if_newest(
        &self,
        expected_newest: Option<&str>,
        key: &KeyRecord,
    ) -> StoreResult<KeyRecord>;

    /// Atomically deletes every key of the given kinds in `app_id` and inserts `keys`.
    async fn replace_keys(
        &self,
        app_id: &str,
        kinds: &[KeyKind],
        keys: &[KeyRecord],
    ) -> StoreResult<()>;

    /// Deletes the keys with these ids.
    async fn delete_keys(&self, kids: &[String]) -> StoreResult<()>;

    /// Appends events to the revocation log, at `at`, in order. Every reader that reads past
    /// an earlier event's cursor later sees these (cursors grow in the order events become
    /// visible, also across processes).
    async fn append_events(&self, events: &[EventKind], at: Millis) -> StoreResult<()>;

    /// The events after `cursor` (0: from the oldest kept), oldest first, at most `limit`, and
    /// whether none after `cursor` were trimmed.
    async fn events_since(&self, cursor: u64, limit: usize) -> StoreResult<EventPage>;

    /// Drops events appended before `before`.
    async fn trim_events(&self, before: Millis) -> StoreResult<()>;

    /// A signal that changes when events are appended (by this process or, where the backend
    /// can push, by others), so readers need not poll often; `None` when the backend cannot
    /// push and readers must poll.
    fn event_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// How often readers poll the log when [`Store::event_signal`] is `None` or may miss
    /// appends by other processes (default 100 ms).
    fn event_poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(100)
    }
}
