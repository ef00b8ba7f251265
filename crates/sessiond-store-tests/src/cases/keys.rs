//! Key-table guarantees of the `Store` trait.

use std::sync::Arc;

use sessiond_core::{KeyKind, Store};

use crate::fixtures::{T0, key};

/// Of many concurrent creators expecting no key, exactly one inserts; all see the same key.
pub async fn key_creation_is_isolated(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let candidate = key(KeyKind::Dynamic, &format!("d-{i}"), T0 + i);
                store
                    .insert_key_if_newest(None, &candidate)
                    .await
                    .unwrap()
                    .kid
            })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.dedup();
    assert_eq!(
        seen.len(),
        1,
        "every creator must see the one winner: {seen:?}"
    );
    let keys = store.load_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid, seen[0]);
    assert_eq!(
        keys[0].material,
        (0u8..=255).collect::<Vec<u8>>(),
        "material is stored byte for byte"
    );

    // Other kinds are independent.
    let svc = store
        .insert_key_if_newest(None, &key(KeyKind::Service, "svc-1", T0))
        .await
        .unwrap();
    assert_eq!(svc.kid, "svc-1");
}

/// Rotation inserts only from the expected newest key; reset replaces whole kinds atomically.
pub async fn key_rotation_and_reset(store: Arc<dyn Store>) {
    let first = store
        .insert_key_if_newest(None, &key(KeyKind::Dynamic, "d-a", T0))
        .await
        .unwrap();
    assert_eq!(first.kid, "d-a");
    // Rotating from the current key inserts.
    let second = store
        .insert_key_if_newest(Some("d-a"), &key(KeyKind::Dynamic, "d-b", T0 + 10))
        .await
        .unwrap();
    assert_eq!(second.kid, "d-b");
    // A stale expectation returns the real newest and inserts nothing.
    let stale = store
        .insert_key_if_newest(Some("d-a"), &key(KeyKind::Dynamic, "d-c", T0 + 20))
        .await
        .unwrap();
    assert_eq!(stale.kid, "d-b");
    // Racing rotations from the same key: one winner.
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let k = key(KeyKind::Dynamic, &format!("d-r{i}"), T0 + 30 + i);
                store
                    .insert_key_if_newest(Some("d-b"), &k)
                    .await
                    .unwrap()
                    .kid
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        winners.push(t.await.unwrap());
    }
    winners.dedup();
    assert_eq!(winners.len(), 1, "{winners:?}");
    let mut kids: Vec<String> = store
        .load_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    kids.sort();
    assert_eq!(kids.len(), 3, "{kids:?}");

    store
        .insert_key_if_newest(None, &key(KeyKind::Chain, "chain-1", T0))
        .await
        .unwrap();
    store
        .replace_keys(
            &[KeyKind::Dynamic, KeyKind::Static, KeyKind::Service],
            &[
                key(KeyKind::Dynamic, "d-new", T0 + 100),
                key(KeyKind::Service, "svc-new", T0 + 100),
            ],
        )
        .await
        .unwrap();
    let mut kids: Vec<String> = store
        .load_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    kids.sort();
    assert_eq!(kids, vec!["chain-1", "d-new", "svc-new"]);

    store.delete_keys(&["d-new".to_owned()]).await.unwrap();
    let kids: Vec<String> = store
        .load_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert!(!kids.contains(&"d-new".to_owned()));
}
