//! `sessiond-bench revocation-latency`: how long after an acknowledged revoke on one `sessiond
//! serve` process the others refuse the session's access token on the stateless path (no
//! database check), three processes on one store; and what following the revocation log costs
//! stateless verification in process.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use sessiond_core::jose::Algorithm;
use sessiond_core::{ManagerConfig, MemoryStore, NewSession, SessionManager, VerifyOptions};
use sessiond_store_tests::fixtures::with_param;

use crate::harness::{self, Plan};
use crate::manager;
use crate::process::{self, Announces, ServerProcess};

/// Revocation latency across processes, and the feed's cost to stateless verification.
#[derive(Debug, Parser)]
#[command(name = "sessiond-bench revocation-latency")]
pub(crate) struct Args {
    /// The `sessiond` binary.
    #[arg(long, default_value = "target/release/sessiond")]
    sessiond_bin: std::path::PathBuf,
    /// Stores to run (comma-separated): sqlite, postgres, redis, redis-cluster, memory (one
    /// process only: the memory store is not shared); `none` for the throughput part only.
    #[arg(long, value_delimiter = ',', default_value = "sqlite")]
    stores: Vec<String>,
    /// Revocations measured per store.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Revocations in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// PostgreSQL URL.
    #[arg(long, env = "SESSIOND_BENCH_POSTGRES_URL")]
    postgres: Option<String>,
    /// Redis URL.
    #[arg(long, env = "SESSIOND_BENCH_REDIS_URL")]
    redis: Option<String>,
    /// Redis Cluster URL.
    #[arg(long, env = "SESSIOND_BENCH_REDIS_CLUSTER_URL")]
    redis_cluster: Option<String>,
    /// Rounds of the throughput comparison.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

const API_KEY: &str = "revocation-latency-bench-key-0123456789";

fn serve(bin: &std::path::Path, store: &str) -> ServerProcess {
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--store", store])
        .args(["--api-key", API_KEY, "--algorithm", "HS256", "--log-format", "json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::null());
    let listening = |line: &str| {
        let v = serde_json::from_str::<Value>(line).ok()?;
        (v["message"] == "sessiond listening").then(|| v["addr"].as_str()?.parse().ok())?
    };
    process::spawn(cmd, Announces::OnStderr, listening)
        .unwrap_or_else(|e| panic!("sessiond serve: {e}"))
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    http.post(url)
        .header("api-key", API_KEY)
        .json(&body)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Measures one store: three processes, `count` revocations on the first, refusal watched on
/// the other two. Returns the latencies in ms.
async fn latencies(
    bin: &std::path::Path, store: &str, processes: usize, count: usize, concurrency: usize,
) -> Vec<f64> {
    let servers: Vec<ServerProcess> = (0..processes).map(|_| serve(bin, store)).collect();
    let http = reqwest::Client::new();
    let a = servers[0].url();
    let watchers: Vec<String> = if processes > 1 {
        servers[1..].iter().map(ServerProcess::url).collect()
    } else {
        vec![a.clone()]
    };
    let mut sessions = Vec::with_capacity(count);
    for i in 0..count {
        let v = post(
            &http,
            &format!("{a}/public/recipe/session"),
            json!({"userId": format!("rl-{i}"), "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false}),
        )
        .await;
        sessions.push((
            v["session"]["handle"].as_str().expect("handle").to_owned(),
            v["accessToken"]["token"].as_str().expect("token").to_owned(),
        ));
    }
    // Every watcher verifies every token once first: all valid, and any key is known.
    for w in &watchers {
        for (_, t) in sessions.iter().take(8) {
            let v = post(
                &http,
                &format!("{w}/recipe/session/verify"),
                json!({"accessToken": t, "doAntiCsrfCheck": false, "checkDatabase": false}),
            )
            .await;
            assert_eq!(v["status"], "OK", "{v}");
        }
    }
    let sessions = Arc::new(sessions);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, a, watchers, sessions, next) =
            (http.clone(), a.clone(), watchers.clone(), Arc::clone(&sessions), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((handle, token)) = sessions.get(i) else {
                    return out;
                };
                // Revocations arrive at random moments, not in step with the previous one's
                // refusal (which would line them up with a polling follower's cycle).
                let jitter = (i as u64).wrapping_mul(2_654_435_761) % 100;
                tokio::time::sleep(Duration::from_millis(jitter)).await;
                let r = post(&http, &format!("{a}/recipe/session/remove"), json!({"sessionHandles": [handle]})).await;
                assert_eq!(r["status"], "OK", "{r}");
                let acked = Instant::now();
                for w in &watchers {
                    loop {
                        let v = post(&http, &format!("{w}/recipe/session/verify"), json!({"accessToken": token, "doAntiCsrfCheck": false, "checkDatabase": false})).await;
                        if v["status"] != "OK" {
                            break;
                        }
                        assert!(acked.elapsed() < Duration::from_secs(30), "never refused");
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    out.push(acked.elapsed().as_secs_f64() * 1000.0);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    drop(servers);
    all.sort_by(f64::total_cmp);
    all
}

/// Stateless verification with the feed on and off, in interleaved rounds.
async fn feed_cost(rounds: usize) {
    for alg in [Algorithm::HS256, Algorithm::EdDSA] {
        let mk = |feed: bool| async move {
            let config =
                ManagerConfig { algorithm: alg, revocation_feed: feed, ..ManagerConfig::default() };
            let m = manager::start(Arc::new(MemoryStore::new()), config).await;
            let tokens =
                manager::access_tokens(&m, 512, |i| NewSession::new(format!("u{i}"))).await;
            // A deny-set that is not empty: the check has something to look in.
            for i in 0..256 {
                let s = m.create(NewSession::new(format!("gone{i}"))).await.expect("create");
                m.revoke(s.session.handle.as_str()).await.expect("revoke");
            }
            (m, tokens)
        };
        let (on, on_t) = mk(true).await;
        let (off, off_t) = mk(false).await;
        let op = |m: SessionManager, t: Arc<Vec<String>>| {
            move |_, i| manager::verify(m.clone(), Arc::clone(&t), i, VerifyOptions::default())
        };
        let plan = Plan { rounds, round: Duration::from_secs(1), concurrency: 64, baselines: true };
        let (with, without) =
            harness::pair(plan, op(on.clone(), on_t), op(off.clone(), off_t)).await;
        println!(
            "verify stateless memory {alg}: with the revocation feed {:.0}/s, without {:.0}/s: {:.3}x",
            with.median,
            without.median,
            with.median / without.median
        );
        on.stop().await.expect("stop");
        off.stop().await.expect("stop");
    }
}

/// `revocation-latency ARGS…`: each store in turn (its processes started, its data removed
/// afterwards), then the feed's cost to stateless verification.
pub(crate) async fn run(argv: &[String]) {
    let args = Args::parse_from(
        std::iter::once("revocation-latency".to_owned()).chain(argv.iter().cloned()),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "revocation latency: 3 sessiond processes per store, {} revocations, {} in flight",
        args.count, args.concurrency
    );
    for store in &args.stores {
        let id = std::process::id();
        let shared = |url: &Option<String>, (name, value): (&str, String), var: &str| match url {
            Some(u) => Some((with_param(u, name, &value), 3)),
            None => {
                eprintln!("{store}: set {var}");
                None
            }
        };
        let found = match store.as_str() {
            "memory" => Some(("memory://".to_owned(), 1)),
            "sqlite" => Some((format!("sqlite://{}/rl.db", dir.path().display()), 3)),
            "postgres" => shared(
                &args.postgres,
                ("schema", format!("bench_rl_{id}")),
                "SESSIOND_BENCH_POSTGRES_URL",
            ),
            "redis" => shared(
                &args.redis,
                ("prefix", format!("bench-rl-{id}")),
                "SESSIOND_BENCH_REDIS_URL",
            ),
            "redis-cluster" => shared(
                &args.redis_cluster,
                ("prefix", format!("bench-rl-{id}")),
                "SESSIOND_BENCH_REDIS_CLUSTER_URL",
            ),
            "none" => None,
            other => {
                eprintln!("unknown store {other}");
                None
            }
        };
        let Some((url, processes)) = found else {
            continue;
        };
        eprintln!("[revocation-latency] {store}: {processes} processes");
        let l = latencies(&args.sessiond_bin, &url, processes, args.count, args.concurrency).await;
        println!(
            "{store:<14} refused on the other processes after: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} observations)",
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            l.last().copied().unwrap_or(f64::NAN),
            l.len()
        );
        cleanup(store, &url).await;
    }
    feed_cost(args.rounds).await;
}

/// Leaves nothing on shared servers: drops the run's schema, or its keys.
async fn cleanup(store: &str, url: &str) {
    if let Ok(s) = sessiond_server::open_store(url).await {
        let _ = s.wipe().await;
        let _ = s.trim_events(i64::MAX).await;
    }
    if store == "postgres"
        && let Some((base, schema)) = url.split_once("schema=")
        && schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        let base = base.trim_end_matches(['?', '&']);
        if let Ok(pool) = sqlx::PgPool::connect(base).await {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE"
            )))
            .execute(&pool)
            .await;
        }
    }
}
