//! WAL checkpoints off the writer thread.
//!
//! SQLite's automatic checkpoint runs inside the committing thread and, measured under load,
//! took a third of the writer's time. Here a separate thread with its own connection runs
//! `PRAGMA wal_checkpoint(PASSIVE)` every [`INTERVAL`]: passive checkpoints never block the
//! writer or readers, so the copy-back runs on another core while commits continue. The writer
//! keeps a high automatic threshold as a backstop should this thread fall behind.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

/// How often the checkpointer runs.
pub(crate) const INTERVAL: Duration = Duration::from_millis(50);

/// Starts the checkpointer on `conn`; it stops when the returned sender is dropped.
pub(crate) fn spawn(conn: Connection) -> std::io::Result<mpsc::Sender<()>> {
    let (stop, rx) = mpsc::channel::<()>();
    thread::Builder::new().name("sessiond-sqlite-checkpoint".to_owned()).spawn(move || {
        // Runs until the store is dropped (the sender disconnects).
        while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(INTERVAL) {
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::debug!(error = %e, "SQLite checkpoint skipped");
            }
        }
        // A last full checkpoint so a stopped store leaves a compact file.
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    })?;
    Ok(stop)
}
