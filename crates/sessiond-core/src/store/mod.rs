//! The `Store` trait: the small, atomic set of operations every backend provides, and the
//! in-process [`MemoryStore`].
//!
//! Every backend passes the same conformance suite (`sessiond-store-tests`). The guarantees it
//! checks are written on each method below; a backend that cannot give one of them is not a
//! sessiond store.
//!
//! # A store, in full
//!
//! Every method a backend writes, in a store that hands each operation to a [`MemoryStore`]
//! where a real backend would send it to its server (as one statement, script or transaction
//! that gives the method's guarantee). It is a complete store: a [`SessionManager`] runs on it.
//!
//! [`SessionManager`]: crate::SessionManager
//!
//! ```
//! use std::sync::Arc;
//!
//! use async_trait::async_trait;
//! use sessiond_core::jose::Algorithm;
//! use sessiond_core::store::{
//!     DataUpdate, EventKind, EventPage, Rotation, StoreResult, UpdateOutcome,
//! };
//! use sessiond_core::{
//!     KeyKind, KeyRecord, ManagerConfig, MemoryStore, Millis, NewSession, SessionManager,
//!     SessionRecord, Store, StoreError, UserQuery,
//! };
//!
//! /// A backend's store: a connection (here, the memory store standing in for a server).
//! struct MyStore {
//!     server: MemoryStore,
//! }
//!
//! impl MyStore {
//!     /// Parses `url` and connects. A URL that can never work is [`StoreError::Config`]
//!     /// (whose message must not quote the URL: it may hold a password); a server that cannot
//!     /// be reached is [`StoreError::Unavailable`].
//!     async fn connect(url: &str) -> StoreResult<Self> {
//!         if url.strip_prefix("mystore://").is_none() {
//!             return Err(StoreError::Config("a MyStore URL starts with mystore://".into()));
//!         }
//!         Ok(Self { server: MemoryStore::new() })
//!     }
//! }
//!
//! #[async_trait]
//! impl Store for MyStore {
//!     fn backend(&self) -> &'static str {
//!         "mystore"
//!     }
//!     async fn create_session(&self, rec: &SessionRecord) -> StoreResult<()> {
//!         self.server.create_session(rec).await
//!     }
//!     async fn load_session(
//!         &self,
//!         handle: &str,
//!         now: Millis,
//!     ) -> StoreResult<Option<SessionRecord>> {
//!         self.server.load_session(handle, now).await
//!     }
//!     async fn rotate_refresh(&self, rot: &Rotation<'_>) -> StoreResult<bool> {
//!         self.server.rotate_refresh(rot).await
//!     }
//!     async fn update_data(&self, upd: &DataUpdate<'_>) -> StoreResult<UpdateOutcome> {
//!         self.server.update_data(upd).await
//!     }
//!     async fn touch_session(
//!         &self,
//!         handle: &str,
//!         now: Millis,
//!         expires_at: Millis,
//!     ) -> StoreResult<()> {
//!         self.server.touch_session(handle, now, expires_at).await
//!     }
//!     async fn delete_sessions(&self, handles: &[String]) -> StoreResult<Vec<String>> {
//!         self.server.delete_sessions(handles).await
//!     }
//!     async fn delete_user_sessions(&self, query: &UserQuery) -> StoreResult<Vec<String>> {
//!         self.server.delete_user_sessions(query).await
//!     }
//!     async fn list_user_sessions(
//!         &self,
//!         query: &UserQuery,
//!         now: Millis,
//!     ) -> StoreResult<Vec<SessionRecord>> {
//!         self.server.list_user_sessions(query, now).await
//!     }
//!     async fn delete_expired(&self, now: Millis, limit: usize) -> StoreResult<usize> {
//!         self.server.delete_expired(now, limit).await
//!     }
//!     async fn wipe(&self) -> StoreResult<()> {
//!         self.server.wipe().await
//!     }
//!     async fn flush(&self) -> StoreResult<()> {
//!         self.server.flush().await
//!     }
//!     async fn ping(&self) -> StoreResult<()> {
//!         self.server.ping().await
//!     }
//!     async fn load_keys(&self) -> StoreResult<Vec<KeyRecord>> {
//!         self.server.load_keys().await
//!     }
//!     async fn insert_key_if_newest(
//!         &self,
//!         expected_newest: Option<&str>,
//!         key: &KeyRecord,
//!     ) -> StoreResult<KeyRecord> {
//!         self.server.insert_key_if_newest(expected_newest, key).await
//!     }
//!     async fn replace_keys(
//!         &self,
//!         app_id: &str,
//!         kinds: &[KeyKind],
//!         keys: &[KeyRecord],
//!     ) -> StoreResult<()> {
//!         self.server.replace_keys(app_id, kinds, keys).await
//!     }
//!     async fn delete_keys(&self, kids: &[String]) -> StoreResult<()> {
//!         self.server.delete_keys(kids).await
//!     }
//!     async fn append_events(&self, events: &[EventKind], at: Millis) -> StoreResult<()> {
//!         self.server.append_events(events, at).await
//!     }
//!     async fn events_since(&self, cursor: u64, limit: usize) -> StoreResult<EventPage> {
//!         self.server.events_since(cursor, limit).await
//!     }
//!     async fn trim_events(&self, before: Millis) -> StoreResult<()> {
//!         self.server.trim_events(before).await
//!     }
//!     // `event_signal` and `event_poll_interval` have defaults: override them when the
//!     // backend can push appends to other processes (PostgreSQL `LISTEN`, Redis `XREAD`).
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sessiond_core::Error> {
//! assert!(matches!(MyStore::connect("http://x").await, Err(StoreError::Config(_))));
//! let store = Arc::new(MyStore::connect("mystore://local").await?);
//! let config = ManagerConfig { algorithm: Algorithm::EdDSA, ..ManagerConfig::default() };
//! let manager = SessionManager::new(store, config)?;
//! let created = manager.create(NewSession::new("alice")).await?;
//! assert_eq!(manager.user_of(&created.session.handle).await?, "alice");
//! # Ok(()) }
//! ```
//!
//! # Adding a backend: the checklist
//!
//! 1. **The trait.** A crate `crates/sessiond-store-NAME` (every folder under `crates/` is a
//!    workspace member; name it in `[workspace.dependencies]` of the root `Cargo.toml`)
//!    depending on `sessiond-core`, with a store like the one above. Map driver errors to
//!    [`StoreError`]: `Unavailable` (driver error as source) when the operation may not have
//!    happened, `Corrupt` for a row that does not decode, `Closed` after the store is closed,
//!    `Duplicate` from `create_session`, `Config` for a URL or option that can never work.
//! 2. **The conformance macro.** In `tests/conformance.rs`, with `sessiond-store-tests` as a
//!    dev-dependency: an `async fn make() -> Option<impl StoreFactory>` that reads the test
//!    server's URL with `sessiond_store_tests::env::service_url("SESSIOND_TEST_NAME_URL")?`
//!    (a skip outside CI, a failure under `CI=true`) and returns a closure opening another
//!    handle on a namespace of its own (a fresh schema, key prefix or file: see
//!    `sessiond_store_tests::fixtures::with_param`), then
//!    `sessiond_store_tests::conformance_tests!(make);`, one test per case. A backend whose
//!    stored layout changes writes an upgrade test with `sessiond_store_tests::upgrade`.
//! 3. **The store URL.** In `crates/sessiond-server/src/store_url.rs`: the scheme in
//!    `open_store` (which opens it), in `check_store_url` (what can be checked without
//!    connecting) and in the `StoreUrlError::Unsupported` message; the crate in
//!    `crates/sessiond-server/Cargo.toml`. `retryable` there decides which open errors the
//!    server retries: never `Config`.
//! 4. **The bench.** In `crates/sessiond-bench`: a `--NAME` URL option in `Args`
//!    (`src/main.rs`) beside `--redis` and `--postgres`, the store's raw round trip as the
//!    baseline in `src/stores.rs` (like `postgres_raw`), measured with `stores::figures` and
//!    reported with `report_store`; the crate in `crates/sessiond-bench/Cargo.toml`.
//! 5. **CI.** In `.ci/run`: start the service when it is down (as for PostgreSQL and Redis),
//!    export `SESSIOND_TEST_NAME_URL` before `cargo test --workspace`, and drop the tests'
//!    namespaces in `cleanup`.

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
        &self, query: &UserQuery, now: Millis,
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
        &self, expected_newest: Option<&str>, key: &KeyRecord,
    ) -> StoreResult<KeyRecord>;

    /// Atomically deletes every key of the given kinds in `app_id` and inserts `keys`.
    async fn replace_keys(
        &self, app_id: &str, kinds: &[KeyKind], keys: &[KeyRecord],
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
