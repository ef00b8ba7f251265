//! # sessiond-store-sqlite
//!
//! The embedded SQLite [`Store`]: WAL, group commit on one writer thread with the WAL fsynced
//! before any write is acknowledged, inline point reads from a connection pool, and schema
//! migrations. See the README for the durability argument.

mod checkpoint;
mod rows;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use sessiond_core::model::encode_rotations;
use sessiond_core::store::{
    DataUpdate, EventKind, EventPage, Rotation, StoreResult, UpdateOutcome,
};
use sessiond_core::{
    KeyKind, KeyRecord, Millis, SessionRecord, Store, StoreError, UserField, UserQuery,
};
use tokio::sync::oneshot;

use rows::{KEY_COLUMNS, SESSION_COLUMNS, i64_of, store_error};
use writer::{Job, Write};

/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite store. Cheap to share behind an `Arc`; dropping the last reference stops the
/// writer thread after it has committed everything queued.
pub struct SqliteStore {
    path: PathBuf,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    writer: mpsc::Sender<Box<dyn Job>>,
    /// Changes to the last cursor this process appended, once the append is acknowledged:
    /// readers in this process wake at once. Other processes sharing the file poll (SQLite has
    /// no cross-process notification).
    events: tokio::sync::watch::Sender<u64>,
    /// Dropping it stops the checkpointer.
    _checkpointer: mpsc::Sender<()>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

fn configure(conn: &Connection, writer: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -16_000)?;
    if writer {
        // SQLite itself does not fsync at commit; the writer's flusher thread fsyncs the WAL and
        // only then acknowledges (see `writer`), so every acknowledged write survives kill -9
        // and power loss while the next batch is already being written. NORMAL still syncs
        // around checkpoints and WAL reuse, so recycling the WAL never loses a committed batch.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoints run on their own thread (see `checkpoint`); this is only the backstop.
        conn.pragma_update(None, "wal_autocheckpoint", 50_000)?;
    } else {
        conn.pragma_update(None, "query_only", "ON")?;
        // No mmap: as the file grows SQLite remaps it, and the TLB shootdowns across reader
        // threads cost more than pread (measured: refresh 30k/s with a 256 MiB map, 100k/s
        // without).
        conn.pragma_update(None, "mmap_size", 0)?;
    }
    Ok(())
}

/// Refuses a path that can never name a database file: an empty one (which SQLite would take
/// for a private temporary database, lost on close) or one holding a NUL byte.
fn check_path(path: &Path) -> StoreResult<()> {
    if path.as_os_str().is_empty() {
        return Err(StoreError::Config(
            "the SQLite store needs a file path (sqlite://PATH)".to_owned(),
        ));
    }
    if path.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(StoreError::Config("the SQLite store path holds a NUL byte".to_owned()));
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed, with a private parent folder) the database at `path` and
    /// brings its schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Config`] when `path` can never name a database (it is empty or holds a NUL
    /// byte); [`StoreError::Unavailable`] when the file cannot be opened, is not a SQLite
    /// database, or has a newer schema than this build.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        check_path(&path)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent).map_err(StoreError::unavailable)?;
        }
        // Created 0600 before SQLite sees it: SQLite gives the -wal and -shm files the mode of
        // the database file, and the WAL holds fresh rows (signing keys among them) before they
        // reach the database.
        create_private_file(&path).map_err(StoreError::unavailable)?;
        let mut conn = Connection::open(&path).map_err(store_error)?;
        let mode: String =
            conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(store_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::unavailable(std::io::Error::other(format!(
                "SQLite refused WAL mode (got {mode})"
            ))));
        }
        configure(&conn, true).map_err(store_error)?;
        schema::migrate(&mut conn).map_err(store_error)?;
        // Files of an earlier, laxer version are tightened too.
        restrict_files(&path);
        let readers = (0..4)
            .map(|_| {
                let c = Connection::open_with_flags(
                    &path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&c, false)?;
                Ok(Mutex::new(c))
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(store_error)?;
        let checkpoint_conn = Connection::open(&path).map_err(store_error)?;
        checkpoint_conn.busy_timeout(BUSY_TIMEOUT).map_err(store_error)?;
        let wal = wal_file(&path).map_err(StoreError::unavailable)?;
        let writer = writer::spawn(conn, wal).map_err(StoreError::unavailable)?;
        let checkpointer = checkpoint::spawn(checkpoint_conn).map_err(StoreError::unavailable)?;
        Ok(Self {
            path,
            readers,
            next_reader: AtomicUsize::new(0),
            writer,
            events: tokio::sync::watch::channel(0).0,
            _checkpointer: checkpointer,
        })
    }

    /// The database file this store opened (its `-wal` and `-shm` files lie beside it).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs a read on a pooled connection, inline: point reads take microseconds and WAL
    /// readers never wait for the writer.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Some(conn) = self.readers[(start + i) % n].try_lock() {
                return f(&conn).map_err(store_error);
            }
        }
        let conn = self.readers[start % n].lock();
        f(&conn).map_err(store_error)
    }

    /// Queues a write for the writer thread; resolves once its batch has committed.
    async fn write<T, F>(&self, body: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        self.writer.send(Box::new(Write { body, reply })).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// The WAL file, opened for fsync. It exists once the schema has been written, and SQLite keeps
/// the same file (the same inode) while any connection is open.
fn wal_file(db: &Path) -> std::io::Result<std::fs::File> {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    std::fs::OpenOptions::new().read(true).write(true).open(p)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    // Never truncates: an existing database is left as it is (an empty file is an empty
    // database to SQLite).
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path).map(drop)
}

fn restrict_files(db: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600));
        }
    }
}

/// Runs `f` in a savepoint so a multi-statement write is all-or-nothing inside its batch.
fn atomically<T>(
    conn: &Connection, f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> StoreResult<T> {
    conn.execute_batch("SAVEPOINT job").map_err(store_error)?;
    match f(conn) {
        Ok(v) => {
            conn.execute_batch("RELEASE job").map_err(store_error)?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(store_error(e))
        }
    }
}

/// The `WHERE` clause selecting a user's sessions (`?1` app, `?2` user, `?3` tenant or NULL),
/// written so each branch can use an index: by recipe user, unlinked sessions are found through
/// `sessions_by_user` and linked ones through the partial `sessions_by_linked_recipe_user`.
fn user_filter(field: UserField) -> &'static str {
    match field {
        UserField::User => "app_id = ?1 AND user_id = ?2 AND (?3 IS NULL OR tenant_id = ?3)",
        UserField::RecipeUser => {
            "handle IN (SELECT handle FROM sessions WHERE app_id = ?1 AND user_id = ?2 \
             AND recipe_user_id = ?2 UNION ALL SELECT handle FROM sessions WHERE app_id = ?1 \
             AND recipe_user_id = ?2 AND recipe_user_id <> user_id) \
             AND (?3 IS NULL OR tenant_id = ?3)"
        }
    }
}

/// The newest key of `kind` in `app` (through `keys_by_app_kind`): another app's keys are never
/// its newest.
fn newest_key(conn: &Connection, app: &str, kind: KeyKind) -> rusqlite::Result<Option<KeyRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM keys WHERE app_id = ?1 AND kind = ?2 \
         ORDER BY created_at DESC, kid DESC LIMIT 1"
    ))?
    .query_row(params![app, kind.as_str()], rows::key)
    .optional()
}

fn insert_key(conn: &Connection, k: &KeyRecord) -> rusqlite::Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))?
    .execute(params![
        k.kid,
        k.kind.as_str(),
        k.alg.as_str(),
        k.material,
        k.sealed,
        k.public_jwk,
        k.created_at,
        k.app_id
    ])?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn create_session(&self, rec: &SessionRecord) -> StoreResult<()> {
        let rec = rec.clone();
        let recent = encode_rotations(&rec.recent_rotations);
        self.write(move |c| {
            let res = c
                .prepare_cached(&format!(
                    "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, \
                     ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
                ))
                .and_then(|mut s| {
                    s.execute(params![
                        rec.handle,
                        rec.app_id,
                        rec.tenant_id,
                        rec.user_id,
                        rec.recipe_user_id,
                        rec.public_data,
                        rec.private_data,
                        rec.created_at,
                        rec.last_active_at,
                        rec.rotated_at,
                        rec.expires_at,
                        rec.absolute_expires_at,
                        i64_of(rec.generation),
                        &rec.refresh_hash[..],
                        rec.access_hash.as_ref().map(|h| &h[..]),
                        rec.flags.bits(),
                        i64_of(rec.version),
                        rec.client.ip,
                        rec.client.user_agent,
                        recent,
                    ])
                });
            match res {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Err(StoreError::Duplicate)
                }
                Err(e) => Err(store_error(e)),
            }
        })
        .await
    }

    async fn load_session(&self, handle: &str, now: Millis) -> StoreResult<Option<SessionRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE handle = ?1 AND expires_at > ?2"
            ))?
            .query_row(params![handle, now], rows::session)
            .optional()
        })
    }

    async fn rotate_refresh(&self, rot: &Rotation<'_>) -> StoreResult<bool> {
        let handle = rot.handle.to_owned();
        let rot = *rot;
        let (from, to, access) = (rot.from_refresh_hash, rot.to_refresh_hash, rot.to_access_hash);
        let (generation, now, expires_at) = (i64_of(rot.from_generation), rot.now, rot.expires_at);
        let recent = encode_rotations(rot.recent_rotations);
        self.write(move |c| {
            // One conditional UPDATE: the new rotation times are written with the swap, or not
            // at all.
            c.prepare_cached(
                "UPDATE sessions SET generation = generation + 1, refresh_hash = ?1, \
                 access_hash = ?2, rotated_at = ?3, last_active_at = MAX(last_active_at, ?3), \
                 expires_at = MIN(?4, absolute_expires_at), recent_rotations = ?8 \
                 WHERE handle = ?5 AND generation = ?6 AND refresh_hash = ?7 AND expires_at > ?3",
            )
            .and_then(|mut s| {
                s.execute(params![
                    &to[..],
                    access.as_ref().map(|h| &h[..]),
                    now,
                    expires_at,
                    handle,
                    generation,
                    &from[..],
                    recent
                ])
            })
            .map(|n| n == 1)
            .map_err(store_error)
        })
        .await
    }

    async fn update_data(&self, upd: &DataUpdate<'_>) -> StoreResult<UpdateOutcome> {
        let handle = upd.handle.to_owned();
        let public = upd.public_data.map(str::to_owned);
        let private = upd.private_data.map(str::to_owned);
        let (expected, now) = (upd.expected_version, upd.now);
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE sessions SET public_data = COALESCE(?1, public_data), \
                     private_data = COALESCE(?2, private_data), version = version + 1 \
                     WHERE handle = ?3 AND version = ?4 AND expires_at > ?5",
                )
                .and_then(|mut s| {
                    s.execute(params![public, private, handle, i64_of(expected), now])
                })
                .map_err(store_error)?;
            if n == 1 {
                return Ok(UpdateOutcome::Updated(expected + 1));
            }
            let exists = c
                .prepare_cached("SELECT 1 FROM sessions WHERE handle = ?1 AND expires_at > ?2")
                .and_then(|mut s| s.exists(params![handle, now]))
                .map_err(store_error)?;
            Ok(if exists { UpdateOutcome::VersionMismatch } else { UpdateOutcome::NotFound })
        })
        .await
    }

    async fn touch_session(
        &self, handle: &str, now: Millis, expires_at: Millis,
    ) -> StoreResult<()> {
        let handle = handle.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE sessions SET last_active_at = MAX(last_active_at, ?2), \
                 expires_at = MAX(expires_at, MIN(?3, absolute_expires_at)) \
                 WHERE handle = ?1 AND expires_at > ?2",
            )
            .and_then(|mut s| s.execute(params![handle, now, expires_at]))
            .map(drop)
            .map_err(store_error)
        })
        .await
    }

    async fn delete_sessions(&self, handles: &[String]) -> StoreResult<Vec<String>> {
        let handles = handles.to_vec();
        self.write(move |c| {
            atomically(c, |c| {
                let mut stmt = c.prepare_cached("DELETE FROM sessions WHERE handle = ?1")?;
                let mut gone = Vec::new();
                for h in handles {
                    if stmt.execute([&h])? == 1 {
                        gone.push(h);
                    }
                }
                Ok(gone)
            })
        })
        .await
    }

    async fn delete_user_sessions(&self, query: &UserQuery) -> StoreResult<Vec<String>> {
        let q = query.clone();
        self.write(move |c| {
            atomically(c, |c| {
                let sql =
                    format!("DELETE FROM sessions WHERE {} RETURNING handle", user_filter(q.field));
                let mut stmt = c.prepare_cached(&sql)?;
                let handles = stmt
                    .query_map(params![q.app_id, q.user_id, q.tenant_id], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()?;
                Ok(handles)
            })
        })
        .await
    }

    async fn list_user_sessions(
        &self, query: &UserQuery, now: Millis,
    ) -> StoreResult<Vec<SessionRecord>> {
        self.read(|c| {
            let sql = format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE {} AND expires_at > ?4 \
                 ORDER BY created_at, handle",
                user_filter(query.field)
            );
            c.prepare_cached(&sql)?
                .query_map(
                    params![query.app_id, query.user_id, query.tenant_id, now],
                    rows::session,
                )?
                .collect()
        })
    }

    async fn delete_expired(&self, now: Millis, limit: usize) -> StoreResult<usize> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(move |c| {
            c.prepare_cached(
                "DELETE FROM sessions WHERE handle IN \
                 (SELECT handle FROM sessions WHERE expires_at <= ?1 LIMIT ?2)",
            )
            .and_then(|mut s| s.execute(params![now, limit]))
            .map_err(store_error)
        })
        .await
    }

    async fn wipe(&self) -> StoreResult<()> {
        self.write(|c| {
            atomically(c, |c| c.execute_batch("DELETE FROM sessions; DELETE FROM keys;"))
        })
        .await
    }

    async fn append_events(&self, events: &[EventKind], at: Millis) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let rows: Vec<(&'static str, String)> =
            events.iter().map(|e| (e.name(), e.subject().to_owned())).collect();
        // Through the writer like every write: acknowledged once committed and the WAL is
        // fsynced. The counter row is bumped inside the write transaction, which holds the
        // database's write lock (one writer at a time, across processes), so cursors are handed
        // out in commit order: a reader past cursor c never misses a later commit.
        let last = self
            .write(move |c| {
                atomically(c, |c| {
                    let n = i64::try_from(rows.len()).unwrap_or(i64::MAX);
                    let last: i64 = c
                        .prepare_cached(
                            "UPDATE event_log SET last_cursor = last_cursor + ?1 \
                             WHERE singleton = 1 RETURNING last_cursor",
                        )?
                        .query_row([n], |r| r.get(0))?;
                    let mut insert = c.prepare_cached(
                        "INSERT INTO events (id, at, kind, subject) VALUES (?1, ?2, ?3, ?4)",
                    )?;
                    let mut id = last - n;
                    for (kind, subject) in &rows {
                        id += 1;
                        insert.execute(params![id, at, kind, subject])?;
                    }
                    Ok(last)
                })
            })
            .await?;
        self.events.send_replace(u64::try_from(last).unwrap_or_default());
        Ok(())
    }

    async fn events_since(&self, cursor: u64, limit: usize) -> StoreResult<EventPage> {
        let from = i64_of(cursor);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // One statement, so the trim mark and the events come from one snapshot: a trim
        // between reading the mark and reading the events cannot hide a gap.
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT l.trimmed_through, e.id, e.at, e.kind, e.subject FROM event_log AS l \
                 LEFT JOIN (SELECT id, at, kind, subject FROM events WHERE id > ?1 \
                 ORDER BY id LIMIT ?2) AS e ON 1 ORDER BY e.id",
            )?;
            let mut rows = stmt.query(params![from, limit])?;
            let mut page = EventPage { events: Vec::new(), continuous: true };
            while let Some(row) = rows.next()? {
                let trimmed: i64 = row.get(0)?;
                page.continuous = from >= trimmed;
                if let Some(e) = rows::event(row)? {
                    page.events.push(e);
                }
            }
            Ok(page)
        })
    }

    async fn trim_events(&self, before: Millis) -> StoreResult<()> {
        self.write(move |c| {
            atomically(c, |c| {
                c.prepare_cached(
                    "UPDATE event_log SET trimmed_through = MAX(trimmed_through, \
                     COALESCE((SELECT MAX(id) FROM events WHERE at < ?1), 0)) \
                     WHERE singleton = 1",
                )?
                .execute([before])?;
                c.prepare_cached("DELETE FROM events WHERE at < ?1")?.execute([before])?;
                Ok(())
            })
        })
        .await
    }

    fn event_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.events.subscribe())
    }

    // `event_poll_interval` keeps the default 100 ms: appends by other processes on the same
    // file are only seen by polling.

    async fn flush(&self) -> StoreResult<()> {
        // Every acknowledged write has committed already; this waits for the queue to drain.
        self.write(|_| Ok(())).await
    }

    async fn ping(&self) -> StoreResult<()> {
        // Both paths must work: a read, and a no-op through the writer and the WAL flusher.
        self.read(|c| {
            c.query_row("SELECT 1 FROM keys LIMIT 1", [], |_| Ok(())).or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(()),
                e => Err(e),
            })
        })?;
        self.write(|_| Ok(())).await
    }

    async fn load_keys(&self) -> StoreResult<Vec<KeyRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM keys"))?
                .query_map([], rows::key)?
                .collect()
        })
    }

    async fn insert_key_if_newest(
        &self, expected_newest: Option<&str>, key: &KeyRecord,
    ) -> StoreResult<KeyRecord> {
        let expected = expected_newest.map(str::to_owned);
        let key = key.clone();
        self.write(move |c| {
            // In the writer's `BEGIN IMMEDIATE` transaction: SQLite lets one writer at a time
            // into the file, across processes, so nothing changes the keys between the read
            // and the insert.
            atomically(c, |c| {
                let newest = newest_key(c, &key.app_id, key.kind)?;
                if let Some(n) = newest
                    && Some(&n.kid) != expected.as_ref()
                {
                    return Ok(n);
                }
                insert_key(c, &key)?;
                Ok(key)
            })
        })
        .await
    }

    async fn replace_keys(
        &self, app_id: &str, kinds: &[KeyKind], keys: &[KeyRecord],
    ) -> StoreResult<()> {
        let app = app_id.to_owned();
        let kinds = kinds.to_vec();
        let keys = keys.to_vec();
        self.write(move |c| {
            atomically(c, |c| {
                for kind in &kinds {
                    c.prepare_cached("DELETE FROM keys WHERE app_id = ?1 AND kind = ?2")?
                        .execute(params![app, kind.as_str()])?;
                }
                for k in &keys {
                    insert_key(c, k)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn delete_keys(&self, kids: &[String]) -> StoreResult<()> {
        let kids = kids.to_vec();
        self.write(move |c| {
            atomically(c, |c| {
                let mut stmt = c.prepare_cached("DELETE FROM keys WHERE kid = ?1")?;
                for k in &kids {
                    stmt.execute([k])?;
                }
                Ok(())
            })
        })
        .await
    }
}
