//! Schema migrations, applied in order and recorded in `PRAGMA user_version`.

use rusqlite::Connection;

/// Each entry moves the schema from version `i` to `i + 1`. The files are never edited once
/// released: a database of version `n` holds exactly what the first `n` of them made (the
/// upgrade tests build old databases from them).
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/1_sessions_and_keys.sql"),
    include_str!("../migrations/2_revocation_log.sql"),
    include_str!("../migrations/3_per_app_keys_and_rotation_times.sql"),
];

/// Brings the schema up to date in one immediate transaction (safe when several processes
/// start on the same file at once).
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > MIGRATIONS.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "database schema version {current} is newer than this sessiond ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(i64::MAX))?;
    }
    tx.commit()
}
