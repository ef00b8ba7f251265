//! The conformance suite against PostgreSQL, each case in a fresh schema of its own (its handles
//! are separate stores on that schema, as separate processes would connect).
//!
//! Needs `SESSIOND_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`); without
//! it every case prints a skip line, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::sync::Arc;

use sessiond_core::Store;
use sessiond_store_postgres::PostgresStore;
use sessiond_store_tests::StoreFactory;

async fn open(url: String) -> Arc<dyn Store> {
    let store = PostgresStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e:?}", common::URL_VAR));
    Arc::new(store)
}

async fn make() -> Option<impl StoreFactory> {
    let url = common::server_url()?;
    common::sweep_stale_schemas(&url).await;
    let url = common::url_with(&url, &common::fresh_schema(), None);
    Some(move || open(url.clone()))
}

sessiond_store_tests::conformance_tests!(make);
