//! Opening the store: the first connection, the migration, and the pool with its per-connection
//! settings.

use std::time::Duration;

use sessiond_core::StoreError;
use sessiond_core::store::StoreResult;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};

use crate::rows::store_error;
use crate::sql::Sql;
use crate::{ConfigError, PostgresStore, config, events, schema};

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

impl PostgresStore {
    /// Connects to the database at `url`, creates the schema if it is missing and brings it up
    /// to date.
    ///
    /// `url` is a PostgreSQL URL (`postgres://` or `postgresql://`, with the driver's usual
    /// parameters such as `sslmode`) plus sessiond's own query parameters, removed before the
    /// URL reaches the driver:
    /// - `schema=NAME` (default `sessiond`): `[a-z_][a-z0-9_]{0,62}`, not `pg_…`;
    /// - `pool_size=N` (default 16, at most [`MAX_POOL_SIZE`](crate::MAX_POOL_SIZE)): the most
    ///   connections held;
    /// - `timeout_ms=N` (default 2000): an operation waits at most this long for a pooled
    ///   connection, and takes at most twice this long in all, before failing with
    ///   [`StoreError::Unavailable`] (so a hung or unreachable server gives a 503, not a hang).
    ///
    /// Several processes may connect at the same instant to a database without the schema:
    /// the migration runs under an advisory lock, so exactly one creates it.
    ///
    /// The server has 10 s to accept the first connection.
    ///
    /// # Errors
    /// [`StoreError::Config`] for a malformed URL or an unknown or invalid parameter (the
    /// message never contains the URL, which may hold a password);
    /// [`StoreError::Config`] too for a database this build cannot use (not UTF8, or a schema
    /// newer than this build): waiting will not help; [`StoreError::Unavailable`] with the
    /// driver's error as source when the server cannot be reached or refuses.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let cfg = config::parse(url).map_err(|e| StoreError::Config(e.to_string()))?;
        let mut options: PgConnectOptions = cfg.driver_url.parse().map_err(|e: sqlx::Error| {
            StoreError::Config(ConfigError::new(format!("the driver refused it: {e}")).to_string())
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
            schema::MigrateError::Refused(e) => StoreError::Config(e.to_string()),
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
                    sqlx::query(CONNECTION_SETTINGS).bind(search_path).execute(&mut *conn).await?;
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
}
