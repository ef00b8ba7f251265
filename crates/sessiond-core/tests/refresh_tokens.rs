//! Refresh tokens after the attack run: forged tokens cost a MAC whatever the generation, the
//! grace window covers every token superseded within it, and theft is still recognised across a
//! key reset.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::time::Duration;

use sessiond_core::jose::Algorithm;
use sessiond_core::tokens::refresh::RefreshToken;
use sessiond_core::{
    Error, ManagerConfig, ManualClock, NewSession, RefreshOptions, SessionManager, StartOptions,
};

use common::{cfg, current_kids, refresh, setup};

/// A manager whose refresh grace window is `grace_s` seconds.
fn manager(grace_s: u64) -> (SessionManager, ManualClock) {
    let (m, clock, _store) = setup(ManagerConfig {
        refresh_grace: Duration::from_secs(grace_s),
        ..cfg(Algorithm::EdDSA)
    });
    (m, clock)
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
    for (generation, tag) in
        [(0, Some([7u8; 16])), (39, Some([0u8; 16])), (40, Some([1u8; 16])), (0, None), (38, None)]
    {
        let forged =
            RefreshToken { handle: handle.clone(), generation, secret: [9u8; 32], tag }.encode();
        let r = m.refresh(forged.expose(), RefreshOptions::default()).await;
        assert!(matches!(r, Err(Error::Unauthorised(_))), "{generation}: {r:?}");
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
    assert!(matches!(theft, Err(Error::TokenTheftDetected { .. })), "{theft:?}");
    assert!(matches!(refresh(&m, &g2).await, Err(Error::Unauthorised(_))), "revoked");
}

#[tokio::test]
async fn theft_is_recognised_across_a_key_reset() {
    let (m, clock) = manager(1);
    m.start(StartOptions::default()).await.unwrap();
    let g0 = m.create(NewSession::new("u")).await.unwrap();
    let chain_before = current_kids(&m, "public", "chain");
    m.keys().reset("public").await.unwrap();
    let chain_after = current_kids(&m, "public", "chain");
    assert_ne!(chain_before, chain_after, "a reset replaces the chain key");
    // The pre-reset token still refreshes (its tag is from the retired chain key)...
    clock.advance_secs(2);
    let g1 = refresh(&m, &g0).await.unwrap();
    // ...and replaying it later is theft, not a forgery.
    clock.advance_secs(5);
    let theft = refresh(&m, &g0).await;
    assert!(matches!(theft, Err(Error::TokenTheftDetected { .. })), "{theft:?}");
    assert!(refresh(&m, &g1).await.is_err());
    m.stop().await.unwrap();
}
