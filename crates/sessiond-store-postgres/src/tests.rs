//! Tests that look inside the store: its pool's connections and its statements' plans.

#![allow(clippy::unwrap_used)]

use sqlx::{AssertSqlSafe, Row, SqlStr};

use crate::PostgresStore;

/// The test server, as in the integration tests: `None` skips, except under `CI=true`.
fn server_url() -> Option<String> {
    sessiond_store_tests::env::service_url("SESSIOND_TEST_POSTGRES_URL")
}

fn fresh_url(base: &str, extra: &str) -> (String, String) {
    let schema = format!(
        "sdt_{}_unit{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        std::process::id()
    );
    let schema = format!("{schema}_{}", rand_suffix());
    let sep = if base.contains('?') { '&' } else { '?' };
    (format!("{base}{sep}schema={schema}{extra}"), schema)
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Every pooled connection commits durably, defaults to READ COMMITTED and searches the
/// store's schema, whatever the URL's `options` asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_is_durable_and_in_its_schema() {
    let Some(base) = server_url() else { return };
    let (url, schema) = fresh_url(
        &base,
        "&pool_size=4&options=-c%20synchronous_commit%3Doff\
         %20-c%20default_transaction_isolation%3Dserializable",
    );
    let store = PostgresStore::connect(&url).await.unwrap();
    // Hold all four at once so each is a distinct connection.
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(store.pool.acquire().await.unwrap());
    }
    for conn in &mut conns {
        let (sync, iso, current): (String, String, String) = sqlx::query_as(
            "SELECT current_setting('synchronous_commit'), \
             current_setting('default_transaction_isolation'), current_schema()::text",
        )
        .fetch_one(&mut **conn)
        .await
        .unwrap();
        assert_eq!(sync, "on");
        assert_eq!(iso, "read committed");
        assert_eq!(current, schema);
    }
}

/// The per-user queries, the sweep and the point lookups can use their indexes (with
/// sequential scans disabled, so the answer does not depend on the table's size).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_use_their_indexes() {
    let Some(base) = server_url() else { return };
    let (url, _schema) = fresh_url(&base, "&pool_size=1");
    let store = PostgresStore::connect(&url).await.unwrap();
    let mut conn = store.pool.acquire().await.unwrap();
    sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await.unwrap();
    enum P {
        Text,
        Texts,
        NoTenant,
        Int,
    }
    use P::*;
    let sql = &store.sql;
    let cases: [(&SqlStr, &[P], &[&str]); 10] = [
        (&sql.load_session, &[Text, Int], &["sessions_pkey"]),
        (&sql.list_by_user, &[Text, Text, NoTenant, Int], &["sessions_by_user"]),
        (
            &sql.list_by_recipe_user,
            &[Text, Text, NoTenant, Int],
            &["sessions_by_user", "sessions_by_linked_recipe_user"],
        ),
        (&sql.delete_by_user, &[Text, Text, NoTenant], &["sessions_by_user", "sessions_pkey"]),
        (
            &sql.delete_by_recipe_user,
            &[Text, Text, NoTenant],
            &["sessions_by_user", "sessions_by_linked_recipe_user", "sessions_pkey"],
        ),
        (&sql.delete_expired, &[Int, Int], &["sessions_by_expiry", "sessions_pkey"]),
        (&sql.delete_sessions, &[Texts], &["sessions_pkey"]),
        (&sql.newest_key, &[Text, Text], &["keys_by_app_kind"]),
        (&sql.events_since, &[Int, Int], &["events_pkey"]),
        (&sql.trim_events, &[Int], &["events_by_at", "events_pkey"]),
    ];
    for (stmt, params, indexes) in cases {
        let mut q = sqlx::query(AssertSqlSafe(format!("EXPLAIN {}", stmt.as_str())));
        for p in params {
            q = match p {
                Text => q.bind("x"),
                Texts => q.bind(vec!["x".to_owned(), "y".to_owned()]),
                NoTenant => q.bind(None::<&str>),
                Int => q.bind(1_i64),
            };
        }
        let plan: Vec<String> = q
            .fetch_all(&mut *conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String, _>(0).unwrap())
            .collect();
        let plan = plan.join("\n");
        for index in indexes {
            assert!(plan.contains(index), "{}\nshould use {index}:\n{plan}", stmt.as_str());
        }
    }
}
