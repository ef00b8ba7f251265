//! Session-row guarantees of the `Store` trait.

use std::sync::Arc;

use sessiond_core::store::{DataUpdate, Rotation, UpdateOutcome};
use sessiond_core::{Store, StoreError, UserField, UserQuery};

use crate::fixtures::{T0, handle, handle_for, handle_in, record};

/// Every field written by create comes back from load.
pub async fn create_and_load_round_trip(store: Arc<dyn Store>) {
    let h = handle();
    let mut rec = record(&h, "alice", T0);
    rec.access_hash = Some([9u8; 32]);
    rec.flags.anti_csrf = true;
    rec.flags.static_key = true;
    rec.generation = 3;
    store.create_session(&rec).await.unwrap();
    let got = store.load_session(&h, T0).await.unwrap().expect("row exists");
    assert_eq!(got, rec);
    assert!(store.load_session(&handle(), T0).await.unwrap().is_none());
}

/// A second create with the same handle fails and leaves the first row intact.
pub async fn duplicate_create_fails_and_never_overwrites(store: Arc<dyn Store>) {
    let h = handle();
    let rec = record(&h, "alice", T0);
    store.create_session(&rec).await.unwrap();
    let mut other = record(&h, "alice", T0);
    other.public_data = r#"{"role":"admin"}"#.to_owned();
    other.private_data = r#"{"stolen":true}"#.to_owned();
    let err = store.create_session(&other).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate), "got {err:?}");
    let got = store.load_session(&h, T0).await.unwrap().unwrap();
    assert_eq!(got, rec, "the first row is intact");

    // Expired rows still block their handle: nothing is ever upserted back to life.
    let h2 = handle_for("bob");
    let mut old = record(&h2, "bob", T0);
    old.expires_at = T0 + 1;
    store.create_session(&old).await.unwrap();
    let again = record(&h2, "bob", T0 + 10);
    assert!(matches!(store.create_session(&again).await, Err(StoreError::Duplicate)));
}

/// Reads and writes treat `expires_at <= now` as gone.
pub async fn expired_rows_are_never_returned(store: Arc<dyn Store>) {
    let h = handle();
    let rec = record(&h, "alice", T0);
    store.create_session(&rec).await.unwrap();
    assert!(store.load_session(&h, rec.expires_at - 1).await.unwrap().is_some());
    assert!(store.load_session(&h, rec.expires_at).await.unwrap().is_none());
    let q = UserQuery::user("alice");
    assert_eq!(store.list_user_sessions(&q, rec.expires_at).await.unwrap().len(), 0);
    let upd = DataUpdate {
        handle: &h,
        expected_version: 0,
        public_data: Some("{}"),
        private_data: None,
        now: rec.expires_at,
    };
    assert_eq!(store.update_data(&upd).await.unwrap(), UpdateOutcome::NotFound);
    let rot = Rotation {
        handle: &h,
        from_generation: 0,
        from_refresh_hash: rec.refresh_hash,
        to_refresh_hash: [2u8; 32],
        to_access_hash: None,
        now: rec.expires_at,
        expires_at: rec.expires_at + 1000,
        recent_rotations: &[rec.expires_at],
    };
    assert!(!store.rotate_refresh(&rot).await.unwrap());
}

fn rotation(h: &str, gen_: u64, from: [u8; 32], to: [u8; 32], now: i64) -> Rotation<'_> {
    Rotation {
        handle: h,
        from_generation: gen_,
        from_refresh_hash: from,
        to_refresh_hash: to,
        to_access_hash: Some([to[0]; 32]),
        now,
        expires_at: now + 3_600_000,
        recent_rotations: &[],
    }
}

/// Whether `rot` swapped.
async fn rotated(store: &dyn Store, rot: Rotation<'_>) -> bool {
    store.rotate_refresh(&rot).await.unwrap()
}

/// Rotation swaps only from the expected generation and hash, and records the rotation.
pub async fn rotation_is_compare_and_swap(store: Arc<dyn Store>) {
    let h = handle();
    let rec = record(&h, "alice", T0);
    store.create_session(&rec).await.unwrap();
    // Wrong hash, wrong generation: no swap.
    assert!(!rotated(&*store, rotation(&h, 0, [7u8; 32], [2u8; 32], T0 + 5)).await);
    assert!(!rotated(&*store, rotation(&h, 1, [1u8; 32], [2u8; 32], T0 + 5)).await);
    // Right expectation: swap.
    assert!(rotated(&*store, rotation(&h, 0, [1u8; 32], [2u8; 32], T0 + 5)).await);
    let got = store.load_session(&h, T0 + 5).await.unwrap().unwrap();
    assert_eq!(got.generation, 1);
    assert_eq!(got.refresh_hash, [2u8; 32]);
    assert_eq!(got.access_hash, Some([2u8; 32]));
    assert_eq!(got.rotated_at, T0 + 5);
    assert_eq!(got.last_active_at, T0 + 5);
    // The new expiry is capped by the absolute lifetime.
    assert_eq!(got.expires_at, rec.absolute_expires_at.min(T0 + 5 + 3_600_000));
    // The same expectation again: no swap.
    assert!(!rotated(&*store, rotation(&h, 0, [1u8; 32], [3u8; 32], T0 + 6)).await);
    // The data version is untouched by rotation.
    assert_eq!(got.version, 0);
    // Missing session: no swap, no row.
    let missing = handle();
    assert!(!rotated(&*store, rotation(&missing, 0, [1u8; 32], [2u8; 32], T0)).await);
    assert!(store.load_session(&missing, T0).await.unwrap().is_none());
}

/// Of many concurrent rotations with the same expectation, exactly one succeeds.
pub async fn concurrent_rotations_have_one_winner(store: Arc<dyn Store>) {
    for round in 0..3u8 {
        let h = handle();
        store.create_session(&record(&h, "alice", T0)).await.unwrap();
        let tasks: Vec<_> = (0..32u8)
            .map(|i| {
                let store = Arc::clone(&store);
                let h = h.clone();
                tokio::spawn(async move {
                    // Each racer offers its own rotation list: the winner's is the one stored.
                    let recent = [T0 + 1, i64::from(i)];
                    let rot = Rotation {
                        recent_rotations: &recent,
                        ..rotation(&h, 0, [1u8; 32], [i.wrapping_add(10); 32], T0 + 1)
                    };
                    store.rotate_refresh(&rot).await.unwrap().then_some(i)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            if let Some(i) = t.await.unwrap() {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let got = store.load_session(&h, T0 + 1).await.unwrap().unwrap();
        assert_eq!(got.generation, 1);
        assert_eq!(got.refresh_hash, [winners[0].wrapping_add(10); 32]);
        assert_eq!(
            got.recent_rotations,
            vec![T0 + 1, i64::from(winners[0])],
            "round {round}: the winner's rotation list, written with its swap"
        );
    }
}

/// `recent_rotations` (the rotation times the grace window reads) is stored by create exactly
/// as given, replaced by a successful rotation exactly as given, and left alone by a failed
/// rotation, a data update and an activity record.
pub async fn recent_rotations_round_trip_and_follow_rotation(store: Arc<dyn Store>) {
    // Created with an empty list (what the manager writes) and with a full one (eight times,
    // the most a session keeps, including a time before the epoch and one far ahead).
    let h = handle();
    let rec = record(&h, "alice", T0);
    assert!(rec.recent_rotations.is_empty());
    store.create_session(&rec).await.unwrap();
    let got = store.load_session(&h, T0).await.unwrap().unwrap();
    assert_eq!(got.recent_rotations, Vec::<i64>::new());
    assert_eq!(got, rec);
    let full_h = handle();
    let mut full = record(&full_h, "alice", T0);
    full.generation = 8;
    full.recent_rotations = vec![-5, 0, 1, T0 - 3, T0 - 2, T0 - 1, T0, 9_007_199_254_740_000];
    store.create_session(&full).await.unwrap();
    assert_eq!(store.load_session(&full_h, T0).await.unwrap().unwrap(), full);

    // A successful rotation stores the list it carries, exactly (not appended to, not capped
    // by the store).
    let second = [T0 - 100, T0 + 5, T0 + 9];
    for (from_gen, from, to, list, now) in
        [(0, 1u8, 2u8, &[T0 + 5][..], T0 + 5), (1, 2, 3, &second[..], T0 + 9)]
    {
        let rot = rotation(&h, from_gen, [from; 32], [to; 32], now);
        assert!(rotated(&*store, Rotation { recent_rotations: list, ..rot }).await);
        let got = store.load_session(&h, now).await.unwrap().unwrap();
        assert_eq!((got.recent_rotations, got.generation), (list.to_vec(), from_gen + 1));
    }
    let got = store.load_session(&h, T0 + 9).await.unwrap().unwrap();

    // Failed rotations (stale generation, wrong hash, expired) leave it alone.
    let junk = [1, 2, 3];
    for rot in [
        rotation(&h, 1, [2u8; 32], [4u8; 32], T0 + 10),
        rotation(&h, 2, [9u8; 32], [4u8; 32], T0 + 10),
        rotation(&h, 2, [3u8; 32], [4u8; 32], got.expires_at),
    ] {
        let rot = Rotation { recent_rotations: &junk, ..rot };
        assert!(!store.rotate_refresh(&rot).await.unwrap());
    }
    let after = store.load_session(&h, T0 + 10).await.unwrap().unwrap();
    assert_eq!(after.recent_rotations, second.to_vec());
    assert_eq!(after.generation, 2);

    // Data updates and activity records keep it.
    let upd = DataUpdate {
        handle: &h,
        expected_version: 0,
        public_data: Some(r#"{"k":1}"#),
        private_data: None,
        now: T0 + 11,
    };
    assert_eq!(store.update_data(&upd).await.unwrap(), UpdateOutcome::Updated(1));
    store.touch_session(&h, T0 + 12, T0 + 3_000_000).await.unwrap();
    let after = store.load_session(&h, T0 + 12).await.unwrap().unwrap();
    assert_eq!(after.recent_rotations, second.to_vec());
    // An empty list replaces a full one too.
    assert!(rotated(&*store, rotation(&full_h, 8, [1u8; 32], [5u8; 32], T0 + 13)).await);
    let got = store.load_session(&full_h, T0 + 13).await.unwrap().unwrap();
    assert_eq!(got.recent_rotations, Vec::<i64>::new());
    // Listing returns it as well.
    let listed = store.list_user_sessions(&UserQuery::user("alice"), T0 + 13).await.unwrap();
    let mine = listed.iter().find(|r| r.handle == h).expect("listed");
    assert_eq!(mine.recent_rotations, second.to_vec());
}

/// Data updates apply only at the expected version and bump it.
pub async fn data_updates_are_versioned(store: Arc<dyn Store>) {
    let h = handle();
    let rec = record(&h, "alice", T0);
    store.create_session(&rec).await.unwrap();
    let upd = |v: u64, public: Option<&'static str>, private: Option<&'static str>| DataUpdate {
        handle: "",
        expected_version: v,
        public_data: public,
        private_data: private,
        now: T0,
    };
    let mut u = upd(0, Some(r#"{"role":"admin"}"#), None);
    u.handle = &h;
    assert_eq!(store.update_data(&u).await.unwrap(), UpdateOutcome::Updated(1));
    let mut u = upd(1, None, Some(r#"{"cart":[]}"#));
    u.handle = &h;
    assert_eq!(store.update_data(&u).await.unwrap(), UpdateOutcome::Updated(2));
    let got = store.load_session(&h, T0).await.unwrap().unwrap();
    assert_eq!(got.public_data, r#"{"role":"admin"}"#);
    assert_eq!(got.private_data, r#"{"cart":[]}"#);
    assert_eq!(got.version, 2);
    // Stale version: nothing written.
    let mut u = upd(1, Some(r#"{"role":"root"}"#), None);
    u.handle = &h;
    assert_eq!(store.update_data(&u).await.unwrap(), UpdateOutcome::VersionMismatch);
    assert_eq!(
        store.load_session(&h, T0).await.unwrap().unwrap().public_data,
        r#"{"role":"admin"}"#
    );
    let missing = handle();
    let mut u = upd(0, Some("{}"), None);
    u.handle = &missing;
    assert_eq!(store.update_data(&u).await.unwrap(), UpdateOutcome::NotFound);
    assert!(store.load_session(&missing, T0).await.unwrap().is_none());
}

/// Of many concurrent updates at the same version, exactly one is written.
pub async fn concurrent_data_updates_have_one_winner(store: Arc<dyn Store>) {
    let h = handle();
    store.create_session(&record(&h, "alice", T0)).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = Arc::clone(&store);
            let h = h.clone();
            tokio::spawn(async move {
                let data = format!(r#"{{"writer":{i}}}"#);
                let upd = DataUpdate {
                    handle: &h,
                    expected_version: 0,
                    public_data: None,
                    private_data: Some(&data),
                    now: T0,
                };
                (i, store.update_data(&upd).await.unwrap())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (i, outcome) = t.await.unwrap();
        match outcome {
            UpdateOutcome::Updated(v) => {
                assert_eq!(v, 1);
                winners.push(i);
            }
            UpdateOutcome::VersionMismatch => {}
            UpdateOutcome::NotFound => panic!("session vanished"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let got = store.load_session(&h, T0).await.unwrap().unwrap();
    assert_eq!(got.private_data, format!(r#"{{"writer":{}}}"#, winners[0]));
}

/// Touch moves activity forward, never shortens expiry, respects the absolute bound, and
/// never brings back a deleted session.
pub async fn touch_extends_but_never_resurrects(store: Arc<dyn Store>) {
    let h = handle();
    let rec = record(&h, "alice", T0);
    store.create_session(&rec).await.unwrap();
    store.touch_session(&h, T0 + 100, rec.expires_at + 500).await.unwrap();
    let got = store.load_session(&h, T0 + 100).await.unwrap().unwrap();
    assert_eq!(got.last_active_at, T0 + 100);
    assert_eq!(got.expires_at, rec.expires_at + 500);
    // An older, shorter touch changes nothing.
    store.touch_session(&h, T0 + 50, rec.expires_at - 500).await.unwrap();
    let got2 = store.load_session(&h, T0 + 100).await.unwrap().unwrap();
    assert_eq!(got2.last_active_at, T0 + 100);
    assert_eq!(got2.expires_at, rec.expires_at + 500);
    // Never past the absolute lifetime.
    store.touch_session(&h, T0 + 200, rec.absolute_expires_at + 1_000_000).await.unwrap();
    let got3 = store.load_session(&h, T0 + 200).await.unwrap().unwrap();
    assert_eq!(got3.expires_at, rec.absolute_expires_at);
    // Deleted: touch is a no-op.
    store.delete_sessions(std::slice::from_ref(&h)).await.unwrap();
    store.touch_session(&h, T0 + 300, rec.expires_at + 900).await.unwrap();
    assert!(store.load_session(&h, T0 + 300).await.unwrap().is_none());
}

/// Delete reports what existed; afterwards no write brings the session back.
pub async fn deletion_is_final(store: Arc<dyn Store>) {
    let (a, b, missing) = (handle(), handle(), handle());
    let rec = record(&a, "alice", T0);
    store.create_session(&rec).await.unwrap();
    store.create_session(&record(&b, "alice", T0)).await.unwrap();
    let mut gone = store.delete_sessions(&[a.clone(), missing.clone(), b.clone()]).await.unwrap();
    gone.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(gone, want);
    assert!(store.delete_sessions(std::slice::from_ref(&a)).await.unwrap().is_empty());
    assert!(!rotated(&*store, rotation(&a, 0, [1u8; 32], [2u8; 32], T0 + 1)).await);
    let upd = DataUpdate {
        handle: &a,
        expected_version: 0,
        public_data: Some("{}"),
        private_data: None,
        now: T0,
    };
    assert_eq!(store.update_data(&upd).await.unwrap(), UpdateOutcome::NotFound);
    store.touch_session(&a, T0 + 1, T0 + 10_000_000).await.unwrap();
    assert!(store.load_session(&a, T0 + 1).await.unwrap().is_none());
    assert!(store.list_user_sessions(&UserQuery::user("alice"), T0).await.unwrap().is_empty());
}

/// Deletes racing rotations, data updates and activity records: whatever the interleaving,
/// once the deletes are done no session is left and no write brought one back.
pub async fn deletion_races_rotation_update_and_touch(store: Arc<dyn Store>) {
    let user = format!("del-race-{}", handle());
    let handles: Vec<String> = (0..32).map(|_| handle_for(&user)).collect();
    for h in &handles {
        store.create_session(&record(h, &user, T0)).await.unwrap();
    }
    let mut tasks = Vec::new();
    for h in &handles {
        for op in 0..4 {
            let (s, h) = (Arc::clone(&store), h.clone());
            tasks.push(tokio::spawn(async move {
                match op {
                    0 => {
                        s.delete_sessions(std::slice::from_ref(&h)).await.unwrap();
                    }
                    1 => {
                        let rot = rotation(&h, 0, [1u8; 32], [6u8; 32], T0 + 1);
                        s.rotate_refresh(&rot).await.unwrap();
                    }
                    2 => {
                        let upd = DataUpdate {
                            handle: &h,
                            expected_version: 0,
                            public_data: Some(r#"{"after":"delete?"}"#),
                            private_data: Some("{}"),
                            now: T0 + 1,
                        };
                        s.update_data(&upd).await.unwrap();
                    }
                    _ => s.touch_session(&h, T0 + 2, T0 + 9_000_000).await.unwrap(),
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    for h in &handles {
        assert!(
            store.load_session(h, T0 + 3).await.unwrap().is_none(),
            "{h} came back after its delete"
        );
    }
    assert!(store.list_user_sessions(&UserQuery::user(&user), T0 + 3).await.unwrap().is_empty());
}

/// Per-user listing and deletion select by user or recipe user, tenant, and app.
pub async fn per_user_queries_respect_user_tenant_and_app(store: Arc<dyn Store>) {
    let user = format!("user-{}", handle());
    let mut made = Vec::new();
    for (i, (tenant, app, recipe)) in [
        ("public", "public", "r1"),
        ("t2", "public", "r2"),
        ("public", "public", "r2"),
        ("public", "other-app", "r1"),
    ]
    .into_iter()
    .enumerate()
    {
        let h = handle_in(app, &user, tenant);
        let mut rec = record(&h, &user, T0 + i as i64);
        rec.tenant_id = tenant.to_owned();
        rec.app_id = app.to_owned();
        rec.recipe_user_id = format!("{user}-{recipe}");
        store.create_session(&rec).await.unwrap();
        made.push(h);
    }
    // Somebody else's session is never selected.
    store.create_session(&record(&handle_for("someone-else"), "someone-else", T0)).await.unwrap();

    let all = UserQuery::user(&user);
    let listed: Vec<String> =
        store.list_user_sessions(&all, T0).await.unwrap().into_iter().map(|r| r.handle).collect();
    assert_eq!(
        listed,
        vec![made[0].clone(), made[1].clone(), made[2].clone()],
        "oldest first, app-scoped"
    );

    let tenant_only = UserQuery { tenant_id: Some("t2".to_owned()), ..all.clone() };
    let listed = store.list_user_sessions(&tenant_only, T0).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].handle, made[1]);

    let by_recipe =
        UserQuery { user_id: format!("{user}-r2"), field: UserField::RecipeUser, ..all.clone() };
    let listed: Vec<String> = store
        .list_user_sessions(&by_recipe, T0)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.handle)
        .collect();
    assert_eq!(listed, vec![made[1].clone(), made[2].clone()]);

    // A session without account linking (recipe user = user) is found by recipe user too.
    let plain_user = format!("plain-{}", handle());
    let plain = handle_for(&plain_user);
    store.create_session(&record(&plain, &plain_user, T0)).await.unwrap();
    let by_own_recipe =
        UserQuery { user_id: plain_user.clone(), field: UserField::RecipeUser, ..all.clone() };
    let listed = store.list_user_sessions(&by_own_recipe, T0).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].handle, plain);
    assert_eq!(store.delete_user_sessions(&by_own_recipe).await.unwrap(), vec![plain]);

    let other_app = UserQuery { app_id: "other-app".to_owned(), ..all.clone() };
    assert_eq!(store.list_user_sessions(&other_app, T0).await.unwrap().len(), 1);

    let mut deleted = store.delete_user_sessions(&by_recipe).await.unwrap();
    deleted.sort();
    let mut want = vec![made[1].clone(), made[2].clone()];
    want.sort();
    assert_eq!(deleted, want);
    let remaining = store.delete_user_sessions(&all).await.unwrap();
    assert_eq!(remaining, vec![made[0].clone()]);
    assert_eq!(store.list_user_sessions(&other_app, T0).await.unwrap().len(), 1);
}

/// The sweep deletes only expired rows, at most `limit` per call.
pub async fn expired_sessions_are_swept_in_batches(store: Arc<dyn Store>) {
    let user = format!("sweep-{}", handle());
    for i in 0..25 {
        let mut rec = record(&handle_for(&user), &user, T0);
        rec.expires_at = T0 + 10 + i;
        store.create_session(&rec).await.unwrap();
    }
    let live = handle_for(&user);
    store.create_session(&record(&live, &user, T0)).await.unwrap();
    let now = T0 + 1000;
    let mut total = 0;
    loop {
        let n = store.delete_expired(now, 10).await.unwrap();
        assert!(n <= 10);
        total += n;
        if n == 0 {
            break;
        }
    }
    // Other cases' rows may share a shared backend only through their own prefix/schema.
    assert_eq!(total, 25);
    assert!(store.load_session(&live, now).await.unwrap().is_some());
}

/// Wipe deletes every session and key.
pub async fn wipe_removes_sessions_and_keys(store: Arc<dyn Store>) {
    let h = handle();
    store.create_session(&record(&h, "alice", T0)).await.unwrap();
    store
        .insert_key_if_newest(
            None,
            &crate::fixtures::key(sessiond_core::KeyKind::Dynamic, "d-1", T0),
        )
        .await
        .unwrap();
    store.wipe().await.unwrap();
    assert!(store.load_session(&h, T0).await.unwrap().is_none());
    assert!(store.load_keys().await.unwrap().is_empty());
    // The handle is free again after a wipe.
    store.create_session(&record(&h, "alice", T0)).await.unwrap();
    store.flush().await.unwrap();
    store.ping().await.unwrap();
}

/// Creating and deleting the same handles concurrently never leaves a deleted row behind.
pub async fn create_racing_revoke_never_resurrects(store: Arc<dyn Store>) {
    let user = format!("race-{}", handle());
    let handles: Vec<String> = (0..64).map(|_| handle_for(&user)).collect();
    let mut tasks = Vec::new();
    for h in &handles {
        let (s1, s2) = (Arc::clone(&store), Arc::clone(&store));
        let (h1, h2) = (h.clone(), h.clone());
        let user = user.clone();
        tasks.push(tokio::spawn(async move {
            s1.create_session(&record(&h1, &user, T0)).await.unwrap();
        }));
        tasks.push(tokio::spawn(async move {
            let gone = s2.delete_sessions(std::slice::from_ref(&h2)).await.unwrap();
            // After a delete that removed the row, it must stay removed...
            if !gone.is_empty() {
                let rot = rotation(&h2, 0, [1u8; 32], [5u8; 32], T0 + 1);
                assert!(!s2.rotate_refresh(&rot).await.unwrap());
                assert!(s2.load_session(&h2, T0 + 1).await.unwrap().is_none());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // ...and whatever survived is intact and listed for its user.
    let listed = store.list_user_sessions(&UserQuery::user(&user), T0).await.unwrap();
    for rec in &listed {
        assert_eq!(rec.generation, 0);
        assert!(handles.contains(&rec.handle));
    }
    let gone = store.delete_user_sessions(&UserQuery::user(&user)).await.unwrap();
    assert_eq!(gone.len(), listed.len());
}

/// Unicode and punctuation in ids, and large data, survive storage byte for byte.
pub async fn odd_ids_and_large_data_round_trip(store: Arc<dyn Store>) {
    let odd_user = "ünïcødé 用户 'quote\" back\\slash {brace}";
    let h = handle_for(odd_user);
    let mut rec = record(&h, odd_user, T0);
    rec.recipe_user_id = "*?[]:%_".to_owned();
    let big: String = (0..20_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    rec.private_data = serde_json::json!({ "blob": big, "emoji": "🔐" }).to_string();
    rec.client.user_agent = Some("Mozilla/5.0 (X11; Linux x86_64) 'ua'".to_owned());
    store.create_session(&rec).await.unwrap();
    assert_eq!(store.load_session(&h, T0).await.unwrap().unwrap(), rec);
    let q = UserQuery::user(rec.user_id.clone());
    assert_eq!(store.list_user_sessions(&q, T0).await.unwrap().len(), 1);
    let glob = UserQuery { user_id: "*".to_owned(), field: UserField::RecipeUser, ..q };
    assert!(store.list_user_sessions(&glob, T0).await.unwrap().is_empty(), "ids are not patterns");
}
