//! The conformance suite against a single Redis node (`SESSIOND_TEST_REDIS_URL`, tests
//! `node::…`) and a Redis Cluster (`SESSIOND_TEST_REDIS_CLUSTER_URL`, tests `cluster::…`), each
//! case under a key prefix of its own (its handles are separate stores on that prefix, as
//! separate processes would connect).

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::sync::Arc;

use sessiond_core::Store;
use sessiond_store_redis::RedisStore;
use sessiond_store_tests::{StoreFactory, env};

async fn open(url: String) -> Arc<dyn Store> {
    Arc::new(RedisStore::connect(&url).await.expect("connect to the test Redis"))
}

/// Handles on a fresh prefix of the server named by `var`.
fn stores(var: &str) -> Option<impl StoreFactory> {
    let (url, _) = common::prefixed(&env::service_url(var)?);
    Some(move || open(url.clone()))
}

async fn on_node() -> Option<impl StoreFactory> {
    stores(common::NODE_VAR)
}

async fn on_cluster() -> Option<impl StoreFactory> {
    stores(common::CLUSTER_VAR)
}

mod node {
    sessiond_store_tests::conformance_tests!(super::on_node);
}

mod cluster {
    sessiond_store_tests::conformance_tests!(super::on_cluster);
}
