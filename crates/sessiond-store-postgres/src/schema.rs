//! Schema migrations, applied in order under a transaction-scoped advisory lock and recorded in
//! `<schema>.schema_version`.

use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};

use crate::config::ConfigError;

/// Each entry moves the schema from version `i` to `i + 1`. `{s}` is the quoted schema name.
const MIGRATIONS: &[&str] = &[
    // 1: sessions and keys. Ids compare byte for byte (`COLLATE "C"`), as in the other stores,
    // and ordering ties on the handle sort the same way everywhere.
    r#"CREATE TABLE {s}.sessions (
        handle              TEXT COLLATE "C" PRIMARY KEY,
        app_id              TEXT COLLATE "C" NOT NULL,
        tenant_id           TEXT COLLATE "C" NOT NULL,
        user_id             TEXT COLLATE "C" NOT NULL,
        recipe_user_id      TEXT COLLATE "C" NOT NULL,
        public_data         TEXT NOT NULL,
        private_data        TEXT NOT NULL,
        created_at          BIGINT NOT NULL,
        last_active_at      BIGINT NOT NULL,
        rotated_at          BIGINT NOT NULL,
        expires_at          BIGINT NOT NULL,
        absolute_expires_at BIGINT NOT NULL,
        generation          BIGINT NOT NULL,
        refresh_hash        BYTEA NOT NULL,
        access_hash         BYTEA,
        flags               BIGINT NOT NULL,
        version             BIGINT NOT NULL,
        client_ip           TEXT,
        user_agent          TEXT
     ) WITH (fillfactor = 90);
     CREATE INDEX sessions_by_user ON {s}.sessions (app_id, user_id, created_at);
     -- Only account-linked sessions need their own recipe-user index; the others are found
     -- through sessions_by_user (recipe_user_id = user_id).
     CREATE INDEX sessions_by_linked_recipe_user ON {s}.sessions (app_id, recipe_user_id, created_at)
        WHERE recipe_user_id <> user_id;
     CREATE INDEX sessions_by_expiry ON {s}.sessions (expires_at);
     CREATE TABLE {s}.keys (
        kid        TEXT COLLATE "C" PRIMARY KEY,
        kind       TEXT COLLATE "C" NOT NULL,
        alg        TEXT NOT NULL,
        material   BYTEA NOT NULL,
        sealed     BOOLEAN NOT NULL,
        public_jwk TEXT,
        created_at BIGINT NOT NULL
     );
     CREATE INDEX keys_by_kind ON {s}.keys (kind, created_at, kid);"#,
    // 2: the revocation log. Cursors are not taken from a sequence (whose values can commit
    // out of order: a reader past cursor 7 would never see a 6 that commits later) but from
    // the counter row `event_log.last_cursor`, bumped in the appending statement: its row lock
    // makes appenders take turns until commit, so cursor order is commit order.
    // `trimmed_through` is the largest cursor a trim has deleted.
    r#"CREATE TABLE {s}.events (
        id      BIGINT PRIMARY KEY,
        at      BIGINT NOT NULL,
        kind    TEXT COLLATE "C" NOT NULL,
        subject TEXT COLLATE "C" NOT NULL
     );
     CREATE INDEX events_by_at ON {s}.events (at);
     CREATE TABLE {s}.event_log (
        singleton       BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
        last_cursor     BIGINT NOT NULL,
        trimmed_through BIGINT NOT NULL
     );
     INSERT INTO {s}.event_log (last_cursor, trimmed_through) VALUES (0, 0);"#,
    // 3: per-app keys and the session's recent rotation times. Existing keys belong to the
    // default app `public`, existing sessions have no rotation times (an empty list). The newest
    // key is looked up per (app, kind), so its index leads with the app. Both columns have a
    // constant default, so adding them rewrites no row (PostgreSQL 11+) and holds the table's
    // lock only briefly. Rotation times are a BIGINT[]: the server checks every element is a
    // 64-bit integer and the driver decodes it as is, with no text form to parse.
    r#"ALTER TABLE {s}.keys ADD COLUMN app_id TEXT COLLATE "C" NOT NULL DEFAULT 'public';
     DROP INDEX {s}.keys_by_kind;
     CREATE INDEX keys_by_app_kind ON {s}.keys (app_id, kind, created_at, kid);
     ALTER TABLE {s}.sessions ADD COLUMN recent_rotations BIGINT[] NOT NULL DEFAULT '{}';"#,
];

/// The schema version this build writes and understands.
pub(crate) const CURRENT_VERSION: i32 = MIGRATIONS.len() as i32;

/// The advisory-lock name that serialises migrations of `schema` (across processes).
pub(crate) fn migrate_lock_name(schema: &str) -> String {
    format!("sessiond:migrate:{schema}")
}

/// Creates `schema` if needed and brings it up to date, in one transaction that first takes
/// `pg_advisory_xact_lock` keyed by the schema name: processes starting at the same instant on
/// an empty database take turns, and all but the first find the work done.
pub(crate) async fn migrate(conn: &mut PgConnection, schema: &str) -> Result<(), MigrateError> {
    let quoted = format!("\"{schema}\"");
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(migrate_lock_name(schema))
        .execute(&mut *tx)
        .await?;

    let encoding: String = sqlx::query_scalar("SELECT current_setting('server_encoding')")
        .fetch_one(&mut *tx)
        .await?;
    if encoding != "UTF8" {
        return Err(MigrateError::Refused(ConfigError::new(format!(
            "the database's encoding is {encoding}; sessiond needs UTF8"
        ))));
    }

    // Checked first rather than `CREATE SCHEMA IF NOT EXISTS`, which needs the CREATE privilege
    // on the database even when the schema exists. Under the lock, nobody creates it meanwhile.
    let exists = sqlx::query("SELECT 1 FROM pg_namespace WHERE nspname = $1")
        .bind(schema)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
    if !exists {
        tracing::info!(schema, "creating PostgreSQL schema");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {quoted}")))
            .execute(&mut *tx)
            .await?;
    }
    let has_version_table = sqlx::query("SELECT to_regclass($1) IS NOT NULL AS present")
        .bind(format!("{quoted}.schema_version"))
        .fetch_one(&mut *tx)
        .await?
        .try_get::<bool, _>("present")?;
    if !has_version_table {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE TABLE {quoted}.schema_version (
                 singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
                 version   INTEGER NOT NULL
             );
             INSERT INTO {quoted}.schema_version (version) VALUES (0);"
        )))
        .execute(&mut *tx)
        .await?;
    }
    let current: i32 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT version FROM {quoted}.schema_version"
    )))
    .fetch_one(&mut *tx)
    .await?;
    if current > CURRENT_VERSION {
        return Err(MigrateError::Refused(ConfigError::new(format!(
            "schema `{schema}` is at version {current}, newer than this sessiond \
             ({CURRENT_VERSION})"
        ))));
    }
    let Ok(done) = usize::try_from(current) else {
        return Err(MigrateError::Refused(ConfigError::new(format!(
            "schema `{schema}` records an impossible version ({current})"
        ))));
    };
    for (i, ddl) in MIGRATIONS.iter().enumerate().skip(done) {
        let to = i + 1;
        tracing::info!(schema, version = to, "migrating PostgreSQL schema");
        sqlx::raw_sql(AssertSqlSafe(ddl.replace("{s}", &quoted)))
            .execute(&mut *tx)
            .await?;
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {quoted}.schema_version SET version = $1"
        )))
        .bind(i32::try_from(to).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Why [`migrate`] failed.
#[derive(Debug)]
pub(crate) enum MigrateError {
    /// The driver failed.
    Driver(sqlx::Error),
    /// The database is not one this build can use.
    Refused(ConfigError),
}

impl From<sqlx::Error> for MigrateError {
    fn from(e: sqlx::Error) -> Self {
        MigrateError::Driver(e)
    }
}
