//! `kill -9` of a PostgreSQL the test owns, under load: nothing acknowledged is lost, and
//! sessiond recovers by itself.
//!
//! The test runs its own cluster, never the shared server on 5432: `initdb` into a temporary
//! folder, `postgres` on a free loopback port, trust auth on 127.0.0.1, `fsync` on (the default:
//! the point is the durability of acknowledged writes). A real `sessiond serve` uses it (store
//! URL with `timeout_ms=500`). Four tasks create, refresh and revoke sessions. Mid-load every
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
//! Needs the PostgreSQL server binaries (`/usr/lib/postgresql/<version>/bin`) and, as root,
//! `runuser` and a `postgres` user (initdb and postgres refuse to run as root). Without them it
//! prints a skip line, or fails under `CI=true`.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};

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
// The test's own cluster.

/// What running a cluster of our own needs.
struct Tools {
    /// `/usr/lib/postgresql/<newest version>/bin`.
    bin: PathBuf,
    /// Running as root: initdb and postgres run as the `postgres` user through `runuser`.
    as_root: bool,
}

fn effective_uid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The tools, or why they are missing.
fn find_tools() -> Result<Tools, String> {
    const NEEDED: [&str; 3] = ["initdb", "postgres", "pg_isready"];
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| {
            format!("the PostgreSQL server binaries are not installed (/usr/lib/postgresql: {e})")
        })?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            NEEDED
                .iter()
                .all(|p| bin.join(p).is_file())
                .then_some((version, bin))
        })
        .max()
        .map(|(_, bin)| bin)
        .ok_or_else(|| {
            format!(
                "the PostgreSQL server binaries ({}) are not under \
                 /usr/lib/postgresql/<version>/bin",
                NEEDED.join(", ")
            )
        })?;
    let as_root = effective_uid_is_root();
    if as_root {
        if !runs("runuser", &["--version"]) {
            return Err(
                "running as root, and `runuser` (util-linux) is not installed: \
                 initdb and postgres must run as the `postgres` user"
                    .to_owned(),
            );
        }
        if !runs("id", &["-u", "postgres"]) {
            return Err(
                "running as root, and there is no `postgres` user to run initdb and postgres as"
                    .to_owned(),
            );
        }
    }
    Ok(Tools { bin, as_root })
}

/// A PostgreSQL cluster in a temporary folder. Dropping it stops every process of the cluster
/// and removes the folder, on failure too.
struct Cluster {
    tools: Tools,
    port: u16,
    /// The data folder (canonical: it is compared with the processes' working folders).
    data: PathBuf,
    /// The server's stderr, across restarts.
    log: PathBuf,
    /// `runuser` (whose only child is the postmaster) or, not as root, the postmaster.
    server: Mutex<Option<Child>>,
    /// Removed when the cluster is dropped, after its processes are gone.
    dir: tempfile::TempDir,
}

impl Cluster {
    fn command(&self, program: &str) -> Command {
        as_postgres(&self.tools, &self.tools.bin.join(program))
    }

    /// `initdb` (trust auth, UTF8, C locale) into a new temporary folder.
    fn init(tools: Tools) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sessiond-pg-kill-")
            .tempdir()
            .unwrap();
        if tools.as_root {
            assert!(
                runs(
                    "chown",
                    &["postgres:postgres", dir.path().to_str().unwrap()]
                ),
                "chown postgres {}",
                dir.path().display()
            );
        }
        let data = dir.path().join("data");
        let out = as_postgres(&tools, &tools.bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            data: data.canonicalize().unwrap(),
            log: dir.path().join("postgres.log"),
            port: common::free_port(),
            server: Mutex::new(None),
            tools,
            dir,
        }
    }

    /// The store URL: `timeout_ms=500` (default 2000) so that calls fail fast while the cluster
    /// is dead, and each load task goes through every kind of call several times meanwhile.
    fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?timeout_ms=500",
            self.port
        )
    }

    /// Starts the postmaster on the data folder and waits (30 s at most) until it accepts
    /// connections, crash recovery included. Returns how long that took.
    fn start(&self) -> Duration {
        let t0 = Instant::now();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.data.display()))
            // The defaults, spelled out: an acknowledged commit is on disk.
            .args(["-c", "fsync=on", "-c", "synchronous_commit=on"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        *self.server.lock() = Some(child);
        loop {
            if runs(
                self.tools.bin.join("pg_isready").to_str().unwrap(),
                &[
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-t",
                    "1",
                ],
            ) {
                return t0.elapsed();
            }
            if let Some(status) = self.server.lock().as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "postgres exited ({status}) while starting:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "PostgreSQL did not accept connections within 30 s:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The postmaster's pid, from `postmaster.pid` (stale after a kill).
    fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// Every live process of this cluster: those working in its data folder. The postmaster
    /// and every process it forks (backends, checkpointer, WAL writer, …) change into it; no
    /// other process has a reason to, and zombies have no working folder any more. (A process
    /// group would not do: each postmaster child calls `setsid`.)
    fn processes(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == self.data)
            })
            .collect();
        // The postmaster first, so that it forks nothing more.
        let postmaster = self.postmaster_pid();
        pids.sort_by_key(|p| Some(*p) != postmaster);
        pids
    }

    /// SIGKILL to every process of the cluster at once, until none is left; reaps the server
    /// child. Returns the pids killed.
    ///
    /// Every process is stopped (SIGSTOP, the postmaster first, so it forks nothing more; then
    /// again for anything forked meanwhile) before any is killed: otherwise a backend would see
    /// the postmaster die first and end its connection with a FATAL message, more gently than a
    /// crash.
    fn kill9(&self) -> BTreeSet<u32> {
        let postmaster = self.postmaster_pid().expect("postmaster.pid");
        let t0 = Instant::now();
        let mut stopped = BTreeSet::new();
        loop {
            let new: Vec<u32> = self
                .processes()
                .into_iter()
                .filter(|p| !stopped.contains(p))
                .collect();
            if new.is_empty() {
                break;
            }
            signal("-STOP", &new);
            stopped.extend(new);
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "the cluster keeps forking: {stopped:?}"
            );
        }
        assert!(
            stopped.contains(&postmaster),
            "the postmaster {postmaster} is not among the cluster's processes: {stopped:?}"
        );
        let mut killed = stopped;
        loop {
            let pids = self.processes();
            if pids.is_empty() {
                break;
            }
            signal("-KILL", &pids);
            killed.extend(pids.iter().copied());
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "processes of the cluster survive SIGKILL: {pids:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let child = self.server.lock().take().expect("the cluster was running");
        // `runuser` stops itself when its child stops (job control): let it go on, see the
        // postmaster's death and exit.
        signal("-CONT", &[child.id()]);
        reap(child, Duration::from_secs(10));
        killed
    }

    /// The end of the server's log, for failure messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // An immediate shutdown (SIGQUIT to the postmaster) also removes its shared memory;
        // SIGKILL for whatever is left after 5 s.
        let pids = self.processes();
        if let Some(pm) = self.postmaster_pid().filter(|pm| pids.contains(pm)) {
            signal("-QUIT", &[pm]);
        }
        let t0 = Instant::now();
        loop {
            let pids = self.processes();
            if pids.is_empty() {
                break;
            }
            if t0.elapsed() > Duration::from_secs(5) {
                signal("-KILL", &pids);
            }
            if t0.elapsed() > Duration::from_secs(10) {
                eprintln!("processes of the test's cluster survive: {pids:?}");
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(child) = self.server.lock().take() {
            reap(child, Duration::from_secs(5));
        }
        if std::thread::panicking() {
            eprintln!(
                "--- the test cluster's log ({}):\n{}",
                self.dir.path().display(),
                self.log_tail()
            );
        }
        // `dir` is removed after this.
    }
}

fn as_postgres(tools: &Tools, program: &Path) -> Command {
    if tools.as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// `kill <sig> <pids>`. Some may have exited since they were listed: the status does not
/// matter, the caller's next scan does.
fn signal(sig: &str, pids: &[u32]) {
    let _ = Command::new("kill")
        .arg(sig)
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// Waits for a child to exit (killing it after `within`).
fn reap(mut child: Child, within: Duration) {
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP.

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// (status, body); a request that gets no answer at all is status 0.
    async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        match rb.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                (
                    status,
                    serde_json::from_str(&text).unwrap_or(Value::String(text)),
                )
            }
            Err(e) => (0, Value::String(e.to_string())),
        }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn session(&self, handle: &str) -> (u16, Value) {
        self.send(
            self.http
                .get(format!("{}/recipe/session", self.base))
                .query(&[("sessionHandle", handle)]),
        )
        .await
    }

    async fn refresh(&self, token: &str) -> (u16, Value) {
        self.post(
            "/recipe/session/refresh",
            json!({"refreshToken": token, "enableAntiCsrf": false}),
        )
        .await
    }

    /// Polls `/readyz` until 200; returns how long it took.
    async fn until_ready(&self, within: Duration) -> Duration {
        let t0 = Instant::now();
        loop {
            let (st, v) = self.get("/readyz").await;
            if st == 200 {
                return t0.elapsed();
            }
            assert!(
                t0.elapsed() < within,
                "sessiond not ready within {within:?}: {st} {v}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn store_down(st: u16, v: &Value) -> bool {
    st == 503 && v["code"] == "STORE_UNAVAILABLE"
}

fn ok(st: u16, v: &Value) -> bool {
    st == 200 && v["status"] == "OK"
}

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
        self.ops.push(Op {
            kind,
            start,
            end: Instant::now(),
            acked,
        });
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
                rec.bad.push(format!(
                    "worker {w}: retries still failing 15 s after the load stopped"
                ));
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
            let (st, v) = api
                .post(
                    "/recipe/session/remove",
                    json!({"sessionHandles": [s.handle]}),
                )
                .await;
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
            lost.push(format!(
                "acknowledged create of {} ({}): {st} {v}",
                s.handle, s.user
            ));
            continue;
        }
        let (st, v) = api.refresh(&s.refresh).await;
        if !ok(st, &v) {
            lost.push(format!(
                "the latest acknowledged refresh token of {}: {st} {v}",
                s.handle
            ));
        }
    }
    for s in &rec.revoked {
        let (st, v) = api.session(&s.handle).await;
        if !(st == 200 && v["status"] == "UNAUTHORISED") {
            lost.push(format!("acknowledged revoke of {}: GET {st} {v}", s.handle));
        }
        let (st, v) = api.refresh(&s.refresh).await;
        if !(st == 200 && v["status"] == "UNAUTHORISED") {
            lost.push(format!(
                "acknowledged revoke of {}: refresh {st} {v}",
                s.handle
            ));
        }
    }
    lost
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_under_load_loses_nothing_acknowledged_and_sessiond_recovers_by_itself() {
    let tools = match find_tools() {
        Ok(t) => t,
        Err(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but {why}: this test must run in CI, not skip"
            );
            eprintln!("SKIP: {why}");
            return;
        }
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
    eprintln!(
        "initdb and first start {initialised:?}, whole test {:?}",
        t0.elapsed()
    );
}

async fn scenario(cluster: &Cluster) {
    let mut sd = common::spawn_serve(&["--store", &cluster.url()], &[]).await;
    let api = Arc::new(Api {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        base: sd.url(),
    });
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
    let (st, v) = api.get("/readyz").await;
    assert!(
        store_down(st, &v),
        "/readyz with the cluster dead: {st} {v}"
    );
    let (st, v) = api.get("/healthz").await;
    assert_eq!(st, 200, "/healthz with the cluster dead: {v}");
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
    assert!(
        sd.child.try_wait().unwrap().is_none(),
        "sessiond exited:\n{}",
        sd.text()
    );
    let panics: Vec<String> = sd
        .log
        .lock()
        .iter()
        .filter(|l| l.contains("panicked"))
        .cloned()
        .collect();
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
