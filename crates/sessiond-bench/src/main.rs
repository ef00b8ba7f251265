//! `sessiond-bench`: ops/s of sessiond's hot paths beside same-run baselines.

mod harness;
mod http;
mod inproc;
mod manager;
mod process;
mod raw;
mod report;
mod revocation;
mod stores;
mod web;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use sessiond_core::jose::Algorithm;
use sessiond_store_postgres::PostgresStore;
use sessiond_store_redis::RedisStore;
use sessiond_store_tests::fixtures::with_param;

use harness::Plan;
use inproc::StoreKind;
use report::Report;

/// Benchmarks of create, verify and refresh, in process and over HTTP.
#[derive(Debug, Parser)]
#[command(after_help = "Other subcommands:
  revocation-latency [FLAGS]  revocation latency across sessiond processes (its own --help)
  serve-web SPEC              one web app of the web figures (the main run starts these)")]
struct Args {
    /// Timed rounds per figure (the median is reported).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Length of one round, seconds.
    #[arg(long, default_value_t = 1.0)]
    secs: f64,
    /// Concurrent tasks (and HTTP connections).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Algorithms to run (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "RS256,EdDSA,HS256")]
    algorithms: Vec<String>,
    /// Skip the HTTP figures.
    #[arg(long)]
    no_http: bool,
    /// Skip the web-layer figures (axum + sessiond-axum beside axum + tower-sessions).
    #[arg(long)]
    no_web: bool,
    /// Run only the web-layer figures.
    #[arg(long)]
    web_only: bool,
    /// The tower-sessions server of the web figures (`cargo build --release --manifest-path
    /// bench/ts-server/Cargo.toml`).
    #[arg(long, env = "SESSIOND_BENCH_TS_SERVER")]
    ts_server: Option<std::path::PathBuf>,
    /// Redis database the web figures use (both sessiond and tower-sessions; it must be empty,
    /// and is flushed afterwards).
    #[arg(long, default_value_t = 15)]
    web_redis_db: u32,
    /// Where to write the web figures as an SVG bar chart.
    #[arg(long, default_value = "target/sessiond-bench-web.svg")]
    svg: std::path::PathBuf,
    /// Stores to run (comma-separated): memory, sqlite.
    #[arg(long, value_delimiter = ',', default_value = "memory,sqlite")]
    stores: Vec<String>,
    /// Hot paths to run (comma-separated): create, verify, checked, refresh.
    #[arg(long, value_delimiter = ',', default_value = "create,verify,checked,refresh")]
    ops: Vec<String>,
    /// Skip the raw SQLite baselines.
    #[arg(long)]
    no_sqlite_baselines: bool,
    /// Skip every baseline (for profiling a single path; ratios print as NaN).
    #[arg(long)]
    no_baseline: bool,
    /// Redis URL for the server-store figures (e.g. redis://127.0.0.1:6379).
    #[arg(long, env = "SESSIOND_BENCH_REDIS_URL")]
    redis: Option<String>,
    /// Redis Cluster URL for the server-store figures (redis+cluster://h:p,h:p,h:p).
    #[arg(long, env = "SESSIOND_BENCH_REDIS_CLUSTER_URL")]
    redis_cluster: Option<String>,
    /// PostgreSQL URL for the server-store figures (e.g. postgres://postgres@127.0.0.1:5432/test).
    #[arg(long, env = "SESSIOND_BENCH_POSTGRES_URL")]
    postgres: Option<String>,
    /// Concurrent clients for the server-store figures.
    #[arg(long, default_value_t = 32)]
    store_concurrency: usize,
    /// Algorithm for the server-store figures.
    #[arg(long, default_value = "HS256")]
    store_algorithm: String,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let argv: Vec<String> = std::env::args().collect();
    match argv.get(1).map(String::as_str) {
        Some("serve-web") => return web::serve(&argv[2..]).await,
        Some("revocation-latency") => return revocation::run(&argv[2..]).await,
        _ => {}
    }
    let args = Args::parse();
    let plan = Plan {
        rounds: args.rounds.max(1),
        round: Duration::from_secs_f64(args.secs.max(0.05)),
        concurrency: args.concurrency.max(1),
        baselines: !args.no_baseline,
    };
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "sessiond-bench: {} cores, {} rounds x {:.1}s, concurrency {}, medians (min..max of rounds)\n",
        threads, plan.rounds, args.secs, plan.concurrency
    );
    let mut report = Report::default();

    if !args.no_web {
        let ts = args.ts_server.clone().unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../bench/ts-server/target/release/ts-bench-server")
        });
        let redis = match &args.redis {
            Some(url) if web::redis_db_is_empty(url, args.web_redis_db).await => {
                Some((url.clone(), args.web_redis_db))
            }
            Some(_) => {
                eprintln!(
                    "web: Redis database {} is not empty; the web figures skip Redis (--web-redis-db)",
                    args.web_redis_db
                );
                None
            }
            None => None,
        };
        web::figures(&mut report, plan, Some(&ts), redis, &args.svg, dir.path()).await;
    }
    if args.web_only {
        report.print_targets();
        return;
    }

    // Baselines.
    let mut raw_select = f64::NAN;
    if !args.no_sqlite_baselines {
        let insert1 = raw::sqlite_insert_rate(plan, dir.path(), 1);
        report.add("raw SQLite insert (WAL, sync=FULL), 1 row/commit", insert1, None);
        let insert_batch = raw::sqlite_insert_rate(plan, dir.path(), 256);
        report.add("raw SQLite insert (WAL, sync=FULL), 256 rows/commit", insert_batch, None);
        let select = raw::sqlite_select_rate(plan, dir.path(), threads);
        raw_select = report.add(format!("raw SQLite PK select, {threads} threads"), select, None);
    }
    let ops = inproc::Ops::parse(&args.ops);

    let algorithms: Vec<Algorithm> =
        args.algorithms.iter().filter_map(|a| Algorithm::parse(a)).collect();
    for alg in algorithms {
        println!();
        for kind in [StoreKind::Memory, StoreKind::Sqlite] {
            if !args.stores.iter().any(|s| s == kind.name()) {
                continue;
            }
            let m = inproc::manager(kind, alg, dir.path()).await;
            let hp = inproc::hot_paths(plan, &m, ops, alg).await;
            inproc::report(&mut report, kind, alg, hp, raw_select);
            if !args.no_http
                && kind == StoreKind::Sqlite
                && matches!(alg, Algorithm::RS256 | Algorithm::HS256)
            {
                http::figures(&mut report, plan, &m, alg).await;
            }
            m.stop().await.expect("stop");
        }
    }

    let store_plan = Plan { concurrency: args.store_concurrency.max(1), ..plan };
    let store_alg = Algorithm::parse(&args.store_algorithm).unwrap_or(Algorithm::HS256);
    let id = std::process::id();
    for (name, url, cluster) in
        [("redis", &args.redis, false), ("redis-cluster", &args.redis_cluster, true)]
    {
        let Some(url) = url else { continue };
        let url_p = with_param(url, "prefix", &format!("bench-{id}"));
        let store = RedisStore::connect(&url_p).await.expect("connect to Redis");
        let raw = stores::redis_raw(url, cluster).await;
        stores::run(&mut report, store_plan, name, Arc::new(store), raw, store_alg).await;
    }
    if let Some(url) = &args.postgres {
        let schema = format!("bench_{id}");
        let store = PostgresStore::connect(&with_param(url, "schema", &schema))
            .await
            .expect("connect to PostgreSQL");
        let raw = stores::postgres_raw(url, &schema).await;
        stores::run(&mut report, store_plan, "postgres", Arc::new(store), raw, store_alg).await;
    }

    report.print_targets();
}
