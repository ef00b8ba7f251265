//! `sessiond serve` starts while its store is down: `/healthz` 200, `/readyz` 503, every call
//! that needs the store (and the JWKS) 503 `STORE_UNAVAILABLE`; it connects, loads or creates
//! the keys and becomes ready by itself once the store appears, logging one line per state
//! change rather than one per retry.
//!
//! The Redis test starts its own `redis-server` (never the shared one, see `common::redis`) on a
//! free port, after sessiond is up. Without `redis-server` installed it prints a skip line, or
//! fails under `CI=true`.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::time::Duration;

use common::http::Api;
use common::redis::OwnRedis;
use common::{free_port, spawn_serve};
use serde_json::json;

/// While not ready: the process answers, the store-backed routes fail closed.
async fn assert_not_ready(api: &Api) {
    let (s, _) = api.get("/healthz").await;
    assert_eq!(s, 200, "/healthz");
    for path in ["/hello", "/apiversion", "/openapi.json", "/metrics"] {
        let (s, v) = api.get(path).await;
        assert_eq!(s, 200, "{path}: {v}");
    }
    for (path, body) in [
        ("/readyz", None),
        ("/.well-known/jwks.json", None),
        ("/appid-a/.well-known/jwks.json", None),
        ("/recipe/jwt/jwks", None),
        ("/public/recipe/session", Some(json!({"userId": "early"}))),
        (
            "/recipe/session/verify",
            Some(json!({"accessToken": "x.y.z", "doAntiCsrfCheck": false, "checkDatabase": false})),
        ),
        ("/recipe/session/refresh", Some(json!({"refreshToken": "x"}))),
        ("/sessiond/v1/keys", None),
        ("/sessiond/v1/service-tokens", Some(json!({}))),
    ] {
        let (s, v) = match body {
            Some(body) => api.post(path, body).await,
            None => api.get(path).await,
        };
        assert_eq!((s, v["code"].as_str()), (503, Some("STORE_UNAVAILABLE")), "{path}: {v}");
    }
    // Routing still answers for what does not exist.
    let (s, v) = api.get("/nope").await;
    assert_eq!((s, v["code"].as_str()), (404, Some("NOT_FOUND")), "{v}");
}

/// A create, a database-checked verify and the JWKS, once ready.
async fn assert_serves(api: &Api) {
    let (s, c) = api.create("late").await;
    assert_eq!((s, c["status"].as_str()), (200, Some("OK")), "{c}");
    let (s, v) = api.verify(&c, true).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("OK")), "{v}");
    let (s, jwks) = api.get("/.well-known/jwks.json").await;
    assert_eq!(s, 200);
    assert!(!jwks["keys"].as_array().unwrap().is_empty(), "{jwks}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_without_redis_and_becomes_ready_when_it_appears() {
    let Some(redis) = OwnRedis::new() else {
        return;
    };
    let url = redis.url("prefix=sdt-down&timeout_ms=300");
    let p = spawn_serve(&["--store", &url], &[]).await;
    let listening = &p.with_message("sessiond listening")[0];
    assert_eq!(listening["ready"], false, "{listening}");
    let api = p.api();
    assert_not_ready(&api).await;
    // Several retries happen meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_not_ready(&api).await;

    tokio::task::block_in_place(|| redis.start());
    // The backoff is capped at 5 s; allow that twice over, plus the start of Redis.
    let took = api.until_ready(Duration::from_secs(15)).await;
    assert_serves(&api).await;

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
    assert_not_ready(&p.api()).await;
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
    let server = sessiond_server::start(&settings, std::future::pending()).await.unwrap();
    assert!(!server.is_ready());
    let api = Api::new(&format!("http://{}", server.addr));
    assert_not_ready(&api).await;
    std::fs::remove_file(&blocker).unwrap();
    api.until_ready(Duration::from_secs(15)).await;
    assert!(server.is_ready());
    assert_serves(&api).await;
    server.shutdown().await.unwrap();
}
