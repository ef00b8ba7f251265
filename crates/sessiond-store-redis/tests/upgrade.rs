//! Data an earlier build left in Redis, read and carried on by this one: session records of 19
//! fields (before rotation times) and key records without an app. Runs against every server
//! configured (`SESSIOND_TEST_REDIS_URL`, `SESSIOND_TEST_REDIS_CLUSTER_URL`), each time under a
//! fresh prefix.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::sync::Arc;

use common::v1::encode_v1;
use common::{raw, servers};
use sessiond_core::model::handle_tag;
use sessiond_core::store::UpdateOutcome;
use sessiond_core::{KeyKind, KeyRecord, SessionRecord, Store, UserQuery};
use sessiond_store_redis::RedisStore;
use sessiond_store_tests::fixtures::{T0, handle_for, key, key_in, record};
use sessiond_store_tests::upgrade::{self, by_kid};

/// The key record of builds before per-app keys (no `app_id`), frozen.
fn old_key_json(k: &KeyRecord) -> String {
    serde_json::json!({
        "kid": k.kid,
        "kind": k.kind.as_str(),
        "alg": k.alg.as_str(),
        "material": sessiond_core::b64::encode(&k.material),
        "sealed": k.sealed,
        "public_jwk": k.public_jwk,
        "created_at": k.created_at,
    })
    .to_string()
}

fn session_key(prefix: &str, handle: &str) -> String {
    format!("{{{prefix}:{:03x}}}:s:{handle}", handle_tag(handle).unwrap())
}

/// Writes a session as an earlier build did: its index entry, then the 19-field record.
async fn write_old_session(url: &str, prefix: &str, r: &SessionRecord) {
    let tag = handle_tag(&r.handle).unwrap();
    raw::<i64>(
        url,
        redis::cmd("ZADD")
            .arg(format!("{{{prefix}:{tag:03x}}}:i"))
            .arg(r.expires_at)
            .arg(format!("{}\0{}\0{}", r.app_id, r.user_id, r.handle)),
    )
    .await;
    raw::<String>(
        url,
        redis::cmd("SET")
            .arg(session_key(prefix, &r.handle))
            .arg(encode_v1(r))
            .arg("PXAT")
            .arg(r.absolute_expires_at + 24 * 3600 * 1000),
    )
    .await;
}

/// How many fields the stored record of `handle` has (the MessagePack array16 header).
async fn stored_fields(url: &str, prefix: &str, handle: &str) -> u8 {
    let b: Vec<u8> = raw(url, redis::cmd("GET").arg(session_key(prefix, handle))).await;
    assert_eq!(&b[..2], &[0xdc, 0], "an array16");
    b[2]
}

/// The default app's keys, sorted by kid.
async fn default_app_keys(store: &RedisStore) -> Vec<KeyRecord> {
    let keys = store.load_keys().await.unwrap();
    by_kid(keys.into_iter().filter(|k| k.app_id == "public").collect())
}

/// Keys and sessions written by a build before per-app keys and rotation times: the keys are
/// the default app's (for `load_keys`, `insert_key_if_newest` and `replace_keys` alike), the
/// sessions read with no rotation times, data updates and activity keep them readable, and the
/// first rotation gives them their rotation times. A manager carries on over them
/// (`sessiond_store_tests::upgrade::a_manager_carries_on`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_earlier_builds_are_read_and_carried_on() {
    for base in servers() {
        let (url, prefix) = common::prefixed(&base);
        let old = upgrade::earlier_build().await;
        let h = &old.session.handle;
        let store = Arc::new(RedisStore::connect(&url).await.unwrap());
        for k in &old.keys {
            raw::<i64>(
                &url,
                redis::cmd("HSET")
                    .arg(format!("{{{prefix}:keys}}:all"))
                    .arg(&k.kid)
                    .arg(old_key_json(k)),
            )
            .await;
        }
        write_old_session(&url, &prefix, &old.session).await;
        assert_eq!(stored_fields(&url, &prefix, h).await, 19);
        upgrade::a_manager_carries_on(Arc::clone(&store) as Arc<dyn Store>, &old).await;
        assert_eq!(stored_fields(&url, &prefix, h).await, 20, "the rotation appended the field");

        // An old record through every script: data update, touch, listing, deletion.
        let plain = handle_for("plain");
        let plain_rec = record(&plain, "plain", T0);
        write_old_session(&url, &prefix, &plain_rec).await;
        let upd = sessiond_core::store::DataUpdate {
            handle: &plain,
            expected_version: 0,
            public_data: Some(r#"{"v":1}"#),
            private_data: None,
            now: T0,
        };
        assert_eq!(store.update_data(&upd).await.unwrap(), UpdateOutcome::Updated(1));
        store.touch_session(&plain, T0 + 10, T0 + 3_700_000).await.unwrap();
        assert_eq!(stored_fields(&url, &prefix, &plain).await, 19);
        let listed = store.list_user_sessions(&UserQuery::user("plain"), T0 + 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].public_data, r#"{"v":1}"#);
        assert!(listed[0].recent_rotations.is_empty());
        assert_eq!(
            store.delete_user_sessions(&UserQuery::user("plain")).await.unwrap(),
            vec![plain.clone()]
        );

        // Old key records are the default app's to the key scripts too.
        let dynamic = old.keys.iter().find(|k| k.kind == KeyKind::Dynamic).unwrap();
        let got =
            store.insert_key_if_newest(None, &key(KeyKind::Dynamic, "d-never", T0)).await.unwrap();
        assert_eq!(got, *dynamic, "the old key is the default app's newest");
        let got = store
            .insert_key_if_newest(None, &key_in("c", KeyKind::Dynamic, "c-d", T0))
            .await
            .unwrap();
        assert_eq!(got.kid, "c-d", "but not another app's");
        store.replace_keys("c", &KeyKind::RESET, &[]).await.unwrap();
        assert_eq!(default_app_keys(&store).await, old.keys);
        store
            .replace_keys("public", &[KeyKind::Dynamic], &[key(KeyKind::Dynamic, "d-new", T0)])
            .await
            .unwrap();
        let now: Vec<String> = default_app_keys(&store).await.into_iter().map(|k| k.kid).collect();
        assert!(now.contains(&"d-new".to_owned()));
        assert!(!now.contains(&dynamic.kid), "the old dynamic key was replaced");
        assert_eq!(now.len(), old.keys.len());
        store.wipe().await.unwrap();
    }
}
