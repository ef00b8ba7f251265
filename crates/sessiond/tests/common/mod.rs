//! The one home of the binary's test support: run `sessiond` (a `serve` child process with its
//! JSON log, a refused start, a CLI command), talk HTTP to it ([`http::Api`]), and own a store
//! server of the test's own ([`postgres::Cluster`], [`redis::OwnRedis`]).
//!
//! Whether a test that needs a service runs or skips is decided by
//! `sessiond_store_tests::env` (a skip outside CI, a failure under `CI=true`), never here.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod http;
pub mod postgres;
pub mod redis;

use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The `sessiond` binary with none of the caller's `SESSIOND_*` variables: a test's child sees
/// only the settings the test gives it.
pub fn sessiond() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sessiond"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SESSIOND_") {
            cmd.env_remove(name);
        }
    }
    cmd.kill_on_drop(true);
    cmd
}

/// `sessiond <args> --url <url>`: a CLI command against a running server.
pub async fn cli(url: &str, args: &[&str]) -> Output {
    sessiond().args(args).args(["--url", url]).output().await.unwrap()
}

/// `sessiond <args> --json --url <url>`, which must succeed: its stdout as JSON.
pub async fn cli_json(url: &str, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    json_out(&cli(url, &args).await)
}

/// A successful command's stdout as JSON (panics with its stderr otherwise).
pub fn json_out(o: &Output) -> Value {
    assert!(o.status.success(), "stderr: {}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A command's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `kill <sig> <pid>`, which must succeed.
pub fn kill(sig: &str, pid: &str) {
    assert!(
        std::process::Command::new("kill").args([sig, pid]).status().unwrap().success(),
        "kill {sig} {pid}"
    );
}

/// How to start `sessiond serve`: `--log-format json --listen 127.0.0.1:0 --algorithm EdDSA`
/// (EdDSA keys are quick to make) unless the test says otherwise, then its own arguments and
/// environment.
pub struct Serve {
    args: Vec<String>,
    env: Vec<(String, String)>,
    algorithm: Option<&'static str>,
}

impl Default for Serve {
    fn default() -> Self {
        Self { args: Vec::new(), env: Vec::new(), algorithm: Some("EdDSA") }
    }
}

impl Serve {
    pub fn new() -> Self {
        Self::default()
    }

    /// `--store <url>`.
    pub fn store(self, url: &str) -> Self {
        self.args(&["--store", url])
    }

    /// `--store sqlite://<dir>/sessiond.db`: the same store for every server on `dir`.
    pub fn sqlite(self, dir: &Path) -> Self {
        self.store(&format!("sqlite://{}/sessiond.db", dir.display()))
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    pub fn env(mut self, env: &[(&str, &str)]) -> Self {
        self.env.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self
    }

    /// The binary's default access-token algorithm (RS256) rather than EdDSA.
    pub fn default_algorithm(mut self) -> Self {
        self.algorithm = None;
        self
    }

    fn command(&self) -> tokio::process::Command {
        let mut cmd = sessiond();
        cmd.arg("serve");
        if !self.args.iter().any(|a| a == "--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(&self.args).envs(self.env.iter().cloned());
        cmd
    }

    /// Starts the server and waits (60 s at most) for its "sessiond listening" line. The log is
    /// read all the while, so the server never blocks on a full pipe.
    pub async fn spawn(self) -> Spawned {
        let mut cmd = self.command();
        cmd.args(["--log-format", "json"]);
        if let Some(alg) = self.algorithm
            && !self.args.iter().any(|a| a == "--algorithm")
        {
            cmd.args(["--algorithm", alg]);
        }
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                sink.lock().push(line.clone());
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["message"] == "sessiond listening"
                {
                    return v["addr"].as_str().unwrap().to_owned();
                }
            }
            panic!("sessiond exited before listening:\n{}", sink.lock().join("\n"));
        })
        .await
        .expect("sessiond did not listen within 60 s");
        let sink = Arc::clone(&log);
        let reader = tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().push(line);
            }
        });
        Spawned { child, addr, log, reader: Some(reader) }
    }

    /// Runs the server expecting it to refuse to start (within 30 s); returns (exit code,
    /// stderr). Its log format is the default text, as an operator would see it.
    pub async fn refused(self) -> (Option<i32>, String) {
        let out = tokio::time::timeout(Duration::from_secs(30), self.command().output())
            .await
            .expect("sessiond serve did not exit within 30 s")
            .unwrap();
        (out.status.code(), stderr(&out))
    }
}

/// A `sessiond serve` child process, its address, and every log line it wrote so far.
pub struct Spawned {
    pub child: tokio::process::Child,
    pub addr: String,
    pub log: Arc<Mutex<Vec<String>>>,
    /// The task that reads the log until the process closes its stderr.
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl Spawned {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An HTTP client of this server.
    pub fn api(&self) -> http::Api {
        http::Api::new(&self.url())
    }

    /// The JSON log lines so far.
    pub fn records(&self) -> Vec<Value> {
        self.log.lock().iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// The JSON log lines with this message.
    pub fn with_message(&self, message: &str) -> Vec<Value> {
        self.records().into_iter().filter(|r| r["message"] == message).collect()
    }

    /// The whole log as text.
    pub fn text(&self) -> String {
        self.log.lock().join("\n")
    }

    /// The log lines that report a panic.
    pub fn panics(&self) -> Vec<String> {
        self.log.lock().iter().filter(|l| l.contains("panicked")).cloned().collect()
    }

    pub fn signal(&self, sig: &str) {
        kill(sig, &self.child.id().unwrap().to_string());
    }

    /// Sends `sig` and waits (`within` at most) for the process to exit and its log to be read
    /// to the end.
    pub async fn stop(&mut self, sig: &str, within: Duration) -> ExitStatus {
        self.signal(sig);
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("sessiond did not exit within {within:?} of {sig}"))
            .unwrap();
        if let Some(reader) = self.reader.take() {
            reader.await.unwrap();
        }
        status
    }
}

/// `sessiond serve --log-format json --algorithm EdDSA <args>` with `env`, listening (see
/// [`Serve::spawn`]).
pub async fn spawn_serve(args: &[&str], env: &[(&str, &str)]) -> Spawned {
    Serve::new().args(args).env(env).spawn().await
}

/// `sessiond serve <args>` with `env`, expecting a refusal (see [`Serve::refused`]).
pub async fn serve_refused(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    Serve::new().args(args).env(env).refused().await
}

/// A port nothing listens on (at the time of the call).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
