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
mod events;
mod rows;
mod schema;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sessiond_core::store::{
    DataUpdate, EventKind, EventPage, Rotation, StoreResult, UpdateOutcome,
};
use sessiond_core::{
    KeyKind, KeyRecord, Millis, SessionRecord, Store, StoreError, UserField, UserQuery,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{
    AssertSqlSafe, Connection, PgConnection, PgPool, Postgres, Row, SqlSafeStr, SqlStr, Transaction,
};

pub use config::{ConfigError, DEFAULT_POOL_SIZE, DEFAULT_SCHEMA, MAX_POOL_SIZE};

use rows::{KEY_COLUMNS, SESSION_COLUMNS, i64_of, store_error};

/// Run on every new connection before the pool hands it out: the schema comes first on the
/// search path; transactions default to READ COMMITTED (the conditional updates rely on its
/// re-check of a row that changed while they waited for its lock, where SERIALIZABLE would fail
/// them); and commits wait for the WAL flush (`synchronous_commit = on`), unless the server is
/// already configured for the stronger `remote_apply`.
const CONNECTION_SETTINGS: &str = "SELECT set_config('search_path', $1, false), \
     set_config('default_transaction_isolation', 'read committed', false), \
     CASE WHEN current_setting('synchronous_commit') = 'remote_apply' THEN 'remote_apply' \
          ELSE set_config('synchronous_commit', 'on', false) END";

/// How long `connect` waits for the server to accept its first connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pooled connection idle at least this long is pinged before it is used again.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

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

/// Every statement, written once per store with the schema-qualified table names (so no query
/// depends on the search path, even behind a pooler that drops session settings).
struct Sql {
    create_session: SqlStr,
    load_session: SqlStr,
    rotate: SqlStr,
    update_data: SqlStr,
    lock_version: SqlStr,
    touch: SqlStr,
    delete_sessions: SqlStr,
    delete_by_user: SqlStr,
    delete_by_recipe_user: SqlStr,
    list_by_user: SqlStr,
    list_by_recipe_user: SqlStr,
    delete_expired: SqlStr,
    wipe: SqlStr,
    ping: SqlStr,
    load_keys: SqlStr,
    newest_key: SqlStr,
    insert_key: SqlStr,
    delete_key_kinds: SqlStr,
    delete_keys: SqlStr,
    append_events: SqlStr,
    events_since: SqlStr,
    trim_events: SqlStr,
}

fn sql(text: String) -> SqlStr {
    // The only interpolated value is the schema name, validated as [a-z_][a-z0-9_]* and quoted.
    AssertSqlSafe(Arc::<str>::from(text)).into_sql_str()
}

impl Sql {
    fn new(schema: &str) -> Self {
        let sessions = format!("\"{schema}\".sessions");
        let keys = format!("\"{schema}\".keys");
        let events = format!("\"{schema}\".events");
        let event_log = format!("\"{schema}\".event_log");
        // `$1` app, `$2` user, `$3` tenant or NULL. By user: the (app, user, created) index.
        let by_user = "app_id = $1 AND user_id = $2 AND ($3::text IS NULL OR tenant_id = $3)";
        // By recipe user, as two disjoint branches that each have an index: unlinked sessions
        // (recipe user = user) through sessions_by_user, account-linked ones through the partial
        // sessions_by_linked_recipe_user.
        let unlinked = "app_id = $1 AND user_id = $2 AND recipe_user_id = $2 \
                        AND ($3::text IS NULL OR tenant_id = $3)";
        let linked = "app_id = $1 AND recipe_user_id = $2 AND recipe_user_id <> user_id \
                      AND ($3::text IS NULL OR tenant_id = $3)";
        // Multi-row deletes first lock their rows in handle order, so two of them overlapping
        // can never deadlock; the DELETE then finds the locked rows through the primary key.
        let delete_where = |selection: &str| {
            format!(
                "DELETE FROM {sessions} WHERE handle = ANY(ARRAY(\
                 SELECT handle FROM {sessions} WHERE {selection} ORDER BY handle FOR UPDATE)) \
                 RETURNING handle, created_at"
            )
        };
        Self {
            create_session: sql(format!(
                "INSERT INTO {sessions} ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, \
                 $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
                 ON CONFLICT (handle) DO NOTHING"
            )),
            load_session: sql(format!(
                "SELECT {SESSION_COLUMNS} FROM {sessions} WHERE handle = $1 AND expires_at > $2"
            )),
            rotate: sql(format!(
                "UPDATE {sessions} SET generation = generation + 1, refresh_hash = $1, \
                 access_hash = $2, rotated_at = $3, last_active_at = GREATEST(last_active_at, $3), \
                 expires_at = LEAST($4, absolute_expires_at), recent_rotations = $8 \
                 WHERE handle = $5 AND generation = $6 AND refresh_hash = $7 AND expires_at > $3"
            )),
            update_data: sql(format!(
                "UPDATE {sessions} SET public_data = COALESCE($1, public_data), \
                 private_data = COALESCE($2, private_data), version = version + 1 \
                 WHERE handle = $3 AND version = $4 AND expires_at > $5 RETURNING version"
            )),
            lock_version: sql(format!(
                "SELECT version FROM {sessions} WHERE handle = $1 AND expires_at > $2 FOR UPDATE"
            )),
            touch: sql(format!(
                "UPDATE {sessions} SET last_active_at = GREATEST(last_active_at, $2), \
                 expires_at = GREATEST(expires_at, LEAST($3, absolute_expires_at)) \
                 WHERE handle = $1 AND expires_at > $2"
            )),
            delete_sessions: sql(delete_where("handle = ANY($1)")),
            delete_by_user: sql(delete_where(by_user)),
            delete_by_recipe_user: sql(delete_where(&format!(
                "handle IN (SELECT handle FROM {sessions} WHERE {unlinked} \
                 UNION ALL SELECT handle FROM {sessions} WHERE {linked})"
            ))),
            list_by_user: sql(format!(
                "SELECT {SESSION_COLUMNS} FROM {sessions} WHERE {by_user} AND expires_at > $4 \
                 ORDER BY created_at, handle"
            )),
            list_by_recipe_user: sql(format!(
                "SELECT {SESSION_COLUMNS} FROM {sessions} WHERE {unlinked} AND expires_at > $4 \
                 UNION ALL \
                 SELECT {SESSION_COLUMNS} FROM {sessions} WHERE {linked} AND expires_at > $4 \
                 ORDER BY created_at, handle"
            )),
            // Concurrent sweepers (one per process) skip each other's rows instead of waiting.
            // The rows are locked (and `expires_at` re-checked on their newest version) by the
            // subquery, so the DELETE itself only looks them up by handle: a backlog of expired
            // rows is never scanned whole for one batch.
            delete_expired: sql(format!(
                "DELETE FROM {sessions} WHERE handle = ANY(ARRAY(\
                 SELECT handle FROM {sessions} WHERE expires_at <= $1 \
                 LIMIT $2 FOR UPDATE SKIP LOCKED))"
            )),
            wipe: sql(format!("TRUNCATE {sessions}, {keys}")),
            // Whether this server takes writes (not a standby, not read-only by default), read
            // through the keys table so the schema is proven readable too.
            ping: sql(format!(
                "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')::boolean \
                 FROM (SELECT 1 FROM {keys} LIMIT 1) AS readable RIGHT JOIN (VALUES (1)) AS one \
                 ON true"
            )),
            load_keys: sql(format!(
                "SELECT {KEY_COLUMNS} FROM {keys} ORDER BY created_at, kid"
            )),
            // `$1` app, `$2` kind: another app's keys are never this app's newest.
            newest_key: sql(format!(
                "SELECT {KEY_COLUMNS} FROM {keys} WHERE app_id = $1 AND kind = $2 \
                 ORDER BY created_at DESC, kid DESC LIMIT 1"
            )),
            insert_key: sql(format!(
                "INSERT INTO {keys} ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            )),
            delete_key_kinds: sql(format!(
                "DELETE FROM {keys} WHERE app_id = $1 AND kind = ANY($2)"
            )),
            delete_keys: sql(format!("DELETE FROM {keys} WHERE kid = ANY($1)")),
            // `$1` kinds, `$2` subjects, `$3` at, `$4` the notification channel. One statement
            // (one implicit transaction): the counter row's lock is held from the bump to the
            // commit, so appenders take turns and commit in cursor order; the notification
            // goes out at commit, carrying the last cursor.
            append_events: sql(format!(
                "WITH bump AS (\
                   UPDATE {event_log} SET last_cursor = last_cursor + cardinality($1::text[]) \
                   WHERE singleton RETURNING last_cursor), \
                 added AS (\
                   INSERT INTO {events} (id, at, kind, subject) \
                   SELECT bump.last_cursor - cardinality($1::text[]) + e.n, $3, e.kind, e.subject \
                   FROM bump, unnest($1::text[], $2::text[]) WITH ORDINALITY AS e(kind, subject, n)) \
                 SELECT last_cursor, pg_notify($4, last_cursor::text)::text FROM bump"
            )),
            // `$1` cursor, `$2` limit. One statement, so the trim mark and the events come from
            // one snapshot.
            events_since: sql(format!(
                "SELECT l.trimmed_through, e.id, e.at, e.kind, e.subject FROM {event_log} AS l \
                 LEFT JOIN LATERAL (SELECT id, at, kind, subject FROM {events} WHERE id > $1 \
                 ORDER BY id LIMIT $2) AS e ON true ORDER BY e.id"
            )),
            // `$1` before. Concurrent trims (one per process) skip each other's rows; the mark
            // only goes up, and only when something was deleted.
            trim_events: sql(format!(
                "WITH gone AS (\
                   DELETE FROM {events} WHERE id = ANY(ARRAY(\
                   SELECT id FROM {events} WHERE at < $1 FOR UPDATE SKIP LOCKED)) RETURNING id) \
                 UPDATE {event_log} SET trimmed_through = \
                   GREATEST(trimmed_through, (SELECT max(id) FROM gone)) \
                 WHERE singleton AND EXISTS (SELECT 1 FROM gone)"
            )),
        }
    }
}

impl PostgresStore {
    /// Connects to the database at `url`, creates the schema if it is missing and brings it up
    /// to date.
    ///
    /// `url` is a PostgreSQL URL (`postgres://` or `postgresql://`, with the driver's usual
    /// parameters such as `sslmode`) plus sessiond's own query parameters, removed before the
    /// URL reaches the driver:
    /// - `schema=NAME` (default `sessiond`): `[a-z_][a-z0-9_]{0,62}`, not `pg_…`;
    /// - `pool_size=N` (default 16, at most [`MAX_POOL_SIZE`]): the most connections held.
    ///
    /// Several processes may connect at the same instant to a database without the schema:
    /// the migration runs under an advisory lock, so exactly one creates it.
    ///
    /// - `timeout_ms=N` (default 2000): an operation waits at most this long for a pooled
    ///   connection, and takes at most twice this long in all, before failing with
    ///   [`StoreError::Unavailable`] (so a hung or unreachable server gives a 503, not a hang).
    ///
    /// The server has 10 s to accept the first connection.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] with a [`ConfigError`] source for a malformed URL, an
    /// unknown or invalid parameter, a non-UTF8 database or a schema newer than this build;
    /// with the driver's error as source when the server cannot be reached or refuses.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let cfg = config::parse(url).map_err(StoreError::unavailable)?;
        let mut options: PgConnectOptions = cfg.driver_url.parse().map_err(|e: sqlx::Error| {
            StoreError::unavailable(ConfigError::new(format!("the driver refused it: {e}")))
        })?;
        if options.get_application_name().is_none() {
            options = options.application_name("sessiond");
        }
        // One plain connection first: a wrong host, password or database fails at once with
        // the server's own reason (the pool would retry a refused connection until its timeout
        // and then report only that it timed out), and the migration runs on it.
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| {
                StoreError::unavailable(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "no answer from the PostgreSQL server within {}s",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                ))
            })?
            .map_err(store_error)?;
        let migrated = schema::migrate(&mut conn, &cfg.schema).await;
        let _ = conn.close().await;
        migrated.map_err(|e| match e {
            schema::MigrateError::Driver(e) => store_error(e),
            schema::MigrateError::Refused(e) => StoreError::unavailable(e),
        })?;

        let push = events::Push::new(options.clone(), &cfg.schema, cfg.timeout);
        let search_path = format!("\"{}\"", cfg.schema);
        let pool = PgPoolOptions::new()
            .max_connections(cfg.pool_size)
            // How long an operation waits for a connection (all busy, or the server down) before
            // failing with `StoreError::Unavailable`: the URL's `timeout_ms`, default 2 s.
            .acquire_timeout(cfg.timeout)
            // sqlx's default pings every connection it hands out: one extra round trip per
            // operation (without it, 1.2x to 2.3x the throughput in local measurements). Only a
            // connection idle long enough to have missed a server restart is pinged; a dead one
            // is replaced before any operation sees it.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IF_IDLE_FOR {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _meta| {
                let search_path = search_path.clone();
                Box::pin(async move {
                    sqlx::query(CONNECTION_SETTINGS)
                        .bind(search_path)
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(store_error)?;
        Ok(Self {
            sql: Sql::new(&cfg.schema),
            keys_lock: format!("sessiond:keys:{}", cfg.schema),
            pool,
            schema: cfg.schema,
            pool_size: cfg.pool_size,
            op_timeout: cfg.timeout.saturating_mul(2),
            push,
        })
    }

    /// Bounds one store operation: a server that stops answering (hung, partitioned, paused)
    /// fails the operation with [`StoreError::Unavailable`] instead of holding the request
    /// until TCP gives up. A write cut off this way may or may not have happened, which is what
    /// `Unavailable` means. The bound is twice `timeout_ms`: one `timeout_ms` to get a pooled
    /// connection, one for the statements.
    async fn bounded<T>(
        &self,
        op: impl std::future::Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        tokio::time::timeout(self.op_timeout, op)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::unavailable(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "no answer from PostgreSQL within {} ms",
                        self.op_timeout.as_millis()
                    ),
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
        sqlx::query(KEY_LOCK)
            .bind(&self.keys_lock)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        Ok(tx)
    }

    async fn insert_key(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        k: &KeyRecord,
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
            if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err(StoreError::Duplicate)
            }
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
            if let Some(row) = update()
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?
            {
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
                Some(_) => match update()
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?
                {
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
        &self,
        handle: &str,
        now: Millis,
        expires_at: Millis,
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
            Ok(handles
                .iter()
                .filter(|h| gone.remove(h.as_str()))
                .cloned()
                .collect())
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
        &self,
        query: &UserQuery,
        now: Millis,
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
            sqlx::query(self.sql.wipe.clone())
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
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
        &self,
        expected_newest: Option<&str>,
        key: &KeyRecord,
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
        &self,
        app_id: &str,
        kinds: &[KeyKind],
        keys: &[KeyRecord],
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
            let mut page = EventPage {
                events: Vec::with_capacity(rows.len()),
                continuous: true,
            };
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The test server, as in the integration tests: `None` skips, except under `CI=true`.
    fn server_url() -> Option<String> {
        sessiond_store_tests::env::service_url("SESSIOND_TEST_POSTGRES_URL")
    }

    fn fresh_url(base: &str, extra: &str) -> (String, String) {
        let schema = format!(
            "sdt_{}_unit{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            std::process::id()
        );
        let schema = format!("{schema}_{}", rand_suffix());
        let sep = if base.contains('?') { '&' } else { '?' };
        (format!("{base}{sep}schema={schema}{extra}"), schema)
    }

    fn rand_suffix() -> u32 {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }

    /// Every pooled connection commits durably, defaults to READ COMMITTED and searches the
    /// store's schema, whatever the URL's `options` asked for.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_connection_is_durable_and_in_its_schema() {
        let Some(base) = server_url() else { return };
        let (url, schema) = fresh_url(
            &base,
            "&pool_size=4&options=-c%20synchronous_commit%3Doff\
             %20-c%20default_transaction_isolation%3Dserializable",
        );
        let store = PostgresStore::connect(&url).await.unwrap();
        // Hold all four at once so each is a distinct connection.
        let mut conns = Vec::new();
        for _ in 0..4 {
            conns.push(store.pool.acquire().await.unwrap());
        }
        for conn in &mut conns {
            let (sync, iso, current): (String, String, String) = sqlx::query_as(
                "SELECT current_setting('synchronous_commit'), \
                 current_setting('default_transaction_isolation'), current_schema()::text",
            )
            .fetch_one(&mut **conn)
            .await
            .unwrap();
            assert_eq!(sync, "on");
            assert_eq!(iso, "read committed");
            assert_eq!(current, schema);
        }
    }

    /// The per-user queries, the sweep and the point lookups can use their indexes (with
    /// sequential scans disabled, so the answer does not depend on the table's size).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queries_use_their_indexes() {
        let Some(base) = server_url() else { return };
        let (url, _schema) = fresh_url(&base, "&pool_size=1");
        let store = PostgresStore::connect(&url).await.unwrap();
        let mut conn = store.pool.acquire().await.unwrap();
        sqlx::query("SET enable_seqscan = off")
            .execute(&mut *conn)
            .await
            .unwrap();
        enum P {
            Text,
            Texts,
            NoTenant,
            Int,
        }
        use P::*;
        let sql = &store.sql;
        let cases: [(&SqlStr, &[P], &[&str]); 10] = [
            (&sql.load_session, &[Text, Int], &["sessions_pkey"]),
            (
                &sql.list_by_user,
                &[Text, Text, NoTenant, Int],
                &["sessions_by_user"],
            ),
            (
                &sql.list_by_recipe_user,
                &[Text, Text, NoTenant, Int],
                &["sessions_by_user", "sessions_by_linked_recipe_user"],
            ),
            (
                &sql.delete_by_user,
                &[Text, Text, NoTenant],
                &["sessions_by_user", "sessions_pkey"],
            ),
            (
                &sql.delete_by_recipe_user,
                &[Text, Text, NoTenant],
                &[
                    "sessions_by_user",
                    "sessions_by_linked_recipe_user",
                    "sessions_pkey",
                ],
            ),
            (
                &sql.delete_expired,
                &[Int, Int],
                &["sessions_by_expiry", "sessions_pkey"],
            ),
            (&sql.delete_sessions, &[Texts], &["sessions_pkey"]),
            (&sql.newest_key, &[Text, Text], &["keys_by_app_kind"]),
            (&sql.events_since, &[Int, Int], &["events_pkey"]),
            (&sql.trim_events, &[Int], &["events_by_at", "events_pkey"]),
        ];
        for (stmt, params, indexes) in cases {
            let mut q = sqlx::query(AssertSqlSafe(format!("EXPLAIN {}", stmt.as_str())));
            for p in params {
                q = match p {
                    Text => q.bind("x"),
                    Texts => q.bind(vec!["x".to_owned(), "y".to_owned()]),
                    NoTenant => q.bind(None::<&str>),
                    Int => q.bind(1_i64),
                };
            }
            let plan: Vec<String> = q
                .fetch_all(&mut *conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get::<String, _>(0).unwrap())
                .collect();
            let plan = plan.join("\n");
            for index in indexes {
                assert!(
                    plan.contains(index),
                    "{}\nshould use {index}:\n{plan}",
                    stmt.as_str()
                );
            }
        }
    }
}
