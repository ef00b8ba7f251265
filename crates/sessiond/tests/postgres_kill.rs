//! `kill -9` of a PostgreSQL the test owns, under load: nothing acknowledged is lost, and
//! sessiond recovers by itself.
//!
//! The test runs its own cluster ([`common::postgres::Cluster`]: never the shared server on
//! 5432, `fsync` on). A real `sessiond serve` uses it (store URL with `timeout_ms=500`, so that
//! calls fail fast while the cluster is dead and each load task goes through every kind of call
//! several times meanwhile). Four tasks create, refresh and revoke sessions. Mid-load every
//! process of the cluster, the postmaster and all its backends, gets SIGKILL at once, and the
//! load keeps going:
//!
//! - every call is 200 `OK` or 503 `STORE_UNAVAILABLE`: never another error, no answer at all,
//!   or a crash of sessiond;
//! - nothing is acknowledged while the cluster is dead;
//! - `/readyz` is 503 and `/healthz` 200.
//!
//! The cluster then restarts on the same folder and port (crash recovery from the WAL). Then:
//!
//! - sessiond becomes ready by itself, without a restart; no call made after that fails, and
//!   creates succeed again;
//! - every acknowledged create is found with its data;
//! - every acknowledged refresh holds: each one's token is used by the next refresh of that
//!   session, and the latest one's still refreshes at the end;
//! - every acknowledged revoke holds: the session is not found, its refresh token is refused.
//!
//! It takes 8–17 s here, of which 0.2–3.7 s is the restart's crash recovery.
//!
//! Needs the PostgreSQL server binaries and, as root, `runuser` and a `postgres` user. Without
//! them it prints a skip line, or fails under `CI=true`.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::Serve;
use common::http::{Api, ok, store_down};
use common::postgres::{self, Cluster};
use serde_json::json;

/// Load tasks.
const WORKERS: usize = 4;
/// Load before the kill.
const WARM_UP: Duration = Duration::from_millis(1500);
/// How long the cluster stays dead, load running. Short enough that a refresh retried after a
/// 503 still lands in the default 10 s grace window when the restart's crash recovery is slow.
const OUTAGE: Duration = Duration::from_millis(2500);
/// Load after sessiond is ready again.
const AFTERWARDS: Duration = Duration::from_millis(1500);
/// A session to revoke waits this long in its worker's queue, so some are always queued when
/// the cluster dies and come due while it is dead.
const REVOKE_AFTER: Duration = Duration::from_millis(150);
/// The whole scenario after `initdb`.
const SCENARIO_BOUND: Duration = Duration::from_secs(50);

// ---------------------------------------------------------------------------------------------
// Load.

/// A session whose create was acknowledged, with its latest acknowledged refresh token.
#[derive(Clone, Debug)]
struct Sess {
    handle: String,
    user: String,
    /// Its create's number in its worker, stored as its `userDataInDatabase`.
    n: u64,
    refresh: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Create,
    Refresh,
    Revoke,
}

/// One call of the load and whether it was acknowledged (else it was 503 `STORE_UNAVAILABLE`).
struct Op {
    kind: Kind,
    start: Instant,
    end: Instant,
    acked: bool,
}

/// What one worker saw.
#[derive(Default)]
struct Record {
    /// Acknowledged creates that are not to be revoked.
    live: Vec<Sess>,
    /// Acknowledged revokes.
    revoked: Vec<Sess>,
    ops: Vec<Op>,
    /// Answers that break a rule.
    bad: Vec<String>,
}

impl Record {
    fn op(&mut self, kind: Kind, start: Instant, acked: bool) {
        self.ops.push(Op { kind, start, end: Instant::now(), acked });
    }
}

/// Creates a session per round; refreshes one of its live sessions per round (a refresh that
/// got a 503 is retried with the same token first: if it did rotate, the grace window hands back
/// the same successor); revokes every third session it created, [`REVOKE_AFTER`] later (a
/// revoke that got a 503 is retried: it may have happened, so the retry may find nothing to
/// revoke).
/// After `stop` it finishes its retries and queued revokes.
async fn worker(w: usize, api: Arc<Api>, stop: Arc<AtomicBool>) -> Record {
    let mut rec = Record::default();
    // Sessions to revoke: since when queued, and whether the revoke is a retry after a 503.
    let mut to_revoke: VecDeque<(Sess, Instant, bool)> = VecDeque::new();
    // A refresh that got a 503: the session, and when its first attempt failed.
    let mut pending_refresh: Option<(usize, Instant)> = None;
    let mut next = 0usize;
    let mut n = 0u64;
    let mut stopping_since: Option<Instant> = None;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if stopping {
            let since = *stopping_since.get_or_insert_with(Instant::now);
            if pending_refresh.is_none() && to_revoke.is_empty() {
                break;
            }
            if since.elapsed() > Duration::from_secs(15) {
                rec.bad
                    .push(format!("worker {w}: retries still failing 15 s after the load stopped"));
                break;
            }
        }

        if !stopping {
            n += 1;
            let user = format!("w{w}-{n}");
            let start = Instant::now();
            let (st, v) = api
                .post(
                    "/public/recipe/session",
                    json!({
                        "userId": user,
                        "userDataInJWT": {"w": w},
                        "userDataInDatabase": {"n": n},
                        "enableAntiCsrf": false
                    }),
                )
                .await;
            if ok(st, &v) {
                rec.op(Kind::Create, start, true);
                let s = Sess {
                    handle: v["session"]["handle"].as_str().unwrap().to_owned(),
                    user,
                    n,
                    refresh: v["refreshToken"]["token"].as_str().unwrap().to_owned(),
                };
                if n.is_multiple_of(3) {
                    to_revoke.push_back((s, Instant::now(), false));
                } else {
                    rec.live.push(s);
                }
            } else if store_down(st, &v) {
                rec.op(Kind::Create, start, false);
            } else {
                rec.bad.push(format!("create: {st} {v}"));
            }
        }

        let target = pending_refresh.map(|(t, _)| t).or_else(|| {
            (!stopping && !rec.live.is_empty()).then(|| {
                next = (next + 1) % rec.live.len();
                next
            })
        });
        if let Some(t) = target {
            let start = Instant::now();
            let (st, v) = api.refresh(&rec.live[t].refresh).await;
            if ok(st, &v) {
                rec.op(Kind::Refresh, start, true);
                rec.live[t].refresh = v["refreshToken"]["token"].as_str().unwrap().to_owned();
                pending_refresh = None;
            } else if store_down(st, &v) {
                rec.op(Kind::Refresh, start, false);
                pending_refresh.get_or_insert((t, start));
            } else {
                rec.bad.push(format!(
                    "refresh of {} ({}): {st} {v}",
                    rec.live[t].handle,
                    pending_refresh.map_or("a first attempt".to_owned(), |(_, first)| format!(
                        "a retry, {:?} after the first attempt got a 503",
                        start - first
                    ))
                ));
                pending_refresh = None;
            }
        }

        if to_revoke
            .front()
            .is_some_and(|(_, queued, _)| stopping || queued.elapsed() >= REVOKE_AFTER)
        {
            let (s, queued, retry) = to_revoke.pop_front().unwrap();
            let start = Instant::now();
            let (st, v) =
                api.post("/recipe/session/remove", json!({"sessionHandles": [s.handle]})).await;
            if ok(st, &v)
                && (v["sessionHandlesRevoked"] == json!([s.handle])
                    || retry && v["sessionHandlesRevoked"] == json!([]))
            {
                rec.op(Kind::Revoke, start, true);
                rec.revoked.push(s);
            } else if store_down(st, &v) {
                rec.op(Kind::Revoke, start, false);
                to_revoke.push_front((s, queued, true));
            } else {
                rec.bad.push(format!(
                    "revoke of the acknowledged session {} (a retry: {retry}): {st} {v}",
                    s.handle
                ));
            }
        }

        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    rec
}

/// What a worker acknowledged is still true: creates found with their data, the latest
/// refresh token of each live session refreshes, revoked sessions stay revoked.
async fn check_acknowledged(api: Arc<Api>, rec: Arc<Record>) -> Vec<String> {
    let mut lost = Vec::new();
    for s in &rec.live {
        let (st, v) = api.session(&s.handle).await;
        if !(ok(st, &v) && v["userId"] == s.user && v["userDataInDatabase"] == json!({"n": s.n})) {
            lost.push(format!("acknowledged create of {} ({}): {st} {v}", s.handle, s.user));
            continue;
        }
        let (st, v) = api.refresh(&s.refresh).await;
        if !ok(st, &v) {
            lost.push(format!("the latest acknowledged refresh token of {}: {st} {v}", s.handle));
        }
    }
    for s in &rec.revoked {
        let (st, v) = api.session(&s.handle).await;
        if !(st == 200 && v["status"] == "UNAUTHORISED") {
            lost.push(format!("acknowledged revoke of {}: GET {st} {v}", s.handle));
        }
        let (st, v) = api.refresh(&s.refresh).await;
        if !(st == 200 && v["status"] == "UNAUTHORISED") {
            lost.push(format!("acknowledged revoke of {}: refresh {st} {v}", s.handle));
        }
    }
    lost
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_under_load_loses_nothing_acknowledged_and_sessiond_recovers_by_itself() {
    let Some(tools) = postgres::tools() else {
        return;
    };
    let t0 = Instant::now();
    let cluster = tokio::task::block_in_place(|| {
        let c = Cluster::init(tools);
        c.start();
        c
    });
    let initialised = t0.elapsed();
    tokio::time::timeout(SCENARIO_BOUND, scenario(&cluster))
        .await
        .unwrap_or_else(|_| panic!("the scenario took more than {SCENARIO_BOUND:?}"));
    eprintln!("initdb and first start {initialised:?}, whole test {:?}", t0.elapsed());
}

async fn scenario(cluster: &Cluster) {
    let mut sd = Serve::new().store(&cluster.url("timeout_ms=500")).spawn().await;
    let api = Arc::new(Api::with_timeout(&sd.url(), Duration::from_secs(10)));
    api.until_ready(Duration::from_secs(15)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| tokio::spawn(worker(w, Arc::clone(&api), Arc::clone(&stop))))
        .collect();
    tokio::time::sleep(WARM_UP).await;

    // kill -9 of every process of the cluster, mid-load.
    let kill_at = Instant::now();
    let killed = tokio::task::block_in_place(|| cluster.kill9());
    let dead_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    api.assert_alive_without_store("with the cluster dead").await;
    tokio::time::sleep(OUTAGE.saturating_sub(dead_at.elapsed())).await;

    // The same folder and port again; sessiond is left alone.
    let restart_at = Instant::now();
    let pg_start = tokio::task::block_in_place(|| cluster.start());
    let pg_ready_at = Instant::now();
    let recovered = api.until_ready(Duration::from_secs(20)).await;
    let ready_at = Instant::now();
    tokio::time::sleep(AFTERWARDS).await;
    stop.store(true, Ordering::Relaxed);
    let mut records = Vec::new();
    for t in workers {
        records.push(Arc::new(t.await.unwrap()));
    }
    let stopped_at = Instant::now();

    // Only 200 OK and 503 STORE_UNAVAILABLE, throughout.
    let bad: Vec<&String> = records.iter().flat_map(|r| &r.bad).collect();
    assert!(
        bad.is_empty(),
        "{} answers that break the rules, e.g. {:?}",
        bad.len(),
        &bad[..bad.len().min(10)]
    );
    // Nothing acknowledged while every process of the cluster was dead.
    let impossible: Vec<(Kind, Duration)> = records
        .iter()
        .flat_map(|r| &r.ops)
        .filter(|o| o.acked && o.start >= dead_at && o.end <= restart_at)
        .map(|o| (o.kind, o.start - dead_at))
        .collect();
    assert!(
        impossible.is_empty(),
        "acknowledged with the cluster dead (kind, started after the kill): {impossible:?}"
    );
    // Recovered means recovered: no call made after `/readyz` turned 200 fails (a call made
    // before may still time out waiting for a connection).
    let late: Vec<(Kind, Duration)> = records
        .iter()
        .flat_map(|r| &r.ops)
        .filter(|o| !o.acked && o.start >= ready_at)
        .map(|o| (o.kind, o.start - ready_at))
        .collect();
    assert!(
        late.is_empty(),
        "503 for calls made after sessiond was ready again (kind, started after ready): {late:?}"
    );
    // Per kind, (acknowledged, 503) of the calls that ended: before the kill, while the cluster
    // was dead, during its restart (crash recovery) until sessiond was ready, afterwards.
    type Counts = [(u32, u32); 4];
    let mut counts: BTreeMap<Kind, Counts> = BTreeMap::new();
    for o in records.iter().flat_map(|r| &r.ops) {
        let phase = if o.end < kill_at {
            0
        } else if o.end < restart_at {
            1
        } else if o.end < ready_at {
            2
        } else {
            3
        };
        let c = &mut counts.entry(o.kind).or_default()[phase];
        if o.acked {
            c.0 += 1;
        } else {
            c.1 += 1;
        }
    }
    for kind in [Kind::Create, Kind::Refresh, Kind::Revoke] {
        let c = counts.get(&kind).copied().unwrap_or_default();
        assert!(
            c[0].0 > 0 && c[1].1 > 0 && c[3].0 > 0,
            "{kind:?} must be acknowledged before the kill, fail during the outage and be \
             acknowledged after it: {c:?}"
        );
    }
    let first_create_after = records
        .iter()
        .flat_map(|r| &r.ops)
        .filter(|o| o.kind == Kind::Create && o.acked && o.start >= pg_ready_at)
        .map(|o| o.end - pg_ready_at)
        .min()
        .expect("a create acknowledged after the restart");

    // Nothing acknowledged is lost.
    let checks: Vec<_> = records
        .iter()
        .map(|r| tokio::spawn(check_acknowledged(Arc::clone(&api), Arc::clone(r))))
        .collect();
    let mut lost = Vec::new();
    for c in checks {
        lost.extend(c.await.unwrap());
    }
    let live: usize = records.iter().map(|r| r.live.len()).sum();
    let revoked: usize = records.iter().map(|r| r.revoked.len()).sum();
    assert!(
        lost.is_empty(),
        "{} of {live} live and {revoked} revoked sessions lost what was acknowledged, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );

    // sessiond never went down, and nothing panicked.
    assert!(sd.child.try_wait().unwrap().is_none(), "sessiond exited:\n{}", sd.text());
    let panics = sd.panics();
    assert!(panics.is_empty(), "sessiond panicked: {panics:?}");

    eprintln!(
        "killed {} processes of the cluster in {:?}; dead for {:?}; postgres accepted \
         connections {pg_start:?} after its restart (crash recovery); sessiond ready {recovered:?} \
         after that, first acknowledged create {first_create_after:?} after it; load stopped \
         {:?} after ready; {live} live and {revoked} revoked sessions checked; (acknowledged, \
         503) by the end of each call: before the kill / dead / restarting / ready: {counts:?}",
        killed.len(),
        dead_at - kill_at,
        restart_at - dead_at,
        stopped_at - ready_at,
    );
}
