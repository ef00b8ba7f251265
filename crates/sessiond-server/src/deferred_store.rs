//! A store that is not there yet: what the server's manager runs on when `sessiond serve`
//! starts while its store is down.
//!
//! Until [`DeferredStore::connect`] hands it the real store, every operation fails with
//! [`StoreError::Unavailable`] (so nothing is ever answered as valid or as logged out); after,
//! every operation goes to the real store. The server does not route requests to the manager
//! before it is ready (see [`crate::readiness`]), so in practice nothing sees the first state.
//!
//! Every method of [`Store`] is forwarded, the provided ones too, so the real store's own
//! behaviour (its push signal for the revocation log, its poll interval) is what the manager
//! sees.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use sessiond_core::clock::Millis;
use sessiond_core::model::{KeyKind, KeyRecord, SessionRecord, UserQuery};
use sessiond_core::store::{
    DataUpdate, EventKind, EventPage, Rotation, StoreResult, UpdateOutcome,
};
use sessiond_core::{Store, StoreError};

/// The error of an operation before the store is connected.
#[derive(Debug, thiserror::Error)]
#[error("the store is not connected yet")]
pub struct NotConnected;

/// A [`Store`] whose backend arrives later.
pub struct DeferredStore {
    backend: &'static str,
    inner: OnceLock<Arc<dyn Store>>,
}

impl std::fmt::Debug for DeferredStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredStore")
            .field("backend", &self.backend)
            .field("connected", &self.inner.get().is_some())
            .finish()
    }
}

impl DeferredStore {
    /// A store that will be `backend` (what [`Store::backend`] says until then).
    pub fn new(backend: &'static str) -> Self {
        Self { backend, inner: OnceLock::new() }
    }

    /// The backend of a store URL, without connecting.
    pub fn backend_of(url: &str) -> &'static str {
        if url.starts_with("sqlite://") {
            "sqlite"
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            "postgres"
        } else if url.starts_with("redis+cluster://") {
            "redis-cluster"
        } else if url.starts_with("redis://") {
            "redis"
        } else {
            "memory"
        }
    }

    /// Hands over the real store; later calls are ignored (the first one stays).
    pub fn connect(&self, store: Arc<dyn Store>) {
        let _ = self.inner.set(store);
    }

    /// Whether the real store has been handed over.
    pub fn is_connected(&self) -> bool {
        self.inner.get().is_some()
    }

    fn get(&self) -> StoreResult<&Arc<dyn Store>> {
        self.inner.get().ok_or_else(|| StoreError::unavailable(NotConnected))
    }
}

#[async_trait]
impl Store for DeferredStore {
    fn backend(&self) -> &'static str {
        self.inner.get().map_or(self.backend, |s| s.backend())
    }

    async fn create_session(&self, rec: &SessionRecord) -> StoreResult<()> {
        self.get()?.create_session(rec).await
    }

    async fn load_session(&self, handle: &str, now: Millis) -> StoreResult<Option<SessionRecord>> {
        self.get()?.load_session(handle, now).await
    }

    async fn rotate_refresh(&self, rot: &Rotation<'_>) -> StoreResult<bool> {
        self.get()?.rotate_refresh(rot).await
    }

    async fn update_data(&self, upd: &DataUpdate<'_>) -> StoreResult<UpdateOutcome> {
        self.get()?.update_data(upd).await
    }

    async fn touch_session(
        &self, handle: &str, now: Millis, expires_at: Millis,
    ) -> StoreResult<()> {
        self.get()?.touch_session(handle, now, expires_at).await
    }

    async fn delete_sessions(&self, handles: &[String]) -> StoreResult<Vec<String>> {
        self.get()?.delete_sessions(handles).await
    }

    async fn delete_user_sessions(&self, query: &UserQuery) -> StoreResult<Vec<String>> {
        self.get()?.delete_user_sessions(query).await
    }

    async fn list_user_sessions(
        &self, query: &UserQuery, now: Millis,
    ) -> StoreResult<Vec<SessionRecord>> {
        self.get()?.list_user_sessions(query, now).await
    }

    async fn delete_expired(&self, now: Millis, limit: usize) -> StoreResult<usize> {
        self.get()?.delete_expired(now, limit).await
    }

    async fn wipe(&self) -> StoreResult<()> {
        self.get()?.wipe().await
    }

    async fn flush(&self) -> StoreResult<()> {
        // Nothing was ever written through a store that never connected.
        match self.inner.get() {
            Some(s) => s.flush().await,
            None => Ok(()),
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        self.get()?.ping().await
    }

    async fn load_keys(&self) -> StoreResult<Vec<KeyRecord>> {
        self.get()?.load_keys().await
    }

    async fn insert_key_if_newest(
        &self, expected_newest: Option<&str>, key: &KeyRecord,
    ) -> StoreResult<KeyRecord> {
        self.get()?.insert_key_if_newest(expected_newest, key).await
    }

    async fn replace_keys(
        &self, app_id: &str, kinds: &[KeyKind], keys: &[KeyRecord],
    ) -> StoreResult<()> {
        self.get()?.replace_keys(app_id, kinds, keys).await
    }

    async fn delete_keys(&self, kids: &[String]) -> StoreResult<()> {
        self.get()?.delete_keys(kids).await
    }

    async fn append_events(&self, events: &[EventKind], at: Millis) -> StoreResult<()> {
        self.get()?.append_events(events, at).await
    }

    async fn events_since(&self, cursor: u64, limit: usize) -> StoreResult<EventPage> {
        self.get()?.events_since(cursor, limit).await
    }

    async fn trim_events(&self, before: Millis) -> StoreResult<()> {
        self.get()?.trim_events(before).await
    }

    fn event_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.inner.get().and_then(|s| s.event_signal())
    }

    fn event_poll_interval(&self) -> std::time::Duration {
        match self.inner.get() {
            Some(s) => s.event_poll_interval(),
            None => std::time::Duration::from_millis(100),
        }
    }
}
