//! The conformance suite against PostgreSQL, each case in its own fresh schema.
//!
//! Needs `SESSIOND_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`); without
//! it every case prints a skip line, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::sync::Arc;

use sessiond_core::Store;
use sessiond_store_postgres::PostgresStore;

async fn make() -> Option<Arc<dyn Store>> {
    let url = common::server_url()?;
    common::sweep_stale_schemas(&url).await;
    let schema = common::fresh_schema();
    let store = PostgresStore::connect(&common::url_with(&url, &schema, None))
        .await
        .unwrap_or_else(|e| panic!("connect to {} (schema {schema}): {e:?}", common::URL_VAR));
    Some(Arc::new(store))
}

sessiond_store_tests::conformance_tests!(make);
