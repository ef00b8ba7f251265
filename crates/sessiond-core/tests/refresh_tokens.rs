//! Refresh tokens after the attack run: forged tokens cost a MAC whatever the generation, the
//! grace window covers every token superseded within it, theft is still recognised across a key
//! reset, re-issued access tokens keep their expiry, and rotations cannot grow the JWKS.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::sync::Arc;
use std::time::Duration;

use sessiond_core::jose::Algorithm;
use sessiond_core::keys::MAX_DYNAMIC_KEYS;
use sessiond_core::tokens::refresh::RefreshToken;
use sessiond_core::{
    Error, IssuedSession, ManagerConfig, ManualClock, MemoryStore, NewSession, RefreshOptions,
    SessionManager, StartOptions, Store, VerifyOptions,
};

fn manager(grace_s: u64) -> (SessionManager, ManualClock) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = ManualClock::at_system_time();
    let m = SessionManager::with_clock(
        store,
        ManagerConfig {
            algorithm: Algorithm::EdDSA,
            access_token_ttl: Duration::from_secs(60),
            refresh_grace: Duration::from_secs(grace_s),
            ..ManagerConfig::default()
        },
        Arc::new(clock.clone()),
    )
    .unwrap();
    (m, clock)
}

async fn refresh(m: &SessionManager, s: &IssuedSession) -> Result<IssuedSession, Error> {
    m.refresh(s.tokens.refresh.token.expose(), RefreshOptions::default())
        .await
}

#[tokio::test]
async fn forged_tokens_on_a_real_handle_are_refused_without_revoking() {
    let (m, clock) = manager(10);
    let mut s = m.create(NewSession::new("u")).await.unwrap();
    for _ in 0..40 {
        clock.advance_secs(11);
        s = refresh(&m, &s).await.unwrap();
    }
    let handle = s.session.handle.clone();
    // Every generation below the current one, with a random secret and tag, and one with the
    // tag of another session: a forgery each time, answered after a MAC or two.
    for (generation, tag) in [
        (0, Some([7u8; 16])),
        (39, Some([0u8; 16])),
        (40, Some([1u8; 16])),
        (0, None),
        (38, None),
    ] {
        let forged = RefreshToken {
            handle: handle.clone(),
            generation,
            secret: [9u8; 32],
            tag,
        }
        .encode();
        let r = m.refresh(forged.expose(), RefreshOptions::default()).await;
        assert!(
            matches!(r, Err(Error::Unauthorised(_))),
            "{generation}: {r:?}"
        );
    }
    // The session is untouched.
    refresh(&m, &s).await.unwrap();
}

#[tokio::test]
async fn the_grace_window_covers_every_token_superseded_within_it() {
    let (m, clock) = manager(10);
    let g0 = m.create(NewSession::new("u")).await.unwrap();
    clock.advance_secs(2);
    let g1 = refresh(&m, &g0).await.unwrap();
    clock.advance_secs(2);
    let g2 = refresh(&m, &g1).await.unwrap();
    clock.advance_secs(2);
    // A stale tab with the grandparent, and a retry of the parent: both get the current token.
    let a = refresh(&m, &g0).await.unwrap();
    let b = refresh(&m, &g1).await.unwrap();
    assert_eq!(a.tokens.refresh.token, g2.tokens.refresh.token);
    assert_eq!(b.tokens.refresh.token, g2.tokens.refresh.token);
    // g1 was superseded 4 s ago, g0 6 s ago: at 11 s after g1's supersession g0 (superseded at
    // 2 s) is out, g1 (superseded at 4 s) is still in until 14 s.
    clock.advance_secs(7);
    let r = refresh(&m, &g1).await.unwrap();
    assert_eq!(r.tokens.refresh.token, g2.tokens.refresh.token);
    let theft = refresh(&m, &g0).await;
    assert!(
        matches!(theft, Err(Error::TokenTheftDetected { .. })),
        "{theft:?}"
    );
    assert!(
        matches!(refresh(&m, &g2).await, Err(Error::Unauthorised(_))),
        "revoked"
    );
}

#[tokio::test]
async fn theft_is_recognised_across_a_key_reset() {
    let (m, clock) = manager(1);
    m.start(StartOptions::default()).await.unwrap();
    let g0 = m.create(NewSession::new("u")).await.unwrap();
    let chain_before: Vec<String> = m
        .keys()
        .list(Some("public"))
        .into_iter()
        .filter(|k| k.kind == "chain" && k.current)
        .map(|k| k.kid)
        .collect();
    m.keys().reset("public").await.unwrap();
    let chain_after: Vec<String> = m
        .keys()
        .list(Some("public"))
        .into_iter()
        .filter(|k| k.kind == "chain" && k.current)
        .map(|k| k.kid)
        .collect();
    assert_ne!(chain_before, chain_after, "a reset replaces the chain key");
    // The pre-reset token still refreshes (its tag is from the retired chain key)...
    clock.advance_secs(2);
    let g1 = refresh(&m, &g0).await.unwrap();
    // ...and replaying it later is theft, not a forgery.
    clock.advance_secs(5);
    let theft = refresh(&m, &g0).await;
    assert!(
        matches!(theft, Err(Error::TokenTheftDetected { .. })),
        "{theft:?}"
    );
    assert!(refresh(&m, &g1).await.is_err());
    m.stop().await.unwrap();
}

#[tokio::test]
async fn a_token_reissued_by_a_checked_verify_keeps_its_expiry() {
    let (m, clock) = manager(10);
    let s = m.create(NewSession::new("u")).await.unwrap();
    clock.advance_secs(20);
    m.set_public_data(s.session.handle.as_str(), serde_json::Map::new())
        .await
        .unwrap();
    let mut data = serde_json::Map::new();
    data.insert("role".into(), "admin".into());
    m.set_public_data(s.session.handle.as_str(), data)
        .await
        .unwrap();
    let v = m
        .verify(
            s.tokens.access.token.expose(),
            VerifyOptions {
                check_database: true,
                ..VerifyOptions::default()
            },
        )
        .await
        .unwrap();
    let t = v.new_access_token.expect("stale payload: a new token");
    assert_eq!(t.expires_at, s.tokens.access.expires_at, "same expiry");
    assert_eq!(v.session.public_data["role"], "admin");
}

#[tokio::test]
async fn rotations_cannot_grow_the_jwks_without_bound() {
    let (m, _clock) = manager(10);
    m.start(StartOptions::default()).await.unwrap();
    for _ in 0..(MAX_DYNAMIC_KEYS + 6) {
        m.keys().rotate("public").await.unwrap();
    }
    let dynamic = m
        .keys()
        .list(Some("public"))
        .into_iter()
        .filter(|k| k.kind == "dynamic")
        .count();
    assert!(dynamic <= MAX_DYNAMIC_KEYS, "{dynamic} dynamic keys");
    assert!(m.keys().jwks("public").keys.len() <= MAX_DYNAMIC_KEYS + 1);
    m.stop().await.unwrap();
}
