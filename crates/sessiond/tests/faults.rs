//! Store faults: the test starts its own Redis / PostgreSQL (never the shared ones), kills it
//! under load and restarts it, then pauses it (SIGSTOP: sockets open, no answers) and resumes
//! it. While it is down or hung, requests that need it (create, refresh, revoke, checked
//! verify) get 503 `STORE_UNAVAILABLE` within the store's timeout, stateless verification is OK
//! or, while the revocation feed cannot read the store, 503 too (it fails closed), nothing
//! answers "valid" for a revoked session or "logged out" for a live one, and nothing panics;
//! afterwards sessiond recovers by itself and no acknowledged create, refresh or revoke is lost.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::http::{Api, ok, store_down};
use common::postgres::{self, Cluster};
use common::redis::OwnRedis;
use common::{Serve, kill};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// A store server the test owns ([`OwnRedis`], [`Cluster`]).
trait Instance: Send + Sync {
    fn url(&self) -> String;
    /// Kills it: `kill -9`, or an immediate shutdown (no checkpoint, like a crash).
    fn kill(&self);
    fn start(&self);
    /// SIGSTOP to every process of the server: sockets open, no answers.
    fn pause(&self);
    /// SIGCONT: it answers again.
    fn resume(&self);
}

impl Instance for OwnRedis {
    fn url(&self) -> String {
        self.url("prefix=fault&timeout_ms=500")
    }

    fn kill(&self) {
        self.kill();
    }

    fn start(&self) {
        self.start();
    }

    fn pause(&self) {
        kill("-STOP", &self.pid());
    }

    fn resume(&self) {
        kill("-CONT", &self.pid());
    }
}

impl Instance for Cluster {
    fn url(&self) -> String {
        self.url("schema=sdt_fault&timeout_ms=500")
    }

    fn kill(&self) {
        self.stop_immediate();
    }

    fn start(&self) {
        self.start();
    }

    fn pause(&self) {
        self.pause();
    }

    fn resume(&self) {
        self.resume();
    }
}

/// Per operation: how often it succeeded and how often it got 503 `STORE_UNAVAILABLE`.
type Tally = Arc<Mutex<BTreeMap<&'static str, (u32, u32)>>>;

fn tally(t: &Tally, op: &'static str, ok: bool) {
    let mut t = t.lock();
    let e = t.entry(op).or_default();
    if ok {
        e.0 += 1;
    } else {
        e.1 += 1;
    }
}

/// What the load acknowledged: it must all still be true afterwards.
#[derive(Default)]
struct Acked {
    creates: Vec<Value>,
    /// Sessions whose revocation was acknowledged.
    revoked: Vec<Value>,
    /// The latest acknowledged refresh of each worker's own session.
    refreshed: BTreeMap<usize, Value>,
}

/// One load worker: stateless and checked verifies, creates, a refresh chain of its own, and
/// create-then-revoke, recording what was acknowledged and anything that breaks a rule.
#[derive(Clone)]
struct Load {
    api: Api,
    live: Vec<Value>,
    gone: Value,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acked>>,
    tally: Tally,
    bad: Arc<Mutex<Vec<String>>>,
}

async fn worker(w: usize, load: Load) {
    let Load { api, live, gone, stop, acked, tally: tally_, bad } = load;
    let (_, mine) = api.create(&format!("chain-{w}")).await;
    let mut refresh_token =
        mine["refreshToken"]["token"].as_str().unwrap_or_else(|| panic!("{mine}")).to_owned();
    // Sessions to revoke, each with whether its revocation is a retry after a 503; a few made
    // up front so the outage always finds some.
    let mut pending = std::collections::VecDeque::new();
    for j in 0..6 {
        let (st, v) = api.create(&format!("rev-{w}-{j}")).await;
        assert_eq!(st, 200, "{v}");
        pending.push_back((v, false));
    }
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let s = &live[(i + w) % live.len()];
        // Stateless verification: OK while the revocation feed is current; 503 while the
        // store is down and the feed cannot be read (it then asks the store, failing closed);
        // never "logged out".
        let (st, v) = api.verify(s, false).await;
        if ok(st, &v) || store_down(st, &v) {
            tally(&tally_, "stateless verify", st == 200);
        } else {
            bad.lock().push(format!("stateless verify: {st} {v}"));
        }
        // With the store check: OK, or 503 while down; never "logged out".
        let (st, v) = api.verify(s, true).await;
        // Whether this round already met the outage: the revoke below then draws on the
        // reserve, so every outage finds sessions to revoke.
        let mut down_now = store_down(st, &v);
        if ok(st, &v) || store_down(st, &v) {
            tally(&tally_, "checked verify", st == 200);
        } else {
            bad.lock().push(format!("checked verify of a live session: {st} {v}"));
        }
        // A revoked session is never valid.
        let (st, v) = api.verify(&gone, true).await;
        if !(st == 200 && v["status"] == "UNAUTHORISED" || store_down(st, &v)) {
            bad.lock().push(format!("checked verify of a revoked session: {st} {v}"));
        }
        // Refresh: a 503 may or may not have rotated; the retry with the same token lands in
        // the grace window and gets the same successor, so the chain never breaks.
        let (st, v) = api.refresh(&refresh_token).await;
        if ok(st, &v) {
            tally(&tally_, "refresh", true);
            refresh_token = v["refreshToken"]["token"].as_str().unwrap().to_owned();
            acked.lock().refreshed.insert(w, v);
        } else if store_down(st, &v) {
            down_now = true;
            tally(&tally_, "refresh", false);
        } else {
            bad.lock().push(format!("refresh of a live session: {st} {v}"));
        }
        // Revoke the session created in an earlier round. After a 503 the revocation may or
        // may not have happened, so the retry may find the session gone: both are fine then.
        // A reserve of four stays queued while the store answers; a round that met the outage
        // revokes from it, so an outage always finds sessions to revoke.
        let revoke_now = pending.len() > 4 || down_now;
        if let Some((v, retry)) = revoke_now.then(|| pending.pop_front()).flatten() {
            let h = &v["session"]["handle"];
            let (st, r) = api.revoke(&[h]).await;
            if st == 200
                && (r["sessionHandlesRevoked"] == json!([h])
                    || retry && r["sessionHandlesRevoked"] == json!([]))
            {
                tally(&tally_, "revoke", true);
                acked.lock().revoked.push(v);
            } else if store_down(st, &r) {
                tally(&tally_, "revoke", false);
                pending.push_front((v, true));
            } else {
                bad.lock().push(format!("revoke of an acknowledged create: {st} {r}"));
            }
        }
        // Create; every other session stays (checked at the end), the rest are revoked.
        let (st, v) = api.create(&format!("load-{w}-{i}")).await;
        if st == 200 {
            tally(&tally_, "create", true);
            if i % 2 == 1 {
                pending.push_back((v, false));
            } else {
                acked.lock().creates.push(v);
            }
        } else if store_down(st, &v) {
            tally(&tally_, "create", false);
        } else {
            bad.lock().push(format!("create: {st} {v}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until a store-checked verify succeeds again; returns how long it took.
async fn recovery(api: &Api, live: &Value) -> Duration {
    let since = Instant::now();
    loop {
        let (st, v) = api.verify(live, true).await;
        if ok(st, &v) {
            return since.elapsed();
        }
        assert!(since.elapsed() < Duration::from_secs(15), "no recovery within 15 s: {st} {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scenario(instance: Arc<dyn Instance>) {
    let sd = Serve::new().store(&instance.url()).spawn().await;
    let api = Api::with_timeout(&sd.url(), Duration::from_secs(10));

    // Acknowledged before the fault: live sessions and one revocation.
    let mut live = Vec::new();
    for i in 0..10 {
        let (s, v) = api.create(&format!("f{i}")).await;
        assert_eq!(s, 200);
        live.push(v);
    }
    let (_, gone) = api.create("gone").await;
    let (s, v) = api.revoke(&[&gone["session"]["handle"]]).await;
    assert_eq!((s, v["sessionHandlesRevoked"].as_array().unwrap().len()), (200, 1));
    let errors_before = api.store_errors().await;

    // Load from several tasks while the store dies and comes back, then hangs and resumes.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Acked::default()));
    let tally_: Tally = Arc::default();
    let violations = Arc::new(Mutex::new(Vec::<String>::new()));
    let load = Load {
        api: api.clone(),
        live: live.clone(),
        gone: gone.clone(),
        stop: Arc::clone(&stop),
        acked: Arc::clone(&acked),
        tally: Arc::clone(&tally_),
        bad: Arc::clone(&violations),
    };
    let tasks: Vec<_> = (0..4).map(|w| tokio::spawn(worker(w, load.clone()))).collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before_kill = {
        let a = acked.lock();
        a.creates.len() + a.revoked.len()
    };

    // 1. The server dies (kill -9 / immediate shutdown) and is restarted.
    instance.kill();
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    api.assert_alive_without_store("while the store is down").await;
    instance.start();
    let restarted_at = Instant::now();
    let recovered = recovery(&api, &live[0]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 2. The server hangs: its sockets stay open but nothing answers. Requests that need it
    //    must fail within the store timeout (500 ms here), not hang.
    instance.pause();
    let paused_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = Instant::now();
    let (st, v) = api.verify(&live[1], true).await;
    let hung_answer = t.elapsed();
    assert!(store_down(st, &v), "checked verify with the store hung: {st} {v}");
    assert!(
        hung_answer < Duration::from_secs(3),
        "a hung store held a request for {hung_answer:?}"
    );
    api.assert_alive_without_store("while the store hangs").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    instance.resume();
    let resumed_at = Instant::now();
    let recovered_from_pause = recovery(&api, &live[0]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let violations = violations.lock().clone();
    assert!(
        violations.is_empty(),
        "{} violations, e.g. {:?}",
        violations.len(),
        &violations[..violations.len().min(5)]
    );
    // Every operation that needs the store really met the outage, and really worked around it.
    let tally_ = tally_.lock().clone();
    let (worked, _) = tally_.get("stateless verify").copied().unwrap_or_default();
    assert!(worked > 0, "stateless verify never worked: {tally_:?}");
    for op in ["checked verify", "refresh", "create", "revoke"] {
        let (worked, down) = tally_.get(op).copied().unwrap_or_default();
        assert!(worked > 0 && down > 0, "{op}: {worked} ok, {down} x 503 ({tally_:?})");
    }

    // Nothing acknowledged was lost: every acked create verifies against the store, every
    // acked revocation holds, every worker's latest acked refresh is its session's current one.
    let acked = std::mem::take(&mut *acked.lock());
    let checks = acked
        .creates
        .iter()
        .chain(&live)
        .map(|s| (s, "OK", "acknowledged session lost"))
        .chain(
            acked
                .revoked
                .iter()
                .chain([&gone])
                .map(|s| (s, "UNAUTHORISED", "acknowledged revocation lost")),
        )
        .chain(acked.refreshed.values().map(|r| (r, "OK", "a worker's latest refresh lost")));
    for (s, expected, what) in checks {
        let (st, v) = api.verify(s, true).await;
        assert_eq!(
            (st, v["status"].as_str()),
            (200, Some(expected)),
            "{what}: {}",
            s["session"]["handle"]
        );
    }
    for (w, r) in &acked.refreshed {
        let (st, v) = api.refresh(r["refreshToken"]["token"].as_str().unwrap()).await;
        assert!(
            ok(st, &v),
            "worker {w}: the latest acknowledged refresh token still refreshes: {st} {v}"
        );
    }
    // Failures were counted, and nothing panicked.
    let errors_after = api.store_errors().await;
    assert!(
        errors_after > errors_before,
        "sessiond_store_errors_total {errors_before} -> {errors_after}"
    );
    let panics = sd.panics();
    assert!(panics.is_empty(), "sessiond panicked: {panics:?}");
    eprintln!(
        "outage {:?}, recovered {:?} after restart; hang {:?}, answered 503 in {:?}, recovered \
         {:?} after resume; {} creates and {} revokes acknowledged ({} before the kill); {:?}",
        restarted_at - killed_at,
        recovered,
        resumed_at - paused_at,
        hung_answer,
        recovered_from_pause,
        acked.creates.len(),
        acked.revoked.len(),
        before_kill,
        tally_
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_under_load() {
    let Some(redis) = OwnRedis::new() else {
        return;
    };
    redis.start();
    scenario(Arc::new(redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_under_load() {
    let Some(tools) = postgres::tools() else {
        return;
    };
    let cluster = tokio::task::block_in_place(|| {
        let c = Cluster::init(tools);
        c.start();
        c
    });
    scenario(Arc::new(cluster)).await;
}
