//! The writer thread: group commit of every queued write, with durability pipelined.
//!
//! The writer takes every queued write, runs them in one `BEGIN IMMEDIATE` transaction and
//! commits (SQLite does not fsync: `synchronous=NORMAL`). It hands the batch's callers to the
//! flusher thread and starts the next batch at once. The flusher fsyncs the WAL file and only
//! then answers every caller whose batch committed before that fsync began: an acknowledged
//! write is on disk, and commit work overlaps the fsync latency instead of waiting for it.

use std::fs::File;
use std::sync::mpsc;
use std::thread;

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
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
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
