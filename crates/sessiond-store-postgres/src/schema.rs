//! Schema migrations, applied in order under a transaction-scoped advisory lock and recorded in
//! `<schema>.schema_version`.

use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};

use crate::config::ConfigError;

/// Each entry moves the schema from version `i` to `i + 1`; `{s}` stands for the quoted schema
/// name. The files are never edited once released: a schema of version `n` holds exactly what
/// the first `n` of them made (the upgrade tests build old schemas from them).
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/1_sessions_and_keys.sql"),
    include_str!("../migrations/2_revocation_log.sql"),
    include_str!("../migrations/3_per_app_keys_and_rotation_times.sql"),
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

    let encoding: String =
        sqlx::query_scalar("SELECT current_setting('server_encoding')").fetch_one(&mut *tx).await?;
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
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {quoted}"))).execute(&mut *tx).await?;
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
    let current: i32 =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT version FROM {quoted}.schema_version")))
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
        sqlx::raw_sql(AssertSqlSafe(ddl.replace("{s}", &quoted))).execute(&mut *tx).await?;
        sqlx::query(AssertSqlSafe(format!("UPDATE {quoted}.schema_version SET version = $1")))
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
    /// The server or the connection failed (retrying may help).
    Driver(sqlx::Error),
    /// The database is not one this build can use.
    Refused(ConfigError),
}

impl From<sqlx::Error> for MigrateError {
    fn from(e: sqlx::Error) -> Self {
        MigrateError::Driver(e)
    }
}
