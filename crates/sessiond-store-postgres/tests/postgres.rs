//! Properties of the PostgreSQL store beyond the conformance suite: processes racing to
//! migrate a new schema and to create the first key, several stores on one schema, URL
//! validation, schema versioning, closing.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sessiond_core::{KeyRecord, SessionRecord, Store, StoreError};
use sessiond_store_postgres::PostgresStore;
use sessiond_store_tests::fixtures::{T0, append_until_pushed, handle, record};
use sessiond_store_tests::upgrade;
use tokio::sync::Barrier;

macro_rules! server_or_skip {
    () => {
        match common::server_url() {
            Some(url) => {
                common::sweep_stale_schemas(&url).await;
                url
            }
            None => return,
        }
    };
}

fn chain(e: &StoreError) -> String {
    sessiond_core::error_chain(e)
}

async fn schema_version(url: &str, schema: &str) -> i32 {
    let admin = common::admin(url).await;
    let v = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT version FROM \"{schema}\".schema_version"
    )))
    .fetch_one(&admin)
    .await
    .unwrap();
    admin.close().await;
    v
}

/// `n` stores connecting to `url` at the same instant, as processes starting together.
async fn connect_at_once(url: &str, n: usize) -> Vec<Arc<PostgresStore>> {
    let start = Arc::new(Barrier::new(n));
    let connects: Vec<_> = (0..n)
        .map(|_| {
            let (url, start) = (url.to_owned(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                PostgresStore::connect(&url).await
            })
        })
        .collect();
    let mut stores = Vec::new();
    for t in connects {
        let store = t.await.unwrap().unwrap_or_else(|e| panic!("{}", chain(&e)));
        stores.push(Arc::new(store));
    }
    stores
}

/// Three processes starting at the same instant on an empty schema all connect: the migration
/// runs once, under the advisory lock. (Their first keys race in the conformance case
/// `handles_race_key_creation_in_two_apps`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_connects_on_a_new_schema_all_succeed() {
    let base = server_or_skip!();
    for _round in 0..5 {
        let schema = common::fresh_schema();
        let stores = connect_at_once(&common::url_with(&base, &schema, Some(4)), 3).await;
        assert_eq!(schema_version(&base, &schema).await, 3);
        for store in &stores {
            store.ping().await.unwrap();
            store.close().await;
        }
    }
}

/// Bad URLs fail at once, before any connection, as a configuration error (retrying cannot
/// help) with a message naming the problem, and never echo the password.
#[tokio::test]
async fn bad_urls_are_refused_with_a_clear_error() {
    for (url, expect) in [
        ("mysql://u:hunter2@db/app", "is not postgres://"),
        ("u:hunter2@db/app", "expected postgres://"),
        ("postgres://u:hunter2@db/app?schema=Bad-Name", "schema `Bad-Name` is not a valid name"),
        ("postgres://u:hunter2@db/app?schema=pg_x", "is not a valid name"),
        ("postgres://u:hunter2@db/app?pool_size=0", "pool_size `0`"),
        ("postgres://u:hunter2@db/app?pool_size=lots", "pool_size `lots`"),
        ("postgres://u:hunter2@db/app?shema=x", "unknown parameter `shema`"),
        ("postgres://u:hunter2@db/app?sslmode=bogus", "the driver refused it"),
        ("postgres://u:hunter2@db:notaport/app", "the driver refused it"),
    ] {
        let err = PostgresStore::connect(url).await.unwrap_err();
        assert!(matches!(err, StoreError::Config(_)), "{url}: {err:?}");
        let msg = chain(&err);
        assert!(msg.contains("invalid PostgreSQL store URL"), "{url}: {msg}");
        assert!(msg.contains(expect), "{url}: {msg}");
        assert!(!msg.contains("hunter2"), "{url}: {msg}");
    }
}

/// A server that does not answer is `Unavailable`, with the driver's error kept as the source.
#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let started = Instant::now();
    let err =
        PostgresStore::connect("postgres://postgres:hunter2@127.0.0.1:1/test").await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let msg = chain(&err);
    assert!(msg.contains("store unavailable: "), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(msg.contains("refused"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(15), "{msg}");
}

/// A schema written by a newer sessiond is refused, not migrated backwards or used blindly.
#[tokio::test]
async fn a_newer_schema_is_refused() {
    let base = server_or_skip!();
    let schema = common::fresh_schema();
    let url = common::url_with(&base, &schema, Some(2));
    PostgresStore::connect(&url).await.unwrap().close().await;
    let admin = common::admin(&base).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE \"{schema}\".schema_version SET version = 99"
    )))
    .execute(&admin)
    .await
    .unwrap();
    admin.close().await;
    let err = PostgresStore::connect(&url).await.unwrap_err();
    let msg = chain(&err);
    assert!(msg.contains("version 99, newer than this sessiond"), "{msg}");
}

/// Connections the server dropped while they sat idle in the pool (a server restart, a
/// failover, an administrator) are replaced before an operation uses them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_the_server_dropped_are_replaced() {
    let base = server_or_skip!();
    let app = format!("sdt_probe_{}", common::fresh_schema());
    let url = format!(
        "{}&application_name={app}",
        common::url_with(&base, &common::fresh_schema(), Some(4))
    );
    let store = Arc::new(PostgresStore::connect(&url).await.unwrap());
    let h = handle();
    store.create_session(&record(&h, "alice", T0)).await.unwrap();
    // Open all four pooled connections.
    let loads: Vec<_> = (0..16)
        .map(|_| {
            let (store, h) = (Arc::clone(&store), h.clone());
            tokio::spawn(async move { store.load_session(&h, T0).await.unwrap() })
        })
        .collect();
    for t in loads {
        assert!(t.await.unwrap().is_some());
    }
    let admin = common::admin(&base).await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&app)
    .fetch_all(&admin)
    .await
    .unwrap();
    admin.close().await;
    assert!(!killed.is_empty());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for _ in 0..20 {
        assert!(store.load_session(&h, T0).await.unwrap().is_some());
    }
}

/// `ping` fails on a server that answers reads but takes no writes.
#[tokio::test]
async fn ping_fails_on_a_read_only_server() {
    let base = server_or_skip!();
    let schema = common::fresh_schema();
    let url = common::url_with(&base, &schema, Some(1));
    PostgresStore::connect(&url).await.unwrap().ping().await.unwrap();
    let read_only = format!("{url}&options=-c%20default_transaction_read_only%3Don");
    let store = PostgresStore::connect(&read_only).await.unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(chain(&err).contains("read-only"), "{}", chain(&err));
}

/// After `close`, operations report `Closed`.
#[tokio::test]
async fn a_closed_store_says_so() {
    let base = server_or_skip!();
    let url = common::url_with(&base, &common::fresh_schema(), Some(2));
    let store = PostgresStore::connect(&url).await.unwrap();
    assert_eq!(store.backend(), "postgres");
    assert_eq!(store.pool_size(), 2);
    store.ping().await.unwrap();
    store.close().await;
    assert!(matches!(store.load_session(&handle(), T0).await, Err(StoreError::Closed)));
    assert!(matches!(store.flush().await, Err(StoreError::Closed)));
    assert!(matches!(store.ping().await, Err(StoreError::Closed)));
}

/// An append through one store is pushed (`NOTIFY` at commit, `LISTEN` on a connection of
/// the other store's own) to another store on the schema, as to another process; the
/// listener comes back by itself when its connection is killed; the poll interval is the
/// 1 s safety net.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_are_pushed_to_other_stores_and_the_listener_reconnects() {
    let base = server_or_skip!();
    let schema = common::fresh_schema();
    let url = common::url_with(&base, &schema, Some(2));
    let a = PostgresStore::connect(&url).await.unwrap();
    let b = PostgresStore::connect(&url).await.unwrap();
    assert_eq!(b.event_poll_interval(), Duration::from_secs(1));
    let mut signal = b.event_signal().expect("PostgreSQL pushes");
    let took =
        append_until_pushed(&a, &mut signal, 10).await.expect("B's signal reaches A's cursor");
    eprintln!("pushed to the other store in {took:?}");
    // Pushed, not polled: well within the poll interval.
    let took =
        append_until_pushed(&a, &mut signal, 1).await.expect("the next append is pushed at once");
    assert!(took < Duration::from_millis(500), "{took:?}");

    // Kill the listener's connection; it comes back by itself.
    let admin = common::admin(&base).await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE 'LISTEN %' AND strpos(query, $1) > 0",
    )
    .bind(format!("sessiond_events_{schema}"))
    .fetch_all(&admin)
    .await
    .unwrap();
    admin.close().await;
    assert_eq!(killed, vec![true], "one listener connection");
    let took = append_until_pushed(&a, &mut signal, 20)
        .await
        .expect("pushed again after the listener reconnected");
    eprintln!("pushed after the reconnect in {took:?}");
    a.close().await;
    b.close().await;
}

/// The migrations of the versions before this build's, as they ran (released migrations are
/// never edited). `{s}` is the quoted schema.
const OLD_MIGRATIONS: [&str; 2] = [
    include_str!("../migrations/1_sessions_and_keys.sql"),
    include_str!("../migrations/2_revocation_log.sql"),
];

/// A schema as a build of `version` (1 or 2) left it.
async fn old_schema(admin: &sqlx::PgPool, schema: &str, version: usize) {
    let q = format!("\"{schema}\"");
    let mut ddl = format!(
        "CREATE SCHEMA {q}; \
         CREATE TABLE {q}.schema_version (singleton BOOLEAN PRIMARY KEY DEFAULT TRUE \
         CHECK (singleton), version INTEGER NOT NULL); \
         INSERT INTO {q}.schema_version (version) VALUES ({version}); "
    );
    for migration in &OLD_MIGRATIONS[..version] {
        ddl.push_str(&migration.replace("{s}", &q));
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(ddl)).execute(admin).await.unwrap();
}

/// Writes a session in the old layout (no rotation times).
async fn insert_old_session(admin: &sqlx::PgPool, schema: &str, r: &SessionRecord) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO \"{schema}\".sessions (handle, app_id, tenant_id, user_id, recipe_user_id, \
         public_data, private_data, created_at, last_active_at, rotated_at, expires_at, \
         absolute_expires_at, generation, refresh_hash, access_hash, flags, version, client_ip, \
         user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
         $16, $17, $18, $19)"
    )))
    .bind(&r.handle)
    .bind(&r.app_id)
    .bind(&r.tenant_id)
    .bind(&r.user_id)
    .bind(&r.recipe_user_id)
    .bind(&r.public_data)
    .bind(&r.private_data)
    .bind(r.created_at)
    .bind(r.last_active_at)
    .bind(r.rotated_at)
    .bind(r.expires_at)
    .bind(r.absolute_expires_at)
    .bind(i64::try_from(r.generation).unwrap())
    .bind(&r.refresh_hash[..])
    .bind(r.access_hash.as_ref().map(|h| &h[..]))
    .bind(r.flags.bits())
    .bind(i64::try_from(r.version).unwrap())
    .bind(r.client.ip.as_deref())
    .bind(r.client.user_agent.as_deref())
    .execute(admin)
    .await
    .unwrap();
}

/// Writes a key in the old layout (no app).
async fn insert_old_key(admin: &sqlx::PgPool, schema: &str, k: &KeyRecord) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO \"{schema}\".keys (kid, kind, alg, material, sealed, public_jwk, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )))
    .bind(&k.kid)
    .bind(k.kind.as_str())
    .bind(k.alg.as_str())
    .bind(&k.material)
    .bind(k.sealed)
    .bind(k.public_jwk.as_deref())
    .bind(k.created_at)
    .execute(admin)
    .await
    .unwrap();
}

/// The indexes of a schema's keys table.
async fn key_indexes(admin: &sqlx::PgPool, schema: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = 'keys' \
         AND indexname <> 'keys_pkey' ORDER BY indexname",
    )
    .bind(schema)
    .fetch_all(admin)
    .await
    .unwrap()
}

/// A schema of version 1 (no revocation log) is upgraded in place on connect, through every
/// later migration: its rows stay, and the log works.
#[tokio::test]
async fn a_version_1_schema_is_upgraded_in_place() {
    let base = server_or_skip!();
    let schema = common::fresh_schema();
    let url = common::url_with(&base, &schema, Some(2));
    let admin = common::admin(&base).await;
    old_schema(&admin, &schema, 1).await;
    let rec = record(&handle(), "alice", T0);
    insert_old_session(&admin, &schema, &rec).await;
    insert_old_key(&admin, &schema, &upgrade::first_version_key()).await;
    assert_eq!(schema_version(&base, &schema).await, 1);
    let store = PostgresStore::connect(&url).await.unwrap();
    assert_eq!(schema_version(&base, &schema).await, 3);
    upgrade::first_version_rows_carry_on(&store, &rec).await;
    store.close().await;
    admin.close().await;
}

/// A version-2 schema (revocation log, keys without an app, sessions without rotation times)
/// holding a manager's real keys and session becomes version 3 in place, with three processes
/// connecting at once (the migration runs once, under the advisory lock): the newest-key index
/// is per (app, kind), the log keeps its cursors, and a manager carries on over the old keys and
/// session (`sessiond_store_tests::upgrade::a_manager_carries_on`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_version_2_schema_gains_per_app_keys_and_rotation_times_in_place() {
    let base = server_or_skip!();
    let old = upgrade::earlier_build().await;
    let schema = common::fresh_schema();
    let url = common::url_with(&base, &schema, Some(4));
    let admin = common::admin(&base).await;
    old_schema(&admin, &schema, 2).await;
    insert_old_session(&admin, &schema, &old.session).await;
    for k in &old.keys {
        insert_old_key(&admin, &schema, k).await;
    }
    let events = upgrade::TWO_OLD_EVENTS_SQL.replace("{s}", &format!("\"{schema}\"."));
    sqlx::raw_sql(sqlx::AssertSqlSafe(events)).execute(&admin).await.unwrap();
    assert_eq!(key_indexes(&admin, &schema).await, vec!["keys_by_kind"]);

    let stores = connect_at_once(&url, 3).await;
    assert_eq!(schema_version(&base, &schema).await, 3);
    assert_eq!(key_indexes(&admin, &schema).await, vec!["keys_by_app_kind"]);
    upgrade::the_log_carries_on(stores[0].as_ref()).await;
    upgrade::a_manager_carries_on(Arc::clone(&stores[0]) as Arc<dyn Store>, &old).await;
    for s in &stores {
        s.close().await;
    }
    admin.close().await;
}
