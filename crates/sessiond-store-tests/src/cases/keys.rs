//! Key-table guarantees of the `Store` trait.

use std::sync::Arc;

use sessiond_core::{KeyKind, KeyRecord, Store};
use tokio::sync::Barrier;

use crate::fixtures::{T0, key, key_in};

/// The kid of every stored key, sorted.
async fn stored_kids(store: &Arc<dyn Store>) -> Vec<String> {
    let mut kids: Vec<String> =
        store.load_keys().await.unwrap().into_iter().map(|k| k.kid).collect();
    kids.sort();
    kids
}

/// `n` creators at once, creator `i` offering `candidate(i)` if the newest key is `expected`:
/// the kids they got back, sorted, each once (one kid when the insert is isolated).
async fn race_creators(
    store: &Arc<dyn Store>, expected: Option<&str>, n: i64, candidate: impl Fn(i64) -> KeyRecord,
) -> Vec<String> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (store, expected, k) =
                (Arc::clone(store), expected.map(str::to_owned), candidate(i));
            tokio::spawn(async move {
                store.insert_key_if_newest(expected.as_deref(), &k).await.unwrap().kid
            })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.sort();
    seen.dedup();
    seen
}

/// Of many concurrent creators expecting no key, exactly one inserts; all see the same key.
pub async fn key_creation_is_isolated(store: Arc<dyn Store>) {
    let seen =
        race_creators(&store, None, 24, |i| key(KeyKind::Dynamic, &format!("d-{i}"), T0 + i)).await;
    assert_eq!(seen.len(), 1, "every creator must see the one winner: {seen:?}");
    let keys = store.load_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid, seen[0]);
    assert_eq!(
        keys[0].material,
        (0u8..=255).collect::<Vec<u8>>(),
        "material is stored byte for byte"
    );

    // Other kinds are independent.
    let svc = insert_if_newest(&*store, None, &key(KeyKind::Service, "svc-1", T0)).await;
    assert_eq!(svc.kid, "svc-1");
}

/// `insert_key_if_newest(expected, k)`: the newest key of `k`'s app and kind afterwards.
async fn insert_if_newest(store: &dyn Store, expected: Option<&str>, k: &KeyRecord) -> KeyRecord {
    store.insert_key_if_newest(expected, k).await.unwrap()
}

/// Rotation inserts only from the expected newest key; reset replaces whole kinds atomically.
pub async fn key_rotation_and_reset(store: Arc<dyn Store>) {
    let first = insert_if_newest(&*store, None, &key(KeyKind::Dynamic, "d-a", T0)).await;
    assert_eq!(first.kid, "d-a");
    // Rotating from the current key inserts.
    let second =
        insert_if_newest(&*store, Some("d-a"), &key(KeyKind::Dynamic, "d-b", T0 + 10)).await;
    assert_eq!(second.kid, "d-b");
    // A stale expectation returns the real newest and inserts nothing.
    let stale =
        insert_if_newest(&*store, Some("d-a"), &key(KeyKind::Dynamic, "d-c", T0 + 20)).await;
    assert_eq!(stale.kid, "d-b");
    // Racing rotations from the same key: one winner.
    let winners = race_creators(&store, Some("d-b"), 16, |i| {
        key(KeyKind::Dynamic, &format!("d-r{i}"), T0 + 30 + i)
    })
    .await;
    assert_eq!(winners.len(), 1, "{winners:?}");
    let kids = stored_kids(&store).await;
    assert_eq!(kids.len(), 3, "{kids:?}");

    insert_if_newest(&*store, None, &key(KeyKind::Chain, "chain-1", T0)).await;
    store
        .replace_keys(
            "public",
            &[KeyKind::Dynamic, KeyKind::Static, KeyKind::Service],
            &[key(KeyKind::Dynamic, "d-new", T0 + 100), key(KeyKind::Service, "svc-new", T0 + 100)],
        )
        .await
        .unwrap();
    assert_eq!(stored_kids(&store).await, vec!["chain-1", "d-new", "svc-new"]);

    store.delete_keys(&["d-new".to_owned()]).await.unwrap();
    assert!(!stored_kids(&store).await.contains(&"d-new".to_owned()));
}

/// Every stored key as (app, kind, kid), sorted.
async fn stored(store: &Arc<dyn Store>) -> Vec<(String, &'static str, String)> {
    let mut all: Vec<_> = store
        .load_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.app_id, k.kind.as_str(), k.kid))
        .collect();
    all.sort();
    all
}

fn row(app: &str, kind: KeyKind, kid: &str) -> (String, &'static str, String) {
    (app.to_owned(), kind.as_str(), kid.to_owned())
}

/// Each app has keys of its own: the newest key of a kind is looked up within the key's app,
/// `replace_keys` replaces one app's kinds only, and every key comes back with its app.
pub async fn keys_of_apps_are_independent(store: Arc<dyn Store>) {
    use KeyKind::{Chain, Dynamic, Service, Static};
    // App a has a dynamic key; app b has none, so a creator in b expecting none inserts, even
    // though a's key is newer than anything b will hold.
    let a1 = insert_if_newest(&*store, None, &key_in("a", Dynamic, "a-d-1", T0 + 1_000)).await;
    assert_eq!((a1.kid.as_str(), a1.app_id.as_str()), ("a-d-1", "a"));
    let b1 = insert_if_newest(&*store, None, &key_in("b", Dynamic, "b-d-1", T0)).await;
    assert_eq!(
        (b1.kid.as_str(), b1.app_id.as_str()),
        ("b-d-1", "b"),
        "a newest key in app a must not stop the first key of app b"
    );
    // Expecting another app's key is a stale expectation: b's newest comes back, nothing is
    // inserted.
    let stale =
        insert_if_newest(&*store, Some("a-d-1"), &key_in("b", Dynamic, "b-d-x", T0 + 2_000)).await;
    assert_eq!((stale.kid.as_str(), stale.app_id.as_str()), ("b-d-1", "b"));
    // A newer key in b (later, and a kid that sorts after a's) leaves a's newest as it was:
    // rotating a from a-d-1 still inserts.
    let b2 =
        insert_if_newest(&*store, Some("b-d-1"), &key_in("b", Dynamic, "b-d-2", T0 + 5_000)).await;
    assert_eq!(b2.kid, "b-d-2");
    let a2 =
        insert_if_newest(&*store, Some("a-d-1"), &key_in("a", Dynamic, "a-d-2", T0 + 1_001)).await;
    assert_eq!(a2.kid, "a-d-2", "b's newer key is not a's newest");
    // The same kid ordering inside one millisecond, across apps: each app's own tie-break.
    let a_same = insert_if_newest(&*store, None, &key_in("a", Service, "a-svc", T0)).await;
    let b_same = insert_if_newest(&*store, None, &key_in("b", Service, "b-svc", T0)).await;
    assert_eq!((a_same.kid.as_str(), b_same.kid.as_str()), ("a-svc", "b-svc"));
    for (app, kind, kid) in
        [("a", Static, "a-s"), ("a", Chain, "a-c"), ("b", Static, "b-s"), ("b", Chain, "b-c")]
    {
        let got = insert_if_newest(&*store, None, &key_in(app, kind, kid, T0)).await;
        assert_eq!(got.kid, kid);
    }
    // The default app is an app like any other.
    insert_if_newest(&*store, None, &key(Dynamic, "p-d", T0 + 9_000)).await;

    // b's keys and the default app's: what every listing below expects beside a's, since
    // nothing done to a may touch them.
    let with_others = |a_keys: &[(KeyKind, &str)]| {
        let mut a: Vec<_> = a_keys.iter().map(|&(kind, kid)| row("a", kind, kid)).collect();
        a.extend([
            row("b", Chain, "b-c"),
            row("b", Dynamic, "b-d-1"),
            row("b", Dynamic, "b-d-2"),
            row("b", Service, "b-svc"),
            row("b", Static, "b-s"),
            row("public", Dynamic, "p-d"),
        ]);
        a
    };
    // Every app's keys come back, each with its app and the rest of its record.
    let loaded: Vec<KeyRecord> = store.load_keys().await.unwrap();
    let a2_loaded = loaded.iter().find(|k| k.kid == "a-d-2").unwrap();
    assert_eq!(*a2_loaded, key_in("a", Dynamic, "a-d-2", T0 + 1_001));
    assert_eq!(
        stored(&store).await,
        with_others(&[
            (Chain, "a-c"),
            (Dynamic, "a-d-1"),
            (Dynamic, "a-d-2"),
            (Service, "a-svc"),
            (Static, "a-s")
        ])
    );

    // A reset of app a replaces a's dynamic, static and service keys, and nothing of b's (nor
    // a's chain key, a kind it was not asked to replace).
    store
        .replace_keys(
            "a",
            &KeyKind::RESET,
            &[
                key_in("a", Dynamic, "a-d-new", T0 + 10_000),
                key_in("a", Static, "a-s-new", T0 + 10_000),
                key_in("a", Service, "a-svc-new", T0 + 10_000),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        stored(&store).await,
        with_others(&[
            (Chain, "a-c"),
            (Dynamic, "a-d-new"),
            (Service, "a-svc-new"),
            (Static, "a-s-new")
        ])
    );
    // Rotation in a continues from a's new key; b's newest is untouched.
    let a3 =
        insert_if_newest(&*store, Some("a-d-new"), &key_in("a", Dynamic, "a-d-3", T0 + 10_001))
            .await;
    assert_eq!(a3.kid, "a-d-3");
    let b_stale =
        insert_if_newest(&*store, Some("b-d-1"), &key_in("b", Dynamic, "b-d-3", T0 + 10_001)).await;
    assert_eq!(b_stale.kid, "b-d-2");
    // Replacing a kind of an app with no keys of that app (b's keys have app b) deletes nothing
    // of b; replacing with nothing empties only a's kinds.
    store.replace_keys("a", &[Chain, Dynamic], &[]).await.unwrap();
    assert_eq!(stored(&store).await, with_others(&[(Service, "a-svc-new"), (Static, "a-s-new")]));
    // With a's dynamic keys gone, a creator in a expecting none inserts again.
    let a_again = insert_if_newest(&*store, None, &key_in("a", Dynamic, "a-d-again", T0)).await;
    assert_eq!(a_again.kid, "a-d-again");
    // Kids are unique across apps, so deleting by kid needs no app.
    store.delete_keys(&["b-d-1".to_owned(), "a-d-again".to_owned()]).await.unwrap();
    let kids: Vec<String> = stored(&store).await.into_iter().map(|r| r.2).collect();
    assert!(!kids.contains(&"b-d-1".to_owned()) && !kids.contains(&"a-d-again".to_owned()));
    assert!(kids.contains(&"b-d-2".to_owned()));
}

/// Creators in two apps racing at once: in each app exactly one key is inserted and every
/// creator of that app gets it back, whatever the other app's creators do; then racing
/// rotations in both apps have one winner per app.
pub async fn concurrent_key_creation_in_two_apps(store: Arc<dyn Store>) {
    const PER_APP: usize = 12;
    let apps = ["app-a", "app-b"];
    for round in 0..3 {
        store.wipe().await.unwrap();
        // Round 0: nothing anywhere. Then: rotations from each app's current key.
        let mut expected: Vec<Option<String>> = vec![None, None];
        for step in 0..2 {
            let start = Arc::new(Barrier::new(PER_APP * apps.len()));
            let mut tasks = Vec::new();
            for i in 0..PER_APP {
                for (a, app) in apps.iter().enumerate() {
                    let (store, start) = (Arc::clone(&store), Arc::clone(&start));
                    let expect = expected[a].clone();
                    // Both apps use the same instants, and b's kids sort before a's: a store
                    // comparing across apps would pick the wrong newest.
                    let kid = format!("{}-{round}-{step}-{i:02}", if a == 0 { "z" } else { "y" });
                    let candidate =
                        key_in(app, KeyKind::Dynamic, &kid, T0 + (step * 100 + i) as i64);
                    tasks.push((
                        a,
                        tokio::spawn(async move {
                            start.wait().await;
                            store.insert_key_if_newest(expect.as_deref(), &candidate).await.unwrap()
                        }),
                    ));
                }
            }
            let mut winners: Vec<Vec<String>> = vec![Vec::new(), Vec::new()];
            for (a, t) in tasks {
                let got = t.await.unwrap();
                assert_eq!(got.app_id, apps[a], "round {round} step {step}: {got:?}");
                assert_eq!(got.kind, KeyKind::Dynamic);
                winners[a].push(got.kid);
            }
            for (a, w) in winners.iter_mut().enumerate() {
                w.sort();
                w.dedup();
                assert_eq!(
                    w.len(),
                    1,
                    "round {round} step {step}: app {} saw several winners {w:?}",
                    apps[a]
                );
            }
            let keys = stored(&store).await;
            for (a, app) in apps.iter().enumerate() {
                let mine: Vec<&String> =
                    keys.iter().filter(|r| r.0 == *app).map(|r| &r.2).collect();
                assert_eq!(
                    mine.len(),
                    step + 1,
                    "round {round} step {step}: app {app} holds {mine:?}"
                );
                assert!(mine.contains(&&winners[a][0]));
                expected[a] = Some(winners[a][0].clone());
            }
        }
    }
}
