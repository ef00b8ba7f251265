//! The conformance suite against a single Redis node (`SESSIOND_TEST_REDIS_URL`), each case
//! under its own key prefix.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::sync::Arc;

use sessiond_core::Store;
use sessiond_store_redis::RedisStore;

async fn make() -> Option<Arc<dyn Store>> {
    let url = sessiond_store_tests::env::service_url("SESSIOND_TEST_REDIS_URL")?;
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}prefix=sdt-{}", uuid::Uuid::new_v4().simple());
    Some(Arc::new(
        RedisStore::connect(&url)
            .await
            .expect("connect to the test Redis"),
    ))
}

sessiond_store_tests::conformance_tests!(make);
