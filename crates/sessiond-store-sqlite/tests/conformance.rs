//! The conformance suite against SQLite, each case on its own database file.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::sync::Arc;

use sessiond_core::Store;
use sessiond_store_sqlite::SqliteStore;

async fn make() -> Option<Arc<dyn Store>> {
    let dir = tempfile::tempdir().expect("temp dir");
    // Keep the directory for the life of the test process; each case gets a fresh one.
    let path = dir.keep().join("sessiond.db");
    Some(Arc::new(
        SqliteStore::open(path).expect("open SQLite store"),
    ))
}

sessiond_store_tests::conformance_tests!(make);
