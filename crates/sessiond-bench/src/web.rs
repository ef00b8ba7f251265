//! The web-layer figures: axum apps serving `POST /login` (a new session) and `GET /read` (a
//! valid session), each in a process of its own, driven over keep-alive HTTP/1.1 connections
//! from this one, as an outside load harness would:
//!
//! - a bare axum `GET /read` (no session at all);
//! - axum + sessiond's stateless cookie sessions (`sessiond-axum` + `sessiond-cookie`), JWE and
//!   JWS;
//! - axum + sessiond's server-backed sessions (`sessiond-axum` over a `SessionManager`) on a
//!   store, also `GET /read-checked` (the store is asked every time);
//! - axum + tower-sessions on the same store (the `ts-bench-server` binary of
//!   `bench/ts-server`: tower-sessions' sqlx SQLite store links another libsqlite3 than
//!   sessiond's, so it is a workspace of its own).
//!
//! This binary serves the sessiond apps itself (`sessiond-bench serve-web SPEC`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::json;
use sessiond_axum::{
    CookieSession, CookieSessionLayer, Session, SessionIssuer, Sessions, VerifySession,
};
use sessiond_cookie::{CookieKey, CookieSessions, Format, Overrides, Refresh, SessionConfig};
use sessiond_core::jose::Algorithm;
use sessiond_core::{ManagerConfig, SessionManager, StartOptions};

static NEXT_USER: AtomicU64 = AtomicU64::new(0);

fn next_user() -> String {
    format!(
        "user-{}",
        NEXT_USER.fetch_add(1, Ordering::Relaxed) % 100_000
    )
}

/// A server process; killed (SIGTERM, then SIGKILL) when dropped.
pub(crate) struct ServerProcess {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program args…`, which prints `listening on ADDR` first.
fn spawn(program: &std::path::Path, args: &[&str]) -> Result<ServerProcess, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("{} printed {line:?}", program.display()))?;
    Ok(ServerProcess { child, addr })
}

/// One of this binary's own web servers.
pub(crate) fn sessiond_server(spec: &str) -> ServerProcess {
    let exe = std::env::current_exe().expect("the bench's own path");
    spawn(&exe, &["serve-web", spec]).unwrap_or_else(|e| panic!("serve-web {spec}: {e}"))
}

/// The tower-sessions server for `store` (`memory`, `sqlite:PATH`, `redis:URL`).
pub(crate) fn ts_server(bin: &std::path::Path, store: &str) -> Result<ServerProcess, String> {
    spawn(bin, &["--store", store])
}

/// Serves one app (`serve-web SPEC`) until SIGTERM:
/// `bare`, `cookie-jwe`, `cookie-jws`, or `axum ALG STORE_URL`.
pub(crate) async fn serve(spec: &[String]) {
    let (app, manager) = match spec.first().map(String::as_str) {
        Some("bare") => (
            Router::new().route("/read", get(|| async { "user-0" })),
            None,
        ),
        Some("cookie-jwe") => (cookie_app(Format::Encrypted), None),
        Some("cookie-jws") => (cookie_app(Format::Signed), None),
        Some("axum") => {
            let alg = spec
                .get(1)
                .and_then(|a| Algorithm::parse(a))
                .expect("an algorithm");
            let url = spec.get(2).expect("a store URL");
            let (app, m) = axum_app(alg, url).await;
            (app, Some(m))
        }
        other => panic!("unknown serve-web spec {other:?}"),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!("listening on {}", listener.local_addr().expect("addr"));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    let served = axum::serve(listener, app).with_graceful_shutdown(async move {
        term.recv().await;
    });
    let _ = served.await;
    if let Some(m) = manager {
        // Leave nothing on a shared store.
        let _ = m.destroy().await;
    }
}

fn cookie_app(format: Format) -> Router {
    let sessions = CookieSessions::builder([CookieKey::generate().expect("key")])
        .format(format)
        .session(SessionConfig::new("session"))
        .build()
        .expect("cookie sessions");
    Router::new()
        .route(
            "/read",
            get(|s: CookieSession| async move {
                match s.get(Refresh::Never).await.valid_payload() {
                    Some(p) => p["userId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                        .into_response(),
                    None => StatusCode::UNAUTHORIZED.into_response(),
                }
            }),
        )
        .route(
            "/login",
            post(|s: CookieSession| async move {
                match s.set(json!({"userId": next_user()}), Overrides::none()) {
                    Ok(_) => "ok".into_response(),
                    Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                }
            }),
        )
        .layer(CookieSessionLayer::new(sessions))
}

async fn axum_app(alg: Algorithm, url: &str) -> (Router, SessionManager) {
    let store = sessiond_server::open_store(url)
        .await
        .expect("open the store");
    let manager = SessionManager::new(
        store,
        ManagerConfig {
            algorithm: alg,
            ..ManagerConfig::default()
        },
    )
    .expect("manager");
    manager.start(StartOptions::default()).await.expect("start");
    let sessions = Sessions::in_process(manager.clone()).build();
    let app = Router::new()
        .route(
            "/read",
            get(|s: Session| async move { s.user_id().to_owned() }),
        )
        .route(
            "/read-checked",
            get(|s: Session| async move { s.user_id().to_owned() })
                .route_layer(VerifySession::new().check_database(true)),
        )
        .route(
            "/login",
            post(|issuer: SessionIssuer| async move {
                match issuer
                    .create_new_session(&next_user(), json!({"role": "user"}), json!({}))
                    .await
                {
                    Ok(_) => "ok".into_response(),
                    Err(e) => e.into_response(),
                }
            }),
        )
        .layer(sessions.layer());
    (app, manager)
}

use crate::harness::{self, BoxedOp, Plan};
use crate::{Report, http};

/// One bar of the chart: a group (store and route), a series (who served it), req/s.
struct Bar {
    group: String,
    series: &'static str,
    value: f64,
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

async fn op(
    n: usize,
    addr: SocketAddr,
    method: &'static str,
    path: &'static str,
    cookies: &Arc<Vec<String>>,
) -> BoxedOp {
    harness::boxed(http::cookie_op(n, addr, method, path, Arc::clone(cookies)).await)
}

fn progress(step: &mut usize, total: usize, what: &str) {
    *step += 1;
    eprintln!("[web {step}/{total}] {what}");
}

/// The web figures; see the module documentation.
pub(crate) async fn figures(
    report: &mut Report,
    plan: Plan,
    ts_bin: Option<&std::path::Path>,
    redis: Option<(String, u32)>,
    svg: &std::path::Path,
    dir: &std::path::Path,
) {
    let n = plan.concurrency;
    let none = Arc::new(Vec::new());
    let mut bars = Vec::new();
    let ts_bin = ts_bin.filter(|p| p.exists());
    if ts_bin.is_none() {
        eprintln!(
            "web: no tower-sessions server; build it with `cargo build --release --manifest-path bench/ts-server/Cargo.toml` (the tower-sessions figures are skipped)"
        );
    }
    let stores: Vec<(&str, String, String)> = {
        let mut v = vec![
            ("memory", "memory://".to_owned(), "memory".to_owned()),
            (
                "sqlite",
                format!("sqlite://{}/web-sessiond.db", dir.display()),
                format!("sqlite:{}/web-ts.db", dir.display()),
            ),
        ];
        if let Some((url, db)) = &redis {
            let base = url.trim_end_matches('/');
            v.push((
                "redis",
                format!("{base}/{db}?prefix=bench-web-{}", std::process::id()),
                format!("redis:{base}/{db}"),
            ));
        }
        v
    };
    let total = 2 + stores.len() * 2 + 1;
    let mut step = 0;
    println!("web layer: each app in its own process, {n} keep-alive connections from this one:");
    let bare = sessiond_server("bare");

    // Stateless cookie sessions (seed 003) beside tower-sessions' memory store.
    progress(&mut step, total, "cookie sessions: GET /read");
    let jwe = sessiond_server("cookie-jwe");
    let jws = sessiond_server("cookie-jws");
    let ts_mem = ts_bin.map(|b| ts_server(b, "memory").expect("ts-bench-server"));
    let mut reads = vec![
        op(n, bare.addr, "GET", "/read", &none).await,
        op(
            n,
            jwe.addr,
            "GET",
            "/read",
            &login_cookies(jwe.addr, 1024).await,
        )
        .await,
        op(
            n,
            jws.addr,
            "GET",
            "/read",
            &login_cookies(jws.addr, 1024).await,
        )
        .await,
    ];
    if let Some(ts) = &ts_mem {
        reads.push(
            op(
                n,
                ts.addr,
                "GET",
                "/read",
                &login_cookies(ts.addr, 1024).await,
            )
            .await,
        );
    }
    let r = harness::group(plan, &reads).await;
    let bare_read = r[0].median;
    report.add("GET /read   bare axum", r[0].clone(), None);
    bars.push(Bar {
        group: "GET /read, no store".into(),
        series: "bare axum",
        value: bare_read,
    });
    for (i, name) in [(1, "JWE"), (2, "JWS")] {
        report.add(
            format!("GET /read   cookie session {name}"),
            r[i].clone(),
            Some(("bare axum GET /read", bare_read)),
        );
        report.target(
            format!("cookie read {name} >= 0.90x bare axum"),
            r[i].median >= 0.90 * bare_read,
            format!("{:.2}x", r[i].median / bare_read),
        );
    }
    bars.push(Bar {
        group: "GET /read, no store".into(),
        series: "sessiond cookie (JWE)",
        value: r[1].median,
    });
    if let Some(ts) = r.get(3) {
        report.add(
            "GET /read   tower-sessions memory",
            ts.clone(),
            Some(("bare axum GET /read", bare_read)),
        );
        bars.push(Bar {
            group: "GET /read, no store".into(),
            series: "tower-sessions",
            value: ts.median,
        });
        for (i, name) in [(1, "JWE"), (2, "JWS")] {
            report.target(
                format!("cookie read {name} >= 1.15x tower-sessions memory"),
                r[i].median >= 1.15 * ts.median,
                format!("{:.2}x", r[i].median / ts.median),
            );
        }
    }
    progress(&mut step, total, "cookie sessions: POST /login");
    let mut logins = vec![
        op(n, jwe.addr, "POST", "/login", &none).await,
        op(n, jws.addr, "POST", "/login", &none).await,
    ];
    if let Some(ts) = &ts_mem {
        logins.push(op(n, ts.addr, "POST", "/login", &none).await);
    }
    let l = harness::group(plan, &logins).await;
    let ts_login = l.get(2).map(|r| r.median);
    if let Some(ts) = l.get(2) {
        report.add("POST /login tower-sessions memory", ts.clone(), None);
        bars.push(Bar {
            group: "POST /login, no store".into(),
            series: "tower-sessions",
            value: ts.median,
        });
    }
    bars.push(Bar {
        group: "POST /login, no store".into(),
        series: "sessiond cookie (JWE)",
        value: l[0].median,
    });
    for (i, name) in [(0, "JWE"), (1, "JWS")] {
        let base = ts_login.map(|t| ("tower-sessions memory login", t));
        report.add(
            format!("POST /login cookie session {name}"),
            l[i].clone(),
            base,
        );
        if let Some(t) = ts_login {
            report.target(
                format!("cookie login {name} >= 1.0x tower-sessions create"),
                l[i].median >= t,
                format!("{:.2}x", l[i].median / t),
            );
        }
    }
    drop((jwe, jws, ts_mem));

    // Server-backed sessions beside tower-sessions on the same store.
    for (store, sd_url, ts_spec) in &stores {
        progress(
            &mut step,
            total,
            &format!("server-backed sessions on {store}: GET /read"),
        );
        let sd = sessiond_server_args(&["axum", "HS256", sd_url]);
        let ts = ts_bin.map(|b| ts_server(b, ts_spec).expect("ts-bench-server"));
        let mut reads = vec![
            op(n, bare.addr, "GET", "/read", &none).await,
            op(
                n,
                sd.addr,
                "GET",
                "/read",
                &login_cookies(sd.addr, 1024).await,
            )
            .await,
        ];
        let sd_cookies = login_cookies(sd.addr, 1024).await;
        reads.push(op(n, sd.addr, "GET", "/read-checked", &sd_cookies).await);
        if let Some(ts) = &ts {
            reads.push(
                op(
                    n,
                    ts.addr,
                    "GET",
                    "/read",
                    &login_cookies(ts.addr, 1024).await,
                )
                .await,
            );
        }
        let r = harness::group(plan, &reads).await;
        let bare_r = r[0].median;
        let group = format!("GET /read, {store}");
        bars.push(Bar {
            group: group.clone(),
            series: "bare axum",
            value: bare_r,
        });
        report.add(
            format!("GET /read   sessiond-axum {store} (stateless)"),
            r[1].clone(),
            Some(("bare axum GET /read", bare_r)),
        );
        report.add(
            format!("GET /read   sessiond-axum {store} (store check)"),
            r[2].clone(),
            Some(("bare axum GET /read", bare_r)),
        );
        bars.push(Bar {
            group: group.clone(),
            series: "sessiond (stateless)",
            value: r[1].median,
        });
        bars.push(Bar {
            group: group.clone(),
            series: "sessiond (store check)",
            value: r[2].median,
        });
        report.target(
            format!("sessiond-axum read without a store check ({store}) >= 0.90x bare axum"),
            r[1].median >= 0.90 * bare_r,
            format!("{:.2}x", r[1].median / bare_r),
        );
        if let Some(t) = r.get(3) {
            report.add(
                format!("GET /read   tower-sessions {store}"),
                t.clone(),
                Some(("bare axum GET /read", bare_r)),
            );
            bars.push(Bar {
                group: group.clone(),
                series: "tower-sessions",
                value: t.median,
            });
            let need = match *store {
                "sqlite" => Some(3.0),
                "redis" => Some(1.5),
                _ => None,
            };
            if let Some(need) = need {
                report.target(
                    format!(
                        "sessiond-axum read with a store check ({store}) >= {need}x tower-sessions"
                    ),
                    r[2].median >= need * t.median,
                    format!("{:.2}x", r[2].median / t.median),
                );
            }
        }
        progress(
            &mut step,
            total,
            &format!("server-backed sessions on {store}: POST /login"),
        );
        let mut logins = vec![op(n, sd.addr, "POST", "/login", &none).await];
        if let Some(ts) = &ts {
            logins.push(op(n, ts.addr, "POST", "/login", &none).await);
        }
        let l = harness::group(plan, &logins).await;
        let group = format!("POST /login, {store}");
        bars.push(Bar {
            group: group.clone(),
            series: "sessiond (stateless)",
            value: l[0].median,
        });
        match l.get(1) {
            Some(t) => {
                report.add(
                    format!("POST /login tower-sessions {store}"),
                    t.clone(),
                    None,
                );
                report.add(
                    format!("POST /login sessiond-axum {store} HS256"),
                    l[0].clone(),
                    Some((&format!("tower-sessions {store} login"), t.median)),
                );
                bars.push(Bar {
                    group,
                    series: "tower-sessions",
                    value: t.median,
                });
                let need = match *store {
                    "sqlite" => Some(10.0),
                    "redis" => Some(1.2),
                    _ => None,
                };
                if let Some(need) = need {
                    report.target(
                        format!("sessiond-axum login ({store}) >= {need}x tower-sessions"),
                        l[0].median >= need * t.median,
                        format!("{:.2}x", l[0].median / t.median),
                    );
                }
            }
            None => {
                report.add(
                    format!("POST /login sessiond-axum {store} HS256"),
                    l[0].clone(),
                    None,
                );
            }
        }
    }

    // RS256 logins cost one RSA signature each: beside the raw signing rate.
    progress(
        &mut step,
        total,
        "server-backed sessions on sqlite, RS256: POST /login",
    );
    let rs = sessiond_server_args(&[
        "axum",
        "RS256",
        &format!("sqlite://{}/web-rs256.db", dir.display()),
    ]);
    let sign = crate::raw::sign_op(Algorithm::RS256);
    let ops = [
        op(n, rs.addr, "POST", "/login", &none).await,
        harness::boxed(move |t, i| Box::pin(sign(t, i))),
    ];
    let l = harness::group(plan, &ops).await;
    report.add(
        "POST /login sessiond-axum sqlite RS256",
        l[0].clone(),
        Some(("raw RS256 sign (ring)", l[1].median)),
    );
    report.target(
        "sessiond-axum login RS256 (sqlite) >= 0.8x raw RS256 sign",
        l[0].median >= 0.8 * l[1].median,
        format!("{:.2}x", l[0].median / l[1].median),
    );
    drop(rs);
    drop(bare);
    if let Some((url, db)) = &redis {
        flush_redis_db(url, *db).await;
    }
    match std::fs::write(svg, chart(&bars)) {
        Ok(()) => println!("chart: {}", svg.display()),
        Err(e) => eprintln!("cannot write {}: {e}", svg.display()),
    }
    println!();
}

fn sessiond_server_args(args: &[&str]) -> ServerProcess {
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut all = vec!["serve-web"];
    all.extend_from_slice(args);
    spawn(&exe, &all).unwrap_or_else(|e| panic!("serve-web {args:?}: {e}"))
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

/// The figures as an SVG bar chart: one cluster of bars per group, one colour per series.
fn chart(bars: &[Bar]) -> String {
    use std::fmt::Write as _;
    let mut groups: Vec<&str> = Vec::new();
    let mut series: Vec<&str> = Vec::new();
    for b in bars {
        if !groups.contains(&b.group.as_str()) {
            groups.push(&b.group);
        }
        if !series.contains(&b.series) {
            series.push(b.series);
        }
    }
    let colours = ["#9e9e9e", "#1565c0", "#42a5f5", "#ef6c00", "#6a1b9a"];
    let max = bars.iter().map(|b| b.value).fold(1.0, f64::max);
    let (bar_w, gap, left, top, height) = (18.0, 26.0, 70.0, 40.0, 260.0);
    let group_w = bar_w * series.len() as f64 + gap;
    let width = left + group_w * groups.len() as f64 + 20.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="20" font-size="13">requests/s (median of rounds; 2 cores, client and server on one machine)</text>
"##,
        w = width,
        h = top + height + 110.0 + 16.0 * series.len() as f64,
    );
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = top + height - height * f64::from(i) / 4.0;
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{x2:.0}" y1="{y:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{v:.0}</text>"##,
            x2 = width - 10.0,
            tx = left - 4.0,
            ty = y + 4.0,
        );
    }
    for (gi, g) in groups.iter().enumerate() {
        let gx = left + gap / 2.0 + group_w * gi as f64;
        for b in bars.iter().filter(|b| b.group == *g) {
            let si = series.iter().position(|s| *s == b.series).unwrap_or(0);
            let h = height * b.value / max;
            let _ = writeln!(
                s,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{bar_w}" height="{h:.1}" fill="{c}"><title>{g}: {name} {v:.0}/s</title></rect>"##,
                x = gx + bar_w * si as f64,
                y = top + height - h,
                c = colours[si % colours.len()],
                name = b.series,
                v = b.value,
            );
        }
        let _ = writeln!(
            s,
            r##"<text x="{x:.1}" y="{y:.1}" transform="rotate(35 {x:.1} {y:.1})">{g}</text>"##,
            x = gx,
            y = top + height + 14.0,
        );
    }
    for (si, name) in series.iter().enumerate() {
        let y = top + height + 95.0 + 16.0 * si as f64;
        let _ = writeln!(
            s,
            r##"<rect x="{left}" y="{ry:.1}" width="12" height="12" fill="{c}"/><text x="{tx}" y="{y:.1}">{name}</text>"##,
            ry = y - 10.0,
            c = colours[si % colours.len()],
            tx = left + 18.0,
        );
    }
    s.push_str("</svg>\n");
    s
}
