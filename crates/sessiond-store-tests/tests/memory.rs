//! The conformance suite against the in-memory store (one process: every handle is the same
//! store).

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::sync::Arc;

use sessiond_core::MemoryStore;
use sessiond_store_tests::{StoreFactory, same_store};

async fn make() -> Option<impl StoreFactory> {
    Some(same_store(Arc::new(MemoryStore::new())))
}

sessiond_store_tests::conformance_tests!(make);
