//! The writer thread: group commit of every queued write.

use std::sync::mpsc;
use std::thread;

use rusqlite::Connection;
use sessiond_core::StoreError;
use sessiond_core::store::StoreResult;
use tokio::sync::oneshot;

/// Called once the batch's transaction has committed (`None`) or failed (`Some(reason)`).
pub(crate) type Finish = Box<dyn FnOnce(Option<&str>) + Send>;

/// A queued write.
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

/// Starts the writer thread on `conn`. The thread ends, after committing everything queued,
/// when the last sender is dropped.
pub(crate) fn spawn(conn: Connection) -> std::io::Result<mpsc::Sender<Box<dyn Job>>> {
    let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
    thread::Builder::new()
        .name("sessiond-sqlite-writer".to_owned())
        .spawn(move || run(&conn, &rx))?;
    Ok(tx)
}

fn run(conn: &Connection, rx: &mpsc::Receiver<Box<dyn Job>>) {
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
        let reason = conn.execute_batch("COMMIT").err().map(|e| e.to_string());
        if let Some(r) = &reason {
            tracing::error!(error = %r, "SQLite: commit failed; the batch is rolled back");
            let _ = conn.execute_batch("ROLLBACK");
        }
        for finish in finishes.drain(..) {
            finish(reason.as_deref());
        }
    }
}

/// The error a caller gets when its batch did not commit.
fn commit_error(reason: &str) -> StoreError {
    StoreError::unavailable(std::io::Error::other(format!(
        "SQLite write failed: {reason}"
    )))
}
