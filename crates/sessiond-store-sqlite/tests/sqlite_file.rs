//! Properties of the SQLite file itself: nothing secret at rest, durability across reopen,
//! several handles on one file, schema versioning.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::sync::Arc;

use sessiond_core::store::EventKind;
use sessiond_core::tokens::refresh::RefreshToken;
use sessiond_core::{
    KeyKind, ManagerConfig, NewSession, RefreshOptions, SessionManager, Store, TokenFormat,
    VerifyOptions, b64, jose::Algorithm,
};
use sessiond_store_sqlite::SqliteStore;

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
        let service = m.create_service_token(None).await.unwrap();
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
            m.keys().jwks(),
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
    assert_eq!(*m.keys().jwks(), *jwks, "keys persist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn separate_handles_on_one_file_create_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    // Open once so the schema exists; the racers then behave like separate processes.
    drop(SqliteStore::open(&db).unwrap());
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
                let m = SessionManager::new(
                    store,
                    ManagerConfig {
                        algorithm: Algorithm::EdDSA,
                        ..ManagerConfig::default()
                    },
                )
                .unwrap();
                m.keys()
                    .signer(KeyKind::Dynamic)
                    .await
                    .unwrap()
                    .kid()
                    .to_owned()
            })
        })
        .collect();
    let mut kids = Vec::new();
    for t in tasks {
        kids.push(t.await.unwrap());
    }
    kids.dedup();
    assert_eq!(kids.len(), 1, "{kids:?}");
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

/// A database of the first schema version (sessions and keys, no revocation log) is upgraded
/// in place on open: its rows stay, and the log works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_gains_the_revocation_log_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v1.db");
    let handle = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
        let m = SessionManager::new(
            store,
            ManagerConfig {
                algorithm: Algorithm::EdDSA,
                ..ManagerConfig::default()
            },
        )
        .unwrap();
        m.create(NewSession::new("old"))
            .await
            .unwrap()
            .session
            .handle
    };
    // Back to version 1 behind the store's back: what an earlier sessiond left.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("DROP TABLE events; DROP TABLE event_log; PRAGMA user_version = 1;")
            .unwrap();
    }
    let store = SqliteStore::open(&db).unwrap();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert!(v >= 2, "migrated to {v}");
    }
    assert!(
        store.load_session(&handle, 0).await.unwrap().is_some(),
        "the old rows are kept"
    );
    let page = store.events_since(0, 10).await.unwrap();
    assert!(page.continuous && page.events.is_empty());
    store.append_events(&[revoked("h1")], 5).await.unwrap();
    let page = store.events_since(0, 10).await.unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].cursor, 1);
}

/// Separate handles on one file behave like separate processes: appenders on two of them run
/// at once while a third follows the cursor, and the follower sees every event exactly once.
/// Appends on one handle are not pushed to another (no cross-process signal): they are found
/// by polling.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handles_on_one_file_share_one_ordered_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    drop(SqliteStore::open(&db).unwrap());
    let writers: Vec<Arc<SqliteStore>> = (0..2)
        .map(|_| Arc::new(SqliteStore::open(&db).unwrap()))
        .collect();
    let reader = Arc::new(SqliteStore::open(&db).unwrap());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let follower = {
        let reader = Arc::clone(&reader);
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut cursor = 0;
            let mut seen = Vec::new();
            loop {
                let last_round = done.load(std::sync::atomic::Ordering::SeqCst);
                let page = reader.events_since(cursor, 7).await.unwrap();
                assert!(page.continuous);
                let n = page.events.len();
                for e in page.events {
                    assert!(e.cursor > cursor);
                    cursor = e.cursor;
                    seen.push(e.kind);
                }
                if last_round && n < 7 {
                    return seen;
                }
                if n < 7 {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            }
        })
    };
    let appenders: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&writers[t % 2]);
            tokio::spawn(async move {
                for i in 0..40 {
                    store
                        .append_events(&[revoked(&format!("{t}-{i}"))], 1_000 + i)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for a in appenders {
        a.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = follower.await.unwrap();
    let mut subjects: Vec<String> = seen.iter().map(|k| k.subject().to_owned()).collect();
    assert_eq!(subjects.len(), 320, "every event, once");
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 320, "no event twice");
    // No push across handles; the poll interval is what other processes rely on.
    assert_eq!(
        reader.event_poll_interval(),
        std::time::Duration::from_millis(100)
    );
}

/// A revocation made through a manager on one handle reaches a manager on another handle of
/// the same file (as another process would) by polling, within a bounded time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_a_manager_on_another_handle() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("two.db");
    let cfg = || ManagerConfig {
        algorithm: Algorithm::EdDSA,
        ..ManagerConfig::default()
    };
    let a = SessionManager::new(Arc::new(SqliteStore::open(&db).unwrap()), cfg()).unwrap();
    let b = SessionManager::new(Arc::new(SqliteStore::open(&db).unwrap()), cfg()).unwrap();
    a.start(Default::default()).await.unwrap();
    b.start(Default::default()).await.unwrap();
    let s = a.create(NewSession::new("x")).await.unwrap();
    let at = s.tokens.access.token.expose();
    b.verify(at, VerifyOptions::default()).await.unwrap();
    a.revoke(&s.session.handle).await.unwrap();
    let started = std::time::Instant::now();
    while b.verify(at, VerifyOptions::default()).await.is_ok() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "B still accepts the revoked session"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        b.revocations().standing(&s.session.handle),
        sessiond_core::revocation::Standing::Revoked
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
