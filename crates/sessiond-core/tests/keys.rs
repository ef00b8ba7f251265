//! Signing keys: id tokens and service tokens verified from the keys, rotation with overlap,
//! reset, sealing at rest, HS256 kept out of the JWKS, and a JWKS that cannot grow unbounded.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sessiond_core::jose::Algorithm;
use sessiond_core::keys::MAX_DYNAMIC_KEYS;
use sessiond_core::{
    Clock, Error, KeyKind, ManagerConfig, ManualClock, MasterKey, MemoryStore, NewSession,
    SessionManager, StartOptions, Store, VerifyOptions,
};

use common::{
    CHECK_DB, cfg, decode_rs256, header, kid, manager_on, obj, published_jwk, refresh, setup,
};

#[tokio::test]
async fn id_tokens_verify_from_the_jwks() {
    let (m, _c, _s) = setup(ManagerConfig::default());
    let t = m
        .create_id_token(
            "public",
            obj(json!({"role": "admin"})),
            Duration::from_secs(600),
            true,
            Some("https://issuer"),
        )
        .await
        .unwrap();
    assert!(header(t.expose()).get("version").is_none());
    let jwk = published_jwk(&m, t.expose());
    let claims = decode_rs256(&jwk, t.expose(), Some("https://issuer"));
    assert_eq!(claims["role"], "admin");
    // An id token is not an access token.
    assert!(m.verify(t.expose(), VerifyOptions::default()).await.is_err());
}

#[tokio::test]
async fn service_tokens_expire_and_die_with_a_key_reset() {
    let (m, clock, _s) = setup(cfg(Algorithm::EdDSA));
    let valid = |t: String| {
        let m = &m;
        async move { m.verify_service_token("public", &t).await.unwrap() }
    };
    let forever = m.create_service_token("public", None).await.unwrap();
    let short = m.create_service_token("public", Some(Duration::from_secs(30))).await.unwrap();
    assert!(valid(forever.expose().to_owned()).await);
    assert!(valid(short.expose().to_owned()).await);
    assert!(!valid("garbage".to_owned()).await);
    // A service token is not an access token and vice versa.
    let s = m.create(NewSession::new("u")).await.unwrap();
    assert!(!valid(s.tokens.access.token.expose().to_owned()).await);
    assert!(m.verify(forever.expose(), VerifyOptions::default()).await.is_err());
    clock.advance_secs(31);
    assert!(!valid(short.expose().to_owned()).await);
    assert!(valid(forever.expose().to_owned()).await);
    m.keys().reset("public").await.unwrap();
    assert!(!valid(forever.expose().to_owned()).await);
    let after_reset = m.create_service_token("public", None).await.unwrap();
    assert!(valid(after_reset.expose().to_owned()).await);
}

#[tokio::test]
async fn key_reset_fails_access_tokens_but_refresh_recovers() {
    let (m, _c, _s) = setup(cfg(Algorithm::EdDSA));
    let s = m.create(NewSession::new("u")).await.unwrap();
    let before = m.keys().list(None);
    m.keys().reset("public").await.unwrap();
    let after = m.keys().list(None);
    for k in before.iter().filter(|k| k.kind != "chain") {
        assert!(!after.iter().any(|a| a.kid == k.kid), "{} survived the reset", k.kid);
    }
    assert!(matches!(
        m.verify(s.tokens.access.token.expose(), VerifyOptions::default()).await,
        Err(Error::TryRefreshToken(_))
    ));
    let r = refresh(&m, &s).await.unwrap();
    m.verify(r.tokens.access.token.expose(), CHECK_DB).await.unwrap();
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_until_they_expire() {
    let (m, clock, _s) = setup(ManagerConfig {
        key_rotation_interval: Duration::from_secs(3600),
        ..cfg(Algorithm::EdDSA)
    });
    m.start(StartOptions::default()).await.unwrap();
    let s = m.create(NewSession::new("u")).await.unwrap();
    let old_kid = kid(s.tokens.access.token.expose());
    // Manual rotation: new tokens use the new key, old ones still verify.
    let info = m.keys().rotate("public").await.unwrap();
    assert_ne!(info.kid, old_kid);
    let s2 = m.create(NewSession::new("u")).await.unwrap();
    assert_eq!(kid(s2.tokens.access.token.expose()), info.kid);
    m.verify(s.tokens.access.token.expose(), VerifyOptions::default()).await.unwrap();
    let dynamic = m.keys().jwks("public").keys.iter().filter(|k| k.kid.starts_with("d-")).count();
    assert_eq!(dynamic, 2, "both dynamic keys published during the overlap");
    // Scheduled rotation after the interval.
    clock.advance_secs(3601);
    m.keys().maintain().await.unwrap();
    let current =
        m.keys().list(None).into_iter().find(|k| k.kind == "dynamic" && k.current).unwrap();
    assert_ne!(current.kid, info.kid);
    // Retired keys are pruned once everything they signed has expired (ttl 60 s + 60 s skew).
    clock.advance_secs(121);
    m.keys().maintain().await.unwrap();
    assert!(m.keys().jwks("public").keys.iter().all(|k| k.kid != old_kid));
    m.stop().await.unwrap();
}

#[tokio::test]
async fn a_process_with_a_slow_clock_still_rotates_forward() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let fast = ManualClock::at_system_time();
    let slow = ManualClock::new(fast.now_ms() - 10_000);
    let a = manager_on(&store, cfg(Algorithm::EdDSA), &fast);
    let b = manager_on(&store, cfg(Algorithm::EdDSA), &slow);
    async fn signing_kid(m: &SessionManager) -> String {
        let key = m.keys().signer("public", KeyKind::Dynamic).await.unwrap();
        key.kid().to_owned()
    }
    let first = signing_kid(&a).await;
    let rotated = b.keys().rotate("public").await.unwrap();
    assert_ne!(rotated.kid, first);
    a.keys().reload().await.unwrap();
    assert_eq!(signing_kid(&a).await, rotated.kid);
    assert_eq!(signing_kid(&b).await, rotated.kid);
}

#[tokio::test]
async fn master_key_seals_private_material() {
    let sealed = || ManagerConfig {
        master_key: Some(MasterKey::from_bytes(&[3u8; 32]).unwrap()),
        ..cfg(Algorithm::EdDSA)
    };
    let (m, clock, store) = setup(sealed());
    let s = m.create(NewSession::new("u")).await.unwrap();
    let keys = store.load_keys().await.unwrap();
    assert!(!keys.is_empty() && keys.iter().all(|k| k.sealed));
    // Another process with the same master key uses the keys; one without cannot sign.
    let m2 = manager_on(&store, sealed(), &clock);
    m2.verify(s.tokens.access.token.expose(), VerifyOptions::default()).await.unwrap();
    refresh(&m2, &s).await.unwrap();
    let m3 = manager_on(&store, cfg(Algorithm::EdDSA), &clock);
    assert!(matches!(m3.keys().signer("public", KeyKind::Dynamic).await, Err(Error::Config(_))));
}

#[tokio::test]
async fn hs256_is_selectable_and_never_published() {
    let (m, _c, _s) = setup(cfg(Algorithm::HS256));
    let s = m.create(NewSession::new("u")).await.unwrap();
    assert_eq!(header(s.tokens.access.token.expose())["alg"], "HS256");
    m.verify(s.tokens.access.token.expose(), VerifyOptions::default()).await.unwrap();
    assert!(m.keys().jwks("public").keys.is_empty(), "symmetric keys never appear in the JWKS");
}

#[tokio::test]
async fn rotations_cannot_grow_the_jwks_without_bound() {
    let (m, _clock, _s) = setup(cfg(Algorithm::EdDSA));
    m.start(StartOptions::default()).await.unwrap();
    for _ in 0..(MAX_DYNAMIC_KEYS + 6) {
        m.keys().rotate("public").await.unwrap();
    }
    let dynamic = m.keys().list(Some("public")).into_iter().filter(|k| k.kind == "dynamic").count();
    assert!(dynamic <= MAX_DYNAMIC_KEYS, "{dynamic} dynamic keys");
    assert!(m.keys().jwks("public").keys.len() <= MAX_DYNAMIC_KEYS + 1);
    m.stop().await.unwrap();
}
