//! The one process helper of the binary's tests: spawn `sessiond serve` as a child process,
//! read its JSON log, signal it.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use serde_json::Value;

/// A `sessiond serve` child process, its address, and every log line it wrote so far.
pub struct Spawned {
    pub child: tokio::process::Child,
    pub addr: String,
    pub log: std::sync::Arc<parking_lot::Mutex<Vec<String>>>,
}

impl Spawned {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The JSON log lines so far.
    pub fn records(&self) -> Vec<Value> {
        self.log
            .lock()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The JSON log lines with this message.
    pub fn with_message(&self, message: &str) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r["message"] == message)
            .collect()
    }

    /// The whole log as text.
    pub fn text(&self) -> String {
        self.log.lock().join("\n")
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().unwrap().to_string();
        assert!(
            std::process::Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        );
    }
}

/// Spawns `sessiond serve --log-format json --algorithm EdDSA <args>` (with `--listen
/// 127.0.0.1:0` unless `args` has a `--listen`) with `env`, and waits (30 s at most) for its
/// "sessiond listening" line.
pub async fn spawn_serve(args: &[&str], env: &[(&str, &str)]) -> Spawned {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sessiond"));
    cmd.args(["serve", "--log-format", "json", "--algorithm", "EdDSA"]);
    if !args.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    cmd.args(args)
        .env_remove("SESSIOND_API_KEYS")
        .env_remove("SESSIOND_API_KEY")
        .env_remove("SESSIOND_API_KEY_FILE")
        .env_remove("SESSIOND_STORE")
        .env_remove("SESSIOND_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&log);
    let addr = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            sink.lock().push(line.clone());
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["message"] == "sessiond listening"
            {
                return v["addr"].as_str().unwrap().to_owned();
            }
        }
        panic!(
            "sessiond exited before listening:\n{}",
            sink.lock().join("\n")
        );
    })
    .await
    .expect("sessiond did not listen within 30 s");
    let sink = std::sync::Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().push(line);
        }
    });
    Spawned { child, addr, log }
}

/// Runs `sessiond serve <args>` expecting it to refuse to start; returns (exit code, stderr).
pub async fn serve_refused(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sessiond"));
    cmd.arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("SESSIOND_API_KEYS")
        .env_remove("SESSIOND_API_KEY")
        .env_remove("SESSIOND_API_KEY_FILE")
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), cmd.output())
        .await
        .expect("sessiond serve did not exit within 30 s")
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A port nothing listens on (at the time of the call).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
