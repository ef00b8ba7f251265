//! Durability of the real binary: what it acknowledged survives `kill -9`, and SIGTERM under
//! load answers the requests in flight, refuses new ones and exits 0 without losing a write.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::time::Duration;

use common::{Serve, cli, cli_json, stderr};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_create_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Serve::new().sqlite(dir.path()).spawn().await;
    let url = p.url();
    let created = cli_json(&url, &["session", "create", "--user", "durable"]).await;
    let refresh = created["refreshToken"]["token"].as_str().unwrap();
    let rotated = cli_json(&url, &["session", "refresh", refresh]).await;
    let revoke_me = cli_json(&url, &["session", "create", "--user", "gone"]).await;
    let handle = revoke_me["session"]["handle"].as_str().unwrap();
    let out = cli(&url, &["session", "delete", handle]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    // kill -9 immediately after the acknowledgements.
    let status = p.stop("-KILL", Duration::from_secs(30)).await;
    assert!(!status.success());

    let p = Serve::new().sqlite(dir.path()).spawn().await;
    let url = p.url();
    let access = rotated["accessToken"]["token"].as_str().unwrap();
    let v = cli_json(&url, &["session", "verify", access, "--check-database"]).await;
    assert_eq!(v["status"], "OK");
    let refresh = rotated["refreshToken"]["token"].as_str().unwrap();
    let r = cli_json(&url, &["session", "refresh", refresh]).await;
    assert_eq!(r["status"], "OK", "the rotation was durable too");
    let g = cli(&url, &["session", "get", handle]).await;
    assert!(!g.status.success(), "the revocation was durable");
}

/// SIGTERM under load: requests already in flight get their answer, new connections are
/// refused, the process exits 0, and every create that was acknowledged is there after a
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_acknowledged_write() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let mut p = Serve::new().sqlite(dir.path()).spawn().await;
    let signalled = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let url = p.url();
            let signalled = Arc::clone(&signalled);
            tokio::spawn(async move {
                // One connection per client, as a load balancer would keep.
                let http = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                let (mut acked, mut after_signal, mut refused) = (Vec::new(), 0u32, 0u32);
                for i in 0.. {
                    let sent_after_signal = signalled.load(Ordering::SeqCst);
                    let r = http
                        .post(format!("{url}/public/recipe/session"))
                        .json(&serde_json::json!({"userId": format!("term-{c}-{i}")}))
                        .send()
                        .await;
                    match r {
                        Ok(r) => {
                            assert_eq!(r.status(), 200, "an answered request is a whole answer");
                            let v: Value = r.json().await.expect("a complete body");
                            assert_eq!(v["status"], "OK");
                            if signalled.load(Ordering::SeqCst) {
                                after_signal += 1;
                            }
                            acked.push(v["session"]["handle"].as_str().unwrap().to_owned());
                        }
                        // Refused or closed: the server is going away. Stop after a few.
                        Err(_) if sent_after_signal || signalled.load(Ordering::SeqCst) => {
                            refused += 1;
                            if refused >= 3 {
                                break;
                            }
                        }
                        Err(e) => panic!("request failed before SIGTERM: {e}"),
                    }
                }
                (acked, after_signal)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    signalled.store(true, Ordering::SeqCst);
    let status = p.stop("-TERM", Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status}");
    let (mut acked, mut after_signal) = (Vec::new(), 0);
    for c in clients {
        let (a, n) = c.await.unwrap();
        acked.extend(a);
        after_signal += n;
    }
    assert!(acked.len() > 16, "load ran: {}", acked.len());

    let p = Serve::new().sqlite(dir.path()).spawn().await;
    let api = p.api();
    for h in &acked {
        let (_, v) = api.session(h).await;
        assert_eq!(v["status"], "OK", "acknowledged session {h} lost");
    }
    eprintln!(
        "{} creates acknowledged, {after_signal} of them answered after SIGTERM; all survived",
        acked.len()
    );
}
