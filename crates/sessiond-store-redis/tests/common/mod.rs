//! Shared by the Redis integration tests: the configured servers, a fresh key prefix for every
//! store, raw commands that look under the store, and the frozen encoding of earlier builds.

#![allow(dead_code)] // each test binary uses its own share of these

pub(crate) mod v1;

use redis::FromRedisValue;
use sessiond_store_tests::{env, fixtures};

/// The single node's variable, e.g. `redis://127.0.0.1:6379`.
pub(crate) const NODE_VAR: &str = "SESSIOND_TEST_REDIS_URL";
/// The cluster's variable, e.g. `redis+cluster://127.0.0.1:7000,127.0.0.1:7001`.
pub(crate) const CLUSTER_VAR: &str = "SESSIOND_TEST_REDIS_CLUSTER_URL";

/// The configured servers' URLs (without options): the node, then the cluster. Under `CI=true`
/// both must be set.
pub(crate) fn servers() -> Vec<String> {
    [NODE_VAR, CLUSTER_VAR].into_iter().filter_map(env::service_url).collect()
}

/// A key prefix no other store, case or run uses.
pub(crate) fn fresh_prefix() -> String {
    format!("sdt-{}", uuid::Uuid::new_v4().simple())
}

/// `base` under a fresh prefix: the store URL, and the prefix.
pub(crate) fn prefixed(base: &str) -> (String, String) {
    let prefix = fresh_prefix();
    (fixtures::with_param(base, "prefix", &prefix), prefix)
}

/// Runs one command against the server(s) of `url`, routed by its key on a cluster.
pub(crate) async fn raw<T: FromRedisValue>(url: &str, cmd: &redis::Cmd) -> T {
    let base = url.split('?').next().unwrap();
    if let Some(hosts) = base.strip_prefix("redis+cluster://") {
        let nodes: Vec<String> = hosts.split(',').map(|h| format!("redis://{h}")).collect();
        let mut c = redis::cluster::ClusterClient::new(nodes)
            .unwrap()
            .get_async_connection()
            .await
            .unwrap();
        cmd.query_async(&mut c).await.unwrap()
    } else {
        let mut c =
            redis::Client::open(base).unwrap().get_multiplexed_async_connection().await.unwrap();
        cmd.query_async(&mut c).await.unwrap()
    }
}
