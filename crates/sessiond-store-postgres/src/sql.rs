//! Every SQL statement of the store, built once per schema.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use crate::rows::{KEY_COLUMNS, SESSION_COLUMNS};

/// Every statement, written once per store with the schema-qualified table names (so no query
/// depends on the search path, even behind a pooler that drops session settings).
pub(crate) struct Sql {
    pub(crate) create_session: SqlStr,
    pub(crate) load_session: SqlStr,
    pub(crate) rotate: SqlStr,
    pub(crate) update_data: SqlStr,
    pub(crate) lock_version: SqlStr,
    pub(crate) touch: SqlStr,
    pub(crate) delete_sessions: SqlStr,
    pub(crate) delete_by_user: SqlStr,
    pub(crate) delete_by_recipe_user: SqlStr,
    pub(crate) list_by_user: SqlStr,
    pub(crate) list_by_recipe_user: SqlStr,
    pub(crate) delete_expired: SqlStr,
    pub(crate) wipe: SqlStr,
    pub(crate) ping: SqlStr,
    pub(crate) load_keys: SqlStr,
    pub(crate) newest_key: SqlStr,
    pub(crate) insert_key: SqlStr,
    pub(crate) delete_key_kinds: SqlStr,
    pub(crate) delete_keys: SqlStr,
    pub(crate) append_events: SqlStr,
    pub(crate) events_since: SqlStr,
    pub(crate) trim_events: SqlStr,
}

fn sql(text: String) -> SqlStr {
    // The only interpolated value is the schema name, validated as [a-z_][a-z0-9_]* and quoted.
    AssertSqlSafe(Arc::<str>::from(text)).into_sql_str()
}

impl Sql {
    pub(crate) fn new(schema: &str) -> Self {
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
            load_keys: sql(format!("SELECT {KEY_COLUMNS} FROM {keys} ORDER BY created_at, kid")),
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
