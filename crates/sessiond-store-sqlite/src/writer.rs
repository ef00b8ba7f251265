//! The writer thread: group commit of every queued write, with durability pipelined.
//!
//! The writer takes every queued write, runs them in one `BEGIN IMMEDIATE` transaction and
//! commits (SQLite does not fsync: `synchronous=NORMAL`). It hands the batch's callers to the
//! flusher thread and starts the next batch at once. The flusher fsyncs the WAL file and only
//! then answers every caller whose batch committed before that fsync began: an acknowledged
//! write is on disk, and commit work overlaps the fsync latency instead of waiting for it.
//!
//! When the process keeps every core busy, the writer waits up to 2 ms for more writes
//! before it begins (see [`linger`]): every batch costs a commit and an fsync, and small batches
//! then take CPU from the requests themselves.

use std::fs::File;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use sessiond_core::StoreError;
use sessiond_core::store::StoreResult;
use tokio::sync::oneshot;

/// Called once the batch's transaction has committed (`None`) or failed (`Some(reason)`).
pub(crate) type Finish = Box<dyn FnOnce(Option<&str>) + Send>;

/// One write waiting for the writer thread, which runs it inside the next batch transaction.
pub(crate) trait Job: Send {
    /// Runs inside the batch transaction; returns how to answer the caller once the batch ends.
    fn run(self: Box<Self>, conn: &Connection) -> Finish;
    /// Answers the caller without running (the batch could not start).
    fn abort(self: Box<Self>, reason: &str);
}

/// A write whose result goes back through a oneshot channel, only after commit.
pub(crate) struct Write<F, T> {
    pub(crate) body: F,
    pub(crate) reply: oneshot::Sender<StoreResult<T>>,
}

impl<F, T> Job for Write<F, T>
where
    F: FnOnce(&Connection) -> StoreResult<T> + Send,
    T: Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> Finish {
        let Write { body, reply } = *self;
        let result = body(conn);
        Box::new(move |failure| {
            let _ = reply.send(match failure {
                None => result,
                Some(reason) => Err(commit_error(reason)),
            });
        })
    }

    fn abort(self: Box<Self>, reason: &str) {
        let _ = self.reply.send(Err(commit_error(reason)));
    }
}

/// Most writes one transaction takes; bounds latency under a flood.
const MAX_BATCH: usize = 4096;

/// A batch smaller than this may wait for more writes.
const LINGER_BELOW: usize = 32;
/// The longest the writer waits for more writes.
const MAX_LINGER: Duration = Duration::from_millis(2);
/// How often the writer samples the process's CPU time.
const CPU_SAMPLE: Duration = Duration::from_millis(100);
/// The share of all cores this process must be using for the writer to wait for more writes.
const BUSY_SHARE: f64 = 0.85;
/// Clock ticks per second of `/proc/self/stat` (`USER_HZ`, 100 on every Linux platform).
const TICKS_PER_SEC: f64 = 100.0;

/// Whether this process is keeping every core busy, from `/proc/self/stat` sampled at most every
/// [`CPU_SAMPLE`]. Where that file does not exist, never.
struct CpuGauge {
    cores: f64,
    last: Option<(Instant, u64)>,
    busy: bool,
}

impl CpuGauge {
    fn new() -> Self {
        let cores = thread::available_parallelism().map_or(1, std::num::NonZero::get);
        CpuGauge { cores: cores as f64, last: None, busy: false }
    }

    fn busy(&mut self) -> bool {
        let now = Instant::now();
        if self.last.is_some_and(|(at, _)| now.duration_since(at) < CPU_SAMPLE) {
            return self.busy;
        }
        let Some(ticks) = process_cpu_ticks() else { return false };
        if let Some((at, before)) = self.last {
            let used = ticks.saturating_sub(before);
            self.busy = saturated(used, now.duration_since(at), self.cores);
        }
        self.last = Some((now, ticks));
        self.busy
    }
}

/// Whether `used_ticks` of CPU time over `elapsed` wall time is at least [`BUSY_SHARE`] of
/// `cores` cores.
fn saturated(used_ticks: u64, elapsed: Duration, cores: f64) -> bool {
    used_ticks as f64 / TICKS_PER_SEC >= BUSY_SHARE * cores * elapsed.as_secs_f64()
}

/// User plus system CPU time of this process, in clock ticks (Linux).
fn process_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_cpu_ticks(&stat)
}

/// Fields 14 and 15 (`utime`, `stime`) of a `/proc/PID/stat` line. The command name (field 2)
/// may hold spaces and parentheses, so counting starts after its last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime.saturating_add(stime))
}

/// Adds the writes that arrive within [`MAX_LINGER`] to a small batch, when this process keeps
/// every core busy.
///
/// Each batch costs a commit and an fsync: CPU time on the writer and flusher threads, and
/// wake-ups of both. When requests are CPU-bound (RSA signing, say), writes arrive one or two at
/// a time and batches stay that small, so that cost, paid per write, is taken from the requests
/// themselves. Waiting up to 2 ms then groups several writes per batch: on two cores RS256
/// logins rose 13-18 % (wrk, 64 connections), and their median latency, which the queue for
/// the CPU sets, fell. When the CPU has room, nothing waits: a lone client's write commits at once.
fn linger(rx: &mpsc::Receiver<Box<dyn Job>>, batch: &mut Vec<Box<dyn Job>>, cpu: &mut CpuGauge) {
    if batch.len() < LINGER_BELOW && cpu.busy() {
        gather(rx, batch, MAX_LINGER);
    }
}

/// Adds to `batch` the writes that arrive within `wait`, up to [`LINGER_BELOW`] in all.
fn gather(rx: &mpsc::Receiver<Box<dyn Job>>, batch: &mut Vec<Box<dyn Job>>, wait: Duration) {
    let until = Instant::now() + wait;
    while batch.len() < LINGER_BELOW {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// Starts the writer thread on `conn` and the flusher on `wal`. Both end, after committing and
/// flushing everything queued, when the last sender is dropped.
pub(crate) fn spawn(conn: Connection, wal: File) -> std::io::Result<mpsc::Sender<Box<dyn Job>>> {
    let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
    let (flush_tx, flush_rx) = mpsc::channel::<Vec<Finish>>();
    thread::Builder::new()
        .name("sessiond-sqlite-flusher".to_owned())
        .spawn(move || flush(&wal, &flush_rx))?;
    thread::Builder::new()
        .name("sessiond-sqlite-writer".to_owned())
        .spawn(move || run(&conn, &rx, &flush_tx))?;
    Ok(tx)
}

/// Fsyncs the WAL for every batch that has committed, then answers its callers.
fn flush(wal: &File, rx: &mpsc::Receiver<Vec<Finish>>) {
    let mut ready: Vec<Finish> = Vec::with_capacity(256);
    while let Ok(first) = rx.recv() {
        ready.extend(first);
        while let Ok(more) = rx.try_recv() {
            ready.extend(more);
        }
        let failure = wal.sync_data().err().map(|e| format!("fsync of the WAL failed: {e}"));
        if let Some(f) = &failure {
            tracing::error!(error = %f, "SQLite: acknowledging writes as failed");
        }
        for finish in ready.drain(..) {
            finish(failure.as_deref());
        }
    }
}

fn run(conn: &Connection, rx: &mpsc::Receiver<Box<dyn Job>>, flusher: &mpsc::Sender<Vec<Finish>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(64);
    let mut finishes: Vec<Finish> = Vec::with_capacity(64);
    let mut cpu = CpuGauge::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        linger(rx, &mut batch, &mut cpu);
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let reason = e.to_string();
            tracing::error!(error = %reason, "SQLite: cannot begin a write transaction");
            for job in batch.drain(..) {
                job.abort(&reason);
            }
            continue;
        }
        for job in batch.drain(..) {
            finishes.push(job.run(conn));
        }
        match conn.execute_batch("COMMIT") {
            Ok(()) => {
                let committed = std::mem::replace(&mut finishes, Vec::with_capacity(64));
                if let Err(mpsc::SendError(committed)) = flusher.send(committed) {
                    for finish in committed {
                        finish(Some("the flusher thread stopped"));
                    }
                }
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::error!(error = %reason, "SQLite: commit failed; the batch is rolled back");
                let _ = conn.execute_batch("ROLLBACK");
                for finish in finishes.drain(..) {
                    finish(Some(&reason));
                }
            }
        }
    }
}

/// The error a caller gets when its batch did not commit.
fn commit_error(reason: &str) -> StoreError {
    StoreError::unavailable(std::io::Error::other(format!("SQLite write failed: {reason}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_utime_plus_stime_after_the_command_name() {
        let line = "4242 (tokio (rt) worker) S 1 4242 4242 0 -1 4194560 913 0 0 0 \
                    1234 567 0 0 20 0 9 0 1720 1056768 400 18446744073709551615";
        assert_eq!(parse_cpu_ticks(line), Some(1234 + 567));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1 2"), None);
        assert_eq!(parse_cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn this_process_has_a_cpu_time_on_linux() {
        if cfg!(target_os = "linux") {
            let spin = Instant::now();
            while spin.elapsed() < Duration::from_millis(30) {}
            assert!(process_cpu_ticks().is_some_and(|t| t > 0));
        }
    }

    #[test]
    fn busy_means_over_85_percent_of_every_core() {
        let second = Duration::from_secs(1);
        assert!(saturated(170, second, 2.0), "1.70 of 2 cores");
        assert!(!saturated(169, second, 2.0), "1.69 of 2 cores");
        assert!(saturated(17, Duration::from_millis(100), 2.0), "the same share over 100 ms");
        assert!(!saturated(100, second, 2.0), "one of two cores");
        assert!(saturated(85, second, 1.0), "one core");
        assert!(!saturated(0, second, 1.0), "idle");
    }

    #[test]
    fn a_sleeping_process_is_not_busy() {
        let mut cpu = CpuGauge::new();
        assert!(!cpu.busy(), "no sample yet");
        thread::sleep(CPU_SAMPLE + Duration::from_millis(10));
        assert!(!cpu.busy(), "a sleeping test process uses no core");
    }

    struct Nothing;
    impl Job for Nothing {
        fn run(self: Box<Self>, _: &Connection) -> Finish {
            Box::new(|_| {})
        }
        fn abort(self: Box<Self>, _: &str) {}
    }

    #[test]
    fn a_small_batch_gathers_the_writes_that_arrive_while_it_waits() {
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let sender = thread::spawn(move || {
            for _ in 0..3 {
                thread::sleep(Duration::from_millis(2));
                let _ = tx.send(Box::new(Nothing));
            }
        });
        let mut batch: Vec<Box<dyn Job>> = vec![Box::new(Nothing)];
        gather(&rx, &mut batch, Duration::from_secs(5));
        assert_eq!(batch.len(), 4, "waits for the later writes, ends when the senders are gone");
        let _ = sender.join();

        let (_tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let mut full: Vec<Box<dyn Job>> =
            (0..LINGER_BELOW).map(|_| Box::new(Nothing) as _).collect();
        let start = Instant::now();
        gather(&rx, &mut full, Duration::from_secs(5));
        assert!(start.elapsed() < Duration::from_secs(1), "a full batch does not wait");
    }
}
