//! A PostgreSQL cluster the test owns, never the shared server on 5432: `initdb` into a
//! temporary folder, `postgres` on a free loopback port, trust auth on 127.0.0.1, `fsync` on
//! (the default: the point is the durability of acknowledged writes). It can be killed (`kill
//! -9` of every process at once, or an immediate shutdown), paused and resumed (SIGSTOP /
//! SIGCONT: sockets open, no answers) and started again on the same folder and port (crash
//! recovery from the WAL).
//!
//! Needs the PostgreSQL server binaries (`/usr/lib/postgresql/<version>/bin`) and, as root,
//! `runuser` and a `postgres` user (initdb and postgres refuse to run as root). Without them
//! [`tools`] prints a skip line, or fails under `CI=true`.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sessiond_store_tests::env;

/// What running a cluster of our own needs.
pub struct Tools {
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
            NEEDED.iter().all(|p| bin.join(p).is_file()).then_some((version, bin))
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
            return Err("running as root, and `runuser` (util-linux) is not installed: \
                 initdb and postgres must run as the `postgres` user"
                .to_owned());
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

/// The tools, or `None` after a skip line when they are missing (a failure under `CI=true`).
pub fn tools() -> Option<Tools> {
    match find_tools() {
        Ok(tools) => Some(tools),
        Err(why) => {
            env::prerequisite(false, &why);
            None
        }
    }
}

/// A PostgreSQL cluster in a temporary folder. Dropping it stops every process of the cluster
/// and removes the folder, on failure too.
pub struct Cluster {
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
    pub fn init(tools: Tools) -> Self {
        let dir = tempfile::Builder::new().prefix("sessiond-pg-").tempdir().unwrap();
        if tools.as_root {
            assert!(
                runs("chown", &["postgres:postgres", dir.path().to_str().unwrap()]),
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
            port: super::free_port(),
            server: Mutex::new(None),
            tools,
            dir,
        }
    }

    /// The store URL of the cluster's `postgres` database, with the query `query` (for
    /// example `timeout_ms=500`, so that calls fail fast while the cluster is down).
    pub fn url(&self, query: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres?{query}", self.port)
    }

    /// Starts the postmaster on the data folder and waits (30 s at most) until it accepts
    /// connections, crash recovery included. Returns how long that took.
    pub fn start(&self) -> Duration {
        let t0 = Instant::now();
        let log = OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
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
                panic!("postgres exited ({status}) while starting:\n{}", self.log_tail());
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
    pub fn processes(&self) -> Vec<u32> {
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
    pub fn kill9(&self) -> BTreeSet<u32> {
        let postmaster = self.postmaster_pid().expect("postmaster.pid");
        let t0 = Instant::now();
        let mut stopped = BTreeSet::new();
        loop {
            let new: Vec<u32> =
                self.processes().into_iter().filter(|p| !stopped.contains(p)).collect();
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

    /// An immediate shutdown, as `pg_ctl -m immediate stop` does it: SIGQUIT to the
    /// postmaster, which ends every process of the cluster without a checkpoint (the next
    /// start recovers from the WAL, as after a crash) and removes its shared memory; SIGKILL
    /// for whatever is left after 5 s. Waits until no process of the cluster is left and
    /// reaps the server child.
    pub fn stop_immediate(&self) {
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
            // `runuser` may have stopped itself with a paused postmaster: let it go on.
            signal("-CONT", &[child.id()]);
            reap(child, Duration::from_secs(5));
        }
    }

    /// SIGSTOP to every process of the cluster, the postmaster first: its sockets stay open
    /// but nothing answers.
    pub fn pause(&self) {
        signal("-STOP", &self.processes());
    }

    /// SIGCONT to every process of the cluster, and to `runuser`, which stops itself when its
    /// child stops (job control).
    pub fn resume(&self) {
        signal("-CONT", &self.processes());
        if let Some(child) = self.server.lock().as_ref() {
            signal("-CONT", &[child.id()]);
        }
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
        self.stop_immediate();
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
