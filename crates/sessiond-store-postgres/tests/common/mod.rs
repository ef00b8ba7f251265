//! Shared by the integration tests: the test server's URL, and a fresh schema for every store so
//! cases and runs never see each other's rows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sessiond_store_tests::fixtures::with_param;

/// The variable naming the test server, e.g. `postgres://postgres@127.0.0.1:5432/test`.
pub(crate) const URL_VAR: &str = "SESSIOND_TEST_POSTGRES_URL";

/// Prefix of the throw-away schemas the tests create.
const PREFIX: &str = "sdt_";

/// Schemas older than this are left-overs of earlier runs, dropped by [`sweep_stale_schemas`].
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// The test server's URL, or `None` when it is not configured (the cases then print a skip
/// line). Under `CI=true` an unset URL is a failure, never a skip.
pub(crate) fn server_url() -> Option<String> {
    sessiond_store_tests::env::service_url(URL_VAR)
}

fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// A schema name no other store, case or run uses: `sdt_<unix seconds>_<random hex>`.
pub(crate) fn fresh_schema() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{PREFIX}{}_{}", unix_secs(), &random[..16])
}

/// `url` with sessiond's `schema` (and optionally `pool_size`) parameters added.
pub(crate) fn url_with(url: &str, schema: &str, pool_size: Option<u32>) -> String {
    let url = with_param(url, "schema", schema);
    match pool_size {
        Some(n) => with_param(&url, "pool_size", &n.to_string()),
        None => url,
    }
}

/// A plain driver connection to the test server, for checks that look under the store.
pub(crate) async fn admin(url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .expect("connect to the test server")
}

/// Once per test process: drops the schemas that runs more than an hour old left behind (each
/// case makes a schema and cannot drop it when it ends).
pub(crate) async fn sweep_stale_schemas(url: &str) {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let pool = admin(url).await;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'sdt\\_%'")
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
    let cutoff = unix_secs().saturating_sub(STALE_AFTER.as_secs());
    for name in names {
        let made = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        let safe = name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        if safe && made.is_some_and(|t| t < cutoff) {
            // Another test process may be dropping it too; either way it ends up gone.
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
            )))
            .execute(&pool)
            .await;
        }
    }
    pool.close().await;
}
