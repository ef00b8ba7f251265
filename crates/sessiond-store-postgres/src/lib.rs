//! # sessiond-store-postgres
//!
//! The PostgreSQL [`Store`]: every guarantee of the trait from single conditional statements
//! under PostgreSQL's row locks, key creation isolated across processes by a transaction-scoped
//! advisory lock, migrations run on connect under the same kind of lock, and
//! `synchronous_commit = on` on every connection so an acknowledged write is durable. See the
//! README for the schema, the isolation argument and the URL parameters.
//!
//! ```no_run
//! # async fn demo() -> sessiond_core::store::StoreResult<()> {
//! use sessiond_store_postgres::PostgresStore;
//! let _store = PostgresStore::connect("postgres://sessiond@db/app?schema=sessiond&pool_size=16")
//!     .await?;
//! # Ok(()) }
//! ```

mod config;
mod connect;
mod events;
mod rows;
mod schema;
mod sql;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use sessiond_core::store::{
    DataUpdate, EventKind, EventPage, Rotation, StoreResult, UpdateOutcome,
};
use sessiond_core::{
    KeyKind, KeyRecord, Millis, SessionRecord, Store, StoreError, UserField, UserQuery,
};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};

pub use config::{ConfigError, DEFAULT_POOL_SIZE, DEFAULT_SCHEMA, MAX_POOL_SIZE};

use rows::{i64_of, store_error};
use sql::Sql;

/// Serialises the key-table writers of one schema, across every process using it.
const KEY_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

/// The PostgreSQL store. Cheap to share behind an `Arc`; it holds a connection pool.
pub struct PostgresStore {
    pool: PgPool,
    schema: String,
    pool_size: u32,
    /// Longest an operation may take, waiting for a connection included (`timeout_ms`).
    op_timeout: Duration,
    keys_lock: String,
    sql: Sql,
    /// `LISTEN`/`NOTIFY` push for the revocation log.
    push: events::Push,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Bounds one store operation: a server that stops answering (hung, partitioned, paused)
    /// fails the operation with [`StoreError::Unavailable`] instead of holding the request
    /// until TCP gives up. A write cut off this way may or may not have happened, which is what
    /// `Unavailable` means. The bound is twice `timeout_ms`: one `timeout_ms` to get a pooled
    /// connection, one for the statements.
    async fn bounded<T>(
        &self, op: impl std::future::Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        tokio::time::timeout(self.op_timeout, op).await.unwrap_or_else(|_| {
            Err(StoreError::unavailable(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer from PostgreSQL within {} ms", self.op_timeout.as_millis()),
            )))
        })
    }

    /// The schema holding this store's tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The most connections the pool holds.
    pub fn pool_size(&self) -> u32 {
        self.pool_size
    }

    /// Closes every connection, waiting for the ones in use to be returned. Later operations
    /// fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        self.push.close().await;
        self.pool.close().await;
    }

    /// Begins a transaction holding the key-table lock of this schema.
    async fn key_transaction(&self) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query(KEY_LOCK).bind(&self.keys_lock).execute(&mut *tx).await.map_err(store_error)?;
        Ok(tx)
    }

    async fn insert_key(
        &self, tx: &mut Transaction<'static, Postgres>, k: &KeyRecord,
    ) -> StoreResult<()> {
        sqlx::query(self.sql.insert_key.clone())
            .bind(&k.kid)
            .bind(k.kind.as_str())
            .bind(k.alg.as_str())
            .bind(&k.material)
            .bind(k.sealed)
            .bind(k.public_jwk.as_deref())
            .bind(k.created_at)
            .bind(&k.app_id)
            .execute(&mut **tx)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

fn version_of(row: &PgRow) -> StoreResult<u64> {
    let v: i64 = row.try_get(0).map_err(store_error)?;
    u64::try_from(v).map_err(|_| StoreError::Corrupt("negative session data version"))
}

/// Handles of deleted rows, oldest first (the order per-user listings use).
fn oldest_first(rows: Vec<PgRow>) -> StoreResult<Vec<String>> {
    let mut gone = rows
        .iter()
        .map(|r| Ok((r.try_get::<i64, _>(1)?, r.try_get::<String, _>(0)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(store_error)?;
    gone.sort();
    Ok(gone.into_iter().map(|(_, h)| h).collect())
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn create_session(&self, rec: &SessionRecord) -> StoreResult<()> {
        self.bounded(async move {
            let done = sqlx::query(self.sql.create_session.clone())
                .bind(&rec.handle)
                .bind(&rec.app_id)
                .bind(&rec.tenant_id)
                .bind(&rec.user_id)
                .bind(&rec.recipe_user_id)
                .bind(&rec.public_data)
                .bind(&rec.private_data)
                .bind(rec.created_at)
                .bind(rec.last_active_at)
                .bind(rec.rotated_at)
                .bind(rec.expires_at)
                .bind(rec.absolute_expires_at)
                .bind(i64_of(rec.generation))
                .bind(&rec.refresh_hash[..])
                .bind(rec.access_hash.as_ref().map(|h| &h[..]))
                .bind(rec.flags.bits())
                .bind(i64_of(rec.version))
                .bind(rec.client.ip.as_deref())
                .bind(rec.client.user_agent.as_deref())
                .bind(&rec.recent_rotations)
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
            // ON CONFLICT DO NOTHING: an existing row (live or expired) is never overwritten.
            if done.rows_affected() == 1 { Ok(()) } else { Err(StoreError::Duplicate) }
        })
        .await
    }

    async fn load_session(&self, handle: &str, now: Millis) -> StoreResult<Option<SessionRecord>> {
        self.bounded(async move {
            sqlx::query(self.sql.load_session.clone())
                .bind(handle)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?
                .as_ref()
                .map(rows::session)
                .transpose()
        })
        .await
    }

    async fn rotate_refresh(&self, rot: &Rotation<'_>) -> StoreResult<bool> {
        self.bounded(async move {
            // One conditional UPDATE: a concurrent rotation holding the row lock makes this one
            // wait, after which PostgreSQL re-checks the WHERE clause on the new row version, whose
            // generation and hash no longer match. Exactly one caller swaps, and the rotation
            // times it carries are written with its swap or not at all.
            let done = sqlx::query(self.sql.rotate.clone())
                .bind(&rot.to_refresh_hash[..])
                .bind(rot.to_access_hash.as_ref().map(|h| &h[..]))
                .bind(rot.now)
                .bind(rot.expires_at)
                .bind(rot.handle)
                .bind(i64_of(rot.from_generation))
                .bind(&rot.from_refresh_hash[..])
                .bind(rot.recent_rotations)
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn update_data(&self, upd: &DataUpdate<'_>) -> StoreResult<UpdateOutcome> {
        self.bounded(async move {
            let expected = i64_of(upd.expected_version);
            let update = || {
                sqlx::query(self.sql.update_data.clone())
                    .bind(upd.public_data)
                    .bind(upd.private_data)
                    .bind(upd.handle)
                    .bind(expected)
                    .bind(upd.now)
            };
            // Fast path: one conditional UPDATE, serialised by the row lock like rotation.
            if let Some(row) = update().fetch_optional(&self.pool).await.map_err(store_error)? {
                return Ok(UpdateOutcome::Updated(version_of(&row)?));
            }
            // Nothing written: tell a missing session from a stale version under the row lock, so
            // the answer holds at one instant (and a version that matches by then is written).
            let mut tx = self.pool.begin().await.map_err(store_error)?;
            let current: Option<i64> = sqlx::query_scalar(self.sql.lock_version.clone())
                .bind(upd.handle)
                .bind(upd.now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
            let outcome = match current {
                None => UpdateOutcome::NotFound,
                Some(v) if v != expected => UpdateOutcome::VersionMismatch,
                Some(_) => match update().fetch_optional(&mut *tx).await.map_err(store_error)? {
                    Some(row) => UpdateOutcome::Updated(version_of(&row)?),
                    // Cannot happen while we hold the row lock; nothing was written either way.
                    None => UpdateOutcome::VersionMismatch,
                },
            };
            tx.commit().await.map_err(store_error)?;
            Ok(outcome)
        })
        .await
    }

    async fn touch_session(
        &self, handle: &str, now: Millis, expires_at: Millis,
    ) -> StoreResult<()> {
        self.bounded(async move {
            // An UPDATE never creates a row, and `expires_at > now` is re-checked after any wait
            // for the row lock, so a deleted or expired session stays gone.
            sqlx::query(self.sql.touch.clone())
                .bind(handle)
                .bind(now)
                .bind(expires_at)
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
            Ok(())
        })
        .await
    }

    async fn delete_sessions(&self, handles: &[String]) -> StoreResult<Vec<String>> {
        self.bounded(async move {
            if handles.is_empty() {
                return Ok(Vec::new());
            }
            let rows = sqlx::query(self.sql.delete_sessions.clone())
                .bind(handles)
                .fetch_all(&self.pool)
                .await
                .map_err(store_error)?;
            let mut gone = rows
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<HashSet<_>, _>>()
                .map_err(store_error)?;
            // In the caller's order, each once.
            Ok(handles.iter().filter(|h| gone.remove(h.as_str())).cloned().collect())
        })
        .await
    }

    async fn delete_user_sessions(&self, query: &UserQuery) -> StoreResult<Vec<String>> {
        self.bounded(async move {
            let stmt = match query.field {
                UserField::User => &self.sql.delete_by_user,
                UserField::RecipeUser => &self.sql.delete_by_recipe_user,
            };
            let rows = sqlx::query(stmt.clone())
                .bind(&query.app_id)
                .bind(&query.user_id)
                .bind(query.tenant_id.as_deref())
                .fetch_all(&self.pool)
                .await
                .map_err(store_error)?;
            oldest_first(rows)
        })
        .await
    }

    async fn list_user_sessions(
        &self, query: &UserQuery, now: Millis,
    ) -> StoreResult<Vec<SessionRecord>> {
        self.bounded(async move {
            let stmt = match query.field {
                UserField::User => &self.sql.list_by_user,
                UserField::RecipeUser => &self.sql.list_by_recipe_user,
            };
            sqlx::query(stmt.clone())
                .bind(&query.app_id)
                .bind(&query.user_id)
                .bind(query.tenant_id.as_deref())
                .bind(now)
                .fetch_all(&self.pool)
                .await
                .map_err(store_error)?
                .iter()
                .map(rows::session)
                .collect()
        })
        .await
    }

    async fn delete_expired(&self, now: Millis, limit: usize) -> StoreResult<usize> {
        self.bounded(async move {
            if limit == 0 {
                return Ok(0);
            }
            let done = sqlx::query(self.sql.delete_expired.clone())
                .bind(now)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
            Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
        })
        .await
    }

    async fn wipe(&self) -> StoreResult<()> {
        self.bounded(async move {
            // TRUNCATE takes the tables' exclusive locks (no row-lock ordering to deadlock on) and
            // the key lock keeps it from interleaving with a key transaction.
            let mut tx = self.key_transaction().await?;
            sqlx::query(self.sql.wipe.clone()).execute(&mut *tx).await.map_err(store_error)?;
            tx.commit().await.map_err(store_error)
        })
        .await
    }

    async fn flush(&self) -> StoreResult<()> {
        self.bounded(async move {
            // Every acknowledged write has committed with synchronous_commit = on, so its WAL
            // record is already flushed: there is nothing left to wait for.
            if self.pool.is_closed() {
                return Err(StoreError::Closed);
            }
            Ok(())
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.bounded(async move {
            // One round trip: the schema is readable, and the server takes writes (a URL that now
            // points at a standby, after a failover, answers reads but no write).
            let read_only: bool = sqlx::query_scalar(self.sql.ping.clone())
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
            if read_only {
                return Err(StoreError::unavailable(std::io::Error::other(
                    "the PostgreSQL server is read-only (a standby, or default_transaction_read_only)",
                )));
            }
            Ok(())
        })
        .await
    }

    async fn load_keys(&self) -> StoreResult<Vec<KeyRecord>> {
        self.bounded(async move {
            sqlx::query(self.sql.load_keys.clone())
                .fetch_all(&self.pool)
                .await
                .map_err(store_error)?
                .iter()
                .map(rows::key)
                .collect()
        })
        .await
    }

    async fn insert_key_if_newest(
        &self, expected_newest: Option<&str>, key: &KeyRecord,
    ) -> StoreResult<KeyRecord> {
        self.bounded(async move {
            // Under the advisory lock, read-then-insert is isolated from every other key writer
            // of this schema, in this process or any other; the read sees the newest key of the
            // key's own app and kind only.
            let mut tx = self.key_transaction().await?;
            let newest = sqlx::query(self.sql.newest_key.clone())
                .bind(&key.app_id)
                .bind(key.kind.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?
                .as_ref()
                .map(rows::key)
                .transpose()?;
            if let Some(n) = newest
                && Some(n.kid.as_str()) != expected_newest
            {
                tx.rollback().await.map_err(store_error)?;
                return Ok(n);
            }
            self.insert_key(&mut tx, key).await?;
            tx.commit().await.map_err(store_error)?;
            Ok(key.clone())
        })
        .await
    }

    async fn replace_keys(
        &self, app_id: &str, kinds: &[KeyKind], keys: &[KeyRecord],
    ) -> StoreResult<()> {
        self.bounded(async move {
            let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            let mut tx = self.key_transaction().await?;
            sqlx::query(self.sql.delete_key_kinds.clone())
                .bind(app_id)
                .bind(&kinds)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            for k in keys {
                self.insert_key(&mut tx, k).await?;
            }
            tx.commit().await.map_err(store_error)
        })
        .await
    }

    async fn delete_keys(&self, kids: &[String]) -> StoreResult<()> {
        self.bounded(async move {
            if kids.is_empty() {
                return Ok(());
            }
            let mut tx = self.key_transaction().await?;
            sqlx::query(self.sql.delete_keys.clone())
                .bind(kids)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            tx.commit().await.map_err(store_error)
        })
        .await
    }

    async fn append_events(&self, events: &[EventKind], at: Millis) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let kinds: Vec<&str> = events.iter().map(EventKind::name).collect();
        let subjects: Vec<&str> = events.iter().map(EventKind::subject).collect();
        let last: i64 = self
            .bounded(async {
                sqlx::query_scalar(self.sql.append_events.clone())
                    .bind(&kinds)
                    .bind(&subjects)
                    .bind(at)
                    .bind(self.push.channel())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(store_error)
            })
            .await?;
        self.push.appended(u64::try_from(last).unwrap_or_default());
        Ok(())
    }

    async fn events_since(&self, cursor: u64, limit: usize) -> StoreResult<EventPage> {
        self.bounded(async move {
            let from = i64_of(cursor);
            let rows = sqlx::query(self.sql.events_since.clone())
                .bind(from)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(store_error)?;
            let mut page = EventPage { events: Vec::with_capacity(rows.len()), continuous: true };
            for row in &rows {
                let trimmed: i64 = row.try_get(0).map_err(store_error)?;
                page.continuous = from >= trimmed;
                if let Some(e) = rows::event(row)? {
                    page.events.push(e);
                }
            }
            Ok(page)
        })
        .await
    }

    async fn trim_events(&self, before: Millis) -> StoreResult<()> {
        self.bounded(async move {
            sqlx::query(self.sql.trim_events.clone())
                .bind(before)
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
            Ok(())
        })
        .await
    }

    fn event_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.push.subscribe()
    }

    fn event_poll_interval(&self) -> Duration {
        events::POLL_INTERVAL
    }
}
