//! A store that can be switched off, to see what fails closed: every verifier and web layer
//! test of store outages uses this one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use sessiond_core::model::{KeyKind, KeyRecord, SessionRecord, UserQuery};
use sessiond_core::store::{
    DataUpdate, EventKind, EventPage, Rotation, StoreResult, UpdateOutcome,
};
use sessiond_core::{Millis, Store, StoreError};

/// A store that passes every call to `inner` while up, and fails every call with
/// [`StoreError::Unavailable`] while down.
pub struct Switchable {
    inner: Arc<dyn Store>,
    down: AtomicBool,
}

impl Switchable {
    /// Wraps `inner`, up.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self { inner, down: AtomicBool::new(false) }
    }

    /// Switches the store off (`true`) or back on.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn up(&self) -> StoreResult<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::unavailable(std::io::Error::other("switched off")))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for Switchable {
    fn backend(&self) -> &'static str {
        "switchable"
    }
    async fn create_session(&self, rec: &SessionRecord) -> StoreResult<()> {
        self.up()?;
        self.inner.create_session(rec).await
    }
    async fn load_session(&self, h: &str, now: Millis) -> StoreResult<Option<SessionRecord>> {
        self.up()?;
        self.inner.load_session(h, now).await
    }
    async fn rotate_refresh(&self, r: &Rotation<'_>) -> StoreResult<bool> {
        self.up()?;
        self.inner.rotate_refresh(r).await
    }
    async fn update_data(&self, u: &DataUpdate<'_>) -> StoreResult<UpdateOutcome> {
        self.up()?;
        self.inner.update_data(u).await
    }
    async fn touch_session(&self, h: &str, now: Millis, e: Millis) -> StoreResult<()> {
        self.up()?;
        self.inner.touch_session(h, now, e).await
    }
    async fn delete_sessions(&self, h: &[String]) -> StoreResult<Vec<String>> {
        self.up()?;
        self.inner.delete_sessions(h).await
    }
    async fn delete_user_sessions(&self, q: &UserQuery) -> StoreResult<Vec<String>> {
        self.up()?;
        self.inner.delete_user_sessions(q).await
    }
    async fn list_user_sessions(
        &self, q: &UserQuery, now: Millis,
    ) -> StoreResult<Vec<SessionRecord>> {
        self.up()?;
        self.inner.list_user_sessions(q, now).await
    }
    async fn delete_expired(&self, now: Millis, limit: usize) -> StoreResult<usize> {
        self.up()?;
        self.inner.delete_expired(now, limit).await
    }
    async fn wipe(&self) -> StoreResult<()> {
        self.up()?;
        self.inner.wipe().await
    }
    async fn flush(&self) -> StoreResult<()> {
        self.up()?;
        self.inner.flush().await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.up()?;
        self.inner.ping().await
    }
    async fn load_keys(&self) -> StoreResult<Vec<KeyRecord>> {
        self.up()?;
        self.inner.load_keys().await
    }
    async fn insert_key_if_newest(
        &self, expected: Option<&str>, key: &KeyRecord,
    ) -> StoreResult<KeyRecord> {
        self.up()?;
        self.inner.insert_key_if_newest(expected, key).await
    }
    async fn replace_keys(
        &self, app_id: &str, kinds: &[KeyKind], keys: &[KeyRecord],
    ) -> StoreResult<()> {
        self.up()?;
        self.inner.replace_keys(app_id, kinds, keys).await
    }
    async fn delete_keys(&self, kids: &[String]) -> StoreResult<()> {
        self.up()?;
        self.inner.delete_keys(kids).await
    }
    async fn append_events(&self, events: &[EventKind], at: Millis) -> StoreResult<()> {
        self.up()?;
        self.inner.append_events(events, at).await
    }
    async fn events_since(&self, cursor: u64, limit: usize) -> StoreResult<EventPage> {
        self.up()?;
        self.inner.events_since(cursor, limit).await
    }
    async fn trim_events(&self, before: Millis) -> StoreResult<()> {
        self.up()?;
        self.inner.trim_events(before).await
    }
    fn event_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.inner.event_signal()
    }
    fn event_poll_interval(&self) -> std::time::Duration {
        self.inner.event_poll_interval()
    }
}
