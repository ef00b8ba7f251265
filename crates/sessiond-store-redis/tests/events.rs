//! The revocation log on Redis and Redis Cluster beyond the conformance suite: pushes between
//! stores (as between processes) through `XREAD BLOCK` on a connection of its own, which never
//! holds up the store's shared connection; the keys live under the prefix, and `wipe` leaves
//! no stream behind. Each test runs against every server configured
//! (`SESSIOND_TEST_REDIS_URL`, `SESSIOND_TEST_REDIS_CLUSTER_URL`), each time under a fresh
//! prefix.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::time::{Duration, Instant};

use common::{prefixed, raw, servers};
use sessiond_core::Store;
use sessiond_core::store::EventKind;
use sessiond_store_redis::RedisStore;
use sessiond_store_tests::fixtures::{append_until_pushed, last_cursor, revoked};

/// An append through one store reaches another store's signal (as another process's) through
/// its `XREAD BLOCK` reader, at once; while that reader blocks, the other store's own requests
/// are not held up (the reader has a connection of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_are_pushed_to_other_stores_without_blocking_them() {
    for base in servers() {
        let (url, _) = prefixed(&base);
        let a = RedisStore::connect(&url).await.unwrap();
        let b = RedisStore::connect(&url).await.unwrap();
        assert_eq!(b.event_poll_interval(), Duration::from_secs(1));
        let mut signal = b.event_signal().expect("Redis pushes");
        let took = append_until_pushed(&a, &mut signal, 10)
            .await
            .unwrap_or_else(|| panic!("{url}: B's signal never followed A's appends"));
        eprintln!("{url}: first push after {took:?}");
        for _ in 0..5 {
            let took = append_until_pushed(&a, &mut signal, 1)
                .await
                .unwrap_or_else(|| panic!("{url}: an append was not pushed within 500 ms"));
            assert!(took < Duration::from_millis(500), "{took:?}");
        }
        // B's reader is blocked in XREAD now, most of the time: B's requests still answer at
        // once.
        for _ in 0..30 {
            let t = Instant::now();
            b.events_since(0, 1).await.unwrap();
            b.ping().await.unwrap();
            assert!(
                t.elapsed() < Duration::from_millis(300),
                "{url}: a request waited {:?} (behind a blocking read?)",
                t.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The log is a stream under the store's prefix (another prefix sees nothing of it), and
/// `wipe` deletes it while cursors keep growing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_lives_under_the_prefix_and_wipe_leaves_no_stream() {
    for base in servers() {
        let (url, prefix) = prefixed(&base);
        let store = RedisStore::connect(&url).await.unwrap();
        let other = RedisStore::connect(&prefixed(&base).0).await.unwrap();
        store
            .append_events(&[revoked("h1"), EventKind::KeysReset], 1_900_000_000_000)
            .await
            .unwrap();
        let log = format!("{{{prefix}:events}}:log");
        let meta = format!("{{{prefix}:events}}:meta");
        let kind: String = raw(&url, redis::cmd("TYPE").arg(&log)).await;
        assert_eq!(kind, "stream", "{url}");
        let len: i64 = raw(&url, redis::cmd("XLEN").arg(&log)).await;
        assert_eq!(len, 2);
        assert!(other.events_since(0, 10).await.unwrap().events.is_empty());
        let c = last_cursor(&store).await;

        store.wipe().await.unwrap();
        let exists: i64 = raw(&url, redis::cmd("EXISTS").arg(&log)).await;
        assert_eq!(exists, 0, "{url}: wipe leaves no stream behind");
        let ttl: i64 = raw(&url, redis::cmd("PTTL").arg(&meta)).await;
        assert!(ttl > 0, "{url}: the meta hash expires unless used ({ttl})");
        // A reader that had read everything is current; cursors go on growing.
        store.append_events(&[revoked("h2")], 1_900_000_000_000).await.unwrap();
        let page = store.events_since(c, 10).await.unwrap();
        assert!(page.continuous);
        assert_eq!(page.events.len(), 1);
        assert!(page.events[0].cursor > c);
        // A reader from the start learns that events were removed.
        assert!(!store.events_since(0, 10).await.unwrap().continuous);
        let ttl: i64 = raw(&url, redis::cmd("PTTL").arg(&meta)).await;
        assert_eq!(ttl, -1, "{url}: in use again, the meta hash stays");
        store.wipe().await.unwrap();
    }
}
