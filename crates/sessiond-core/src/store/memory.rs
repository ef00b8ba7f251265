//! A store that lives in process memory: for tests, benchmarks and single-process apps that
//! accept losing sessions on restart.

use std::collections::{BTreeSet, HashMap, VecDeque};

use async_trait::async_trait;
use parking_lot::RwLock;

use super::{
    DataUpdate, Event, EventKind, EventPage, Rotation, Store, StoreError, StoreResult,
    UpdateOutcome,
};
use crate::clock::Millis;
use crate::model::{KeyKind, KeyRecord, SessionRecord, UserField, UserQuery};

/// In-memory [`Store`]. Every operation takes one lock, which makes each of them atomic.
#[derive(Debug)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
    log: parking_lot::Mutex<Log>,
    signal: tokio::sync::watch::Sender<u64>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            inner: RwLock::default(),
            log: parking_lot::Mutex::default(),
            signal: tokio::sync::watch::channel(0).0,
        }
    }
}

/// The revocation log, kept in memory beside the sessions.
#[derive(Debug, Default)]
struct Log {
    events: VecDeque<Event>,
    last: u64,
    /// Every event up to this cursor has been trimmed.
    trimmed_through: u64,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, SessionRecord>,
    /// (app, user id) → handles.
    by_user: HashMap<(String, String), BTreeSet<String>>,
    /// (app, recipe user id) → handles.
    by_recipe_user: HashMap<(String, String), BTreeSet<String>>,
    keys: Vec<KeyRecord>,
}

impl Inner {
    fn unindex(&mut self, rec: &SessionRecord) {
        for (map, user) in
            [(&mut self.by_user, &rec.user_id), (&mut self.by_recipe_user, &rec.recipe_user_id)]
        {
            let key = (rec.app_id.clone(), user.clone());
            if let Some(set) = map.get_mut(&key) {
                set.remove(&rec.handle);
                if set.is_empty() {
                    map.remove(&key);
                }
            }
        }
    }

    fn remove(&mut self, handle: &str) -> Option<SessionRecord> {
        let rec = self.sessions.remove(handle)?;
        self.unindex(&rec);
        Some(rec)
    }

    fn selected(&self, q: &UserQuery) -> Vec<&SessionRecord> {
        let map = match q.field {
            UserField::User => &self.by_user,
            UserField::RecipeUser => &self.by_recipe_user,
        };
        let Some(handles) = map.get(&(q.app_id.clone(), q.user_id.clone())) else {
            return Vec::new();
        };
        let mut recs: Vec<&SessionRecord> =
            handles.iter().filter_map(|h| self.sessions.get(h)).filter(|r| q.matches(r)).collect();
        recs.sort_by(|a, b| (a.created_at, &a.handle).cmp(&(b.created_at, &b.handle)));
        recs
    }

    fn live_mut(&mut self, handle: &str, now: Millis) -> Option<&mut SessionRecord> {
        self.sessions.get_mut(handle).filter(|r| r.expires_at > now)
    }

    fn newest_key(&self, app_id: &str, kind: KeyKind) -> Option<&KeyRecord> {
        self.keys
            .iter()
            .filter(|k| k.kind == kind && k.app_id == app_id)
            .max_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)))
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn create_session(&self, rec: &SessionRecord) -> StoreResult<()> {
        let mut guard = self.inner.write();
        let g = &mut *guard;
        if g.sessions.contains_key(&rec.handle) {
            return Err(StoreError::Duplicate);
        }
        for (map, user) in
            [(&mut g.by_user, &rec.user_id), (&mut g.by_recipe_user, &rec.recipe_user_id)]
        {
            map.entry((rec.app_id.clone(), user.clone())).or_default().insert(rec.handle.clone());
        }
        g.sessions.insert(rec.handle.clone(), rec.clone());
        Ok(())
    }

    async fn load_session(&self, handle: &str, now: Millis) -> StoreResult<Option<SessionRecord>> {
        let g = self.inner.read();
        Ok(g.sessions.get(handle).filter(|r| r.expires_at > now).cloned())
    }

    async fn rotate_refresh(&self, rot: &Rotation<'_>) -> StoreResult<bool> {
        let mut g = self.inner.write();
        let Some(rec) = g.live_mut(rot.handle, rot.now) else {
            return Ok(false);
        };
        if rec.generation != rot.from_generation || rec.refresh_hash != rot.from_refresh_hash {
            return Ok(false);
        }
        rec.generation += 1;
        rec.refresh_hash = rot.to_refresh_hash;
        rec.access_hash = rot.to_access_hash;
        rec.rotated_at = rot.now;
        rec.recent_rotations = rot.recent_rotations.to_vec();
        rec.last_active_at = rec.last_active_at.max(rot.now);
        rec.expires_at = rot.expires_at.min(rec.absolute_expires_at);
        Ok(true)
    }

    async fn update_data(&self, upd: &DataUpdate<'_>) -> StoreResult<UpdateOutcome> {
        let mut g = self.inner.write();
        let Some(rec) = g.live_mut(upd.handle, upd.now) else {
            return Ok(UpdateOutcome::NotFound);
        };
        if rec.version != upd.expected_version {
            return Ok(UpdateOutcome::VersionMismatch);
        }
        if let Some(p) = upd.public_data {
            rec.public_data = p.to_owned();
        }
        if let Some(p) = upd.private_data {
            rec.private_data = p.to_owned();
        }
        rec.version += 1;
        Ok(UpdateOutcome::Updated(rec.version))
    }

    async fn touch_session(
        &self, handle: &str, now: Millis, expires_at: Millis,
    ) -> StoreResult<()> {
        let mut g = self.inner.write();
        if let Some(rec) = g.live_mut(handle, now) {
            rec.last_active_at = rec.last_active_at.max(now);
            rec.expires_at = rec.expires_at.max(expires_at.min(rec.absolute_expires_at));
        }
        Ok(())
    }

    async fn delete_sessions(&self, handles: &[String]) -> StoreResult<Vec<String>> {
        let mut g = self.inner.write();
        Ok(handles.iter().filter(|h| g.remove(h).is_some()).cloned().collect())
    }

    async fn delete_user_sessions(&self, query: &UserQuery) -> StoreResult<Vec<String>> {
        let mut g = self.inner.write();
        let handles: Vec<String> =
            g.selected(query).into_iter().map(|r| r.handle.clone()).collect();
        for h in &handles {
            g.remove(h);
        }
        Ok(handles)
    }

    async fn list_user_sessions(
        &self, query: &UserQuery, now: Millis,
    ) -> StoreResult<Vec<SessionRecord>> {
        let g = self.inner.read();
        Ok(g.selected(query).into_iter().filter(|r| r.expires_at > now).cloned().collect())
    }

    async fn delete_expired(&self, now: Millis, limit: usize) -> StoreResult<usize> {
        let mut g = self.inner.write();
        let expired: Vec<String> = g
            .sessions
            .values()
            .filter(|r| r.expires_at <= now)
            .take(limit)
            .map(|r| r.handle.clone())
            .collect();
        for h in &expired {
            g.remove(h);
        }
        Ok(expired.len())
    }

    async fn wipe(&self) -> StoreResult<()> {
        *self.inner.write() = Inner::default();
        Ok(())
    }

    async fn append_events(&self, events: &[EventKind], at: Millis) -> StoreResult<()> {
        let last = {
            let mut log = self.log.lock();
            for kind in events {
                log.last += 1;
                let cursor = log.last;
                log.events.push_back(Event { cursor, at, kind: kind.clone() });
            }
            log.last
        };
        self.signal.send_replace(last);
        Ok(())
    }

    async fn events_since(&self, cursor: u64, limit: usize) -> StoreResult<EventPage> {
        let log = self.log.lock();
        Ok(EventPage {
            events: log.events.iter().filter(|e| e.cursor > cursor).take(limit).cloned().collect(),
            continuous: cursor >= log.trimmed_through,
        })
    }

    async fn trim_events(&self, before: Millis) -> StoreResult<()> {
        let mut log = self.log.lock();
        while log.events.front().is_some_and(|e| e.at < before) {
            if let Some(e) = log.events.pop_front() {
                log.trimmed_through = e.cursor;
            }
        }
        Ok(())
    }

    fn event_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.signal.subscribe())
    }

    async fn flush(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn load_keys(&self) -> StoreResult<Vec<KeyRecord>> {
        Ok(self.inner.read().keys.clone())
    }

    async fn insert_key_if_newest(
        &self, expected_newest: Option<&str>, key: &KeyRecord,
    ) -> StoreResult<KeyRecord> {
        let mut g = self.inner.write();
        let newest = g.newest_key(&key.app_id, key.kind);
        if let Some(k) = newest
            && Some(k.kid.as_str()) != expected_newest
        {
            return Ok(k.clone());
        }
        g.keys.push(key.clone());
        Ok(key.clone())
    }

    async fn replace_keys(
        &self, app_id: &str, kinds: &[KeyKind], keys: &[KeyRecord],
    ) -> StoreResult<()> {
        let mut g = self.inner.write();
        g.keys.retain(|k| k.app_id != app_id || !kinds.contains(&k.kind));
        g.keys.extend(keys.iter().cloned());
        Ok(())
    }

    async fn delete_keys(&self, kids: &[String]) -> StoreResult<()> {
        self.inner.write().keys.retain(|k| !kids.contains(&k.kid));
        Ok(())
    }
}
