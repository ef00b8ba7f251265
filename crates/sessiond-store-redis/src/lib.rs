//! # sessiond-store-redis
//!
//! The Redis (single node or Redis Cluster) [`Store`]. Every key of one user's sessions shares
//! a hash tag (see [`keys`]), so every write to a session (rotation, data update, touch,
//! delete) is one Lua script over one slot, and a create is `SET NX` plus its index entry in
//! one slot: atomic on a single node and on a cluster alike. Each session is one MessagePack
//! value; expiry is enforced on every read, swept by the manager through per-tag expiry sets,
//! and backed by a Redis TTL at the absolute lifetime plus a day. The revocation log is a
//! stream per prefix, pushed to other processes by an `XREAD BLOCK` reader on a connection of
//! its own (see `events`). See the README.

mod config;
mod conn;
mod events;
pub mod keys;
mod record;
mod scripts;

pub use config::RedisOptions;

use async_trait::async_trait;
use redis::Value;
use sessiond_core::model::encode_rotations;
use sessiond_core::store::{
    DataUpdate, EventKind, EventPage, Rotation, StoreResult, UpdateOutcome,
};
use sessiond_core::{
    KeyKind, KeyRecord, Millis, SessionRecord, Store, StoreError, UserField, UserQuery,
};

use conn::Conn;
use keys::{Keys, TAGS, handle_of_member, member, member_pattern, tag};

/// How far past its absolute lifetime a session's Redis TTL lies: a backstop should the
/// sweeper not run; expiry itself is checked on every read.
const TTL_BACKSTOP_MS: i64 = 24 * 3600 * 1000;
/// How many tags' indexes one sweep round trip covers (one pipeline of `SWEEP` calls).
const SWEEP_CHUNK: u16 = 512;

/// A store on one Redis node or one Redis Cluster, under one key prefix. Clones share the
/// connections.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    /// Revocations go through this connection, so `WAIT` (which blocks the connection it runs
    /// on, and counts that connection's writes) never stalls other traffic. The same
    /// connection as `conn` when `wait_replicas` is 0.
    revoker: Conn,
    keys: Keys,
    opts: RedisOptions,
    /// Push for the revocation log (shared by clones; the stream reader stops when the last
    /// clone is dropped).
    push: std::sync::Arc<events::Push>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("cluster", &self.opts.cluster)
            .field("prefix", &self.opts.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::unavailable(e)
}

impl RedisStore {
    /// Connects to the server(s) of `url` (see [`RedisOptions`]).
    ///
    /// # Errors
    /// [`StoreError::Config`] for a URL that can never work (see [`RedisOptions::parse`]; also
    /// a host, port or database the Redis client cannot parse); [`StoreError::Unavailable`]
    /// for an unreachable server.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let opts = RedisOptions::parse(url)?;
        let conn = Conn::connect(&opts, opts.timeout).await?;
        let revoker = if opts.wait_replicas == 0 {
            conn.clone()
        } else {
            // Its replies include the WAIT, which may take up to wait_timeout.
            Conn::connect(&opts, opts.timeout.saturating_add(opts.wait_timeout)).await?
        };
        let keys = Keys::new(&opts.prefix);
        let push = std::sync::Arc::new(events::Push::new(
            opts.clone(),
            keys.events_log(),
            keys.events_meta(),
        ));
        let store = Self { conn, revoker, keys, opts, push };
        store.ping().await?;
        Ok(store)
    }

    /// The options this store was connected with (its nodes, prefix and timeouts).
    pub fn options(&self) -> &RedisOptions {
        &self.opts
    }

    /// After a revocation in `tags`' slots: `WAIT` for the configured replicas, once per slot on
    /// a cluster, once in all on a single node (where one `WAIT` covers every earlier write of
    /// the revocation connection).
    async fn wait_for_replicas(&self, tags: &[u16]) -> StoreResult<()> {
        if self.opts.wait_replicas == 0 || tags.is_empty() {
            return Ok(());
        }
        let mut seen = Vec::new();
        for t in tags {
            let slot = keys::slot(&self.keys.hash_tag(*t));
            if seen.contains(&slot) || !self.opts.cluster && !seen.is_empty() {
                continue;
            }
            seen.push(slot);
            self.replicas_ack(&self.keys.hash_tag(*t), "revocation").await?;
        }
        Ok(())
    }

    /// `WAIT` for the configured replicas on the node of `hash_tag`'s slot (after a write
    /// through the revocation connection).
    async fn wait_on(&self, hash_tag: &str) -> StoreResult<()> {
        if self.opts.wait_replicas == 0 {
            return Ok(());
        }
        self.replicas_ack(hash_tag, "revocation events").await
    }

    /// One `WAIT` on the node of `hash_tag`'s slot: [`StoreError::Unavailable`] unless the
    /// configured replicas acknowledge `what` within `wait_timeout_ms`.
    async fn replicas_ack(&self, hash_tag: &str, what: &str) -> StoreResult<()> {
        let acked = self
            .revoker
            .wait(hash_tag, self.opts.wait_replicas, self.opts.wait_timeout)
            .await
            .map_err(unavailable)?;
        if acked < i64::from(self.opts.wait_replicas) {
            return Err(StoreError::unavailable(std::io::Error::other(format!(
                "{what} reached {acked} of {} replicas in time",
                self.opts.wait_replicas
            ))));
        }
        Ok(())
    }

    /// Handles in `index` whose member belongs to (app, id), by `ZSCAN MATCH`.
    async fn members(&self, index: &str, app: &str, id: &str) -> StoreResult<Vec<String>> {
        let pattern = member_pattern(app, id);
        let mut cursor: u64 = 0;
        let mut out = Vec::new();
        loop {
            let (next, batch): (u64, Vec<Vec<u8>>) = self
                .conn
                .query(
                    redis::cmd("ZSCAN")
                        .arg(index)
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000),
                )
                .await
                .map_err(unavailable)?;
            // ZSCAN replies member, score, member, score, ...
            out.extend(batch.chunks(2).filter_map(|p| handle_of_member(&p[0])));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn load_many(&self, handles: &[String]) -> StoreResult<Vec<SessionRecord>> {
        if handles.is_empty() {
            return Ok(Vec::new());
        }
        let cmds = handles
            .iter()
            .map(|h| {
                let mut c = redis::cmd("GET");
                c.arg(self.keys.session(h));
                c
            })
            .collect();
        let blobs: Vec<Option<Vec<u8>>> = self.conn.each(cmds).await.map_err(unavailable)?;
        let mut out = Vec::new();
        for b in &blobs {
            if let Some(r) = record::decode(b.as_deref())? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Deletes matching sessions among `handles` of tag `t`; returns their handles.
    async fn delete_matching(
        &self, t: u16, handles: &[String], app: &str, id: &str, tenant: Option<&str>, field: &str,
    ) -> StoreResult<Vec<String>> {
        if handles.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = scripts::DELETE_MATCHING.prepare_invoke();
        inv.key(self.keys.index(t));
        for h in handles {
            inv.key(self.keys.session(h));
        }
        inv.arg(app).arg(id).arg(tenant.unwrap_or("")).arg(field);
        let flat: Vec<String> = self.revoker.invoke(&inv).await.map_err(unavailable)?;
        let mut out = Vec::new();
        for c in flat.chunks_exact(4) {
            let (h, app, user, recipe) = (&c[0], &c[1], &c[2], &c[3]);
            // Linked sessions also have an entry under their recipe user's tag.
            if user != recipe {
                self.forget_linked(app, recipe, h).await?;
            }
            out.push(h.clone());
        }
        Ok(out)
    }

    async fn forget_linked(&self, app: &str, recipe: &str, handle: &str) -> StoreResult<()> {
        self.revoker
            .query::<i64>(
                redis::cmd("ZREM")
                    .arg(self.keys.recipe_index(tag(app, recipe)))
                    .arg(member(app, recipe, handle)),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn sweep_tag(&self, t: u16, members: &[Vec<u8>], now: Millis) -> StoreResult<usize> {
        let mut inv = scripts::SWEEP.prepare_invoke();
        inv.key(self.keys.index(t));
        for m in members {
            let h = handle_of_member(m).unwrap_or_default();
            inv.key(self.keys.session(&h));
        }
        inv.arg(now);
        for m in members {
            inv.arg(m.as_slice());
        }
        let n: i64 = self.conn.invoke(&inv).await.map_err(unavailable)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

fn tenant_ok(q: &UserQuery, r: &SessionRecord) -> bool {
    q.tenant_id.as_ref().is_none_or(|t| *t == r.tenant_id)
}

#[async_trait]
impl Store for RedisStore {
    fn backend(&self) -> &'static str {
        if self.opts.cluster { "redis-cluster" } else { "redis" }
    }

    async fn create_session(&self, rec: &SessionRecord) -> StoreResult<()> {
        let t = tag(&rec.app_id, &rec.user_id);
        if Keys::tag_of_handle(&rec.handle) != t {
            return Err(StoreError::Corrupt(
                "session handle does not carry its user's tag (not made by SessionManager)",
            ));
        }
        let linked = rec.recipe_user_id != rec.user_id;
        if linked {
            // Written first: if the create then fails, only a dangling pointer remains, never a
            // session that recipe-user revocation cannot find. Scored by the absolute expiry
            // (which no later write can extend, and which lives in another slot): the sweep
            // drops pointers that old.
            self.conn
                .query::<i64>(
                    redis::cmd("ZADD")
                        .arg(self.keys.recipe_index(tag(&rec.app_id, &rec.recipe_user_id)))
                        .arg(rec.absolute_expires_at)
                        .arg(member(&rec.app_id, &rec.recipe_user_id, &rec.handle)),
                )
                .await
                .map_err(unavailable)?;
        }
        // Index entry first, then `SET NX` (which never overwrites an existing session), in one
        // pipelined round trip to one slot. Should anything fail in between, only an index entry
        // pointing at nothing remains; every reader re-checks the session it points to, and a
        // revoke-all racing this create sees it as a create that came after it.
        // Both keys share the tag's slot, so on a cluster too the pipeline goes to one node, in
        // order.
        let mut p = redis::pipe();
        p.cmd("ZADD")
            .arg(self.keys.index(t))
            .arg(rec.expires_at)
            .arg(member(&rec.app_id, &rec.user_id, &rec.handle))
            .ignore()
            .cmd("SET")
            .arg(self.keys.session(&rec.handle))
            .arg(record::encode(rec))
            .arg("NX")
            .arg("PXAT")
            .arg(rec.absolute_expires_at.saturating_add(TTL_BACKSTOP_MS));
        let (set,): (Option<String>,) = self.conn.pipeline(&p).await.map_err(unavailable)?;
        let created = set.is_some();
        if created { Ok(()) } else { Err(StoreError::Duplicate) }
    }

    async fn load_session(&self, handle: &str, now: Millis) -> StoreResult<Option<SessionRecord>> {
        let blob: Option<Vec<u8>> = self
            .conn
            .query(redis::cmd("GET").arg(self.keys.session(handle)))
            .await
            .map_err(unavailable)?;
        Ok(record::decode(blob.as_deref())?.filter(|r| r.expires_at > now && r.handle == handle))
    }

    async fn rotate_refresh(&self, rot: &Rotation<'_>) -> StoreResult<bool> {
        let t = Keys::tag_of_handle(rot.handle);
        let mut inv = scripts::ROTATE.prepare_invoke();
        inv.key(self.keys.session(rot.handle))
            .key(self.keys.index(t))
            .arg(rot.now)
            .arg(rot.from_generation.to_string())
            .arg(&rot.from_refresh_hash[..])
            .arg(&rot.to_refresh_hash[..])
            .arg(rot.to_access_hash.map(|h| h.to_vec()).unwrap_or_default())
            .arg(rot.expires_at)
            .arg(encode_rotations(rot.recent_rotations));
        let n: i64 = self.conn.invoke(&inv).await.map_err(unavailable)?;
        Ok(n == 1)
    }

    async fn update_data(&self, upd: &DataUpdate<'_>) -> StoreResult<UpdateOutcome> {
        let mut inv = scripts::UPDATE_DATA.prepare_invoke();
        inv.key(self.keys.session(upd.handle))
            .arg(upd.expected_version.to_string())
            .arg(upd.now)
            .arg(if upd.public_data.is_some() { "1" } else { "0" })
            .arg(upd.public_data.unwrap_or(""))
            .arg(if upd.private_data.is_some() { "1" } else { "0" })
            .arg(upd.private_data.unwrap_or(""));
        let n: i64 = self.conn.invoke(&inv).await.map_err(unavailable)?;
        Ok(match n {
            -1 => UpdateOutcome::NotFound,
            -2 => UpdateOutcome::VersionMismatch,
            v => UpdateOutcome::Updated(u64::try_from(v).unwrap_or(0)),
        })
    }

    async fn touch_session(
        &self, handle: &str, now: Millis, expires_at: Millis,
    ) -> StoreResult<()> {
        let mut inv = scripts::TOUCH.prepare_invoke();
        inv.key(self.keys.session(handle))
            .key(self.keys.index(Keys::tag_of_handle(handle)))
            .arg(now)
            .arg(expires_at);
        self.conn.invoke::<i64>(&inv).await.map_err(unavailable)?;
        Ok(())
    }

    async fn delete_sessions(&self, handles: &[String]) -> StoreResult<Vec<String>> {
        let mut gone = Vec::new();
        let mut tags = Vec::new();
        for h in handles {
            let t = Keys::tag_of_handle(h);
            let deleted = self.delete_matching_any(t, h).await?;
            if deleted {
                gone.push(h.clone());
                tags.push(t);
            }
        }
        self.wait_for_replicas(&tags).await?;
        Ok(gone)
    }

    async fn delete_user_sessions(&self, query: &UserQuery) -> StoreResult<Vec<String>> {
        let mut gone = Vec::new();
        let t = tag(&query.app_id, &query.user_id);
        let (field, tenant) = match query.field {
            UserField::User => ("u", query.tenant_id.as_deref()),
            UserField::RecipeUser => ("r", query.tenant_id.as_deref()),
        };
        // Sessions in the tag's user index (for recipe-user queries: the unlinked ones).
        let handles = self.members(&self.keys.index(t), &query.app_id, &query.user_id).await?;
        gone.extend(
            self.delete_matching(t, &handles, &query.app_id, &query.user_id, tenant, field).await?,
        );
        // Account-linked sessions of a recipe user live under their primary user's tag.
        if query.field == UserField::RecipeUser {
            let linked =
                self.members(&self.keys.recipe_index(t), &query.app_id, &query.user_id).await?;
            for h in linked {
                let ht = Keys::tag_of_handle(&h);
                let deleted = self
                    .delete_matching(
                        ht,
                        std::slice::from_ref(&h),
                        &query.app_id,
                        &query.user_id,
                        tenant,
                        "r",
                    )
                    .await?;
                if deleted.is_empty() {
                    // Dangling or not matching the tenant: drop the pointer only if the session
                    // is gone.
                    if self.load_session(&h, Millis::MIN).await?.is_none() {
                        self.forget_linked(&query.app_id, &query.user_id, &h).await?;
                    }
                } else {
                    gone.push(h);
                }
            }
        }
        let tags: Vec<u16> = gone.iter().map(|h| Keys::tag_of_handle(h)).collect();
        self.wait_for_replicas(&tags).await?;
        Ok(gone)
    }

    async fn list_user_sessions(
        &self, query: &UserQuery, now: Millis,
    ) -> StoreResult<Vec<SessionRecord>> {
        let t = tag(&query.app_id, &query.user_id);
        let mut handles = self.members(&self.keys.index(t), &query.app_id, &query.user_id).await?;
        if query.field == UserField::RecipeUser {
            handles.extend(
                self.members(&self.keys.recipe_index(t), &query.app_id, &query.user_id).await?,
            );
        }
        let mut recs: Vec<SessionRecord> = self
            .load_many(&handles)
            .await?
            .into_iter()
            .filter(|r| r.expires_at > now && query.matches(r) && tenant_ok(query, r))
            .collect();
        recs.sort_by(|a, b| (a.created_at, &a.handle).cmp(&(b.created_at, &b.handle)));
        recs.dedup_by(|a, b| a.handle == b.handle);
        Ok(recs)
    }

    async fn delete_expired(&self, now: Millis, limit: usize) -> StoreResult<usize> {
        let mut deleted = 0usize;
        let mut start = 0u16;
        while start < TAGS && deleted < limit {
            let end = (start + SWEEP_CHUNK).min(TAGS);
            let cmds = (start..end)
                .map(|t| {
                    let mut c = redis::cmd("ZRANGEBYSCORE");
                    c.arg(self.keys.index(t))
                        .arg("-inf")
                        .arg(now)
                        .arg("LIMIT")
                        .arg(0)
                        .arg(limit - deleted);
                    c
                })
                .collect();
            let found: Vec<Vec<Vec<u8>>> = self.conn.each(cmds).await.map_err(unavailable)?;
            // Pointers to linked sessions past their absolute expiry (score 0: written by an
            // earlier version, kept until revoked) go too.
            let pointers = (start..end)
                .map(|t| {
                    let mut c = redis::cmd("ZREMRANGEBYSCORE");
                    c.arg(self.keys.recipe_index(t)).arg("(0").arg(now);
                    c
                })
                .collect();
            self.conn.each::<i64>(pointers).await.map_err(unavailable)?;
            for (i, members) in found.iter().enumerate() {
                if members.is_empty() || deleted >= limit {
                    continue;
                }
                let t = start + u16::try_from(i).unwrap_or(0);
                let take = members.len().min(limit - deleted);
                deleted += self.sweep_tag(t, &members[..take], now).await?;
            }
            start = end;
        }
        Ok(deleted)
    }

    async fn wipe(&self) -> StoreResult<()> {
        let mut start = 0u16;
        while start < TAGS {
            let end = (start + SWEEP_CHUNK).min(TAGS);
            let cmds = (start..end)
                .map(|t| {
                    let mut c = redis::cmd("ZRANGE");
                    c.arg(self.keys.index(t)).arg(0).arg(-1);
                    c
                })
                .collect();
            let found: Vec<Vec<Vec<u8>>> = self.conn.each(cmds).await.map_err(unavailable)?;
            // One DEL per tag: every key in it shares the tag's slot.
            let mut dels = Vec::new();
            for (i, members) in found.iter().enumerate() {
                let t = start + u16::try_from(i).unwrap_or(0);
                let mut del = redis::cmd("DEL");
                del.arg(self.keys.index(t)).arg(self.keys.recipe_index(t));
                for m in members {
                    if let Some(h) = handle_of_member(m) {
                        del.arg(self.keys.session(&h));
                    }
                }
                dels.push(del);
            }
            self.conn.each::<i64>(dels).await.map_err(unavailable)?;
            start = end;
        }
        self.conn
            .query::<i64>(redis::cmd("DEL").arg(self.keys.signing_keys()).arg(self.keys.ping()))
            .await
            .map_err(unavailable)?;
        // The revocation log's stream goes too, so a wiped prefix leaves no stream behind. Its
        // meta hash keeps the last id (cursors never go back) and marks everything trimmed,
        // then expires unless an append comes.
        let mut inv = events::WIPE.prepare_invoke();
        inv.key(self.keys.events_log())
            .key(self.keys.events_meta())
            .arg(events::meta_ttl_after_wipe());
        self.conn.invoke::<i64>(&inv).await.map_err(unavailable)?;
        Ok(())
    }

    async fn flush(&self) -> StoreResult<()> {
        // Acknowledged writes are as durable as the server's appendfsync makes them; with
        // wait_replicas they have also reached the replicas.
        self.wait_for_replicas(&[0]).await
    }

    async fn ping(&self) -> StoreResult<()> {
        // A small write, not just a read: a replica (read-only), or a primary refusing writes
        // (out of memory, min-replicas not met), is not ready to hold sessions.
        let _: Value = self
            .conn
            .query(redis::cmd("SET").arg(self.keys.ping()).arg(1).arg("PX").arg(60_000))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn load_keys(&self) -> StoreResult<Vec<KeyRecord>> {
        let vals: Vec<Vec<u8>> = self
            .conn
            .query(redis::cmd("HVALS").arg(self.keys.signing_keys()))
            .await
            .map_err(unavailable)?;
        vals.iter().map(|v| record::key_from(v)).collect()
    }

    async fn insert_key_if_newest(
        &self, expected_newest: Option<&str>, key: &KeyRecord,
    ) -> StoreResult<KeyRecord> {
        // One script over the one hash that holds every app's keys: atomic on the node that
        // owns its slot, so nothing changes the keys between the script's read of the app's
        // newest key and its insert.
        let mut inv = scripts::INSERT_KEY.prepare_invoke();
        inv.key(self.keys.signing_keys())
            .arg(&key.app_id)
            .arg(key.kind.as_str())
            .arg(expected_newest.unwrap_or(""))
            .arg(&key.kid)
            .arg(record::key_json(key));
        let json: Vec<u8> = self.conn.invoke(&inv).await.map_err(unavailable)?;
        record::key_from(&json)
    }

    async fn replace_keys(
        &self, app_id: &str, kinds: &[KeyKind], keys: &[KeyRecord],
    ) -> StoreResult<()> {
        let mut inv = scripts::REPLACE_KEYS.prepare_invoke();
        inv.key(self.keys.signing_keys()).arg(app_id).arg(kinds.len());
        for k in kinds {
            inv.arg(k.as_str());
        }
        for k in keys {
            inv.arg(&k.kid).arg(record::key_json(k));
        }
        self.conn.invoke::<i64>(&inv).await.map_err(unavailable)?;
        Ok(())
    }

    async fn delete_keys(&self, kids: &[String]) -> StoreResult<()> {
        if kids.is_empty() {
            return Ok(());
        }
        self.conn
            .query::<i64>(redis::cmd("HDEL").arg(self.keys.signing_keys()).arg(kids))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn append_events(&self, events: &[EventKind], at: Millis) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        // One script: the whole batch, atomically, under ids above every earlier one.
        let mut inv = events::APPEND.prepare_invoke();
        inv.key(self.keys.events_log()).key(self.keys.events_meta()).arg(events::id_ms(at)).arg(at);
        for e in events {
            inv.arg(e.name()).arg(e.subject());
        }
        // Through the revocation connection: with `wait_replicas`, the events reach the
        // replicas like the revocations they announce.
        let last: String = self.revoker.invoke(&inv).await.map_err(unavailable)?;
        self.push.appended(events::cursor_of(&last)?);
        self.wait_on(&self.keys.events_hash_tag()).await
    }

    async fn events_since(&self, cursor: u64, limit: usize) -> StoreResult<EventPage> {
        let mut inv = events::READ.prepare_invoke();
        inv.key(self.keys.events_log())
            .key(self.keys.events_meta())
            .arg(events::after(cursor))
            .arg(limit);
        let reply: Value = self.conn.invoke(&inv).await.map_err(unavailable)?;
        events::page(&reply, cursor)
    }

    async fn trim_events(&self, before: Millis) -> StoreResult<()> {
        let before = events::id_ms(before);
        if before == 0 {
            return Ok(());
        }
        let mut inv = events::TRIM.prepare_invoke();
        inv.key(self.keys.events_log()).key(self.keys.events_meta()).arg(before);
        self.conn.invoke::<i64>(&inv).await.map_err(unavailable)?;
        Ok(())
    }

    fn event_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.push.subscribe()
    }

    fn event_poll_interval(&self) -> std::time::Duration {
        events::POLL_INTERVAL
    }
}

impl RedisStore {
    /// Deletes one session by handle, whatever its user; returns whether it existed.
    async fn delete_matching_any(&self, t: u16, handle: &str) -> StoreResult<bool> {
        let deleted = self.delete_matching(t, &[handle.to_owned()], "", "", None, "*").await?;
        Ok(!deleted.is_empty())
    }
}
