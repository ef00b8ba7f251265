//! The conformance suite against SQLite, each case on a database file of its own (its handles
//! are separate stores on that file, as separate processes would open).

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::path::PathBuf;
use std::sync::Arc;

use sessiond_core::Store;
use sessiond_store_sqlite::SqliteStore;
use sessiond_store_tests::StoreFactory;

async fn open(path: PathBuf) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(path).expect("open SQLite store"))
}

async fn make() -> Option<impl StoreFactory> {
    let dir = tempfile::tempdir().expect("temp dir");
    // Keep the directory for the life of the test process; each case gets a fresh one.
    let path = dir.keep().join("sessiond.db");
    Some(move || open(path.clone()))
}

sessiond_store_tests::conformance_tests!(make);
