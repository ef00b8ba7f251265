//! Store URLs: `redis://[user:pass@]host:port[/db][?options]` and
//! `redis+cluster://host:port,host:port[?options]`.
//!
//! Options: `prefix=NAME` (default `sessiond`; `[A-Za-z0-9_.-]`, so runs and apps can share a
//! server without seeing each other's data), `wait_replicas=N` and `wait_timeout_ms=MS` (after
//! a revocation, `WAIT` for N replicas to acknowledge it; see the README), `timeout_ms=MS`
//! (connection and response timeout, default 2000: a dead server fails fast instead of hanging
//! requests).

use std::time::Duration;

use sessiond_core::StoreError;

/// What a Redis store URL asks for, checked: where to connect and how to behave there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// Node URLs (`redis://…`); several for a cluster.
    pub nodes: Vec<String>,
    /// Whether the nodes form a Redis Cluster.
    pub cluster: bool,
    /// The prefix of every key (`prefix=`), so deployments can share a server.
    pub prefix: String,
    /// Replicas a revocation must reach (`WAIT`), 0 for none.
    pub wait_replicas: u32,
    /// How long a revocation waits for those replicas before failing.
    pub wait_timeout: Duration,
    /// How long to wait for a connection or a reply before failing (`timeout_ms=`).
    pub timeout: Duration,
}

/// A URL that can never work: a configuration error, which names the problem but never quotes
/// the URL (it may hold a password).
fn bad(msg: impl Into<String>) -> StoreError {
    StoreError::Config(msg.into())
}

impl RedisOptions {
    /// Parses `redis://…` or `redis+cluster://…` and its options, without connecting.
    ///
    /// # Errors
    /// [`StoreError::Config`] naming the problem (an unknown scheme or option, an invalid
    /// value, no host), without the URL.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let (cluster, rest) = if let Some(r) = url.strip_prefix("redis+cluster://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("redis://") {
            (false, r)
        } else {
            return Err(bad("a Redis store URL starts with redis:// or redis+cluster://"));
        };
        let (hosts, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut opts = RedisOptions {
            nodes: Vec::new(),
            cluster,
            prefix: "sessiond".to_owned(),
            wait_replicas: 0,
            wait_timeout: Duration::from_millis(1000),
            timeout: Duration::from_millis(2000),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let num = |name: &str| {
                v.parse::<u64>()
                    .map_err(|_| bad(format!("Redis URL option {name} must be a number")))
            };
            match k {
                "prefix" => {
                    if v.is_empty()
                        || v.len() > 64
                        || !v
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
                    {
                        return Err(bad("Redis URL option prefix must be 1-64 of [A-Za-z0-9_.-]"));
                    }
                    opts.prefix = v.to_owned();
                }
                "wait_replicas" => {
                    opts.wait_replicas =
                        u32::try_from(num(k)?).map_err(|_| bad("wait_replicas is too large"))?;
                }
                "wait_timeout_ms" => opts.wait_timeout = Duration::from_millis(num(k)?),
                "timeout_ms" => opts.timeout = Duration::from_millis(num(k)?.max(1)),
                other => return Err(bad(format!("unknown Redis URL option `{other}`"))),
            }
        }
        if cluster {
            for h in hosts.split(',').filter(|h| !h.is_empty()) {
                opts.nodes.push(format!("redis://{h}"));
            }
        } else {
            opts.nodes.push(format!("redis://{hosts}"));
        }
        if opts.nodes.is_empty() || hosts.is_empty() {
            return Err(bad("a Redis store URL needs at least one host:port"));
        }
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let o = RedisOptions::parse(
            "redis://127.0.0.1:6379/2?prefix=app1&wait_replicas=1&wait_timeout_ms=50",
        )
        .unwrap();
        assert_eq!(o.nodes, vec!["redis://127.0.0.1:6379/2"]);
        assert!(!o.cluster);
        assert_eq!(o.prefix, "app1");
        assert_eq!(o.wait_replicas, 1);
        assert_eq!(o.wait_timeout, Duration::from_millis(50));
        let c = RedisOptions::parse("redis+cluster://127.0.0.1:7000,127.0.0.1:7001").unwrap();
        assert!(c.cluster);
        assert_eq!(c.nodes.len(), 2);
        assert_eq!(c.prefix, "sessiond");
        for bad in [
            "redis://",
            "http://x",
            "redis://h?prefix=a{b}",
            "redis://h?nope=1",
            "redis://h?timeout_ms=x",
        ] {
            assert!(RedisOptions::parse(bad).is_err(), "{bad}");
        }
    }

    /// A URL that can never work is a configuration error, on a node or a cluster, from the
    /// option parser or the Redis client's own URL parsing, and never quotes the password.
    #[tokio::test]
    async fn malformed_urls_are_configuration_errors() {
        for bad in [
            "redis://",
            "http://:hunter2@x",
            "redis://:hunter2@h?prefix=a{b}",
            "redis://:hunter2@h?nope=1",
            "redis://:hunter2@h?timeout_ms=x",
            "redis://:hunter2@h?wait_replicas=99999999999",
            "redis://:hunter2@h:99999",
            "redis+cluster://",
            "redis+cluster://:hunter2@h:1,h:2?nope=1",
            "redis+cluster://:hunter2@h:99999,h:2",
        ] {
            match crate::RedisStore::connect(bad).await {
                Err(StoreError::Config(msg)) => assert!(!msg.contains("hunter2"), "{bad}: {msg}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
