//! A `redis-server` the test owns, never the shared one: on a free loopback port, its files in a
//! folder of the test's, every acknowledged write on disk before the reply (`appendfsync
//! always`). It can be started late, killed (`kill -9`), paused and resumed, and started again
//! on the same port and files.

use std::time::Duration;

use sessiond_store_tests::env;

fn sh(program: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(program).args(args).output().unwrap()
}

fn runs(program: &str) -> bool {
    std::process::Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// A Redis of the test's own. Dropping it shuts it down and removes its files.
pub struct OwnRedis {
    pub port: u16,
    dir: tempfile::TempDir,
}

impl OwnRedis {
    /// A Redis on a free port with its files in a new temporary folder, not started yet; or
    /// `None` after a skip line when `redis-server` or `redis-cli` is not installed (a failure
    /// under `CI=true`).
    pub fn new() -> Option<Self> {
        let installed = env::prerequisite(
            runs("redis-server") && runs("redis-cli"),
            "redis-server (with redis-cli) is not installed",
        );
        installed.then(|| Self { port: super::free_port(), dir: tempfile::tempdir().unwrap() })
    }

    /// The store URL, with the query `query` (for example `prefix=fault&timeout_ms=500`).
    pub fn url(&self, query: &str) -> String {
        format!("redis://127.0.0.1:{}?{query}", self.port)
    }

    /// Starts it (again) and waits (5 s at most) until it answers.
    pub fn start(&self) {
        let port = self.port.to_string();
        let dir = self.dir.path().display().to_string();
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
            if sh("redis-cli", &["-p", &port, "ping"]).stdout.starts_with(b"PONG") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("own Redis did not start");
    }

    /// The server's pid.
    pub fn pid(&self) -> String {
        let pid = std::fs::read_to_string(self.dir.path().join("redis.pid")).unwrap();
        pid.trim().to_owned()
    }

    /// `kill -9`, then a moment for the port to close.
    pub fn kill(&self) {
        super::kill("-KILL", &self.pid());
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = sh("redis-cli", &["-p", &self.port.to_string(), "shutdown", "nosave"]);
    }
}
