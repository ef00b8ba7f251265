//! `sessiond-bench`: ops/s of sessiond's hot paths beside same-run baselines.

mod harness;
mod http;
mod inproc;
mod raw;
mod revocation;
mod stores;
mod web;

use std::time::Duration;

use clap::Parser;
use serde_json::json;
use sessiond_core::jose::Algorithm;
use sessiond_core::{NewSession, SessionManager};

use harness::{Plan, Rate};
use inproc::StoreKind;

/// Benchmarks of create, verify and refresh, in process and over HTTP.
#[derive(Debug, Parser)]
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
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "create,verify,checked,refresh"
    )]
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

struct Row {
    what: String,
    rate: Rate,
    baseline: Option<(String, f64)>,
}

struct Report {
    rows: Vec<Row>,
    targets: Vec<(String, bool, String)>,
}

impl Report {
    fn add(&mut self, what: impl Into<String>, rate: Rate, baseline: Option<(&str, f64)>) -> f64 {
        let m = rate.median;
        let row = Row {
            what: what.into(),
            rate,
            baseline: baseline.map(|(n, v)| (n.to_owned(), v)),
        };
        print_row(&row);
        self.rows.push(row);
        m
    }

    /// Adds a measured figure and its interleaved baseline; returns both medians.
    fn pair(&mut self, what: String, (rate, base): (Rate, Rate), base_name: &str) -> (f64, f64) {
        let b = base.median;
        if rate.median.is_nan() {
            return (f64::NAN, f64::NAN);
        }
        (self.add(what, rate, Some((base_name, b))), b)
    }

    fn target(&mut self, name: impl Into<String>, ok: bool, detail: String) {
        self.targets.push((name.into(), ok, detail));
    }
}

fn print_row(r: &Row) {
    let spread = {
        let min = r.rate.samples.iter().copied().fold(f64::INFINITY, f64::min);
        let max = r.rate.samples.iter().copied().fold(0.0, f64::max);
        format!("{:>9.0}..{:<9.0}", min, max)
    };
    match &r.baseline {
        Some((name, b)) => println!(
            "{:<52} {:>11.0} ops/s  [{spread}]  vs {:<34} {:>11.0}  ratio {:>5.2}",
            r.what,
            r.rate.median,
            name,
            b,
            r.rate.median / b
        ),
        None => println!("{:<52} {:>11.0} ops/s  [{spread}]", r.what, r.rate.median),
    }
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
    let mut report = Report {
        rows: Vec::new(),
        targets: Vec::new(),
    };

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
        print_targets(&report);
        return;
    }

    // Baselines.
    let mut raw_select = f64::NAN;
    if !args.no_sqlite_baselines {
        let insert1 = raw::sqlite_insert_rate(plan, dir.path(), 1);
        report.add(
            "raw SQLite insert (WAL, sync=FULL), 1 row/commit",
            insert1,
            None,
        );
        let insert_batch = raw::sqlite_insert_rate(plan, dir.path(), 256);
        report.add(
            "raw SQLite insert (WAL, sync=FULL), 256 rows/commit",
            insert_batch,
            None,
        );
        let select = raw::sqlite_select_rate(plan, dir.path(), threads);
        raw_select = report.add(
            format!("raw SQLite PK select, {threads} threads"),
            select,
            None,
        );
    }
    let ops = inproc::Ops::parse(&args.ops);

    let algorithms: Vec<Algorithm> = args
        .algorithms
        .iter()
        .filter_map(|a| Algorithm::parse(a))
        .collect();
    for alg in algorithms {
        println!();
        for kind in [StoreKind::Memory, StoreKind::Sqlite] {
            if !args.stores.iter().any(|s| s == kind.name()) {
                continue;
            }
            let m = inproc::manager(kind, alg, dir.path()).await;
            let hp = inproc::hot_paths(plan, &m, ops, alg).await;
            let store = kind.name();
            let sign = format!("raw {alg} sign (ring)");
            let verify = format!("raw {alg} verify (ring)");
            let (create, create_base) = report.pair(
                format!("create           {store:<6} {alg}"),
                hp.create,
                &sign,
            );
            let (stateless, verify_base) = report.pair(
                format!("verify stateless {store:<6} {alg}"),
                hp.verify_stateless,
                &verify,
            );
            let (checked, _) = report.pair(
                format!("verify checked   {store:<6} {alg}"),
                hp.verify_checked,
                &verify,
            );
            report.pair(
                format!("refresh          {store:<6} {alg}"),
                hp.refresh,
                &sign,
            );
            if kind == StoreKind::Sqlite && !raw_select.is_nan() {
                println!(
                    "{:<52} {:>11.0} ops/s  = {:.2}x raw SQLite PK select",
                    "",
                    checked,
                    checked / raw_select
                );
            }
            if alg != Algorithm::HS256 && !stateless.is_nan() {
                report.target(
                    format!("stateless verify {alg} on {store} >= 0.85x raw verify"),
                    stateless >= 0.85 * verify_base,
                    format!("{:.2}x", stateless / verify_base),
                );
            }
            if kind == StoreKind::Sqlite && alg == Algorithm::RS256 && !create.is_nan() {
                report.target(
                    "create SQLite RS256 >= 0.8x raw RS256 sign",
                    create >= 0.8 * create_base,
                    format!("{:.2}x", create / create_base),
                );
            }
            if kind == StoreKind::Sqlite && alg == Algorithm::HS256 {
                if !create.is_nan() {
                    report.target(
                        "create SQLite HS256 >= 50,000/s",
                        create >= 50_000.0,
                        format!("{create:.0}/s"),
                    );
                }
                if !checked.is_nan() {
                    report.target(
                        "verify checked SQLite HS256 >= 100,000/s",
                        checked >= 100_000.0,
                        format!("{checked:.0}/s"),
                    );
                }
            }
            if !args.no_http
                && kind == StoreKind::Sqlite
                && matches!(alg, Algorithm::RS256 | Algorithm::HS256)
            {
                http_figures(&mut report, plan, &m, alg).await;
            }
            m.stop().await.expect("stop");
        }
    }

    let store_plan = Plan {
        concurrency: args.store_concurrency.max(1),
        ..plan
    };
    let store_alg = Algorithm::parse(&args.store_algorithm).unwrap_or(Algorithm::HS256);
    for (name, url, cluster) in [
        ("redis", args.redis.clone(), false),
        ("redis-cluster", args.redis_cluster.clone(), true),
    ] {
        let Some(url) = url else { continue };
        println!(
            "\n{name}, {} concurrent clients, {store_alg}:",
            store_plan.concurrency
        );
        let prefix = format!("bench-{}", std::process::id());
        let sep = if url.contains('?') { '&' } else { '?' };
        let store =
            sessiond_store_redis::RedisStore::connect(&format!("{url}{sep}prefix={prefix}"))
                .await
                .expect("connect to Redis");
        let store: std::sync::Arc<dyn sessiond_core::Store> = std::sync::Arc::new(store);
        let raw = stores::redis_raw(&url, cluster).await;
        let m = stores::manager(std::sync::Arc::clone(&store), store_alg).await;
        let f = stores::figures(store_plan, &m, &raw).await;
        report_store(&mut report, name, store_alg, &f, &raw);
        m.stop().await.expect("stop");
        store.wipe().await.expect("clean up");
        raw.cleanup.await;
    }

    if let Some(url) = args.postgres.clone() {
        println!(
            "\npostgres, {} concurrent clients, {store_alg}:",
            store_plan.concurrency
        );
        let schema = format!("bench_{}", std::process::id());
        let sep = if url.contains('?') { '&' } else { '?' };
        let store =
            sessiond_store_postgres::PostgresStore::connect(&format!("{url}{sep}schema={schema}"))
                .await
                .expect("connect to PostgreSQL");
        let store: std::sync::Arc<dyn sessiond_core::Store> = std::sync::Arc::new(store);
        let raw = stores::postgres_raw(&url, &schema).await;
        let m = stores::manager(std::sync::Arc::clone(&store), store_alg).await;
        let f = stores::figures(store_plan, &m, &raw).await;
        report_store(&mut report, "postgres", store_alg, &f, &raw);
        m.stop().await.expect("stop");
        drop((m, store));
        raw.cleanup.await;
    }

    print_targets(&report);
}

fn print_targets(report: &Report) {
    println!("\ntargets:");
    for (name, ok, detail) in &report.targets {
        println!("  [{}] {name}: {detail}", if *ok { "ok" } else { "MISS" });
    }
}

fn report_store(
    report: &mut Report,
    name: &str,
    alg: Algorithm,
    f: &stores::StoreFigures,
    raw: &stores::Raw,
) {
    let (create, write) = report.pair(
        format!("create           {name} {alg}"),
        f.create_vs_write.clone(),
        raw.write_name,
    );
    let (checked, read) = report.pair(
        format!("verify checked   {name} {alg}"),
        f.checked_vs_read.clone(),
        raw.read_name,
    );
    report.pair(
        format!("refresh          {name} {alg}"),
        f.refresh_vs_write.clone(),
        raw.write_name,
    );
    report.target(
        format!("verify checked {name} >= 0.6x {}", raw.read_name),
        checked >= 0.6 * read,
        format!("{:.2}x", checked / read),
    );
    report.target(
        format!("create {name} >= 0.5x {}", raw.write_name),
        create >= 0.5 * write,
        format!("{:.2}x", create / write),
    );
}

async fn http_figures(report: &mut Report, plan: Plan, m: &SessionManager, alg: Algorithm) {
    let bare_addr = http::bare().await;
    let sessiond_addr = http::sessiond(m).await;
    let mut tokens = Vec::new();
    for i in 0..256 {
        tokens.push(
            m.create(NewSession::new(format!("http-{i}")))
                .await
                .expect("create")
                .tokens
                .access
                .token
                .into_inner(),
        );
    }
    let tokens = std::sync::Arc::new(tokens);
    let verify_body = move |i: u64| {
        json!({"accessToken": tokens[(i as usize) % tokens.len()], "doAntiCsrfCheck": false, "checkDatabase": false})
            .to_string()
            .into_bytes()
    };
    let create_body = |i: u64| {
        json!({"userId": format!("user-{}", i % 10_000), "userDataInJWT": {"role": "user"}, "userDataInDatabase": {}, "enableAntiCsrf": false, "useDynamicSigningKey": true})
            .to_string()
            .into_bytes()
    };
    let n = plan.concurrency;
    let verify = http::post_op(
        n,
        sessiond_addr,
        "/recipe/session/verify",
        verify_body.clone(),
    )
    .await;
    let bare = http::post_op(n, bare_addr, "/bare", verify_body).await;
    report.pair(
        format!("HTTP verify      sqlite {alg}"),
        harness::pair(plan, verify, bare).await,
        "bare axum handler, same body",
    );
    let create = http::post_op(n, sessiond_addr, "/public/recipe/session", create_body).await;
    let bare = http::post_op(n, bare_addr, "/bare", create_body).await;
    report.pair(
        format!("HTTP create      sqlite {alg}"),
        harness::pair(plan, create, bare).await,
        "bare axum handler, same body",
    );
}
