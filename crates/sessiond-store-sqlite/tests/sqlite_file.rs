//! Properties of the SQLite file itself: nothing secret at rest, durability across reopen,
//! several handles on one file, schema versioning.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::sync::Arc;

use sessiond_core::store::EventKind;
use sessiond_core::tokens::refresh::RefreshToken;
use sessiond_core::{
    KeyKind, KeyRecord, ManagerConfig, NewSession, RefreshOptions, SessionManager, SessionRecord,
    Store, TokenFormat, VerifyOptions, b64, jose::Algorithm,
};
use sessiond_store_sqlite::SqliteStore;
use sessiond_store_tests::fixtures::{T0, handle, key, record};

fn files_bytes(db: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(b) = std::fs::read(&p) {
            all.extend(b);
        }
    }
    all
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::find(hay, needle).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_issued_secret_is_in_the_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for format in [TokenFormat::Jwt, TokenFormat::Opaque] {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
        let cfg = ManagerConfig {
            algorithm: Algorithm::EdDSA,
            token_format: format,
            ..ManagerConfig::default()
        };
        let m = SessionManager::new(Arc::clone(&store), cfg).unwrap();
        for i in 0..20 {
            let s = m
                .create(NewSession::new(format!("user{i}")).anti_csrf(true))
                .await
                .unwrap();
            let r = m
                .refresh(
                    s.tokens.refresh.token.expose(),
                    RefreshOptions {
                        app_id: None,
                        anti_csrf_token: s.tokens.anti_csrf.as_ref().map(|t| t.expose()),
                        check_anti_csrf: true,
                        static_key: None,
                    },
                )
                .await
                .unwrap();
            for issued in [&s, &r] {
                let t = &issued.tokens;
                secrets.push(t.refresh.token.expose().as_bytes().to_vec());
                secrets.push(t.access.token.expose().as_bytes().to_vec());
                secrets.push(t.anti_csrf.as_ref().unwrap().expose().as_bytes().to_vec());
                let rt = RefreshToken::decode(t.refresh.token.expose()).unwrap();
                secrets.push(rt.secret.to_vec());
                secrets.push(b64::encode(rt.secret).into_bytes());
                if format == TokenFormat::Opaque {
                    let raw = b64::decode(t.access.token.expose()).unwrap();
                    let random = String::from_utf8(raw).unwrap();
                    let random = random.split(';').nth(1).unwrap().to_owned();
                    secrets.push(b64::decode(&random).unwrap());
                    secrets.push(random.into_bytes());
                }
            }
        }
        let service = m.create_service_token("public", None).await.unwrap();
        secrets.push(service.expose().as_bytes().to_vec());
        m.stop().await.unwrap();
    }
    let bytes = files_bytes(&db);
    assert!(bytes.len() > 10_000, "the database holds the sessions");
    for s in &secrets {
        assert!(
            !contains(&bytes, s),
            "an issued secret was found in the database files"
        );
    }
    // The check itself works: a handle (not secret) is found.
    let store = SqliteStore::open(&db).unwrap();
    let any = store
        .list_user_sessions(&sessiond_core::UserQuery::user("user3"), 0)
        .await
        .unwrap();
    assert!(contains(&bytes, any[0].handle.as_bytes()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested/dir/s.db");
    let (handle, refresh, jwks) = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
        let m = SessionManager::new(
            store,
            ManagerConfig {
                algorithm: Algorithm::ES256,
                ..ManagerConfig::default()
            },
        )
        .unwrap();
        let s = m.create(NewSession::new("persist")).await.unwrap();
        // No stop(), no flush: an acknowledged create is already durable.
        (
            s.session.handle,
            s.tokens.refresh.token.expose().to_owned(),
            m.keys().jwks("public"),
        )
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(db.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "the data folder is private");
        let mode = std::fs::metadata(&db).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the database file is private");
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
    let m = SessionManager::new(
        store,
        ManagerConfig {
            algorithm: Algorithm::ES256,
            ..ManagerConfig::default()
        },
    )
    .unwrap();
    assert_eq!(m.user_of(&handle).await.unwrap(), "persist");
    m.refresh(&refresh, RefreshOptions::default())
        .await
        .unwrap();
    assert_eq!(*m.keys().jwks("public"), *jwks, "keys persist");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("future.db");
    set_user_version(&db, 99);
    let err = SqliteStore::open(&db).unwrap_err();
    assert!(format!("{err:?}").contains("newer"), "{err:?}");
}

/// Creates the database with the store, then bumps its schema version behind its back.
fn set_user_version(db: &std::path::Path, v: i64) {
    drop(SqliteStore::open(db).expect("create the database"));
    let conn = rusqlite::Connection::open(db).expect("open it behind the store's back");
    conn.pragma_update(None, "user_version", v)
        .expect("bump the version");
}

#[test]
fn garbage_files_are_refused_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("garbage.db");
    std::fs::write(
        &db,
        b"this is not a database, it is a text file of some length...",
    )
    .unwrap();
    assert!(SqliteStore::open(&db).is_err());
}

#[test]
fn per_user_queries_and_the_sweep_use_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plan.db");
    drop(SqliteStore::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    let plan = |sql: &str| -> String {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows: Vec<String> = st
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.join(" | ")
    };
    for sql in [
        "SELECT * FROM sessions WHERE app_id = 'a' AND user_id = 'u' AND ('t' IS NULL OR tenant_id = 't') AND expires_at > 0",
        "SELECT * FROM sessions WHERE handle IN (SELECT handle FROM sessions WHERE app_id = 'a' AND user_id = 'u' AND recipe_user_id = 'u' UNION ALL SELECT handle FROM sessions WHERE app_id = 'a' AND recipe_user_id = 'u' AND recipe_user_id <> user_id)",
        "SELECT handle FROM sessions WHERE expires_at <= 5 LIMIT 10",
        "SELECT * FROM sessions WHERE handle = 'h' AND expires_at > 0",
    ] {
        let p = plan(sql);
        assert!(
            !p.contains("SCAN sessions"),
            "full scan in: {sql}\nplan: {p}"
        );
    }
    // The newest key of an app and kind: through the (app, kind, created, kid) index, read
    // backwards, without sorting.
    let p = plan(
        "SELECT * FROM keys WHERE app_id = 'a' AND kind = 'dynamic' \
         ORDER BY created_at DESC, kid DESC LIMIT 1",
    );
    assert!(p.contains("keys_by_app_kind"), "plan: {p}");
    assert!(!p.contains("TEMP B-TREE"), "plan: {p}");
    // The revocation log: reads after a cursor and trims by instant.
    for sql in [
        "SELECT id, at, kind, subject FROM events WHERE id > 3 ORDER BY id LIMIT 10",
        "SELECT MAX(id) FROM events WHERE at < 5",
        "DELETE FROM events WHERE at < 5",
    ] {
        let p = plan(sql);
        assert!(!p.contains("SCAN events"), "full scan in: {sql}\nplan: {p}");
    }
}

/// In a folder that already exists and others may read (say `/var/lib/sessiond` made by a
/// package), the database and the -wal and -shm files SQLite creates beside it are still 0600:
/// the WAL holds signing keys and session rows before a checkpoint moves them.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_wal_and_shm_files_are_private_in_an_open_folder() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = dir.path().join("s.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
    let m = SessionManager::new(
        Arc::clone(&store),
        ManagerConfig {
            algorithm: Algorithm::EdDSA,
            ..ManagerConfig::default()
        },
    )
    .unwrap();
    m.start(Default::default()).await.unwrap();
    m.create(NewSession::new("modes")).await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let mode = std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{suffix}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "s.db{suffix} is private");
    }
    m.stop().await.unwrap();
}

fn revoked(h: &str) -> EventKind {
    EventKind::Revoked {
        handle: h.to_owned(),
    }
}

// What earlier builds wrote, frozen here: migrations 1 and 2 exactly as they ran. (Migrations
// are never edited, so these are what any database of version 1 or 2 holds.)
const SCHEMA_V1: &str = "CREATE TABLE sessions (
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
     CREATE INDEX keys_by_kind ON keys (kind, created_at);";

const SCHEMA_V2: &str = "CREATE TABLE events (
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
     INSERT INTO event_log (singleton, last_cursor, trimmed_through) VALUES (1, 0, 0);";

/// A database as a build of schema `version` (1 or 2) left it, in WAL mode like the store's.
fn old_database(db: &std::path::Path, version: u32) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(db).unwrap();
    let _: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch(SCHEMA_V1).unwrap();
    if version >= 2 {
        conn.execute_batch(SCHEMA_V2).unwrap();
    }
    conn.pragma_update(None, "user_version", version).unwrap();
    conn
}

/// Writes a session in the old layout (no rotation times).
fn insert_old_session(conn: &rusqlite::Connection, r: &SessionRecord) {
    conn.execute(
        "INSERT INTO sessions (handle, app_id, tenant_id, user_id, recipe_user_id, public_data, \
         private_data, created_at, last_active_at, rotated_at, expires_at, absolute_expires_at, \
         generation, refresh_hash, access_hash, flags, version, client_ip, user_agent) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        rusqlite::params![
            r.handle,
            r.app_id,
            r.tenant_id,
            r.user_id,
            r.recipe_user_id,
            r.public_data,
            r.private_data,
            r.created_at,
            r.last_active_at,
            r.rotated_at,
            r.expires_at,
            r.absolute_expires_at,
            i64::try_from(r.generation).unwrap(),
            &r.refresh_hash[..],
            r.access_hash.as_ref().map(|h| &h[..]),
            r.flags.bits(),
            i64::try_from(r.version).unwrap(),
            r.client.ip,
            r.client.user_agent,
        ],
    )
    .unwrap();
}

/// Writes a key in the old layout (no app).
fn insert_old_key(conn: &rusqlite::Connection, k: &KeyRecord) {
    conn.execute(
        "INSERT INTO keys (kid, kind, alg, material, sealed, public_jwk, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![
            k.kid,
            k.kind.as_str(),
            k.alg.as_str(),
            k.material,
            k.sealed,
            k.public_jwk,
            k.created_at
        ],
    )
    .unwrap();
}

fn user_version(db: &std::path::Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn key_indexes(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'keys' AND sql IS NOT NULL ORDER BY name")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A database of the first schema version (sessions and keys, no revocation log) is upgraded
/// in place on open, through every later migration: its rows stay, and the log works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v1.db");
    let h = handle();
    let rec = record(&h, "old", T0);
    {
        let conn = old_database(&db, 1);
        insert_old_session(&conn, &rec);
        insert_old_key(&conn, &key(KeyKind::Dynamic, "d-old", T0));
    }
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(user_version(&db), 3);
    assert_eq!(
        store.load_session(&h, T0).await.unwrap(),
        Some(rec),
        "the old rows are kept"
    );
    assert_eq!(
        store.load_keys().await.unwrap(),
        vec![key(KeyKind::Dynamic, "d-old", T0)]
    );
    let page = store.events_since(0, 10).await.unwrap();
    assert!(page.continuous && page.events.is_empty());
    store.append_events(&[revoked("h1")], 5).await.unwrap();
    let page = store.events_since(0, 10).await.unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].cursor, 1);
}

/// A version-2 database (revocation log, keys without an app, sessions without rotation
/// times) written with real keys and a real session becomes version 3 in place on open: the
/// keys belong to the default app `public`, the session has an empty rotation list, the
/// newest-key index is per (app, kind), the log keeps its cursors, and a manager carries on:
/// the old access token verifies, the old refresh token rotates (and the rotation times are
/// kept from then on), and other apps get keys of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_database_gains_per_app_keys_and_rotation_times_in_place() {
    let cfg = || ManagerConfig {
        algorithm: Algorithm::EdDSA,
        ..ManagerConfig::default()
    };
    // What a version-2 build held: keys and a once-refreshed session, made by a manager.
    let mem: Arc<dyn Store> = Arc::new(sessiond_core::MemoryStore::new());
    let old = SessionManager::new(Arc::clone(&mem), cfg()).unwrap();
    old.start(Default::default()).await.unwrap();
    let s0 = old.create(NewSession::new("old")).await.unwrap();
    let s1 = old
        .refresh(s0.tokens.refresh.token.expose(), RefreshOptions::default())
        .await
        .unwrap();
    old.stop().await.unwrap();
    let old_keys = mem.load_keys().await.unwrap();
    assert!(old_keys.iter().all(|k| k.app_id == "public"));
    let handle = s0.session.handle.clone();
    let mut old_rec = mem.load_session(&handle, 0).await.unwrap().unwrap();
    assert_eq!(old_rec.generation, 1);
    old_rec.recent_rotations.clear(); // version 2 had no place for them

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v2.db");
    {
        let conn = old_database(&db, 2);
        insert_old_session(&conn, &old_rec);
        for k in &old_keys {
            insert_old_key(&conn, k);
        }
        conn.execute_batch(
            "INSERT INTO events (id, at, kind, subject) VALUES (1, 5, 'revoked', 'gone'), \
             (2, 6, 'revoked', 'gone2'); UPDATE event_log SET last_cursor = 2;",
        )
        .unwrap();
        assert_eq!(key_indexes(&db), vec!["keys_by_kind"]);
    }

    let store = Arc::new(SqliteStore::open(&db).unwrap());
    assert_eq!(user_version(&db), 3);
    assert_eq!(key_indexes(&db), vec!["keys_by_app_kind"]);
    let mut loaded = store.load_keys().await.unwrap();
    let mut want = old_keys.clone();
    loaded.sort_by(|a, b| a.kid.cmp(&b.kid));
    want.sort_by(|a, b| a.kid.cmp(&b.kid));
    assert_eq!(loaded, want, "every key kept, in app public");
    assert_eq!(
        store.load_session(&handle, 0).await.unwrap(),
        Some(old_rec.clone()),
        "the session is kept, with no rotation times"
    );
    // The log carries on after its last cursor.
    store.append_events(&[revoked("h3")], 7).await.unwrap();
    let page = store.events_since(0, 10).await.unwrap();
    let cursors: Vec<u64> = page.events.iter().map(|e| e.cursor).collect();
    assert_eq!(cursors, vec![1, 2, 3]);

    // A newer build's manager on the upgraded file.
    let m = SessionManager::new(Arc::clone(&store) as Arc<dyn Store>, cfg()).unwrap();
    m.start(Default::default()).await.unwrap();
    let at = s1.tokens.access.token.expose();
    let in_public = VerifyOptions {
        app_id: Some("public"),
        ..VerifyOptions::default()
    };
    m.verify(at, in_public).await.unwrap();
    m.verify(
        at,
        VerifyOptions {
            check_database: true,
            ..in_public
        },
    )
    .await
    .unwrap();
    assert!(
        m.verify(
            at,
            VerifyOptions {
                app_id: Some("b"),
                ..in_public
            }
        )
        .await
        .is_err()
    );
    let dynamic_before: Vec<String> = old_keys
        .iter()
        .filter(|k| k.kind == KeyKind::Dynamic)
        .map(|k| k.kid.clone())
        .collect();
    assert_eq!(
        m.keys()
            .signer("public", KeyKind::Dynamic)
            .await
            .unwrap()
            .kid(),
        dynamic_before[0],
        "the old key still signs for the default app"
    );
    let s2 = m
        .refresh(s1.tokens.refresh.token.expose(), RefreshOptions::default())
        .await
        .unwrap();
    let rec = store.load_session(&handle, 0).await.unwrap().unwrap();
    assert_eq!(rec.generation, 2);
    assert_eq!(
        rec.recent_rotations,
        vec![rec.rotated_at],
        "kept from now on"
    );
    // The parent, retried within the grace window, gets the current token back.
    let again = m
        .refresh(s1.tokens.refresh.token.expose(), RefreshOptions::default())
        .await
        .unwrap();
    assert_eq!(again.tokens.refresh.token, s2.tokens.refresh.token);
    // Another app gets keys of its own beside the old ones.
    let b = m
        .create(NewSession {
            app_id: "b".to_owned(),
            ..NewSession::new("new")
        })
        .await
        .unwrap();
    m.verify(
        b.tokens.access.token.expose(),
        VerifyOptions {
            app_id: Some("b"),
            ..VerifyOptions::default()
        },
    )
    .await
    .unwrap();
    let apps: Vec<String> = store
        .load_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.app_id)
        .collect();
    assert!(apps.contains(&"b".to_owned()) && apps.contains(&"public".to_owned()));
    m.stop().await.unwrap();
}
