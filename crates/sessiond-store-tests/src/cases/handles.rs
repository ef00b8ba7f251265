//! Several handles on one backend, as several processes hold them: what one handle wrote, the
//! others read, and races split across handles end as races on one handle do.

use std::sync::Arc;

use sessiond_core::store::Rotation;
use sessiond_core::{KeyKind, SessionManager, Store, StoreError};
use tokio::sync::Barrier;

use crate::StoreFactory;
use crate::fixtures::{T0, config, handle, key, key_in, record};

/// Opens `n` handles: one first (the process that finds the backend empty), then the others
/// at once, as processes starting together do.
async fn open_handles(stores: &Arc<dyn StoreFactory>, n: usize) -> Vec<Arc<dyn Store>> {
    let first = stores.open().await;
    let start = Arc::new(Barrier::new(n - 1));
    let opening: Vec<_> = (1..n)
        .map(|_| {
            let (stores, start) = (Arc::clone(stores), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                stores.open().await
            })
        })
        .collect();
    let mut handles = vec![first];
    for t in opening {
        handles.push(t.await.unwrap());
    }
    handles
}

/// Every stored key as (app, kid), sorted.
async fn app_kids(store: &dyn Store) -> Vec<(String, String)> {
    let mut all: Vec<_> =
        store.load_keys().await.unwrap().into_iter().map(|k| (k.app_id, k.kid)).collect();
    all.sort();
    all
}

/// Two handles behave as one store: a create through one is a duplicate through the other, a
/// rotation race split across them has one winner whose rotation both read, and a deletion
/// through one is final for the other.
pub async fn handles_share_rows_and_races(stores: Arc<dyn StoreFactory>) {
    let (a, b) = (stores.open().await, stores.open().await);
    for round in 0..3u8 {
        let h = handle();
        a.create_session(&record(&h, "alice", T0)).await.unwrap();
        assert!(matches!(
            b.create_session(&record(&h, "alice", T0)).await,
            Err(StoreError::Duplicate)
        ));
        let tasks: Vec<_> = (0..32u8)
            .map(|i| {
                let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
                let h = h.clone();
                tokio::spawn(async move {
                    let rot = Rotation {
                        handle: &h,
                        from_generation: 0,
                        from_refresh_hash: [1u8; 32],
                        to_refresh_hash: [i + 10; 32],
                        to_access_hash: None,
                        now: T0 + 1,
                        expires_at: T0 + 3_600_000,
                        recent_rotations: &[T0 + 1],
                    };
                    store.rotate_refresh(&rot).await.unwrap().then_some(i)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            winners.extend(t.await.unwrap());
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        for seen in [&a, &b] {
            let rec = seen.load_session(&h, T0 + 1).await.unwrap().unwrap();
            assert_eq!(rec.generation, 1);
            assert_eq!(rec.refresh_hash, [winners[0] + 10; 32]);
            assert_eq!(rec.recent_rotations, vec![T0 + 1]);
        }
        assert_eq!(b.delete_sessions(std::slice::from_ref(&h)).await.unwrap(), vec![h.clone()]);
        assert!(a.load_session(&h, T0 + 1).await.unwrap().is_none());
    }
}

/// What a handle acknowledged (and flushed) is there for the next handle opened after it is
/// gone, as for the next process.
pub async fn acknowledged_writes_reach_the_next_handle(stores: Arc<dyn StoreFactory>) {
    let first = stores.open().await;
    let h = handle();
    let rec = record(&h, "alice", T0);
    first.create_session(&rec).await.unwrap();
    first.insert_key_if_newest(None, &key(KeyKind::Chain, "chain-1", T0)).await.unwrap();
    first.flush().await.unwrap();
    drop(first);

    let second = stores.open().await;
    assert_eq!(second.load_session(&h, T0).await.unwrap(), Some(rec));
    assert_eq!(app_kids(second.as_ref()).await, vec![("public".to_owned(), "chain-1".to_owned())]);
    second.ping().await.unwrap();
}

/// Handles opened at once race to create the first key of two apps, three creators per app on
/// each handle released together: exactly one key per app, every creator gets its own app's,
/// and every handle loads the same two keys.
pub async fn handles_race_key_creation_in_two_apps(stores: Arc<dyn StoreFactory>) {
    const HANDLES: usize = 4;
    const PER_APP: usize = 3;
    let handles = open_handles(&stores, HANDLES).await;
    let start = Arc::new(Barrier::new(HANDLES * 2 * PER_APP));
    let mut tasks = Vec::new();
    for (s, store) in handles.iter().enumerate() {
        for app in ["a", "b"] {
            for i in 0..PER_APP {
                let (store, start) = (Arc::clone(store), Arc::clone(&start));
                tasks.push(tokio::spawn(async move {
                    let k = key_in(app, KeyKind::Dynamic, &format!("{app}-{s}-{i}"), T0);
                    start.wait().await;
                    let got = store.insert_key_if_newest(None, &k).await.unwrap();
                    assert_eq!(got.app_id, app);
                    (app.to_owned(), got.kid)
                }));
            }
        }
    }
    let mut winners = Vec::new();
    for t in tasks {
        winners.push(t.await.unwrap());
    }
    winners.sort();
    winners.dedup();
    assert_eq!(winners.len(), 2, "one winner per app: {winners:?}");
    for store in &handles {
        assert_eq!(app_kids(store.as_ref()).await, winners);
    }
}

/// Managers on separate handles (as separate processes), each asking for the signing key of two
/// apps at once before any exists: every manager signs app a with one key and app b with
/// another, and the store holds exactly those two.
pub async fn managers_on_separate_handles_create_one_key_per_app(stores: Arc<dyn StoreFactory>) {
    let handles = open_handles(&stores, 6).await;
    let tasks: Vec<_> = handles
        .iter()
        .map(|store| {
            let m = SessionManager::new(Arc::clone(store), config()).unwrap();
            tokio::spawn(async move {
                let (a, b) = tokio::join!(
                    m.keys().signer("a", KeyKind::Dynamic),
                    m.keys().signer("b", KeyKind::Dynamic)
                );
                (a.unwrap().kid().to_owned(), b.unwrap().kid().to_owned())
            })
        })
        .collect();
    let (mut a_kids, mut b_kids) = (Vec::new(), Vec::new());
    for t in tasks {
        let (a, b) = t.await.unwrap();
        a_kids.push(a);
        b_kids.push(b);
    }
    a_kids.dedup();
    b_kids.dedup();
    assert_eq!(a_kids.len(), 1, "{a_kids:?}");
    assert_eq!(b_kids.len(), 1, "{b_kids:?}");
    assert_ne!(a_kids, b_kids);
    assert_eq!(
        app_kids(stores.open().await.as_ref()).await,
        vec![("a".to_owned(), a_kids[0].clone()), ("b".to_owned(), b_kids[0].clone())]
    );
}
