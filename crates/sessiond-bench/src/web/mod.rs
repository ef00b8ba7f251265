//! The web-layer figures: axum apps serving `POST /login` (a new session) and `GET /read` (a
//! valid session), each in a process of its own, driven over keep-alive HTTP/1.1 connections
//! from this one, as an outside load harness would:
//!
//! - a bare axum `GET /read` (no session at all);
//! - axum + sessiond's stateless cookie sessions (`sessiond-axum` + `sessiond-cookie`), JWE and
//!   JWS;
//! - axum + sessiond's server-backed sessions (`sessiond-axum` over a `SessionManager`) on a
//!   store, also `GET /read-checked` (the store is asked every time);
//! - on Redis, the floor: bare axum doing one `GET` (`/read`) or one `SET` (`/login`) per
//!   request over the same client, no session at all (the least a Redis-backed route costs);
//! - axum + tower-sessions on the same store (the `ts-bench-server` binary of
//!   `bench/ts-server`: tower-sessions' sqlx SQLite store links another libsqlite3 than
//!   sessiond's, so it is a workspace of its own).
//!
//! This binary serves the sessiond apps itself (`sessiond-bench serve-web SPEC`, in [`apps`]).

mod apps;
mod chart;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use sessiond_core::jose::Algorithm;

pub(crate) use apps::serve;
use chart::Bar;

use crate::harness::{self, BoxedOp, Plan, Rate};
use crate::process::{self, Announces, ServerProcess};
use crate::report::Report;
use crate::{http, raw};

/// Starts `program args…`, which prints `listening on ADDR` first.
fn spawn(program: &Path, args: &[&str]) -> Result<ServerProcess, String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    process::spawn(cmd, Announces::OnStdout, |line| {
        line.trim().strip_prefix("listening on ")?.parse().ok()
    })
}

/// One of this binary's own web apps, `serve-web ARGS…`.
fn serve_web(args: &[&str]) -> ServerProcess {
    let exe = std::env::current_exe().expect("the bench's own path");
    let all: Vec<&str> = std::iter::once("serve-web").chain(args.iter().copied()).collect();
    spawn(&exe, &all).unwrap_or_else(|e| panic!("serve-web {args:?}: {e}"))
}

/// The tower-sessions server for `store` (`memory`, `sqlite:PATH`, `redis:URL`).
fn ts_server(bin: &Path, store: &str) -> ServerProcess {
    spawn(bin, &["--store", store]).expect("ts-bench-server")
}

/// Logs in `n` times and returns each session's `name=value` cookie (the first `Set-Cookie`).
async fn login_cookies(addr: SocketAddr, n: usize) -> Arc<Vec<String>> {
    let mut out = Vec::with_capacity(n);
    let mut conn = http::connect(addr).await;
    for _ in 0..n {
        let resp = http::send(&mut conn, "POST", "/login", None).await;
        assert_eq!(resp.status(), 200, "login");
        let set = resp
            .headers()
            .get(axum::http::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .expect("the login sets a cookie")
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        out.push(set);
        let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
    }
    Arc::new(out)
}

/// What the web figures share while they run: the report, the chart's bars, the progress line.
struct Web<'a> {
    report: &'a mut Report,
    plan: Plan,
    bars: Vec<Bar>,
    step: usize,
    steps: usize,
}

impl Web<'_> {
    fn progress(&mut self, what: &str) {
        self.step += 1;
        eprintln!("[web {}/{}] {what}", self.step, self.steps);
    }

    fn bar(&mut self, group: &str, series: &'static str, value: f64) {
        self.bars.push(Bar { group: group.to_owned(), series, value });
    }

    /// `method path` without a session, from every connection.
    async fn anonymous(
        &self, addr: SocketAddr, method: &'static str, path: &'static str,
    ) -> BoxedOp {
        let n = self.plan.concurrency;
        http::cookie_op(n, addr, method, path, Arc::new(Vec::new())).await
    }

    /// `GET path` with the cookies of 1,024 sessions logged in first at `login` (usually
    /// `addr` itself).
    async fn logged_in(&self, addr: SocketAddr, path: &'static str, login: SocketAddr) -> BoxedOp {
        let cookies = login_cookies(login, 1024).await;
        http::cookie_op(self.plan.concurrency, addr, "GET", path, cookies).await
    }

    /// Measures `ops` in interleaved rounds.
    async fn measure(&self, ops: &[BoxedOp]) -> Vec<Rate> {
        harness::group(self.plan, ops).await
    }

    /// Bare axum's `GET /read`, then `GET path` on each of `sessiond` (with the cookies of
    /// sessions logged in first at the third element), then tower-sessions' `GET /read` when
    /// it runs (with its own sessions), measured together.
    async fn reads(
        &self, bare: &ServerProcess, sessiond: &[(&ServerProcess, &'static str, &ServerProcess)],
        ts: Option<&ServerProcess>,
    ) -> Vec<Rate> {
        let mut ops = vec![self.anonymous(bare.addr, "GET", "/read").await];
        for (server, path, login) in sessiond {
            ops.push(self.logged_in(server.addr, path, login.addr).await);
        }
        if let Some(ts) = ts {
            ops.push(self.logged_in(ts.addr, "/read", ts.addr).await);
        }
        self.measure(&ops).await
    }

    /// `POST /login` on each of `sessiond`, then on tower-sessions when it runs, measured
    /// together.
    async fn logins(&self, sessiond: &[&ServerProcess], ts: Option<&ServerProcess>) -> Vec<Rate> {
        let mut ops = Vec::new();
        for server in sessiond.iter().copied().chain(ts) {
            ops.push(self.anonymous(server.addr, "POST", "/login").await);
        }
        self.measure(&ops).await
    }
}

const BARE_READ: &str = "bare axum GET /read";

/// The web figures; see the module documentation.
pub(crate) async fn figures(
    report: &mut Report, plan: Plan, ts_bin: Option<&Path>, redis: Option<(String, u32)>,
    svg: &Path, dir: &Path,
) {
    let ts_bin = ts_bin.filter(|p| p.exists());
    if ts_bin.is_none() {
        eprintln!(
            "web: no tower-sessions server; build it with `cargo build --release --manifest-path bench/ts-server/Cargo.toml` (the tower-sessions figures are skipped)"
        );
    }
    // (store, sessiond's store URL, tower-sessions' --store, the floor app's spec)
    type StoreSpec<'a> = (&'a str, String, String, Option<String>);
    let stores: Vec<StoreSpec> = {
        let mut v = vec![
            ("memory", "memory://".to_owned(), "memory".to_owned(), None),
            (
                "sqlite",
                format!("sqlite://{}/web-sessiond.db", dir.display()),
                format!("sqlite:{}/web-ts.db", dir.display()),
                None,
            ),
        ];
        if let Some((url, db)) = &redis {
            let base = url.trim_end_matches('/');
            v.push((
                "redis",
                format!("{base}/{db}?prefix=bench-web-{}", std::process::id()),
                format!("redis:{base}/{db}"),
                Some(format!("{base}/{db}")),
            ));
        }
        v
    };
    let mut w = Web { report, plan, bars: Vec::new(), step: 0, steps: 2 + stores.len() * 2 + 1 };
    println!(
        "web layer: each app in its own process, {} keep-alive connections from this one:",
        plan.concurrency
    );
    let bare = serve_web(&["bare"]);
    cookie_sessions(&mut w, &bare, ts_bin).await;
    for (store, sd_url, ts_spec, floor) in &stores {
        server_sessions(&mut w, &bare, ts_bin, store, sd_url, ts_spec, floor.as_deref()).await;
    }
    rs256_logins(&mut w, dir).await;
    drop(bare);
    if let Some((url, db)) = &redis {
        flush_redis_db(url, *db).await;
    }
    match std::fs::write(svg, chart::svg(&w.bars)) {
        Ok(()) => println!("chart: {}", svg.display()),
        Err(e) => eprintln!("cannot write {}: {e}", svg.display()),
    }
    println!();
}

/// Stateless cookie sessions (seed 003) beside bare axum and tower-sessions' memory store.
async fn cookie_sessions(w: &mut Web<'_>, bare: &ServerProcess, ts_bin: Option<&Path>) {
    const READ: &str = "GET /read, no store";
    const LOGIN: &str = "POST /login, no store";
    w.progress("cookie sessions: GET /read");
    let jwe = serve_web(&["cookie-jwe"]);
    let jws = serve_web(&["cookie-jws"]);
    let ts = ts_bin.map(|b| ts_server(b, "memory"));
    let r = w.reads(bare, &[(&jwe, "/read", &jwe), (&jws, "/read", &jws)], ts.as_ref()).await;
    let bare_read = r[0].median;
    w.report.add("GET /read   bare axum", r[0].clone(), None);
    w.bar(READ, "bare axum", bare_read);
    for (i, name) in [(1, "JWE"), (2, "JWS")] {
        w.report.add(
            format!("GET /read   cookie session {name}"),
            r[i].clone(),
            Some((BARE_READ, bare_read)),
        );
        w.report.ratio_target(
            format!("cookie read {name} >= 0.90x bare axum"),
            r[i].median,
            0.90,
            bare_read,
        );
    }
    w.bar(READ, "sessiond cookie (JWE)", r[1].median);
    if let Some(t) = r.get(3) {
        w.report.add("GET /read   tower-sessions memory", t.clone(), Some((BARE_READ, bare_read)));
        w.bar(READ, "tower-sessions", t.median);
        for (i, name) in [(1, "JWE"), (2, "JWS")] {
            w.report.ratio_target(
                format!("cookie read {name} >= 1.15x tower-sessions memory"),
                r[i].median,
                1.15,
                t.median,
            );
        }
    }

    w.progress("cookie sessions: POST /login");
    let l = w.logins(&[&jwe, &jws], ts.as_ref()).await;
    let ts_login = l.get(2).map(|t| t.median);
    if let Some(t) = l.get(2) {
        w.report.add("POST /login tower-sessions memory", t.clone(), None);
        w.bar(LOGIN, "tower-sessions", t.median);
    }
    w.bar(LOGIN, "sessiond cookie (JWE)", l[0].median);
    for (i, name) in [(0, "JWE"), (1, "JWS")] {
        let base = ts_login.map(|t| ("tower-sessions memory login", t));
        w.report.add(format!("POST /login cookie session {name}"), l[i].clone(), base);
        if let Some(t) = ts_login {
            w.report.ratio_target(
                format!("cookie login {name} >= 1.0x tower-sessions create"),
                l[i].median,
                1.0,
                t,
            );
        }
    }
}

/// How many times tower-sessions' rate sessiond-axum is to reach on `store`: (read with a store
/// check, login).
fn targets_vs_tower_sessions(store: &str) -> Option<(f64, f64)> {
    match store {
        "sqlite" => Some((3.0, 10.0)),
        "redis" => Some((1.5, 1.2)),
        _ => None,
    }
}

/// Server-backed sessions (`sessiond-axum` on a manager, HS256) on `store` beside bare axum and
/// tower-sessions on the same store; on Redis also beside the floor (`serve-web bare-redis`:
/// bare axum doing one Redis command per request, no session at all).
async fn server_sessions(
    w: &mut Web<'_>, bare: &ServerProcess, ts_bin: Option<&Path>, store: &str, sd_url: &str,
    ts_spec: &str, floor_url: Option<&str>,
) {
    w.progress(&format!("server-backed sessions on {store}: GET /read"));
    let sd = serve_web(&["axum", "HS256", sd_url]);
    let ts = ts_bin.map(|b| ts_server(b, ts_spec));
    let floor = floor_url.map(|u| serve_web(&["bare-redis", u]));
    // The floor gets sessiond's cookies: the same request sizes.
    let mut apps = vec![(&sd, "/read", &sd), (&sd, "/read-checked", &sd)];
    apps.extend(floor.as_ref().map(|f| (f, "/read", &sd)));
    let mut r = w.reads(bare, &apps, ts.as_ref()).await;
    if floor.is_some() {
        let f = r.remove(3);
        floor_line(w, store, "GET /read", "one GET", &f, r[2].median, r.get(3).map(|t| t.median));
    }
    let bare_r = r[0].median;
    let group = format!("GET /read, {store}");
    w.bar(&group, "bare axum", bare_r);
    w.report.add(
        format!("GET /read   sessiond-axum {store} (stateless)"),
        r[1].clone(),
        Some((BARE_READ, bare_r)),
    );
    w.report.add(
        format!("GET /read   sessiond-axum {store} (store check)"),
        r[2].clone(),
        Some((BARE_READ, bare_r)),
    );
    w.bar(&group, "sessiond (stateless)", r[1].median);
    w.bar(&group, "sessiond (store check)", r[2].median);
    w.report.ratio_target(
        format!("sessiond-axum read without a store check ({store}) >= 0.90x bare axum"),
        r[1].median,
        0.90,
        bare_r,
    );
    if let Some(t) = r.get(3) {
        w.report.add(
            format!("GET /read   tower-sessions {store}"),
            t.clone(),
            Some((BARE_READ, bare_r)),
        );
        w.bar(&group, "tower-sessions", t.median);
        if let Some((need, _)) = targets_vs_tower_sessions(store) {
            w.report.ratio_target(
                format!(
                    "sessiond-axum read with a store check ({store}) >= {need}x tower-sessions"
                ),
                r[2].median,
                need,
                t.median,
            );
        }
    }

    w.progress(&format!("server-backed sessions on {store}: POST /login"));
    let mut servers = vec![&sd];
    servers.extend(floor.as_ref());
    let mut l = w.logins(&servers, ts.as_ref()).await;
    if floor.is_some() {
        let f = l.remove(1);
        floor_line(w, store, "POST /login", "one SET", &f, l[0].median, l.get(1).map(|t| t.median));
    }
    let group = format!("POST /login, {store}");
    w.bar(&group, "sessiond (stateless)", l[0].median);
    if let Some(t) = l.get(1) {
        w.report.add(format!("POST /login tower-sessions {store}"), t.clone(), None);
    }
    let ts_name = format!("tower-sessions {store} login");
    w.report.add(
        format!("POST /login sessiond-axum {store} HS256"),
        l[0].clone(),
        l.get(1).map(|t| (ts_name.as_str(), t.median)),
    );
    if let Some(t) = l.get(1) {
        w.bar(&group, "tower-sessions", t.median);
        if let Some((_, need)) = targets_vs_tower_sessions(store) {
            w.report.ratio_target(
                format!("sessiond-axum login ({store}) >= {need}x tower-sessions"),
                l[0].median,
                need,
                t.median,
            );
        }
    }
}

/// The floor's figure, and the rates of sessiond-axum (`sd`) and tower-sessions as shares of it.
fn floor_line(
    w: &mut Web<'_>, store: &str, route: &str, what: &str, floor: &Rate, sd: f64, ts: Option<f64>,
) {
    let name = format!("bare axum + {what} ({store}), no session");
    w.report.add(format!("{route:<11} {name}"), floor.clone(), None);
    w.bar(&format!("{route}, {store}"), "bare axum + one Redis command", floor.median);
    let ts = ts.map(|t| format!(", tower-sessions {:.2}x", t / floor.median)).unwrap_or_default();
    println!("    of this floor: sessiond-axum {:.2}x{ts}", sd / floor.median);
}

/// RS256 logins cost one RSA signature each: beside the raw signing rate.
async fn rs256_logins(w: &mut Web<'_>, dir: &Path) {
    w.progress("server-backed sessions on sqlite, RS256: POST /login");
    let url = format!("sqlite://{}/web-rs256.db", dir.display());
    let rs = serve_web(&["axum", "RS256", &url]);
    let sign = raw::sign_op(Algorithm::RS256);
    let ops = [
        w.anonymous(rs.addr, "POST", "/login").await,
        harness::boxed(move |t, i| Box::pin(sign(t, i))),
    ];
    let cpu_before = rs.cpu_seconds();
    let l = w.measure(&ops).await;
    w.report.add(
        "POST /login sessiond-axum sqlite RS256",
        l[0].clone(),
        Some(("raw RS256 sign (ring)", l[1].median)),
    );
    // The server is idle during the raw-signing rounds, so its CPU time over the whole run is
    // what its login rounds took.
    if let (Some(a), Some(b)) = (cpu_before, rs.cpu_seconds()) {
        let login_secs = w.plan.rounds as f64 * w.plan.round.as_secs_f64();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        println!(
            "    the server used {:.2} of {cores} cores in its login rounds",
            (b - a) / login_secs
        );
    }
    w.report.ratio_target(
        "sessiond-axum login RS256 (sqlite) >= 0.8x raw RS256 sign",
        l[0].median,
        0.8,
        l[1].median,
    );
}

/// Whether the web figures may use Redis database `db` (it must be empty).
pub(crate) async fn redis_db_is_empty(url: &str, db: u32) -> bool {
    let Ok(client) = redis::Client::open(format!("{}/{db}", url.trim_end_matches('/'))) else {
        return false;
    };
    let Ok(mut c) = client.get_multiplexed_async_connection().await else {
        return false;
    };
    let size: redis::RedisResult<i64> = redis::cmd("DBSIZE").query_async(&mut c).await;
    matches!(size, Ok(0))
}

async fn flush_redis_db(url: &str, db: u32) {
    if let Ok(client) = redis::Client::open(format!("{}/{db}", url.trim_end_matches('/')))
        && let Ok(mut c) = client.get_multiplexed_async_connection().await
    {
        let _: redis::RedisResult<()> = redis::cmd("FLUSHDB").query_async(&mut c).await;
    }
}
