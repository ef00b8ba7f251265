//! The conformance suite against the in-memory store.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::sync::Arc;

use sessiond_core::{MemoryStore, Store};

async fn make() -> Option<Arc<dyn Store>> {
    Some(Arc::new(MemoryStore::new()))
}

sessiond_store_tests::conformance_tests!(make);
