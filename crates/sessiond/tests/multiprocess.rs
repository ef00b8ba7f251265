//! Several `sessiond serve` processes on one store (PostgreSQL, Redis, Redis Cluster, and one
//! SQLite file on one host): every process sees every write at once, keys are created once,
//! rotations and resets propagate within the documented bound (`key_sync_interval` plus one
//! reload).

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::time::{Duration, Instant};

use common::http::Api;
use common::{Serve, Spawned};
use serde_json::{Value, json};
use sessiond_store_tests::{env, fixtures::with_param};

/// The key-sync interval the processes run with: the documented propagation bound.
const SYNC_SECS: u64 = 1;

struct Node {
    _server: Spawned,
    api: Api,
}

async fn node(store: &str) -> Node {
    let server = Serve::new()
        .store(store)
        .args(&["--key-sync-interval", &SYNC_SECS.to_string()])
        .default_algorithm()
        .spawn()
        .await;
    Node { api: server.api(), _server: server }
}

/// Three processes started at the same instant on an empty store.
async fn three(store: &str) -> (Node, Node, Node) {
    tokio::join!(node(store), node(store), node(store))
}

async fn post(node: &Node, path: &str, body: Value) -> Value {
    let (st, v) = node.api.post(path, body).await;
    assert_eq!(st, 200, "{path}: {v}");
    v
}

async fn get(node: &Node, path: &str) -> Value {
    node.api.get(path).await.1
}

async fn create(node: &Node, user: &str) -> Value {
    let (st, v) = node.api.create(user).await;
    assert_eq!(st, 200, "create: {v}");
    v
}

/// The status of a verify of `session`'s access token.
async fn verify(node: &Node, session: &Value, check_db: bool) -> String {
    let (st, v) = node.api.verify(session, check_db).await;
    assert_eq!(st, 200, "verify: {v}");
    v["status"].as_str().unwrap().to_owned()
}

async fn refresh(node: &Node, session: &Value) -> Value {
    let (st, v) = node.api.refresh(session["refreshToken"]["token"].as_str().unwrap()).await;
    assert_eq!(st, 200, "refresh: {v}");
    v
}

fn kid(token: &Value) -> String {
    let h = token.as_str().unwrap().split('.').next().unwrap();
    let h: Value = serde_json::from_slice(&sessiond_core::b64::decode(h).unwrap()).unwrap();
    h["kid"].as_str().unwrap().to_owned()
}

async fn scenario(store: &str) {
    let (a, b, c) = three(store).await;

    // One key of each kind, the same JWKS everywhere.
    let (ja, jb, jc) = tokio::join!(
        get(&a, "/.well-known/jwks.json"),
        get(&b, "/.well-known/jwks.json"),
        get(&c, "/.well-known/jwks.json")
    );
    let kids: Vec<&str> =
        ja["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.iter().filter(|k| k.starts_with("d-")).count(), 1, "{kids:?}");
    assert_eq!(kids.iter().filter(|k| k.starts_with("s-")).count(), 1, "{kids:?}");
    assert_eq!(ja, jb);
    assert_eq!(ja, jc);
    // Every key, not just the published ones: one of each kind, the same everywhere.
    let (ka, kb, kc) = tokio::join!(
        get(&a, "/sessiond/v1/keys"),
        get(&b, "/sessiond/v1/keys"),
        get(&c, "/sessiond/v1/keys")
    );
    let mut kinds: Vec<&str> =
        ka["keys"].as_array().unwrap().iter().map(|k| k["kind"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["chain", "dynamic", "static"], "{ka}");
    assert_eq!(ka, kb);
    assert_eq!(ka, kc);

    // Create on A, verify (store check) on B, refresh on C, revoke on A: seen everywhere at once.
    let s = create(&a, "multi").await;
    assert_eq!(verify(&b, &s, true).await, "OK");
    let r = refresh(&c, &s).await;
    assert_eq!(r["status"], "OK");
    assert_eq!(verify(&a, &r, true).await, "OK");
    let handle = s["session"]["handle"].clone();
    // Both watchers accept the token statelessly before the revoke…
    for node in [&b, &c] {
        assert_eq!(verify(node, &r, false).await, "OK");
    }
    let removed = post(&a, "/recipe/session/remove", json!({"sessionHandles": [handle]})).await;
    assert_eq!(removed["sessionHandlesRevoked"].as_array().unwrap().len(), 1);
    assert_eq!(verify(&b, &r, true).await, "UNAUTHORISED");
    assert_eq!(verify(&c, &r, true).await, "UNAUTHORISED");
    assert_eq!(refresh(&b, &r).await["status"], "UNAUTHORISED");
    // …and refuse it within a second after, without a store check: the revocation feed.
    let revoked_at = Instant::now();
    for node in [&b, &c] {
        while verify(node, &r, false).await != "UNAUTHORISED" {
            assert!(
                revoked_at.elapsed() < Duration::from_secs(1),
                "a stateless verify on another process still accepts a revoked session"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    // One token refreshed on all three processes at once: one successor.
    let s = create(&b, "multi2").await;
    let (x, y, z) = tokio::join!(refresh(&a, &s), refresh(&b, &s), refresh(&c, &s));
    assert_eq!(x["refreshToken"]["token"], y["refreshToken"]["token"]);
    assert_eq!(x["refreshToken"]["token"], z["refreshToken"]["token"]);

    // A key rotated through A signs new tokens on B and C within the sync interval.
    let old_kid = kid(&create(&b, "k").await["accessToken"]["token"]);
    let rotated = post(&a, "/sessiond/v1/keys/rotate", json!({})).await;
    let new_kid = rotated["key"]["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    let t0 = Instant::now();
    let bound = Duration::from_secs(SYNC_SECS) + Duration::from_millis(1500);
    for node in [&b, &c] {
        loop {
            let t = create(node, "k").await;
            if kid(&t["accessToken"]["token"]) == new_kid {
                // Tokens signed by the new key verify everywhere, statelessly and with the store.
                for other in [&a, &b, &c] {
                    assert_eq!(verify(other, &t, false).await, "OK");
                    assert_eq!(verify(other, &t, true).await, "OK");
                }
                break;
            }
            assert!(t0.elapsed() < bound, "rotation not picked up within {bound:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let rotation_took = t0.elapsed();

    // A reset through C: tokens issued before it stop verifying on A and B within the bound,
    // and new tokens from A verify everywhere.
    let before = create(&a, "r").await;
    post(&c, "/sessiond/v1/keys/reset", json!({})).await;
    assert_eq!(verify(&c, &before, false).await, "TRY_REFRESH_TOKEN");
    let t0 = Instant::now();
    for node in [&a, &b] {
        while verify(node, &before, false).await != "TRY_REFRESH_TOKEN" {
            assert!(t0.elapsed() < bound, "reset not picked up within {bound:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let reset_took = t0.elapsed();
    let after = loop {
        let t = create(&a, "r").await;
        if verify(&c, &t, false).await == "OK" {
            break t;
        }
        assert!(t0.elapsed() < bound, "A still signs with reset keys");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for node in [&a, &b, &c] {
        assert_eq!(verify(node, &after, true).await, "OK");
    }
    let r = refresh(&b, &before).await;
    assert_eq!(r["status"], "OK", "refresh tokens survive a reset: {r}");
    eprintln!(
        "rotation propagated to B and C in {rotation_took:?}, a reset to A and B in \
         {reset_took:?} (bound {bound:?})"
    );
}

/// The store URL in `var` with `param` (a Redis `prefix=` or a PostgreSQL `schema=`) set to a
/// name of this run's own, or `None` when the test skips.
fn own_namespace(var: &str, param: &str, prefix: &str) -> Option<String> {
    let url = env::service_url(var)?;
    let name = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
    Some(with_param(&url, param, &name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_redis() {
    if let Some(store) = own_namespace("SESSIOND_TEST_REDIS_URL", "prefix", "sdt-mp-") {
        scenario(&store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_redis_cluster() {
    if let Some(store) = own_namespace("SESSIOND_TEST_REDIS_CLUSTER_URL", "prefix", "sdt-mp-") {
        scenario(&store).await;
    }
}

/// SQLite is for one host: several processes may share the file (the README says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    scenario(&format!("sqlite://{}/shared.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_postgres() {
    if let Some(store) = own_namespace("SESSIOND_TEST_POSTGRES_URL", "schema", "sdt_mp_") {
        scenario(&store).await;
    }
}
