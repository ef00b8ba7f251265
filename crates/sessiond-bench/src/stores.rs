//! Server stores (Redis, Redis Cluster; PostgreSQL): the manager's hot paths at a fixed number of
//! concurrent clients, each beside the store's raw round trip measured in alternating rounds with
//! the same kind of connection.

use std::sync::Arc;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sessiond_core::jose::Algorithm;
use sessiond_core::{ManagerConfig, NewSession, SessionManager, Store, VerifyOptions};

use crate::harness::{BoxedOp, OpFuture, Paired, Plan, pair};
use crate::manager;
use crate::report::Report;

/// The hot paths on one server store, each beside the raw round trip it needs.
pub(crate) struct StoreFigures {
    pub(crate) create_vs_write: Paired,
    pub(crate) checked_vs_read: Paired,
    pub(crate) refresh_vs_write: Paired,
}

/// The raw read and write of a store: what one store round trip costs at this concurrency.
pub(crate) struct Raw {
    pub(crate) read: BoxedOp,
    pub(crate) write: BoxedOp,
    pub(crate) read_name: &'static str,
    pub(crate) write_name: &'static str,
    /// Removes what the baseline (and the run's store) left on the server.
    pub(crate) cleanup: OpFuture,
}

/// Raw Redis keys expire on their own (a raw `SET` with `PX` costs what a plain one does, and
/// the store's create sets an expiry too), so a benchmark run leaves nothing behind for long.
const RAW_KEY_TTL_MS: u64 = 300_000;

/// Hash tags the raw keys are spread over: enough to spread them across a cluster's nodes as
/// evenly as the store's own keys, few enough to delete them afterwards one tag (one slot) at a
/// time.
const RAW_TAGS: u64 = 256;

fn raw_key(kind: &str, i: u64) -> String {
    format!("{kind}:{{{}}}:{i}", i % RAW_TAGS)
}

/// `SET key value` that expires after [`RAW_KEY_TTL_MS`].
fn raw_set(key: String, value: &[u8]) -> redis::Cmd {
    let mut c = redis::cmd("SET");
    c.arg(key).arg(value).arg("PX").arg(RAW_KEY_TTL_MS);
    c
}

/// Every key the raw Redis baseline wrote (`written` fresh keys), as `UNLINK`s of up to 1000
/// keys of one slot each.
fn raw_unlinks(written: u64) -> Vec<redis::Cmd> {
    let mut by_tag: Vec<Vec<String>> = vec![Vec::new(); RAW_TAGS as usize];
    for (kind, n) in [("bench-raw", 1024), ("bench-raw-w", written)] {
        for i in 0..n {
            by_tag[(i % RAW_TAGS) as usize].push(raw_key(kind, i));
        }
    }
    let mut cmds = Vec::new();
    for keys in by_tag {
        for chunk in keys.chunks(1000) {
            let mut c = redis::cmd("UNLINK");
            c.arg(chunk);
            cmds.push(c);
        }
    }
    cmds
}

/// Raw `GET` / `SET` (300-byte values) on a multiplexed connection, as the store uses. The
/// `SET` writes a new key each time, as a create does (overwriting would skip the insert).
pub(crate) async fn redis_raw(url: &str, cluster: bool) -> Raw {
    if cluster {
        let nodes: Vec<String> = url
            .trim_start_matches("redis+cluster://")
            .split('?')
            .next()
            .unwrap_or_default()
            .split(',')
            .map(|h| format!("redis://{h}"))
            .collect();
        let client = redis::cluster::ClusterClient::new(nodes).expect("cluster client");
        let conn = client.get_async_connection().await.expect("cluster connection");
        return redis_ops(conn).await;
    }
    let client = redis::Client::open(url.split('?').next().unwrap_or(url)).expect("redis client");
    let conn = ConnectionManager::new_with_config(client, ConnectionManagerConfig::new())
        .await
        .expect("redis connection");
    redis_ops(conn).await
}

/// The raw operations over one connection (single node or cluster alike).
async fn redis_ops<C>(conn: C) -> Raw
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync + 'static,
{
    let value = Arc::new(vec![b'x'; 300]);
    let mut c0 = conn.clone();
    for i in 0..1024 {
        let _: () =
            raw_set(raw_key("bench-raw", i), &value).query_async(&mut c0).await.expect("SET");
    }
    let c1 = conn.clone();
    let read: BoxedOp = Arc::new(move |_, i| {
        let mut c = c1.clone();
        Box::pin(async move {
            let _: Option<Vec<u8>> = redis::cmd("GET")
                .arg(raw_key("bench-raw", i % 1024))
                .query_async(&mut c)
                .await
                .expect("GET");
        })
    });
    let fresh = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let cleanup = {
        let (mut c, fresh) = (conn.clone(), Arc::clone(&fresh));
        Box::pin(async move {
            let written = fresh.load(std::sync::atomic::Ordering::Relaxed);
            for cmd in raw_unlinks(written) {
                if let Err(e) = cmd.query_async::<()>(&mut c).await {
                    eprintln!("cleanup (the keys expire by themselves): {e}");
                    break;
                }
            }
        })
    };
    let write: BoxedOp = Arc::new(move |_, _| {
        let mut c = conn.clone();
        let v = Arc::clone(&value);
        let i = fresh.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::pin(async move {
            let _: () =
                raw_set(raw_key("bench-raw-w", i), &v).query_async(&mut c).await.expect("SET");
        })
    });
    Raw { read, write, read_name: "raw Redis GET", write_name: "raw Redis SET", cleanup }
}

/// Raw primary-key `SELECT` / `INSERT` of a new row (a table shaped like the sessions table,
/// with a user index), on a pool of the store's default size, `synchronous_commit = on`. The
/// cleanup drops the table and the store's `schema`.
pub(crate) async fn postgres_raw(url: &str, schema: &str) -> Raw {
    use sqlx::postgres::PgPoolOptions;
    let base = url.split('?').next().unwrap_or(url);
    let pool = PgPoolOptions::new()
        .max_connections(16)
        // As the store's pool: no ping before every acquire.
        .test_before_acquire(false)
        .after_connect(|c, _| {
            Box::pin(async move {
                sqlx::query("SET synchronous_commit = on").execute(c).await?;
                Ok(())
            })
        })
        .connect(base)
        .await
        .expect("connect to PostgreSQL");
    let table = format!("bench_raw_{}", std::process::id());
    for sql in [
        format!("DROP TABLE IF EXISTS {table}"),
        format!(
            "CREATE TABLE {table} (handle TEXT PRIMARY KEY, user_id TEXT NOT NULL, data TEXT NOT NULL, expires_at BIGINT NOT NULL)"
        ),
        format!("CREATE INDEX ON {table} (user_id)"),
        format!(
            "INSERT INTO {table} SELECT 'h' || g, 'u' || (g % 1000), repeat('x', 300), 0 FROM generate_series(0, 1023) g"
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.expect("prepare the raw table");
    }
    // The table name is made here from the process id: the dynamic SQL is safe.
    let select = format!("SELECT handle, user_id, data, expires_at FROM {table} WHERE handle = $1");
    let insert = format!("INSERT INTO {table} VALUES ($1, $2, $3, 0)");
    let drop = (
        pool.clone(),
        format!("DROP TABLE IF EXISTS {table}"),
        format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
    );
    let (p1, p2) = (pool.clone(), pool);
    let read: BoxedOp = Arc::new(move |_, i| {
        let (p, q) = (p1.clone(), select.clone());
        Box::pin(async move {
            let _ = sqlx::query(sqlx::AssertSqlSafe(q))
                .bind(format!("h{}", i % 1024))
                .fetch_optional(&p)
                .await
                .expect("SELECT");
        })
    });
    // Unique across every measurement that reuses this baseline (iterations restart per pair).
    let fresh = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let write: BoxedOp = Arc::new(move |_, _| {
        let (p, q) = (p2.clone(), insert.clone());
        let i = fresh.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::pin(async move {
            sqlx::query(sqlx::AssertSqlSafe(q))
                .bind(format!("w{i}-{}", std::process::id()))
                .bind(format!("u{}", i % 10_000))
                .bind("x".repeat(300))
                .execute(&p)
                .await
                .expect("INSERT");
        })
    });
    Raw {
        read,
        write,
        read_name: "raw PostgreSQL PK SELECT",
        write_name: "raw PostgreSQL INSERT",
        cleanup: Box::pin(async move {
            let (pool, table, schema) = drop;
            for sql in [table, schema] {
                if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await {
                    eprintln!("cleanup: {e}");
                }
            }
        }),
    }
}

fn new_session(i: u64) -> NewSession {
    NewSession::new(format!("user-{}", i % 10_000))
}

/// The hot paths on `m`, each beside the raw round trip it needs (a write for create and
/// refresh, a read for the checked verification).
pub(crate) async fn figures(plan: Plan, m: &SessionManager, raw: &Raw) -> StoreFigures {
    let (mm, w) = (m.clone(), Arc::clone(&raw.write));
    let create = move |_, i| manager::create(mm.clone(), new_session(i));
    let create_vs_write = pair(plan, create, move |t, i| w(t, i)).await;

    let tokens = manager::access_tokens(m, 512, new_session).await;
    let (mm, r) = (m.clone(), Arc::clone(&raw.read));
    let opts = VerifyOptions { app_id: None, check_database: true, ..VerifyOptions::default() };
    let checked = move |_, i| manager::verify(mm.clone(), Arc::clone(&tokens), i, opts);
    let checked_vs_read = pair(plan, checked, move |t, i| r(t, i)).await;

    let chains = manager::chains(m, plan.concurrency, new_session).await;
    let (mm, w) = (m.clone(), Arc::clone(&raw.write));
    let refresh = move |task, _| manager::refresh(mm.clone(), Arc::clone(&chains), task);
    let refresh_vs_write = pair(plan, refresh, move |t, i| w(t, i)).await;
    StoreFigures { create_vs_write, checked_vs_read, refresh_vs_write }
}

/// Measures and prints the figures of `store` beside `raw` (its raw round trips), records their
/// targets, then removes what the run left on the server.
pub(crate) async fn run(
    report: &mut Report, plan: Plan, name: &str, store: Arc<dyn Store>, raw: Raw, alg: Algorithm,
) {
    println!("\n{name}, {} concurrent clients, {alg}:", plan.concurrency);
    let m = manager::start(
        Arc::clone(&store),
        ManagerConfig { algorithm: alg, ..ManagerConfig::default() },
    )
    .await;
    let f = figures(plan, &m, &raw).await;
    let (create, write) =
        report.pair(format!("create           {name} {alg}"), f.create_vs_write, raw.write_name);
    let (checked, read) =
        report.pair(format!("verify checked   {name} {alg}"), f.checked_vs_read, raw.read_name);
    report.pair(format!("refresh          {name} {alg}"), f.refresh_vs_write, raw.write_name);
    report.ratio_target(
        format!("verify checked {name} >= 0.6x {}", raw.read_name),
        checked,
        0.6,
        read,
    );
    report.ratio_target(format!("create {name} >= 0.5x {}", raw.write_name), create, 0.5, write);
    m.stop().await.expect("stop");
    store.wipe().await.expect("clean up");
    drop((m, store));
    raw.cleanup.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cleanup_unlinks_every_raw_key_once_in_batches_of_one_slot() {
        let mut seen = std::collections::HashSet::new();
        for c in raw_unlinks(5000) {
            let args: Vec<String> = c
                .args_iter()
                .map(|a| match a {
                    redis::Arg::Simple(b) => String::from_utf8_lossy(b).into_owned(),
                    other => panic!("an UNLINK argument that is not a key: {other:?}"),
                })
                .collect();
            assert_eq!(args[0], "UNLINK");
            let keys = &args[1..];
            assert!((1..=1000).contains(&keys.len()), "a batch of {} keys", keys.len());
            let tag = |k: &str| k.split(['{', '}']).nth(1).map(str::to_owned);
            assert!(keys.iter().all(|k| tag(k) == tag(&keys[0])), "one slot per batch");
            for k in keys {
                assert!(seen.insert(k.clone()), "{k} unlinked twice");
            }
        }
        let expected: std::collections::HashSet<String> = (0..1024)
            .map(|i| raw_key("bench-raw", i))
            .chain((0..5000).map(|i| raw_key("bench-raw-w", i)))
            .collect();
        assert_eq!(seen, expected);
    }
}
