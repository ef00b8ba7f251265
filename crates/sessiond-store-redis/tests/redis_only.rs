//! Behaviour only the Redis store has: `wait_replicas` and readiness against a real primary and
//! replica that the test starts on free loopback ports (never the shared server), and the sweep
//! of pointers to account-linked sessions.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sessiond_core::model::{SessionFlags, new_handle, user_tag};
use sessiond_core::store::EventKind;
use sessiond_core::{ClientInfo, SessionRecord, Store, StoreError};
use sessiond_store_redis::RedisStore;
use sessiond_store_tests::env;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn cli(port: u16, args: &[&str]) -> String {
    let out =
        Command::new("redis-cli").args(["-p", &port.to_string()]).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A redis-server of the test's own; shut down on drop.
struct Server {
    port: u16,
    pid: String,
}

impl Server {
    fn start(dir: &Path, name: &str, extra: &[&str]) -> Self {
        let port = free_port();
        let pidfile = dir.join(format!("{name}.pid"));
        let status = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--daemonize", "yes", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .arg("--pidfile")
            .arg(&pidfile)
            .arg("--logfile")
            .arg(dir.join(format!("{name}.log")))
            .args(extra)
            .status()
            .unwrap();
        assert!(status.success());
        for _ in 0..100 {
            if cli(port, &["ping"]).starts_with("PONG") && pidfile.exists() {
                let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
                return Self { port, pid };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server {name} did not start");
    }

    fn signal(&self, sig: &str) {
        assert!(Command::new("kill").args([sig, &self.pid]).status().unwrap().success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = cli(self.port, &["shutdown", "nosave"]);
    }
}

fn record(user: &str, recipe: &str, now: i64, absolute: i64) -> SessionRecord {
    SessionRecord {
        handle: new_handle("public", user, "public"),
        app_id: "public".to_owned(),
        tenant_id: "public".to_owned(),
        user_id: user.to_owned(),
        recipe_user_id: recipe.to_owned(),
        public_data: "{}".to_owned(),
        private_data: "{}".to_owned(),
        created_at: now,
        last_active_at: now,
        rotated_at: now,
        expires_at: absolute.min(now + 3_600_000),
        absolute_expires_at: absolute,
        generation: 0,
        refresh_hash: [3u8; 32],
        access_hash: None,
        flags: SessionFlags::default(),
        version: 0,
        client: ClientInfo::default(),
        recent_rotations: Vec::new(),
    }
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
    )
    .unwrap()
}

/// A directory for the test's own servers; `None` (the test is skipped) when `redis-server` is
/// not installed.
fn own_servers_dir() -> Option<tempfile::TempDir> {
    let installed = Command::new("redis-server").arg("--version").output().is_ok();
    env::prerequisite(installed, "redis-server is not installed")
        .then(|| tempfile::tempdir().unwrap())
}

/// With `wait_replicas=1` a revocation returns only once the replica has it; with the replica
/// hung it fails (503) after `wait_timeout_ms`, and while it waits, other requests on the same
/// store are not held up behind the `WAIT`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocations_wait_for_replicas_without_stalling_other_requests() {
    let Some(dir) = own_servers_dir() else { return };
    let primary = Server::start(dir.path(), "primary", &[]);
    let replica = Server::start(
        dir.path(),
        "replica",
        &["--replicaof", "127.0.0.1", &primary.port.to_string()],
    );
    let t0 = Instant::now();
    while !cli(replica.port, &["info", "replication"]).contains("master_link_status:up") {
        assert!(t0.elapsed() < Duration::from_secs(10), "replica never synced");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A read-only replica is not a store sessiond can use: the readiness check (also run by
    // connect) writes.
    let r = RedisStore::connect(&format!("redis://127.0.0.1:{}?prefix=wr", replica.port)).await;
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    let url = format!(
        "redis://127.0.0.1:{}?prefix=wr&wait_replicas=1&wait_timeout_ms=1500&timeout_ms=500",
        primary.port
    );
    let store: Arc<dyn Store> = Arc::new(RedisStore::connect(&url).await.unwrap());
    let now = now_ms();
    let a = record("ann", "ann", now, now + 7_200_000);
    let b = record("bob", "bob", now, now + 7_200_000);
    store.create_session(&a).await.unwrap();
    store.create_session(&b).await.unwrap();

    // Acknowledged only once the replica has it.
    assert_eq!(
        store.delete_sessions(std::slice::from_ref(&a.handle)).await.unwrap(),
        vec![a.handle.clone()]
    );
    let key = format!("{{wr:{:03x}}}:s:{}", user_tag("public", "ann"), a.handle);
    assert_eq!(cli(replica.port, &["exists", &key]).trim(), "0");
    // So is the revocation event announcing it.
    store.append_events(&[EventKind::Revoked { handle: a.handle.clone() }], now).await.unwrap();
    assert_eq!(cli(replica.port, &["xlen", "{wr:events}:log"]).trim(), "1");

    // The replica hangs: the revocation cannot be confirmed, and says so.
    replica.signal("-STOP");
    let revoker = {
        let store = Arc::clone(&store);
        let h = b.handle.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let r = store.delete_sessions(std::slice::from_ref(&h)).await;
            (r, t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Meanwhile reads and writes on the store go on at their usual speed.
    for _ in 0..20 {
        let t = Instant::now();
        store.load_session(&b.handle, now).await.unwrap();
        store.touch_session(&b.handle, now + 1, now + 3_600_000).await.unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(300),
            "a request waited {:?} behind a WAIT",
            t.elapsed()
        );
    }
    let (r, took) = revoker.await.unwrap();
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_secs(3), "{took:?}");
    replica.signal("-CONT");
}

/// Pointers from a recipe user to its account-linked sessions are swept once the session is
/// past its absolute lifetime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_drops_pointers_to_dead_linked_sessions() {
    let Some(url) = env::service_url(common::NODE_VAR) else {
        return;
    };
    let (store_url, prefix) = common::prefixed(&url);
    let store = RedisStore::connect(&store_url).await.unwrap();
    let now = now_ms();
    let short = record("primary-user", "login-method-1", now, now + 1_000);
    let long = record("primary-user", "login-method-1", now, now + 7_200_000);
    store.create_session(&short).await.unwrap();
    store.create_session(&long).await.unwrap();
    let mut redis = redis::Client::open(url.split('?').next().unwrap())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let pointers = format!("{{{prefix}:{:03x}}}:r", user_tag("public", "login-method-1"));
    let zcard = async |c: &mut redis::aio::MultiplexedConnection| {
        redis::cmd("ZCARD").arg(&pointers).query_async::<i64>(c).await.unwrap()
    };
    assert_eq!(zcard(&mut redis).await, 2);
    store.delete_expired(now + 2_000, 1000).await.unwrap();
    assert_eq!(
        zcard(&mut redis).await,
        1,
        "the dead session's pointer is gone, the live one's stays"
    );
    store.wipe().await.unwrap();
}

/// The stream reader that pushes revocation events comes back by itself when the server drops
/// every connection (`CLIENT KILL`), and pushes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_reader_reconnects_after_its_connection_is_killed() {
    let Some(dir) = own_servers_dir() else { return };
    let server = Server::start(dir.path(), "events", &[]);
    let url = format!("redis://127.0.0.1:{}?prefix=ev&timeout_ms=500", server.port);
    let a = RedisStore::connect(&url).await.unwrap();
    let b = RedisStore::connect(&url).await.unwrap();
    let mut signal = b.event_signal().unwrap();
    let mut n = 0;
    let mut pushed = async |signal: &mut tokio::sync::watch::Receiver<u64>| {
        for _ in 0..20 {
            n += 1;
            // A's own connection fails once after the kill, then is back.
            let Ok(page) = a.events_since(0, 100_000).await else {
                continue;
            };
            let known = page.events.last().map_or(0, |e| e.cursor);
            let appended =
                a.append_events(&[EventKind::Revoked { handle: format!("h{n}") }], now_ms()).await;
            if appended.is_err() {
                continue;
            }
            if tokio::time::timeout(Duration::from_millis(500), signal.wait_for(|v| *v > known))
                .await
                .is_ok()
            {
                return true;
            }
        }
        false
    };
    assert!(pushed(&mut signal).await, "pushed before");
    let xreads =
        cli(server.port, &["client", "list"]).lines().filter(|l| l.contains("cmd=xread")).count();
    assert_eq!(xreads, 1, "one blocking reader, on its own connection");
    cli(server.port, &["client", "kill", "type", "normal"]);
    // A's own connection reconnects by itself too; give the reader its backoff.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(pushed(&mut signal).await, "pushed after the reconnect");
}
