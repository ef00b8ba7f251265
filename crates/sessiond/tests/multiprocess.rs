//! Several `sessiond serve` processes on one store (PostgreSQL, Redis, Redis Cluster, and one
//! SQLite file on one host): every process sees every write at once, keys are created once,
//! rotations and resets propagate within the documented bound (`key_sync_interval` plus one
//! reload).

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_sessiond");
/// The key-sync interval the processes run with: the documented propagation bound.
const SYNC_SECS: u64 = 1;

struct Node {
    _child: Child,
    url: String,
}

async fn spawn(store: &str) -> Child {
    Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            store,
            "--log-format",
            "json",
        ])
        .args(["--key-sync-interval", &SYNC_SECS.to_string()])
        .env_remove("SESSIOND_API_KEYS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn ready(mut child: Child) -> Node {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["message"] == "sessiond listening"
            {
                return v["addr"].as_str().unwrap().to_owned();
            }
        }
        panic!("sessiond exited before listening");
    })
    .await
    .expect("sessiond did not start");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Node {
        _child: child,
        url: format!("http://{addr}"),
    }
}

/// Three processes started at the same instant on an empty store.
async fn three(store: &str) -> (Node, Node, Node) {
    let (a, b, c) = tokio::join!(spawn(store), spawn(store), spawn(store));
    let (a, b, c) = tokio::join!(ready(a), ready(b), ready(c));
    (a, b, c)
}

async fn post(node: &Node, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", node.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

async fn get(node: &Node, path: &str) -> Value {
    reqwest::get(format!("{}{path}", node.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn create(node: &Node, user: &str) -> Value {
    post(
        node,
        "/public/recipe/session",
        json!({"userId": user, "enableAntiCsrf": false}),
    )
    .await
}

async fn verify(node: &Node, token: &Value, check_db: bool) -> String {
    let v = post(
        node,
        "/recipe/session/verify",
        json!({"accessToken": token, "doAntiCsrfCheck": false, "checkDatabase": check_db}),
    )
    .await;
    v["status"].as_str().unwrap().to_owned()
}

async fn refresh(node: &Node, token: &Value) -> Value {
    post(
        node,
        "/recipe/session/refresh",
        json!({"refreshToken": token, "enableAntiCsrf": false}),
    )
    .await
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
    let kids: Vec<&str> = ja["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids.iter().filter(|k| k.starts_with("d-")).count(),
        1,
        "{kids:?}"
    );
    assert_eq!(
        kids.iter().filter(|k| k.starts_with("s-")).count(),
        1,
        "{kids:?}"
    );
    assert_eq!(ja, jb);
    assert_eq!(ja, jc);
    // Every key, not just the published ones: one of each kind, the same everywhere.
    let (ka, kb, kc) = tokio::join!(
        get(&a, "/sessiond/v1/keys"),
        get(&b, "/sessiond/v1/keys"),
        get(&c, "/sessiond/v1/keys")
    );
    let mut kinds: Vec<&str> = ka["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["chain", "dynamic", "static"], "{ka}");
    assert_eq!(ka, kb);
    assert_eq!(ka, kc);

    // Create on A, verify (store check) on B, refresh on C, revoke on A: seen everywhere at once.
    let s = create(&a, "multi").await;
    assert_eq!(verify(&b, &s["accessToken"]["token"], true).await, "OK");
    let r = refresh(&c, &s["refreshToken"]["token"]).await;
    assert_eq!(r["status"], "OK");
    assert_eq!(verify(&a, &r["accessToken"]["token"], true).await, "OK");
    let handle = s["session"]["handle"].clone();
    // Both watchers accept the token statelessly before the revoke…
    for node in [&b, &c] {
        assert_eq!(verify(node, &r["accessToken"]["token"], false).await, "OK");
    }
    let removed = post(
        &a,
        "/recipe/session/remove",
        json!({"sessionHandles": [handle]}),
    )
    .await;
    assert_eq!(
        removed["sessionHandlesRevoked"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        verify(&b, &r["accessToken"]["token"], true).await,
        "UNAUTHORISED"
    );
    assert_eq!(
        verify(&c, &r["accessToken"]["token"], true).await,
        "UNAUTHORISED"
    );
    assert_eq!(
        refresh(&b, &r["refreshToken"]["token"]).await["status"],
        "UNAUTHORISED"
    );
    // …and refuse it within a second after, without a store check: the revocation feed.
    let revoked_at = Instant::now();
    for node in [&b, &c] {
        while verify(node, &r["accessToken"]["token"], false).await != "UNAUTHORISED" {
            assert!(
                revoked_at.elapsed() < Duration::from_secs(1),
                "a stateless verify on another process still accepts a revoked session"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    // One token refreshed on all three processes at once: one successor.
    let s = create(&b, "multi2").await;
    let rt = s["refreshToken"]["token"].clone();
    let (x, y, z) = tokio::join!(refresh(&a, &rt), refresh(&b, &rt), refresh(&c, &rt));
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
                    assert_eq!(verify(other, &t["accessToken"]["token"], false).await, "OK");
                    assert_eq!(verify(other, &t["accessToken"]["token"], true).await, "OK");
                }
                break;
            }
            assert!(
                t0.elapsed() < bound,
                "rotation not picked up within {bound:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let rotation_took = t0.elapsed();

    // A reset through C: tokens issued before it stop verifying on A and B within the bound,
    // and new tokens from A verify everywhere.
    let before = create(&a, "r").await;
    let (code, _) = {
        let r = reqwest::Client::new()
            .post(format!("{}/sessiond/v1/keys/reset", c.url))
            .send()
            .await
            .unwrap();
        (r.status(), ())
    };
    assert_eq!(code, 200);
    assert_eq!(
        verify(&c, &before["accessToken"]["token"], false).await,
        "TRY_REFRESH_TOKEN"
    );
    let t0 = Instant::now();
    for node in [&a, &b] {
        while verify(node, &before["accessToken"]["token"], false).await != "TRY_REFRESH_TOKEN" {
            assert!(t0.elapsed() < bound, "reset not picked up within {bound:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let reset_took = t0.elapsed();
    let after = loop {
        let t = create(&a, "r").await;
        if verify(&c, &t["accessToken"]["token"], false).await == "OK" {
            break t;
        }
        assert!(t0.elapsed() < bound, "A still signs with reset keys");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for node in [&a, &b, &c] {
        assert_eq!(
            verify(node, &after["accessToken"]["token"], true).await,
            "OK"
        );
    }
    let r = refresh(&b, &before["refreshToken"]["token"]).await;
    assert_eq!(r["status"], "OK", "refresh tokens survive a reset: {r}");
    eprintln!(
        "rotation propagated to B and C in {rotation_took:?}, a reset to A and B in \
         {reset_took:?} (bound {bound:?})"
    );
}

fn url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(u) => Some(u),
        Err(_) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but {var} is not set"
            );
            eprintln!("SKIP: {var} not set");
            None
        }
    }
}

fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_redis() {
    let Some(u) = url("SESSIOND_TEST_REDIS_URL") else {
        return;
    };
    scenario(&with_param(
        &u,
        &format!("prefix=sdt-mp-{}", uuid::Uuid::new_v4().simple()),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_redis_cluster() {
    let Some(u) = url("SESSIOND_TEST_REDIS_CLUSTER_URL") else {
        return;
    };
    scenario(&with_param(
        &u,
        &format!("prefix=sdt-mp-{}", uuid::Uuid::new_v4().simple()),
    ))
    .await;
}

/// SQLite is for one host: several processes may share the file (the README says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    scenario(&format!("sqlite://{}/shared.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_postgres() {
    let Some(u) = url("SESSIOND_TEST_POSTGRES_URL") else {
        return;
    };
    scenario(&with_param(
        &u,
        &format!("schema=sdt_mp_{}", uuid::Uuid::new_v4().simple()),
    ))
    .await;
}
