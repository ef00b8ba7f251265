//! Schema migrations, applied in order and recorded in `PRAGMA user_version`.

use rusqlite::Connection;

/// Each entry moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: sessions (one b-tree keyed by handle; handles are time-ordered so inserts append)
    // and keys.
    "CREATE TABLE sessions (
        handle              TEXT PRIMARY KEY NOT NULL,
        app_id              TEXT NOT NULL,
        tenant_id           TEXT NOT NULL,
        user_id             TEXT NOT NULL,
        recipe_user_id      TEXT NOT NULL,
        public_data         TEXT NOT NULL,
        private_data        TEXT NOT NULL,
        created_at          INTEGER NOT NULL,
        last_active_at      INTEGER NOT NULL,
        rotated_at          INTEGER NOT NULL,
        expires_at          INTEGER NOT NULL,
        absolute_expires_at INTEGER NOT NULL,
        generation          INTEGER NOT NULL,
        refresh_hash        BLOB NOT NULL,
        access_hash         BLOB,
        flags               INTEGER NOT NULL,
        version             INTEGER NOT NULL,
        client_ip           TEXT,
        user_agent          TEXT
     ) WITHOUT ROWID;
     CREATE INDEX sessions_by_user ON sessions (app_id, user_id, created_at);
     -- Only account-linked sessions need their own recipe-user index; the others are found
     -- through sessions_by_user (recipe_user_id = user_id).
     CREATE INDEX sessions_by_linked_recipe_user ON sessions (app_id, recipe_user_id, created_at)
        WHERE recipe_user_id <> user_id;
     CREATE INDEX sessions_by_expiry ON sessions (expires_at);
     CREATE TABLE keys (
        kid        TEXT PRIMARY KEY NOT NULL,
        kind       TEXT NOT NULL,
        alg        TEXT NOT NULL,
        material   BLOB NOT NULL,
        sealed     INTEGER NOT NULL,
        public_jwk TEXT,
        created_at INTEGER NOT NULL
     );
     CREATE INDEX keys_by_kind ON keys (kind, created_at);",
    // 2: the revocation log. Cursors come from the counter row `event_log.last_cursor`, bumped
    // in the appending write transaction: SQLite has one writer at a time across every process
    // on the file, so cursor order is commit order (and never reused, even when trimming
    // empties the table). `trimmed_through` is the largest cursor a trim has deleted.
    "CREATE TABLE events (
        id      INTEGER PRIMARY KEY NOT NULL,
        at      INTEGER NOT NULL,
        kind    TEXT NOT NULL,
        subject TEXT NOT NULL
     );
     CREATE INDEX events_by_at ON events (at);
     CREATE TABLE event_log (
        singleton       INTEGER PRIMARY KEY NOT NULL CHECK (singleton = 1),
        last_cursor     INTEGER NOT NULL,
        trimmed_through INTEGER NOT NULL
     );
     INSERT INTO event_log (singleton, last_cursor, trimmed_through) VALUES (1, 0, 0);",
    // 3: per-app keys and the session's recent rotation times. Existing keys belong to the
    // default app `public` and existing sessions have no rotation times (an empty list: the
    // grace window then knows only the current generation's). The newest key is looked up per
    // (app, kind), so the index that finds it leads with the app. `ADD COLUMN` with a constant
    // default rewrites no row: old rows read the default.
    "ALTER TABLE keys ADD COLUMN app_id TEXT NOT NULL DEFAULT 'public';
     DROP INDEX keys_by_kind;
     CREATE INDEX keys_by_app_kind ON keys (app_id, kind, created_at, kid);
     -- Decimal milliseconds separated by commas, oldest first (sessiond_core::model::encode_rotations).
     ALTER TABLE sessions ADD COLUMN recent_rotations TEXT NOT NULL DEFAULT '';",
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
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
    }
    tx.commit()
}
