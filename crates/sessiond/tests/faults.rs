//! Store faults: the test starts its own Redis / PostgreSQL (never the shared ones), kills it
//! under load and restarts it, then pauses it (SIGSTOP: sockets open, no answers) and resumes
//! it. While it is down or hung, requests that need it (create, refresh, revoke, checked
//! verify) get 503 `STORE_UNAVAILABLE` within the store's timeout, stateless verification is OK
//! or, while the revocation feed cannot read the store, 503 too (it fails closed), nothing
//! answers "valid" for a revoked session or "logged out" for a live one, and nothing panics; afterwards sessiond recovers by itself and no acknowledged create, refresh or
//! revoke is lost.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_sessiond");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sh(program: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap()
}

/// A store instance the test owns.
trait Instance: Send + Sync {
    fn url(&self) -> String;
    fn kill(&self);
    fn start(&self);
    /// Every process of the server, for SIGSTOP / SIGCONT.
    fn pids(&self) -> Vec<String>;
}

fn signal_all(instance: &dyn Instance, sig: &str) {
    for pid in instance.pids() {
        assert!(
            sh("kill", &[sig, &pid]).status.success(),
            "kill {sig} {pid}"
        );
    }
}

struct OwnRedis {
    port: u16,
    dir: PathBuf,
}

impl OwnRedis {
    fn new(dir: &Path) -> Self {
        let r = Self {
            port: free_port(),
            dir: dir.to_path_buf(),
        };
        r.start();
        r
    }
}

impl Instance for OwnRedis {
    fn url(&self) -> String {
        format!(
            "redis://127.0.0.1:{}?prefix=fault&timeout_ms=500",
            self.port
        )
    }

    fn kill(&self) {
        let pid = std::fs::read_to_string(self.dir.join("redis.pid")).unwrap();
        assert!(sh("kill", &["-KILL", pid.trim()]).status.success());
        std::thread::sleep(Duration::from_millis(200));
    }

    fn pids(&self) -> Vec<String> {
        let pid = std::fs::read_to_string(self.dir.join("redis.pid")).unwrap();
        vec![pid.trim().to_owned()]
    }

    fn start(&self) {
        let port = self.port.to_string();
        let dir = self.dir.display().to_string();
        // appendfsync always: every acknowledged write is on disk before the reply.
        let out = sh(
            "redis-server",
            &[
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--daemonize",
                "yes",
                "--dir",
                &dir,
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--pidfile",
                &format!("{dir}/redis.pid"),
                "--logfile",
                &format!("{dir}/redis.log"),
            ],
        );
        assert!(out.status.success(), "{out:?}");
        for _ in 0..100 {
            if sh("redis-cli", &["-p", &port, "ping"])
                .stdout
                .starts_with(b"PONG")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("own Redis did not start");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = sh(
            "redis-cli",
            &["-p", &self.port.to_string(), "shutdown", "nosave"],
        );
    }
}

struct OwnPostgres {
    port: u16,
    data: PathBuf,
    bin: PathBuf,
}

fn as_postgres(program: &Path, args: &[&str]) -> std::process::Output {
    // initdb and pg_ctl refuse to run as root.
    if sh("id", &["-u"]).stdout.starts_with(b"0") {
        let mut a = vec!["-u", "postgres", "--", program.to_str().unwrap()];
        a.extend_from_slice(args);
        sh("runuser", &a)
    } else {
        sh(program.to_str().unwrap(), args)
    }
}

impl OwnPostgres {
    fn new(dir: &Path) -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())
            .expect("initdb");
        let data = dir.join("pgdata");
        std::fs::create_dir_all(&data).unwrap();
        let _ = sh("chown", &["-R", "postgres:postgres", dir.to_str().unwrap()]);
        let _ = sh("chmod", &["755", dir.to_str().unwrap()]);
        let out = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        );
        assert!(out.status.success(), "initdb: {out:?}");
        let pg = Self {
            port: free_port(),
            data,
            bin,
        };
        pg.start();
        pg
    }
}

impl Instance for OwnPostgres {
    fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?schema=sdt_fault&timeout_ms=500",
            self.port
        )
    }

    fn kill(&self) {
        // Immediate shutdown: no checkpoint, recovery from WAL at the next start, like a crash.
        let out = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
        assert!(out.status.success(), "{out:?}");
    }

    fn pids(&self) -> Vec<String> {
        // The postmaster (first line of postmaster.pid) and every backend it forked.
        let pm = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap();
        let pm = pm.lines().next().unwrap().trim().to_owned();
        let children = String::from_utf8(sh("pgrep", &["-P", &pm]).stdout).unwrap();
        std::iter::once(pm)
            .chain(children.split_whitespace().map(str::to_owned))
            .collect()
    }

    fn start(&self) {
        let opts = format!("-p {} -h 127.0.0.1 -k {}", self.port, self.data.display());
        let log = self.data.join("log.txt");
        let out = as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        assert!(out.status.success(), "pg_ctl start: {out:?}");
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
    }
}

struct Sessiond {
    _child: Child,
    url: String,
    /// Everything sessiond wrote on stderr (its log), to look for panics afterwards.
    log: Arc<Mutex<Vec<String>>>,
}

async fn sessiond(store: &str) -> Sessiond {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            store,
            "--log-format",
            "json",
            "--algorithm",
            "EdDSA",
        ])
        .env_remove("SESSIOND_API_KEYS")
        .env_remove("SESSIOND_API_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = Arc::new(Mutex::new(Vec::new()));
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            log.lock().push(line.clone());
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["message"] == "sessiond listening"
            {
                return v["addr"].as_str().unwrap().to_owned();
            }
        }
        panic!("sessiond exited before listening");
    })
    .await
    .unwrap();
    let sink = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().push(line);
        }
    });
    Sessiond {
        _child: child,
        url: format!("http://{addr}"),
        log,
    }
}

/// (HTTP status, body) of a POST; a request that gets no answer at all is status 0.
async fn post(http: &reqwest::Client, base: &str, path: &str, body: Value) -> (u16, Value) {
    match http.post(format!("{base}{path}")).json(&body).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

fn store_down(status: u16, body: &Value) -> bool {
    status == 503 && body["code"] == "STORE_UNAVAILABLE"
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

fn verify_body(s: &Value, check_db: bool) -> Value {
    json!({"accessToken": s["accessToken"]["token"], "doAntiCsrfCheck": false, "checkDatabase": check_db})
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
    http: reqwest::Client,
    base: String,
    live: Vec<Value>,
    gone: Value,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acked>>,
    tally: Tally,
    bad: Arc<Mutex<Vec<String>>>,
}

async fn worker(w: usize, load: Load) {
    let Load {
        http,
        base,
        live,
        gone,
        stop,
        acked,
        tally: tally_,
        bad,
    } = load;
    let (_, mine) = post(
        &http,
        &base,
        "/public/recipe/session",
        json!({"userId": format!("chain-{w}")}),
    )
    .await;
    let mut refresh_token = mine["refreshToken"]["token"].clone();
    assert!(refresh_token.is_string(), "{mine}");
    // Sessions to revoke, each with whether its revocation is a retry after a 503; a few made
    // up front so the outage always finds some.
    let mut pending = std::collections::VecDeque::new();
    for j in 0..6 {
        let (st, v) = post(
            &http,
            &base,
            "/public/recipe/session",
            json!({"userId": format!("rev-{w}-{j}")}),
        )
        .await;
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
        let (st, v) = post(
            &http,
            &base,
            "/recipe/session/verify",
            verify_body(s, false),
        )
        .await;
        if st == 200 && v["status"] == "OK" || store_down(st, &v) {
            tally(&tally_, "stateless verify", st == 200);
        } else {
            bad.lock().push(format!("stateless verify: {st} {v}"));
        }
        // With the store check: OK, or 503 while down; never "logged out".
        let (st, v) = post(&http, &base, "/recipe/session/verify", verify_body(s, true)).await;
        if st == 200 && v["status"] == "OK" || store_down(st, &v) {
            tally(&tally_, "checked verify", st == 200);
        } else {
            bad.lock()
                .push(format!("checked verify of a live session: {st} {v}"));
        }
        // A revoked session is never valid.
        let (st, v) = post(
            &http,
            &base,
            "/recipe/session/verify",
            verify_body(&gone, true),
        )
        .await;
        if !(st == 200 && v["status"] == "UNAUTHORISED" || store_down(st, &v)) {
            bad.lock()
                .push(format!("checked verify of a revoked session: {st} {v}"));
        }
        // Refresh: a 503 may or may not have rotated; the retry with the same token lands in
        // the grace window and gets the same successor, so the chain never breaks.
        let (st, v) = post(
            &http,
            &base,
            "/recipe/session/refresh",
            json!({"refreshToken": refresh_token, "enableAntiCsrf": false}),
        )
        .await;
        if st == 200 && v["status"] == "OK" {
            tally(&tally_, "refresh", true);
            refresh_token = v["refreshToken"]["token"].clone();
            acked.lock().refreshed.insert(w, v);
        } else if store_down(st, &v) {
            tally(&tally_, "refresh", false);
        } else {
            bad.lock()
                .push(format!("refresh of a live session: {st} {v}"));
        }
        // Revoke the session created in an earlier round. After a 503 the revocation may or
        // may not have happened, so the retry may find the session gone: both are fine then.
        // A reserve of four stays queued, so an outage always finds sessions to revoke.
        if let Some((v, retry)) = (pending.len() > 4).then(|| pending.pop_front()).flatten() {
            let h = &v["session"]["handle"];
            let (st, r) = post(
                &http,
                &base,
                "/recipe/session/remove",
                json!({"sessionHandles": [h]}),
            )
            .await;
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
                bad.lock()
                    .push(format!("revoke of an acknowledged create: {st} {r}"));
            }
        }
        // Create; every other session stays (checked at the end), the rest are revoked.
        let (st, v) = post(
            &http,
            &base,
            "/public/recipe/session",
            json!({"userId": format!("load-{w}-{i}")}),
        )
        .await;
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

async fn get(http: &reqwest::Client, url: String) -> (u16, Value) {
    let r = http.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json::<Value>().await.unwrap_or(Value::Null))
}

/// Waits until a store-checked verify succeeds again; returns how long it took.
async fn recovery(http: &reqwest::Client, base: &str, live: &Value) -> Duration {
    let since = Instant::now();
    loop {
        let (st, v) = post(
            http,
            base,
            "/recipe/session/verify",
            verify_body(live, true),
        )
        .await;
        if st == 200 && v["status"] == "OK" {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(15),
            "no recovery within 15 s: {st} {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scenario(instance: Arc<dyn Instance>) {
    let sd = sessiond(&instance.url()).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let base = sd.url.clone();

    // Acknowledged before the fault: live sessions and one revocation.
    let mut live = Vec::new();
    for i in 0..10 {
        let (s, v) = post(
            &http,
            &base,
            "/public/recipe/session",
            json!({"userId": format!("f{i}")}),
        )
        .await;
        assert_eq!(s, 200);
        live.push(v);
    }
    let (_, gone) = post(
        &http,
        &base,
        "/public/recipe/session",
        json!({"userId": "gone"}),
    )
    .await;
    let (s, v) = post(
        &http,
        &base,
        "/recipe/session/remove",
        json!({"sessionHandles": [gone["session"]["handle"]]}),
    )
    .await;
    assert_eq!(
        (s, v["sessionHandlesRevoked"].as_array().unwrap().len()),
        (200, 1)
    );
    let errors_before = store_errors(&http, &base).await;

    // Load from several tasks while the store dies and comes back, then hangs and resumes.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Acked::default()));
    let tally_: Tally = Arc::default();
    let violations = Arc::new(Mutex::new(Vec::<String>::new()));
    let load = Load {
        http: http.clone(),
        base: base.clone(),
        live: live.clone(),
        gone: gone.clone(),
        stop: Arc::clone(&stop),
        acked: Arc::clone(&acked),
        tally: Arc::clone(&tally_),
        bad: Arc::clone(&violations),
    };
    let tasks: Vec<_> = (0..4)
        .map(|w| tokio::spawn(worker(w, load.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before_kill = {
        let a = acked.lock();
        a.creates.len() + a.revoked.len()
    };

    // 1. The server dies (kill -9 / immediate shutdown) and is restarted.
    instance.kill();
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (st, v) = get(&http, format!("{base}/readyz")).await;
    assert!(
        store_down(st, &v),
        "readyz while the store is down: {st} {v}"
    );
    let (st, _) = get(&http, format!("{base}/healthz")).await;
    assert_eq!(st, 200, "the process is alive");
    instance.start();
    let restarted_at = Instant::now();
    let recovered = recovery(&http, &base, &live[0]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 2. The server hangs: its sockets stay open but nothing answers. Requests that need it
    //    must fail within the store timeout (500 ms here), not hang.
    signal_all(&*instance, "-STOP");
    let paused_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = Instant::now();
    let (st, v) = post(
        &http,
        &base,
        "/recipe/session/verify",
        verify_body(&live[1], true),
    )
    .await;
    let hung_answer = t.elapsed();
    assert!(
        store_down(st, &v),
        "checked verify with the store hung: {st} {v}"
    );
    assert!(
        hung_answer < Duration::from_secs(3),
        "a hung store held a request for {hung_answer:?}"
    );
    let (st, v) = get(&http, format!("{base}/readyz")).await;
    assert!(store_down(st, &v), "readyz while the store hangs: {st} {v}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    signal_all(&*instance, "-CONT");
    let resumed_at = Instant::now();
    let recovered_from_pause = recovery(&http, &base, &live[0]).await;
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
    let (ok, _) = tally_.get("stateless verify").copied().unwrap_or_default();
    assert!(ok > 0, "stateless verify never worked: {tally_:?}");
    for op in ["checked verify", "refresh", "create", "revoke"] {
        let (ok, down) = tally_.get(op).copied().unwrap_or_default();
        assert!(
            ok > 0 && down > 0,
            "{op}: {ok} ok, {down} x 503 ({tally_:?})"
        );
    }

    // Nothing acknowledged was lost: every acked create verifies against the store, every
    // acked revocation holds, every worker's latest acked refresh is its session's current one.
    let acked = std::mem::take(&mut *acked.lock());
    for s in acked.creates.iter().chain(live.iter()) {
        let (st, v) = post(&http, &base, "/recipe/session/verify", verify_body(s, true)).await;
        assert_eq!(
            (st, v["status"].as_str()),
            (200, Some("OK")),
            "acknowledged session {} lost",
            s["session"]["handle"]
        );
    }
    for s in acked.revoked.iter().chain(std::iter::once(&gone)) {
        let (st, v) = post(&http, &base, "/recipe/session/verify", verify_body(s, true)).await;
        assert_eq!(
            (st, v["status"].as_str()),
            (200, Some("UNAUTHORISED")),
            "acknowledged revocation of {} lost",
            s["session"]["handle"]
        );
    }
    for (w, r) in &acked.refreshed {
        let (st, v) = post(&http, &base, "/recipe/session/verify", verify_body(r, true)).await;
        assert_eq!(
            (st, v["status"].as_str()),
            (200, Some("OK")),
            "worker {w}: {v}"
        );
        let (st, v) = post(
            &http,
            &base,
            "/recipe/session/refresh",
            json!({"refreshToken": r["refreshToken"]["token"], "enableAntiCsrf": false}),
        )
        .await;
        assert_eq!(
            (st, v["status"].as_str()),
            (200, Some("OK")),
            "worker {w}: the latest acknowledged refresh token still refreshes: {v}"
        );
    }
    // Failures were counted, and nothing panicked.
    let errors_after = store_errors(&http, &base).await;
    assert!(
        errors_after > errors_before,
        "sessiond_store_errors_total {errors_before} -> {errors_after}"
    );
    let log = sd.log.lock().clone();
    let panics: Vec<&String> = log.iter().filter(|l| l.contains("panicked")).collect();
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

async fn store_errors(http: &reqwest::Client, base: &str) -> f64 {
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find(|l| l.starts_with("sessiond_store_errors_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_under_load() {
    if sh("which", &["redis-server"]).stdout.is_empty() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but redis-server is not installed"
        );
        eprintln!("SKIP: redis-server not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    scenario(Arc::new(OwnRedis::new(dir.path()))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_under_load() {
    if !Path::new("/usr/lib/postgresql").exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but the PostgreSQL server binaries are not installed"
        );
        eprintln!("SKIP: PostgreSQL server binaries not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    scenario(Arc::new(OwnPostgres::new(dir.path()))).await;
}
