//! `sessiond serve` starts while its store is down: `/healthz` 200, `/readyz` 503, every call
//! that needs the store (and the JWKS) 503 `STORE_UNAVAILABLE`; it connects, loads or creates
//! the keys and becomes ready by itself once the store appears, logging one line per state
//! change rather than one per retry.
//!
//! The Redis test starts its own `redis-server` (never the shared one) on a free port, after
//! sessiond is up. Without `redis-server` installed it prints a skip line, or fails under
//! `CI=true`.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::time::{Duration, Instant};

use common::{free_port, spawn_serve};
use serde_json::{Value, json};

async fn call(http: &reqwest::Client, method: &str, url: String, body: Value) -> (u16, Value) {
    let rb = match method {
        "GET" => http.get(url),
        _ => http.post(url).json(&body),
    };
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// While not ready: the process answers, the store-backed routes fail closed.
async fn assert_not_ready(http: &reqwest::Client, base: &str) {
    let (s, _) = call(http, "GET", format!("{base}/healthz"), Value::Null).await;
    assert_eq!(s, 200, "/healthz");
    for path in ["/hello", "/apiversion", "/openapi.json", "/metrics"] {
        let (s, v) = call(http, "GET", format!("{base}{path}"), Value::Null).await;
        assert_eq!(s, 200, "{path}: {v}");
    }
    for (method, path, body) in [
        ("GET", "/readyz", Value::Null),
        ("GET", "/.well-known/jwks.json", Value::Null),
        ("GET", "/appid-a/.well-known/jwks.json", Value::Null),
        ("GET", "/recipe/jwt/jwks", Value::Null),
        ("POST", "/public/recipe/session", json!({"userId": "early"})),
        (
            "POST",
            "/recipe/session/verify",
            json!({"accessToken": "x.y.z", "doAntiCsrfCheck": false, "checkDatabase": false}),
        ),
        (
            "POST",
            "/recipe/session/refresh",
            json!({"refreshToken": "x"}),
        ),
        ("GET", "/sessiond/v1/keys", Value::Null),
        ("POST", "/sessiond/v1/service-tokens", json!({})),
    ] {
        let (s, v) = call(http, method, format!("{base}{path}"), body).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (503, Some("STORE_UNAVAILABLE")),
            "{method} {path}: {v}"
        );
    }
    // Routing still answers for what does not exist.
    let (s, v) = call(http, "GET", format!("{base}/nope"), Value::Null).await;
    assert_eq!((s, v["code"].as_str()), (404, Some("NOT_FOUND")), "{v}");
}

/// Polls `/readyz` until 200; returns how long it took.
async fn until_ready(http: &reqwest::Client, base: &str, within: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let (s, _) = call(http, "GET", format!("{base}/readyz"), Value::Null).await;
        if s == 200 {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < within, "not ready within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A create, a database-checked verify and the JWKS, once ready.
async fn assert_serves(http: &reqwest::Client, base: &str) {
    let (s, c) = call(
        http,
        "POST",
        format!("{base}/public/recipe/session"),
        json!({"userId": "late", "enableAntiCsrf": false}),
    )
    .await;
    assert_eq!((s, c["status"].as_str()), (200, Some("OK")), "{c}");
    let (s, v) = call(
        http,
        "POST",
        format!("{base}/recipe/session/verify"),
        json!({"accessToken": c["accessToken"]["token"], "doAntiCsrfCheck": false, "checkDatabase": true}),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("OK")), "{v}");
    let (s, jwks) = call(
        http,
        "GET",
        format!("{base}/.well-known/jwks.json"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200);
    assert!(!jwks["keys"].as_array().unwrap().is_empty(), "{jwks}");
}

fn redis_server_installed() -> bool {
    let found = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but redis-server is not installed"
        );
        eprintln!("SKIP: redis-server is not installed");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_without_redis_and_becomes_ready_when_it_appears() {
    if !redis_server_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}?prefix=sdt-down&timeout_ms=300");
    let p = spawn_serve(&["--store", &url], &[]).await;
    let listening = &p.with_message("sessiond listening")[0];
    assert_eq!(listening["ready"], false, "{listening}");
    let base = p.url();
    let http = reqwest::Client::new();
    assert_not_ready(&http, &base).await;
    // Several retries happen meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_not_ready(&http, &base).await;

    let _redis = tokio::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--dir", &dir.path().display().to_string()])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The backoff is capped at 5 s; allow that twice over, plus the start of Redis.
    let took = until_ready(&http, &base, Duration::from_secs(15)).await;
    assert_serves(&http, &base).await;

    // One line per state change, not one per retry.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let count = |prefix: &str| {
        p.records()
            .iter()
            .filter(|r| r["message"].as_str().is_some_and(|m| m.starts_with(prefix)))
            .count()
    };
    assert_eq!(count("store unreachable"), 1, "{}", p.text());
    assert_eq!(count("store connected"), 1, "{}", p.text());
    assert_eq!(count("sessiond ready"), 1, "{}", p.text());
    eprintln!("ready {took:?} after redis-server was started");
}

/// PostgreSQL unreachable: the same answers while it is down (its recovery is the Redis
/// test's path: the same background task).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_without_postgres() {
    let url = format!("postgres://postgres@127.0.0.1:{}/nothing", free_port());
    let p = spawn_serve(&["--store", &url], &[]).await;
    assert_eq!(p.with_message("sessiond listening")[0]["ready"], false);
    let http = reqwest::Client::new();
    assert_not_ready(&http, &p.url()).await;
}

/// An SQLite path that cannot be opened yet (its folder is a file), through the library's
/// `start`: not ready, then ready by itself once the path can be opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_waits_in_the_background_for_an_sqlite_file_that_cannot_be_opened_yet() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("data");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let settings = sessiond_server::Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        store: format!("sqlite://{}/sessiond.db", blocker.display()),
        ..sessiond_server::Settings::default()
    };
    let server = sessiond_server::start(&settings, std::future::pending())
        .await
        .unwrap();
    assert!(!server.is_ready());
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    assert_not_ready(&http, &base).await;
    std::fs::remove_file(&blocker).unwrap();
    until_ready(&http, &base, Duration::from_secs(15)).await;
    assert!(server.is_ready());
    assert_serves(&http, &base).await;
    server.shutdown().await.unwrap();
}
