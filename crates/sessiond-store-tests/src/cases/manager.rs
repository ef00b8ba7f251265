//! The manager's behaviour over a store: lifecycle, rotation races, grace window, theft.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sessiond_core::revocation::Standing;
use sessiond_core::tokens::refresh::RefreshToken;
use sessiond_core::{
    Error, JsonObject, NewSession, RefreshOptions, SessionManager, StartOptions, Store, UserQuery,
    VerifyOptions,
};

use crate::StoreFactory;
use crate::fixtures::{config, manager, manager_with};

fn obj(v: serde_json::Value) -> JsonObject {
    v.as_object().cloned().unwrap_or_default()
}

const CHECK_DB: VerifyOptions<'static> = VerifyOptions {
    app_id: None,
    anti_csrf_token: None,
    check_anti_csrf: false,
    check_database: true,
};

async fn refresh(m: &SessionManager, token: &str) -> Result<String, Error> {
    m.refresh(token, RefreshOptions::default())
        .await
        .map(|s| s.tokens.refresh.token.expose().to_owned())
}

/// create → verify (stateless and checked) → refresh → refresh → replay of the first refresh
/// token is theft and ends the session.
pub async fn lifecycle_create_verify_refresh_theft(store: Arc<dyn Store>) {
    let (m, clock) = manager(store);
    let created =
        m.create(NewSession::new("alice").public_data(obj(json!({"role": "user"})))).await.unwrap();
    let at = created.tokens.access.token.expose();
    let v = m.verify(at, VerifyOptions::default()).await.unwrap();
    assert_eq!(v.session.user_id, "alice");
    assert_eq!(v.session.public_data, obj(json!({"role": "user"})));
    let v = m.verify(at, CHECK_DB).await.unwrap();
    assert_eq!(v.session.handle, created.session.handle);
    assert!(v.new_access_token.is_none());

    let rt0 = created.tokens.refresh.token.expose().to_owned();
    clock.advance_secs(1);
    let r1 = m.refresh(&rt0, RefreshOptions::default()).await.unwrap();
    let rt1 = r1.tokens.refresh.token.expose().to_owned();
    assert_ne!(rt0, rt1);
    m.verify(r1.tokens.access.token.expose(), CHECK_DB).await.unwrap();
    clock.advance_secs(1);
    let rt2 = refresh(&m, &rt1).await.unwrap();
    assert_ne!(rt1, rt2);

    clock.advance_secs(30);
    match m.refresh(&rt0, RefreshOptions::default()).await {
        Err(Error::TokenTheftDetected { handle, user_id, .. }) => {
            assert_eq!(handle, created.session.handle);
            assert_eq!(user_id, "alice");
        }
        other => panic!("expected theft, got {other:?}"),
    }
    assert!(matches!(m.verify(at, CHECK_DB).await, Err(Error::Unauthorised(_))));
    assert!(matches!(refresh(&m, &rt2).await, Err(Error::Unauthorised(_))));
    assert!(matches!(m.get(&created.session.handle).await, Err(Error::SessionNotFound)));
}

/// Dozens of concurrent refreshes of one token all get the same successor; the session has
/// exactly one usable child.
pub async fn concurrent_refreshes_share_one_successor(store: Arc<dyn Store>) {
    let (m, clock) = manager(Arc::clone(&store));
    let created = m.create(NewSession::new("bob")).await.unwrap();
    let rt0 = created.tokens.refresh.token.expose().to_owned();
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let m = m.clone();
            let rt0 = rt0.clone();
            tokio::spawn(async move { refresh(&m, &rt0).await })
        })
        .collect();
    let mut successors = HashSet::new();
    for t in tasks {
        successors.insert(t.await.unwrap().expect("every concurrent refresh succeeds"));
    }
    assert_eq!(successors.len(), 1, "one lineage: {} distinct successors", successors.len());
    let rt1 = successors.into_iter().next().unwrap();
    let rec = store.load_session(&created.session.handle, m.now_ms()).await.unwrap().unwrap();
    assert_eq!(rec.generation, 1, "exactly one rotation happened");

    assert_eq!(rec.recent_rotations, vec![m.now_ms()], "one rotation time");

    // The child is usable; once it has been used, the parent is an ancestor: within the grace
    // window (10 s) a replay gets the current token, after it the replay is theft.
    clock.advance_secs(1);
    let rt2 = refresh(&m, &rt1).await.unwrap();
    assert_eq!(refresh(&m, &rt0).await.unwrap(), rt2);
    clock.advance_secs(10);
    assert!(matches!(refresh(&m, &rt0).await, Err(Error::TokenTheftDetected { .. })));
    assert!(matches!(refresh(&m, &rt2).await, Err(Error::Unauthorised(_))));
}

/// Retries of the same token within the grace window are idempotent, and so is any token
/// superseded within the window (a stale tab holding a grandparent): the window is measured
/// from when each token was superseded, which the store keeps in `recent_rotations`. Outside
/// it, a superseded token is theft.
pub async fn grace_window_is_enforced(stores: Arc<dyn StoreFactory>) {
    let store = stores.open().await;
    // Policy: grace 10 s.
    let (m, clock) = manager(Arc::clone(&store));
    let s = m.create(NewSession::new("carol")).await.unwrap();
    let rt0 = s.tokens.refresh.token.expose().to_owned();
    let rt1 = refresh(&m, &rt0).await.unwrap();
    clock.advance_ms(9_999);
    assert_eq!(refresh(&m, &rt0).await.unwrap(), rt1, "a retry gets the same successor");
    clock.advance_ms(2);
    assert!(matches!(refresh(&m, &rt0).await, Err(Error::TokenTheftDetected { .. })));

    // Every token superseded within the window is reissued the current one, a grandparent
    // too, which needs the rotation times of earlier generations from the store.
    let s = m.create(NewSession::new("carol")).await.unwrap();
    let h = s.session.handle.clone();
    let g0 = s.tokens.refresh.token.expose().to_owned();
    clock.advance_secs(2);
    let t1 = m.now_ms();
    let g1 = refresh(&m, &g0).await.unwrap();
    clock.advance_secs(2);
    let t2 = m.now_ms();
    let g2 = refresh(&m, &g1).await.unwrap();
    let rec = store.load_session(&h, m.now_ms()).await.unwrap().unwrap();
    assert_eq!(rec.generation, 2);
    assert_eq!(rec.recent_rotations, vec![t1, t2], "one time per rotation");
    clock.advance_secs(2);
    // A second manager on another handle (another process) answers the same: it is the
    // store's record, not this process's memory, that says when each token was superseded.
    let other =
        SessionManager::with_clock(stores.open().await, config(), Arc::new(clock.clone())).unwrap();
    assert_eq!(refresh(&other, &g0).await.unwrap(), g2, "grandparent in grace");
    assert_eq!(refresh(&m, &g1).await.unwrap(), g2, "parent in grace");
    // 13 s after t0: g1 (superseded at t2, 9 s ago) is still in, g0 (superseded at t1, 11 s
    // ago) is out.
    clock.advance_secs(7);
    assert_eq!(refresh(&other, &g1).await.unwrap(), g2);
    assert!(matches!(refresh(&other, &g0).await, Err(Error::TokenTheftDetected { .. })));
    assert!(
        matches!(refresh(&m, &g2).await, Err(Error::Unauthorised(_))),
        "theft ended the session"
    );

    // A session keeps the last eight rotation times, oldest first.
    let s = m.create(NewSession::new("carol")).await.unwrap();
    let mut rt = s.tokens.refresh.token.expose().to_owned();
    let mut times = Vec::new();
    for _ in 0..11 {
        clock.advance_secs(1);
        times.push(m.now_ms());
        rt = refresh(&m, &rt).await.unwrap();
    }
    let rec = store.load_session(&s.session.handle, m.now_ms()).await.unwrap().unwrap();
    assert_eq!(rec.generation, 11);
    assert_eq!(rec.recent_rotations, times[3..].to_vec());
    assert!(!rt.is_empty());
}

/// A refresh token that was never issued (forged secret, future generation, garbage) is
/// rejected without revoking the session it names.
pub async fn forged_refresh_tokens_do_not_revoke(store: Arc<dyn Store>) {
    let (m, _clock) = manager(store);
    let s = m.create(NewSession::new("dave")).await.unwrap();
    let h = s.session.handle.clone();
    let rt0 = s.tokens.refresh.token.expose().to_owned();
    let rt1 = refresh(&m, &rt0).await.unwrap();
    for generation in [0, 1, 2, 99] {
        // With a made-up tag, and untagged (the version-1 format).
        for tag in [Some([0x17; 16]), None] {
            let forged =
                RefreshToken { handle: h.clone(), generation, secret: [0x42; 32], tag }.encode();
            assert!(
                matches!(refresh(&m, forged.expose()).await, Err(Error::Unauthorised(_))),
                "generation {generation}, tag {tag:?}"
            );
        }
    }
    for garbage in ["", "x", "....", &"A".repeat(5000), "eyJhbGciOiJub25lIn0.e30."] {
        assert!(matches!(refresh(&m, garbage).await, Err(Error::Unauthorised(_))));
    }
    assert!(m.get(&h).await.is_ok(), "forgeries must not end the session");
    refresh(&m, &rt1).await.expect("the real token still works");
}

/// Concurrent read-modify-write updates of one session lose nothing.
pub async fn concurrent_merges_lose_no_update(store: Arc<dyn Store>) {
    let (m, _clock) = manager(store);
    let s = m.create(NewSession::new("erin")).await.unwrap();
    let h = s.session.handle.clone();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let m = m.clone();
            let h = h.clone();
            tokio::spawn(async move {
                m.update_data_with(&h, |public, private| {
                    let n = private.get("n").and_then(|v| v.as_i64()).unwrap_or(0);
                    private.insert("n".into(), json!(n + 1));
                    public.insert(format!("w{i}"), json!(true));
                })
                .await
                .unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let info = m.get(&h).await.unwrap();
    assert_eq!(info.private_data.get("n"), Some(&json!(32)));
    assert_eq!(info.summary.public_data.len(), 32);
}

/// A revoke-all racing creates leaves nothing behind once a final revoke-all has run, and
/// every revoked session is dead for refresh.
pub async fn revoke_all_racing_creates(store: Arc<dyn Store>) {
    let (m, _clock) = manager(store);
    let user = format!("frank-{}", uuid::Uuid::new_v4());
    let creates: Vec<_> = (0..20)
        .map(|_| {
            let m = m.clone();
            let user = user.clone();
            tokio::spawn(async move { m.create(NewSession::new(user)).await.unwrap() })
        })
        .collect();
    let revoker = {
        let m = m.clone();
        let user = user.clone();
        tokio::spawn(async move { m.revoke_all_for_user(&UserQuery::user(user)).await.unwrap() })
    };
    let mut sessions = Vec::new();
    for t in creates {
        sessions.push(t.await.unwrap());
    }
    let first = revoker.await.unwrap();
    let second = m.revoke_all_for_user(&UserQuery::user(&user)).await.unwrap();
    assert_eq!(first.len() + second.len(), 20, "each session revoked exactly once");
    assert!(m.list_handles(&UserQuery::user(&user)).await.unwrap().is_empty());
    for s in sessions {
        assert!(matches!(
            refresh(&m, s.tokens.refresh.token.expose()).await,
            Err(Error::Unauthorised(_))
        ));
    }
}

/// Idle timeout and absolute lifetime both end sessions; access tokens never outlive them.
pub async fn idle_and_absolute_timeouts(store: Arc<dyn Store>) {
    // Policy: idle 1800 s, refresh 3600 s, absolute 7200 s, access 60 s.
    let (m, clock) = manager(store);
    let s = m.create(NewSession::new("gina")).await.unwrap();
    clock.advance_secs(1801);
    assert!(matches!(
        refresh(&m, s.tokens.refresh.token.expose()).await,
        Err(Error::Unauthorised(_))
    ));
    assert!(matches!(m.get(&s.session.handle).await, Err(Error::SessionNotFound)));

    let s = m.create(NewSession::new("gina")).await.unwrap();
    let absolute_end = m.now_ms() + 7_200_000;
    let mut rt = s.tokens.refresh.token.expose().to_owned();
    let mut last_access_exp = 0;
    for _ in 0..7 {
        clock.advance_secs(1000);
        let r = m.refresh(&rt, RefreshOptions::default()).await.unwrap();
        rt = r.tokens.refresh.token.expose().to_owned();
        last_access_exp = r.tokens.access.expires_at;
        assert!(r.tokens.access.expires_at <= absolute_end);
        assert!(r.tokens.refresh.expires_at <= absolute_end);
    }
    assert!(last_access_exp <= absolute_end);
    clock.advance_secs(201);
    assert!(
        matches!(refresh(&m, &rt).await, Err(Error::Unauthorised(_))),
        "active sessions end at the absolute lifetime"
    );
}

/// Activity seen by database-checked verifies reaches the store and moves the idle deadline:
/// a session used that way can still refresh after the idle timeout since its last refresh.
pub async fn database_checks_keep_a_session_from_idling_out(store: Arc<dyn Store>) {
    // Policy: idle 1800 s, access 60 s, activity recorded at most every 30 s; the verify comes
    // 40 s in, the refresh 1810 s in.
    let (m, clock) = manager_with(
        store,
        sessiond_core::ManagerConfig {
            touch_interval: std::time::Duration::from_secs(30),
            ..config()
        },
    );
    let s = m.create(NewSession::new("ivan")).await.unwrap();
    clock.advance_secs(40);
    m.verify(s.tokens.access.token.expose(), CHECK_DB).await.unwrap();
    m.stop().await.unwrap(); // waits for the activity record
    clock.advance_secs(1770);
    let r = m.refresh(s.tokens.refresh.token.expose(), RefreshOptions::default()).await.unwrap();
    let info = m.get(&s.session.handle).await.unwrap();
    assert!(info.last_active_at >= m.now_ms() - 1);
    clock.advance_secs(1801);
    assert!(matches!(
        refresh(&m, r.tokens.refresh.token.expose()).await,
        Err(Error::Unauthorised(_))
    ));
}

/// Opaque access tokens on this store: checked against the stored hash every time, superseded
/// by a refresh, ended by a key reset and by revocation, never regenerated when forged.
pub async fn opaque_tokens_live_in_the_store(store: Arc<dyn Store>) {
    let (m, clock) = manager_with(
        store,
        sessiond_core::ManagerConfig {
            token_format: sessiond_core::TokenFormat::Opaque,
            ..config()
        },
    );
    m.start(StartOptions::default()).await.unwrap();
    let s = m
        .create(NewSession::new("olga").public_data(obj(json!({"r": 1}))).anti_csrf(true))
        .await
        .unwrap();
    let at = s.tokens.access.token.expose().to_owned();
    let csrf = s.tokens.anti_csrf.clone().unwrap();
    let with_csrf = VerifyOptions {
        anti_csrf_token: Some(csrf.expose()),
        check_anti_csrf: true,
        ..VerifyOptions::default()
    };
    let v = m.verify(&at, with_csrf).await.unwrap();
    assert_eq!(v.session.public_data, obj(json!({"r": 1})));
    let forged = sessiond_core::b64::encode(format!(
        "{};{};v0",
        s.session.handle,
        sessiond_core::b64::encode([9u8; 32])
    ));
    assert!(m.verify(&forged, VerifyOptions::default()).await.is_err());
    assert!(matches!(
        m.regenerate(&forged, Some(obj(json!({"r": 2}))), None).await,
        Err(Error::Unauthorised(_))
    ));
    m.regenerate(&at, Some(obj(json!({"r": 3}))), None).await.unwrap();
    assert_eq!(
        m.verify(&at, VerifyOptions::default()).await.unwrap().session.public_data,
        obj(json!({"r": 3}))
    );
    clock.advance_secs(1);
    let r = m
        .refresh(
            s.tokens.refresh.token.expose(),
            RefreshOptions {
                anti_csrf_token: Some(csrf.expose()),
                check_anti_csrf: true,
                ..RefreshOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        m.verify(&at, VerifyOptions::default()).await,
        Err(Error::TryRefreshToken(_))
    ));
    let at2 = r.tokens.access.token.expose().to_owned();
    m.verify(&at2, VerifyOptions::default()).await.unwrap();
    clock.advance_secs(1);
    m.keys().reset("public").await.unwrap();
    for opts in [VerifyOptions::default(), CHECK_DB] {
        assert!(matches!(m.verify(&at2, opts).await, Err(Error::TryRefreshToken(_))));
    }
    // Sessions created after the reset are unaffected.
    let fresh = m.create(NewSession::new("olga")).await.unwrap();
    m.verify(fresh.tokens.access.token.expose(), VerifyOptions::default()).await.unwrap();
    let r = m
        .refresh(
            r.tokens.refresh.token.expose(),
            RefreshOptions {
                anti_csrf_token: r.tokens.anti_csrf.as_ref().map(|t| t.expose()),
                check_anti_csrf: true,
                ..RefreshOptions::default()
            },
        )
        .await
        .unwrap();
    let at3 = r.tokens.access.token.expose().to_owned();
    m.verify(&at3, VerifyOptions::default()).await.unwrap();
    m.revoke(&s.session.handle).await.unwrap();
    assert!(matches!(m.verify(&at3, VerifyOptions::default()).await, Err(Error::Unauthorised(_))));
    m.stop().await.unwrap();
}

/// Managers over one empty store, each on a handle of its own (as processes), started at once,
/// end with one dynamic key and one JWKS.
pub async fn managers_racing_to_start_share_one_key(stores: Arc<dyn StoreFactory>) {
    let mut managers: Vec<SessionManager> = Vec::new();
    for _ in 0..8 {
        managers.push(manager_with(stores.open().await, config()).0);
    }
    let tasks: Vec<_> = managers
        .iter()
        .cloned()
        .map(|m| tokio::spawn(async move { m.start(StartOptions::default()).await.unwrap() }))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let jwks: Vec<_> = managers.iter().map(|m| (*m.keys().jwks("public")).clone()).collect();
    let dynamic = jwks[0].keys.iter().filter(|k| k.kid.starts_with("d-")).count();
    let fixed = jwks[0].keys.iter().filter(|k| k.kid.starts_with("s-")).count();
    assert_eq!((dynamic, fixed), (1, 1), "one key of each kind: {:?}", jwks[0]);
    assert!(jwks.iter().all(|j| *j == jwks[0]), "identical JWKS everywhere");
    // A token from one verifies on every other.
    let s = managers[3].create(NewSession::new("hank")).await.unwrap();
    for m in &managers {
        m.verify(s.tokens.access.token.expose(), CHECK_DB).await.unwrap();
        m.stop().await.unwrap();
    }
}

/// Revocation is instant for database-checked verification and refresh.
pub async fn revoked_sessions_fail_database_checks(store: Arc<dyn Store>) {
    let (m, _clock) = manager(store);
    let s = m.create(NewSession::new("ivy")).await.unwrap();
    let h = s.session.handle.clone();
    assert_eq!(m.user_of(&h).await.unwrap(), "ivy");
    m.revoke(&h).await.unwrap();
    assert!(matches!(m.revoke(&h).await, Err(Error::SessionNotFound)));
    assert!(matches!(m.user_of(&h).await, Err(Error::SessionNotFound)));
    let at = s.tokens.access.token.expose();
    // The revoking process denies the session at once, on the stateless path too (other
    // processes learn it through the revocation log); the database check refuses it anyway.
    assert!(matches!(m.verify(at, VerifyOptions::default()).await, Err(Error::Unauthorised(_))));
    assert!(matches!(m.verify(at, CHECK_DB).await, Err(Error::Unauthorised(_))));
    assert!(matches!(
        refresh(&m, s.tokens.refresh.token.expose()).await,
        Err(Error::Unauthorised(_))
    ));
}

/// Two managers started on two handles of one store (as two processes): a session revoked
/// through one is refused by the other's stateless verification (no store check asked for)
/// within a bounded time, because the revocation reached it through the store's revocation log.
pub async fn revocation_reaches_another_managers_stateless_verify(stores: Arc<dyn StoreFactory>) {
    let (a, _clock_a) = manager(stores.open().await);
    let (b, _clock_b) = manager(stores.open().await);
    a.start(StartOptions::default()).await.unwrap();
    b.start(StartOptions::default()).await.unwrap();
    let s = a.create(NewSession::new("rita")).await.unwrap();
    let kept = a.create(NewSession::new("rita")).await.unwrap();
    let at = s.tokens.access.token.expose();
    b.verify(at, VerifyOptions::default()).await.unwrap();
    a.revoke(&s.session.handle).await.unwrap();
    let started = Instant::now();
    loop {
        let verdict = b.verify(at, VerifyOptions::default()).await;
        let denied = b.revocations().standing(&s.session.handle) == Standing::Revoked;
        if matches!(verdict, Err(Error::Unauthorised(_))) && denied {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "3 s after the revocation on A, B still answers {verdict:?} (denied by the feed: \
             {denied}; feed {:?})",
            b.revocations()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Only that session: the other one still verifies on B without the store.
    b.verify(kept.tokens.access.token.expose(), VerifyOptions::default()).await.unwrap();
    assert!(b.revocations().is_current(), "{:?}", b.revocations());
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

/// The `kid` in a JWT's header.
fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap_or_default();
    let header: serde_json::Value =
        serde_json::from_slice(&sessiond_core::b64::decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// Two apps on one store, served by two managers on two handles (as two processes would): each
/// app has its own keys and its own JWKS; a token of app b is refused by a verify confined to
/// app a, also without the store check; a refresh confined to app a does not touch b's session;
/// and a key reset or rotation in app a leaves app b's keys and tokens as they were.
pub async fn apps_have_their_own_keys_and_jwks(stores: Arc<dyn StoreFactory>) {
    let (m, clock) = manager(stores.open().await);
    let other =
        SessionManager::with_clock(stores.open().await, config(), Arc::new(clock.clone())).unwrap();
    m.start(StartOptions::default()).await.unwrap();
    other.start(StartOptions::default()).await.unwrap();
    let in_app =
        |app: &str, user: &str| NewSession { app_id: app.to_owned(), ..NewSession::new(user) };
    let sa = m.create(in_app("a", "ann")).await.unwrap();
    let sb = other.create(in_app("b", "ben")).await.unwrap();
    let (at_a, at_b) = (sa.tokens.access.token.expose(), sb.tokens.access.token.expose());
    for mgr in [&m, &other] {
        mgr.keys().reload().await.unwrap();
    }
    let kids = |mgr: &SessionManager, app: &str| -> Vec<String> {
        mgr.keys().jwks(app).keys.iter().map(|k| k.kid.clone()).collect()
    };
    let (ja, jb, jp) = (kids(&m, "a"), kids(&m, "b"), kids(&m, "public"));
    assert!(!ja.is_empty() && !jb.is_empty() && !jp.is_empty());
    for (one, two) in [(&ja, &jb), (&ja, &jp), (&jb, &jp)] {
        assert!(one.iter().all(|k| !two.contains(k)), "JWKS share a key: {one:?} {two:?}");
    }
    assert!(ja.contains(&kid_of(at_a)), "a's token is signed by a key in a's JWKS");
    assert!(jb.contains(&kid_of(at_b)), "b's token is signed by a key in b's JWKS");
    assert_eq!((kids(&other, "a"), kids(&other, "b")), (ja.clone(), jb.clone()));
    let mut apps = m.keys().apps();
    apps.retain(|a| a != "public");
    assert_eq!(apps, vec!["a", "b"]);

    let confined = |app| VerifyOptions { app_id: Some(app), ..VerifyOptions::default() };
    for mgr in [&m, &other] {
        for opts in [confined("a"), CHECK_DB_IN_A] {
            let r = mgr.verify(at_b, opts).await;
            assert!(
                matches!(r, Err(Error::TryRefreshToken(_) | Error::Unauthorised(_))),
                "app b's token verified in app a ({opts:?}): {r:?}"
            );
        }
        let v = mgr.verify(at_b, confined("b")).await.unwrap();
        assert_eq!(v.session.user_id, "ben");
        let v = mgr.verify(at_a, confined("a")).await.unwrap();
        assert_eq!(v.session.user_id, "ann");
        mgr.verify(at_b, VerifyOptions::default()).await.unwrap();
        assert!(mgr.verify(at_a, confined("b")).await.is_err());
    }
    // A refresh confined to app a treats b's session as missing, and leaves it alone.
    let in_a = RefreshOptions { app_id: Some("a"), ..RefreshOptions::default() };
    assert!(matches!(
        m.refresh(sb.tokens.refresh.token.expose(), in_a).await,
        Err(Error::Unauthorised(_))
    ));
    clock.advance_secs(1);
    let sb2 = other
        .refresh(
            sb.tokens.refresh.token.expose(),
            RefreshOptions { app_id: Some("b"), ..RefreshOptions::default() },
        )
        .await
        .unwrap();
    let at_b2 = sb2.tokens.access.token.expose();
    assert!(jb.contains(&kid_of(at_b2)), "refreshed with b's key");

    // A rotation and a reset of app a replace a's keys only.
    m.keys().rotate("a").await.unwrap();
    m.keys().reset("a").await.unwrap();
    other.keys().reload().await.unwrap();
    for mgr in [&m, &other] {
        assert_eq!(kids(mgr, "b"), jb, "b's JWKS is untouched by a's reset");
        assert!(kids(mgr, "a").iter().all(|k| !ja.contains(k)), "a's keys are new");
        assert!(matches!(mgr.verify(at_a, confined("a")).await, Err(Error::TryRefreshToken(_))));
        mgr.verify(at_b2, confined("b")).await.unwrap();
        mgr.verify(at_b2, CHECK_DB_IN_B).await.unwrap();
    }
    m.stop().await.unwrap();
    other.stop().await.unwrap();
}

const CHECK_DB_IN_A: VerifyOptions<'static> = VerifyOptions {
    app_id: Some("a"),
    anti_csrf_token: None,
    check_anti_csrf: false,
    check_database: true,
};

const CHECK_DB_IN_B: VerifyOptions<'static> = VerifyOptions { app_id: Some("b"), ..CHECK_DB_IN_A };
