//! Properties of the SQLite file itself: nothing secret at rest, durability across reopen,
//! several handles on one file, schema versioning.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::sync::Arc;

use sessiond_core::tokens::refresh::RefreshToken;
use sessiond_core::{
    KeyRecord, ManagerConfig, NewSession, RefreshOptions, SessionManager, SessionRecord, Store,
    StoreError, TokenFormat, b64, jose::Algorithm,
};
use sessiond_store_sqlite::SqliteStore;
use sessiond_store_tests::fixtures::{T0, handle, record};
use sessiond_store_tests::upgrade;

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
            let s = m.create(NewSession::new(format!("user{i}")).anti_csrf(true)).await.unwrap();
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
        assert!(!contains(&bytes, s), "an issued secret was found in the database files");
    }
    // The check itself works: a handle (not secret) is found.
    let store = SqliteStore::open(&db).unwrap();
    let any = store.list_user_sessions(&sessiond_core::UserQuery::user("user3"), 0).await.unwrap();
    assert!(contains(&bytes, any[0].handle.as_bytes()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested/dir/s.db");
    let open_manager = || {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
        let cfg = ManagerConfig { algorithm: Algorithm::ES256, ..ManagerConfig::default() };
        SessionManager::new(store, cfg).unwrap()
    };
    let (handle, refresh, jwks) = {
        let m = open_manager();
        let s = m.create(NewSession::new("persist")).await.unwrap();
        // No stop(), no flush: an acknowledged create is already durable.
        (s.session.handle, s.tokens.refresh.token.expose().to_owned(), m.keys().jwks("public"))
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(db.parent().unwrap()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "the data folder is private");
        let mode = std::fs::metadata(&db).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the database file is private");
    }
    let m = open_manager();
    assert_eq!(m.user_of(&handle).await.unwrap(), "persist");
    m.refresh(&refresh, RefreshOptions::default()).await.unwrap();
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
    conn.pragma_update(None, "user_version", v).expect("bump the version");
}

#[test]
fn garbage_files_are_refused_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("garbage.db");
    std::fs::write(&db, b"this is not a database, it is a text file of some length...").unwrap();
    assert!(SqliteStore::open(&db).is_err());
}

/// A path that can never name a database is a configuration error, not an outage.
#[test]
fn a_path_that_cannot_work_is_a_configuration_error() {
    for bad in ["", "s\0.db"] {
        match SqliteStore::open(bad) {
            Err(StoreError::Config(msg)) => assert!(!msg.is_empty(), "{bad:?}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn per_user_queries_and_the_sweep_use_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plan.db");
    drop(SqliteStore::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    let plan = |sql: &str| -> String {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows: Vec<String> =
            st.query_map([], |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect();
        rows.join(" | ")
    };
    for sql in [
        "SELECT * FROM sessions WHERE app_id = 'a' AND user_id = 'u' AND ('t' IS NULL OR tenant_id = 't') AND expires_at > 0",
        "SELECT * FROM sessions WHERE handle IN (SELECT handle FROM sessions WHERE app_id = 'a' AND user_id = 'u' AND recipe_user_id = 'u' UNION ALL SELECT handle FROM sessions WHERE app_id = 'a' AND recipe_user_id = 'u' AND recipe_user_id <> user_id)",
        "SELECT handle FROM sessions WHERE expires_at <= 5 LIMIT 10",
        "SELECT * FROM sessions WHERE handle = 'h' AND expires_at > 0",
    ] {
        let p = plan(sql);
        assert!(!p.contains("SCAN sessions"), "full scan in: {sql}\nplan: {p}");
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
        ManagerConfig { algorithm: Algorithm::EdDSA, ..ManagerConfig::default() },
    )
    .unwrap();
    m.start(Default::default()).await.unwrap();
    m.create(NewSession::new("modes")).await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let mode =
            std::fs::metadata(&p).unwrap_or_else(|e| panic!("{suffix}: {e}")).permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "s.db{suffix} is private");
    }
    m.stop().await.unwrap();
}

/// The migrations of the versions before this build's, as they ran (released migrations are
/// never edited).
const OLD_MIGRATIONS: [&str; 2] = [
    include_str!("../migrations/1_sessions_and_keys.sql"),
    include_str!("../migrations/2_revocation_log.sql"),
];

/// A database as a build of schema `version` (1 or 2) left it, in WAL mode like the store's.
fn old_database(db: &std::path::Path, version: usize) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(db).unwrap();
    let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
    for migration in &OLD_MIGRATIONS[..version] {
        conn.execute_batch(migration).unwrap();
    }
    conn.pragma_update(None, "user_version", version as i64).unwrap();
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
    st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// A database of the first schema version (sessions and keys, no revocation log) is upgraded
/// in place on open, through every later migration: its rows stay, and the log works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v1.db");
    let rec = record(&handle(), "old", T0);
    {
        let conn = old_database(&db, 1);
        insert_old_session(&conn, &rec);
        insert_old_key(&conn, &upgrade::first_version_key());
    }
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(user_version(&db), 3);
    upgrade::first_version_rows_carry_on(&store, &rec).await;
}

/// A version-2 database (revocation log, keys without an app, sessions without rotation
/// times) written with real keys and a real session becomes version 3 in place on open: the
/// newest-key index is per (app, kind), the log keeps its cursors, and a manager carries on over
/// the old keys and session (`sessiond_store_tests::upgrade::a_manager_carries_on`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_database_gains_per_app_keys_and_rotation_times_in_place() {
    let old = upgrade::earlier_build().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v2.db");
    {
        let conn = old_database(&db, 2);
        insert_old_session(&conn, &old.session);
        for k in &old.keys {
            insert_old_key(&conn, k);
        }
        conn.execute_batch(&upgrade::TWO_OLD_EVENTS_SQL.replace("{s}", "")).unwrap();
        assert_eq!(key_indexes(&db), vec!["keys_by_kind"]);
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
    assert_eq!(user_version(&db), 3);
    assert_eq!(key_indexes(&db), vec!["keys_by_app_kind"]);
    upgrade::the_log_carries_on(store.as_ref()).await;
    upgrade::a_manager_carries_on(store, &old).await;
}
