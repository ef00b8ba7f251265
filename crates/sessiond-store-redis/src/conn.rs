//! One connection type over a single node (`ConnectionManager`: multiplexed, reconnects by
//! itself) or a cluster (`ClusterConnection`), with timeouts so a dead server fails fast.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, FromRedisValue, RedisResult, ScriptInvocation};
use sessiond_core::StoreError;

use crate::config::RedisOptions;
use crate::keys::slot;

/// Concurrent requests a cluster fan-out keeps in flight.
const CLUSTER_FANOUT: usize = 64;

/// An error of the Redis client's own URL parsing (a bad port, database number or host) is a
/// configuration error: the URL can never work. Its text is the client's, which names the
/// problem and never quotes the URL.
fn client_error(e: redis::RedisError) -> StoreError {
    if e.kind() == redis::ErrorKind::InvalidClientConfig {
        StoreError::Config(format!("invalid Redis store URL: {e}"))
    } else {
        StoreError::unavailable(e)
    }
}

#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    /// Connects with `o.timeout` to connect and `response_timeout` for each reply.
    pub(crate) async fn connect(
        o: &RedisOptions, response_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let unavailable = StoreError::unavailable;
        if o.cluster {
            let client = redis::cluster::ClusterClient::builder(o.nodes.clone())
                .connection_timeout(o.timeout)
                .response_timeout(response_timeout)
                .retries(2)
                .build()
                .map_err(client_error)?;
            let conn = tokio::time::timeout(o.timeout * 3, client.get_async_connection())
                .await
                .map_err(|_| {
                    StoreError::unavailable(std::io::Error::other(
                        "timed out connecting to the Redis Cluster",
                    ))
                })?
                .map_err(unavailable)?;
            Ok(Conn::Cluster(conn))
        } else {
            let client = redis::Client::open(o.nodes[0].as_str()).map_err(client_error)?;
            let cfg = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(o.timeout))
                .set_response_timeout(Some(response_timeout))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(500));
            let conn = tokio::time::timeout(
                o.timeout * 3,
                ConnectionManager::new_with_config(client, cfg),
            )
            .await
            .map_err(|_| {
                StoreError::unavailable(std::io::Error::other("timed out connecting to Redis"))
            })?
            .map_err(unavailable)?;
            Ok(Conn::Single(conn))
        }
    }

    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        match self {
            Conn::Single(c) => cmd.query_async(&mut c.clone()).await,
            Conn::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }

    /// Runs independent commands and returns their replies in order: one pipeline on a single
    /// node; on a cluster (where a pipeline may not cross slots) concurrent requests, at most
    /// [`CLUSTER_FANOUT`] in flight.
    pub(crate) async fn each<T: FromRedisValue + Send + 'static>(
        &self, cmds: Vec<Cmd>,
    ) -> RedisResult<Vec<T>> {
        match self {
            Conn::Single(c) => {
                let mut p = redis::pipe();
                for cmd in cmds {
                    p.add_command(cmd);
                }
                p.query_async(&mut c.clone()).await
            }
            Conn::Cluster(c) => {
                let mut out = Vec::with_capacity(cmds.len());
                let mut cmds = cmds.into_iter().peekable();
                while cmds.peek().is_some() {
                    let mut set = tokio::task::JoinSet::new();
                    for (i, cmd) in cmds.by_ref().take(CLUSTER_FANOUT).enumerate() {
                        let mut conn = c.clone();
                        set.spawn(async move { (i, cmd.query_async::<T>(&mut conn).await) });
                    }
                    let mut chunk: Vec<(usize, RedisResult<T>)> = set.join_all().await;
                    chunk.sort_by_key(|(i, _)| *i);
                    for (_, r) in chunk {
                        out.push(r?);
                    }
                }
                Ok(out)
            }
        }
    }

    /// Runs a pipeline whose keys share one slot.
    pub(crate) async fn pipeline<T: FromRedisValue>(&self, p: &redis::Pipeline) -> RedisResult<T> {
        match self {
            Conn::Single(c) => p.query_async(&mut c.clone()).await,
            Conn::Cluster(c) => p.query_async(&mut c.clone()).await,
        }
    }

    pub(crate) async fn invoke<T: FromRedisValue>(
        &self, inv: &ScriptInvocation<'_>,
    ) -> RedisResult<T> {
        match self {
            Conn::Single(c) => inv.invoke_async(&mut c.clone()).await,
            Conn::Cluster(c) => inv.invoke_async(&mut c.clone()).await,
        }
    }

    /// `WAIT replicas timeout` on the node that owns `hash_tag`'s slot.
    pub(crate) async fn wait(
        &self, hash_tag: &str, replicas: u32, timeout: Duration,
    ) -> RedisResult<i64> {
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas).arg(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        match self {
            Conn::Single(c) => cmd.query_async(&mut c.clone()).await,
            Conn::Cluster(c) => {
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                    Route::new(slot(hash_tag), SlotAddr::Master),
                ));
                let v = c.clone().route_command(cmd, route).await?;
                Ok(i64::from_redis_value(v)?)
            }
        }
    }
}
