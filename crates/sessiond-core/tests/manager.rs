//! Manager behaviour that does not depend on the store backend (run on the memory store).

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sessiond_core::Clock;
use sessiond_core::jose::Algorithm;
use sessiond_core::{
    Error, JsonObject, KeyKind, ManagerConfig, ManualClock, MasterKey, MemoryStore, NewSession,
    RefreshOptions, SessionManager, StartOptions, Store, TokenFormat, VerifyOptions, b64,
};

fn obj(v: serde_json::Value) -> JsonObject {
    v.as_object().cloned().unwrap_or_default()
}

fn cfg(alg: Algorithm) -> ManagerConfig {
    ManagerConfig {
        algorithm: alg,
        access_token_ttl: Duration::from_secs(60),
        ..ManagerConfig::default()
    }
}

fn setup(c: ManagerConfig) -> (SessionManager, ManualClock, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = ManualClock::at_system_time();
    let m = SessionManager::with_clock(Arc::clone(&store), c, Arc::new(clock.clone())).unwrap();
    (m, clock, store)
}

fn header(token: &str) -> serde_json::Value {
    let h = token.split('.').next().unwrap();
    serde_json::from_slice(&b64::decode(h).unwrap()).unwrap()
}

fn claims(token: &str) -> serde_json::Value {
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&b64::decode(p).unwrap()).unwrap()
}

const CHECK_DB: VerifyOptions<'static> = VerifyOptions {
    app_id: None,
    anti_csrf_token: None,
    check_anti_csrf: false,
    check_database: true,
};

#[tokio::test]
async fn default_tokens_are_supertokens_v5_rs256() {
    let (m, _c, _s) = setup(ManagerConfig::default());
    let s = m
        .create(
            NewSession::new("u1").public_data(obj(json!({"iss": "http://api/auth", "role": "x"}))),
        )
        .await
        .unwrap();
    let t = s.tokens.access.token.expose();
    let h = header(t);
    assert_eq!(h["alg"], "RS256");
    assert_eq!(h["typ"], "JWT");
    assert_eq!(h["version"], "5");
    assert!(h["kid"].as_str().unwrap().starts_with("d-"));
    let c = claims(t);
    for k in [
        "sub",
        "exp",
        "iat",
        "sessionHandle",
        "refreshTokenHash1",
        "tId",
        "rsub",
    ] {
        assert!(c.get(k).is_some(), "missing claim {k}");
    }
    assert!(c["parentRefreshTokenHash1"].is_null());
    assert!(c["antiCsrfToken"].is_null());
    assert_eq!(c["iss"], "http://api/auth");
    assert_eq!(c["tId"], "public");
    assert_eq!(
        s.tokens.access.expires_at,
        c["exp"].as_i64().unwrap() * 1000
    );
    assert_eq!(
        s.tokens.access.created_at / 1000,
        c["iat"].as_i64().unwrap()
    );
    // The JWKS verifies it with an independent library.
    let jwks = m.keys().jwks("public");
    let jwk = jwks
        .keys
        .iter()
        .find(|k| Some(k.kid.as_str()) == h["kid"].as_str())
        .unwrap();
    assert_eq!(
        (jwk.kty.as_str(), jwk.alg.as_str(), jwk.use_.as_str()),
        ("RSA", "RS256", "sig")
    );
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk.n.as_deref().unwrap(),
        jwk.e.as_deref().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_aud = false;
    let data = jsonwebtoken::decode::<serde_json::Value>(t, &key, &v).unwrap();
    assert_eq!(data.claims["sub"], "u1");
}

#[tokio::test]
async fn static_key_sessions_sign_with_s_keys() {
    let (m, _c, _s) = setup(cfg(Algorithm::EdDSA));
    let mut n = NewSession::new("u");
    n.static_key = true;
    let s = m.create(n).await.unwrap();
    assert!(
        header(s.tokens.access.token.expose())["kid"]
            .as_str()
            .unwrap()
            .starts_with("s-")
    );
    let r = m
        .refresh(s.tokens.refresh.token.expose(), RefreshOptions::default())
        .await
        .unwrap();
    assert!(
        header(r.tokens.access.token.expose())["kid"]
            .as_str()
            .unwrap()
            .starts_with("s-")
    );
    m.verify(r.tokens.access.token.expose(), CHECK_DB)
        .await
        .unwrap();
}

#[tokio::test]
async fn anti_csrf_is_checked_on_verify_and_refresh() {
    let (m, _c, _s) = setup(cfg(Algorithm::EdDSA));
    let s = m
        .create(NewSession::new("u").anti_csrf(true))
        .await
        .unwrap();
    let csrf = s.tokens.anti_csrf.clone().expect("issued");
    let at = s.tokens.access.token.expose();
    let opts = |t: Option<&'static str>| VerifyOptions {
        app_id: None,
        anti_csrf_token: t,
        check_anti_csrf: true,
        check_database: false,
    };
    assert!(matches!(
        m.verify(at, opts(None)).await,
        Err(Error::TryRefreshToken(_))
    ));
    assert!(matches!(
        m.verify(at, opts(Some("wrong"))).await,
        Err(Error::TryRefreshToken(_))
    ));
    let ok = VerifyOptions {
        app_id: None,
        anti_csrf_token: Some(csrf.expose()),
        check_anti_csrf: true,
        check_database: true,
    };
    m.verify(at, ok).await.unwrap();

    let rt = s.tokens.refresh.token.expose();
    let bad = RefreshOptions {
        app_id: None,
        anti_csrf_token: Some("nope"),
        check_anti_csrf: true,
        static_key: None,
    };
    assert!(matches!(
        m.refresh(rt, bad).await,
        Err(Error::Unauthorised(_))
    ));
    let missing = RefreshOptions {
        app_id: None,
        anti_csrf_token: None,
        check_anti_csrf: true,
        static_key: None,
    };
    assert!(matches!(
        m.refresh(rt, missing).await,
        Err(Error::Unauthorised(_))
    ));
    let good = RefreshOptions {
        app_id: None,
        anti_csrf_token: Some(csrf.expose()),
        check_anti_csrf: true,
        static_key: None,
    };
    let r = m.refresh(rt, good).await.unwrap();
    let new_csrf = r.tokens.anti_csrf.clone().unwrap();
    assert_ne!(
        new_csrf.expose(),
        csrf.expose(),
        "a new generation gets a new anti-CSRF token"
    );
    // A retry within the grace window gets the same tokens back, including anti-CSRF.
    let again = m.refresh(rt, good).await.unwrap();
    assert_eq!(again.tokens.anti_csrf.unwrap().expose(), new_csrf.expose());
    assert_eq!(
        again.tokens.refresh.token.expose(),
        r.tokens.refresh.token.expose()
    );
    assert!(new_csrf.expose().len() >= 22, "at least 128 bits");
}

#[tokio::test]
async fn opaque_tokens_are_checked_against_the_store() {
    let (m, clock, store) = setup(ManagerConfig {
        token_format: TokenFormat::Opaque,
        ..cfg(Algorithm::HS256)
    });
    let s = m
        .create(
            NewSession::new("u")
                .public_data(obj(json!({"r": 1})))
                .anti_csrf(true),
        )
        .await
        .unwrap();
    let at = s.tokens.access.token.expose().to_owned();
    let raw = String::from_utf8(b64::decode(&at).unwrap()).unwrap();
    assert!(raw.starts_with(&format!("{};", s.session.handle)) && raw.ends_with(";v0"));
    let v = m.verify(&at, VerifyOptions::default()).await.unwrap();
    assert_eq!(v.session.public_data, obj(json!({"r": 1})));
    let csrf = s.tokens.anti_csrf.clone().unwrap();
    m.verify(
        &at,
        VerifyOptions {
            app_id: None,
            anti_csrf_token: Some(csrf.expose()),
            check_anti_csrf: true,
            check_database: false,
        },
    )
    .await
    .unwrap();
    assert!(
        m.verify(
            &at,
            VerifyOptions {
                app_id: None,
                anti_csrf_token: Some("x"),
                check_anti_csrf: true,
                check_database: false
            }
        )
        .await
        .is_err()
    );
    // Only the hash is stored.
    let rec = store
        .load_session(&s.session.handle, m.now_ms())
        .await
        .unwrap()
        .unwrap();
    assert!(rec.access_hash.is_some());
    // Refresh supersedes the old opaque token at once.
    let r = m
        .refresh(s.tokens.refresh.token.expose(), RefreshOptions::default())
        .await
        .unwrap();
    assert!(matches!(
        m.verify(&at, VerifyOptions::default()).await,
        Err(Error::TryRefreshToken(_))
    ));
    m.verify(r.tokens.access.token.expose(), VerifyOptions::default())
        .await
        .unwrap();
    // Revocation is instant even without asking for a database check.
    m.revoke(&s.session.handle).await.unwrap();
    assert!(matches!(
        m.verify(r.tokens.access.token.expose(), VerifyOptions::default())
            .await,
        Err(Error::Unauthorised(_))
    ));
    // Expiry.
    let s = m.create(NewSession::new("u")).await.unwrap();
    clock.advance_secs(61);
    assert!(matches!(
        m.verify(s.tokens.access.token.expose(), VerifyOptions::default())
            .await,
        Err(Error::TryRefreshToken(_))
    ));
}

#[tokio::test]
async fn expired_and_tampered_access_tokens_are_rejected() {
    let (m, clock, _s) = setup(cfg(Algorithm::ES256));
    let s = m.create(NewSession::new("u")).await.unwrap();
    let at = s.tokens.access.token.expose().to_owned();
    let parts: Vec<&str> = at.split('.').collect();
    let mut c = claims(&at);
    c["sub"] = json!("admin");
    let forged = format!("{}.{}.{}", parts[0], b64::encode(c.to_string()), parts[2]);
    assert!(matches!(
        m.verify(&forged, VerifyOptions::default()).await,
        Err(Error::TryRefreshToken(_))
    ));
    for garbage in [
        "",
        "abc",
        "a.b.c",
        "....",
        "eyJhbGciOiJub25lIn0.e30.",
        &"x".repeat(20_000),
    ] {
        assert!(
            m.verify(garbage, VerifyOptions::default()).await.is_err(),
            "{garbage:.20}"
        );
    }
    clock.advance_secs(61);
    assert!(matches!(
        m.verify(&at, VerifyOptions::default()).await,
        Err(Error::TryRefreshToken(_))
    ));
}

#[tokio::test]
async fn regenerate_keeps_expiry_and_accepts_expired_tokens() {
    let (m, clock, _s) = setup(cfg(Algorithm::EdDSA));
    let s = m
        .create(NewSession::new("u").public_data(obj(json!({"a": 1}))))
        .await
        .unwrap();
    let at = s.tokens.access.token.expose().to_owned();
    clock.advance_secs(5);
    let r = m
        .regenerate(&at, Some(obj(json!({"a": 2, "b": true}))), None)
        .await
        .unwrap();
    let new = r.access_token.expect("unexpired token gets a new one");
    assert_eq!(new.expires_at, s.tokens.access.expires_at, "same exp");
    assert_eq!(claims(new.token.expose())["a"], 2);
    assert_eq!(
        claims(new.token.expose())["refreshTokenHash1"],
        claims(&at)["refreshTokenHash1"]
    );
    assert_eq!(r.session.public_data, obj(json!({"a": 2, "b": true})));
    assert!(matches!(
        m.regenerate(&at, Some(obj(json!({"sub": "x"}))), None)
            .await,
        Err(Error::InvalidInput(_))
    ));
    clock.advance_secs(120);
    let r = m
        .regenerate(&at, Some(obj(json!({"a": 3}))), None)
        .await
        .unwrap();
    assert!(
        r.access_token.is_none(),
        "expired input: data updated, no token"
    );
    assert_eq!(
        m.get(&s.session.handle).await.unwrap().summary.public_data,
        obj(json!({"a": 3}))
    );
    m.revoke(&s.session.handle).await.unwrap();
    assert!(matches!(
        m.regenerate(&at, None, None).await,
        Err(Error::Unauthorised(_))
    ));
}

#[tokio::test]
async fn database_check_reissues_a_token_with_stale_public_data() {
    let (m, _c, _s) = setup(cfg(Algorithm::EdDSA));
    let s = m
        .create(NewSession::new("u").public_data(obj(json!({"plan": "free"}))))
        .await
        .unwrap();
    let at = s.tokens.access.token.expose();
    m.set_public_data(&s.session.handle, obj(json!({"plan": "pro"})))
        .await
        .unwrap();
    let v = m.verify(at, VerifyOptions::default()).await.unwrap();
    assert_eq!(
        v.session.public_data,
        obj(json!({"plan": "free"})),
        "stateless sees the token"
    );
    let v = m.verify(at, CHECK_DB).await.unwrap();
    assert_eq!(v.session.public_data, obj(json!({"plan": "pro"})));
    let fresh = v.new_access_token.expect("reissued");
    assert_eq!(claims(fresh.token.expose())["plan"], "pro");
    let again = m.verify(fresh.token.expose(), CHECK_DB).await.unwrap();
    assert!(again.new_access_token.is_none());
    let r = m
        .refresh(s.tokens.refresh.token.expose(), RefreshOptions::default())
        .await
        .unwrap();
    assert_eq!(claims(r.tokens.access.token.expose())["plan"], "pro");
}

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
    let h = header(t.expose());
    assert!(h.get("version").is_none());
    let jwks = m.keys().jwks("public");
    let jwk = jwks
        .keys
        .iter()
        .find(|k| Some(k.kid.as_str()) == h["kid"].as_str())
        .unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk.n.as_deref().unwrap(),
        jwk.e.as_deref().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&["https://issuer"]);
    v.validate_aud = false;
    let data = jsonwebtoken::decode::<serde_json::Value>(t.expose(), &key, &v).unwrap();
    assert_eq!(data.claims["role"], "admin");
    // An id token is not an access token.
    assert!(
        m.verify(t.expose(), VerifyOptions::default())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn service_tokens_expire_and_die_with_a_key_reset() {
    let (m, clock, _s) = setup(cfg(Algorithm::EdDSA));
    let forever = m.create_service_token("public", None).await.unwrap();
    let short = m
        .create_service_token("public", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(
        m.verify_service_token("public", forever.expose())
            .await
            .unwrap()
    );
    assert!(
        m.verify_service_token("public", short.expose())
            .await
            .unwrap()
    );
    assert!(!m.verify_service_token("public", "garbage").await.unwrap());
    // A service token is not an access token and vice versa.
    let s = m.create(NewSession::new("u")).await.unwrap();
    assert!(
        !m.verify_service_token("public", s.tokens.access.token.expose())
            .await
            .unwrap()
    );
    assert!(
        m.verify(forever.expose(), VerifyOptions::default())
            .await
            .is_err()
    );
    clock.advance_secs(31);
    assert!(
        !m.verify_service_token("public", short.expose())
            .await
            .unwrap()
    );
    assert!(
        m.verify_service_token("public", forever.expose())
            .await
            .unwrap()
    );
    m.keys().reset("public").await.unwrap();
    assert!(
        !m.verify_service_token("public", forever.expose())
            .await
            .unwrap()
    );
    assert!(
        m.verify_service_token(
            "public",
            m.create_service_token("public", None)
                .await
                .unwrap()
                .expose()
        )
        .await
        .unwrap()
    );
}

#[tokio::test]
async fn key_reset_fails_access_tokens_but_refresh_recovers() {
    let (m, _c, _s) = setup(cfg(Algorithm::EdDSA));
    let s = m.create(NewSession::new("u")).await.unwrap();
    let before = m.keys().list(None);
    m.keys().reset("public").await.unwrap();
    let after = m.keys().list(None);
    for k in before.iter().filter(|k| k.kind != "chain") {
        assert!(
            !after.iter().any(|a| a.kid == k.kid),
            "{} survived the reset",
            k.kid
        );
    }
    assert!(matches!(
        m.verify(s.tokens.access.token.expose(), VerifyOptions::default())
            .await,
        Err(Error::TryRefreshToken(_))
    ));
    let r = m
        .refresh(s.tokens.refresh.token.expose(), RefreshOptions::default())
        .await
        .unwrap();
    m.verify(r.tokens.access.token.expose(), CHECK_DB)
        .await
        .unwrap();
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_until_they_expire() {
    let (m, clock, _s) = setup(ManagerConfig {
        key_rotation_interval: Duration::from_secs(3600),
        ..cfg(Algorithm::EdDSA)
    });
    m.start(StartOptions::default()).await.unwrap();
    let s = m.create(NewSession::new("u")).await.unwrap();
    let old_kid = header(s.tokens.access.token.expose())["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    // Manual rotation: new tokens use the new key, old ones still verify.
    let info = m.keys().rotate("public").await.unwrap();
    assert_ne!(info.kid, old_kid);
    let s2 = m.create(NewSession::new("u")).await.unwrap();
    assert_eq!(
        header(s2.tokens.access.token.expose())["kid"],
        info.kid.as_str()
    );
    m.verify(s.tokens.access.token.expose(), VerifyOptions::default())
        .await
        .unwrap();
    let dynamic = m
        .keys()
        .jwks("public")
        .keys
        .iter()
        .filter(|k| k.kid.starts_with("d-"))
        .count();
    assert_eq!(dynamic, 2, "both dynamic keys published during the overlap");
    // Scheduled rotation after the interval.
    clock.advance_secs(3601);
    m.keys().maintain().await.unwrap();
    let current = m
        .keys()
        .list(None)
        .into_iter()
        .find(|k| k.kind == "dynamic" && k.current)
        .unwrap();
    assert_ne!(current.kid, info.kid);
    // Retired keys are pruned once everything they signed has expired (ttl 60 s + 60 s skew).
    clock.advance_secs(121);
    m.keys().maintain().await.unwrap();
    assert!(
        m.keys()
            .jwks("public")
            .keys
            .iter()
            .all(|k| k.kid != old_kid)
    );
    m.stop().await.unwrap();
}

#[tokio::test]
async fn a_process_with_a_slow_clock_still_rotates_forward() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let fast = ManualClock::at_system_time();
    let slow = ManualClock::new(fast.now_ms() - 10_000);
    let a = SessionManager::with_clock(Arc::clone(&store), cfg(Algorithm::EdDSA), Arc::new(fast))
        .unwrap();
    let b = SessionManager::with_clock(Arc::clone(&store), cfg(Algorithm::EdDSA), Arc::new(slow))
        .unwrap();
    let first = a
        .keys()
        .signer("public", KeyKind::Dynamic)
        .await
        .unwrap()
        .kid()
        .to_owned();
    let rotated = b.keys().rotate("public").await.unwrap();
    assert_ne!(rotated.kid, first);
    a.keys().reload().await.unwrap();
    assert_eq!(
        a.keys()
            .signer("public", KeyKind::Dynamic)
            .await
            .unwrap()
            .kid(),
        rotated.kid
    );
    assert_eq!(
        b.keys()
            .signer("public", KeyKind::Dynamic)
            .await
            .unwrap()
            .kid(),
        rotated.kid
    );
}

#[tokio::test]
async fn master_key_seals_private_material() {
    let mk = || MasterKey::from_bytes(&[3u8; 32]).unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let m = SessionManager::new(
        Arc::clone(&store),
        ManagerConfig {
            master_key: Some(mk()),
            ..cfg(Algorithm::EdDSA)
        },
    )
    .unwrap();
    let s = m.create(NewSession::new("u")).await.unwrap();
    let keys = store.load_keys().await.unwrap();
    assert!(!keys.is_empty() && keys.iter().all(|k| k.sealed));
    // Another process with the same master key uses the keys; one without cannot sign.
    let m2 = SessionManager::new(
        Arc::clone(&store),
        ManagerConfig {
            master_key: Some(mk()),
            ..cfg(Algorithm::EdDSA)
        },
    )
    .unwrap();
    m2.verify(s.tokens.access.token.expose(), VerifyOptions::default())
        .await
        .unwrap();
    m2.refresh(s.tokens.refresh.token.expose(), RefreshOptions::default())
        .await
        .unwrap();
    let m3 = SessionManager::new(Arc::clone(&store), cfg(Algorithm::EdDSA)).unwrap();
    assert!(matches!(
        m3.keys().signer("public", KeyKind::Dynamic).await,
        Err(Error::Config(_))
    ));
}

#[tokio::test]
async fn fresh_start_and_destroy_wipe_the_store() {
    let (m, _c, store) = setup(cfg(Algorithm::EdDSA));
    let s = m.create(NewSession::new("u")).await.unwrap();
    m.start(StartOptions { fresh: true }).await.unwrap();
    assert!(matches!(
        m.get(&s.session.handle).await,
        Err(Error::SessionNotFound)
    ));
    let s = m.create(NewSession::new("u")).await.unwrap();
    m.stop().await.unwrap();
    m.destroy().await.unwrap();
    assert!(matches!(
        m.get(&s.session.handle).await,
        Err(Error::SessionNotFound)
    ));
    assert!(store.load_keys().await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_input_is_rejected_with_invalid_input() {
    let (m, _c, _s) = setup(cfg(Algorithm::EdDSA));
    assert!(matches!(
        m.create(NewSession::new("")).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        m.create(NewSession::new("a\u{0}b")).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        m.create(NewSession::new("x".repeat(201))).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        m.create(NewSession::new("u").tenant("Bad Tenant")).await,
        Err(Error::InvalidInput(_))
    ));
    for protected in [
        "sub",
        "exp",
        "sessionHandle",
        "tId",
        "rsub",
        "antiCsrfToken",
    ] {
        let mut d = JsonObject::new();
        d.insert(protected.into(), json!(1));
        assert!(matches!(
            m.create(NewSession::new("u").public_data(d)).await,
            Err(Error::InvalidInput(_))
        ));
    }
    let s = m.create(NewSession::new("u").tenant("t1")).await.unwrap();
    assert!(s.session.handle.ends_with("_t1"));
    assert_eq!(claims(s.tokens.access.token.expose())["tId"], "t1");
}

#[tokio::test]
async fn hs256_is_selectable_and_never_published() {
    let (m, _c, _s) = setup(cfg(Algorithm::HS256));
    let s = m.create(NewSession::new("u")).await.unwrap();
    assert_eq!(header(s.tokens.access.token.expose())["alg"], "HS256");
    m.verify(s.tokens.access.token.expose(), VerifyOptions::default())
        .await
        .unwrap();
    assert!(
        m.keys().jwks("public").keys.is_empty(),
        "symmetric keys never appear in the JWKS"
    );
}

#[test]
fn config_validation_names_the_setting() {
    let c = ManagerConfig {
        access_token_ttl: Duration::ZERO,
        ..ManagerConfig::default()
    };
    let e = SessionManager::new(Arc::new(MemoryStore::new()), c).unwrap_err();
    assert!(e.to_string().contains("access_token_ttl"), "{e}");
    let c = ManagerConfig {
        refresh_grace: Duration::from_secs(10),
        refresh_token_ttl: Duration::from_secs(5),
        ..ManagerConfig::default()
    };
    assert!(SessionManager::new(Arc::new(MemoryStore::new()), c).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_sweeper_deletes_expired_sessions_in_batches() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = ManualClock::at_system_time();
    let m = SessionManager::with_clock(
        Arc::clone(&store),
        ManagerConfig {
            sweep_interval: Duration::from_millis(50),
            sweep_batch: 7,
            idle_timeout: Duration::from_secs(60),
            ..cfg(Algorithm::EdDSA)
        },
        Arc::new(clock.clone()),
    )
    .unwrap();
    m.start(StartOptions::default()).await.unwrap();
    for i in 0..30 {
        m.create(NewSession::new(format!("sweep-{i}")))
            .await
            .unwrap();
    }
    clock.advance_secs(61);
    let live = m.create(NewSession::new("sweep-live")).await.unwrap();
    // Reads with a `now` before every expiry see rows that still exist in the store.
    let remaining = || async {
        let mut n = 0;
        for i in 0..30 {
            n += store
                .list_user_sessions(&sessiond_core::UserQuery::user(format!("sweep-{i}")), 0)
                .await
                .unwrap()
                .len();
        }
        n
    };
    assert_eq!(remaining().await, 30);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while remaining().await > 0 {
        assert!(std::time::Instant::now() < deadline, "sweeper did not run");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    m.get(&live.session.handle)
        .await
        .expect("live sessions are kept");
    m.stop().await.unwrap();
}

fn opaque_manager() -> (SessionManager, ManualClock, Arc<dyn Store>) {
    setup(ManagerConfig {
        token_format: TokenFormat::Opaque,
        ..cfg(Algorithm::HS256)
    })
}

/// An opaque token is only as good as its secret: knowing a handle is not enough to regenerate
/// (read or overwrite the public data of) someone else's session.
#[tokio::test]
async fn regenerate_refuses_a_forged_opaque_token() {
    let forge = |handle: &str| b64::encode(format!("{handle};{};v0", b64::encode([7u8; 32])));
    for format in [TokenFormat::Opaque, TokenFormat::Jwt] {
        let (m, _c, _s) = setup(ManagerConfig {
            token_format: format,
            ..cfg(Algorithm::EdDSA)
        });
        let s = m
            .create(NewSession::new("victim").public_data(obj(json!({"r": 1}))))
            .await
            .unwrap();
        let h = s.session.handle.clone();
        let r = m
            .regenerate(&forge(&h), Some(obj(json!({"r": 2}))), None)
            .await;
        assert!(
            matches!(r, Err(Error::Unauthorised(_))),
            "{format:?}: {r:?}"
        );
        assert!(matches!(
            m.regenerate(&forge(&h), None, None).await,
            Err(Error::Unauthorised(_))
        ));
        assert_eq!(
            m.get(&h).await.unwrap().summary.public_data,
            obj(json!({"r": 1})),
            "{format:?}: untouched"
        );
    }
    // The genuine opaque token regenerates (no new token: an opaque one carries no data).
    let (m, _c, _s) = opaque_manager();
    let s = m.create(NewSession::new("u")).await.unwrap();
    let r = m
        .regenerate(
            s.tokens.access.token.expose(),
            Some(obj(json!({"r": 3}))),
            None,
        )
        .await
        .unwrap();
    assert!(r.access_token.is_none());
    let v = m
        .verify(s.tokens.access.token.expose(), VerifyOptions::default())
        .await
        .unwrap();
    assert_eq!(v.session.public_data, obj(json!({"r": 3})));
}

/// Public data that would make an access token too long to verify is refused up front, on
/// every path that sets it; the largest accepted data, with the longest ids, still verifies.
#[tokio::test]
async fn public_data_must_fit_in_an_access_token() {
    let (m, _c, _s) = setup(ManagerConfig::default()); // RS256: the longest signatures
    let data = |len: usize| obj(json!({ "k": "a".repeat(len - 8) })); // {"k":"…"}
    assert_eq!(
        serde_json::to_string(&data(sessiond_core::MAX_PUBLIC_DATA_LEN))
            .unwrap()
            .len(),
        sessiond_core::MAX_PUBLIC_DATA_LEN
    );
    let mut new = NewSession::new("\"".repeat(200)) // escapes to 400 bytes
        .public_data(data(sessiond_core::MAX_PUBLIC_DATA_LEN))
        .anti_csrf(true)
        .tenant("t".repeat(64));
    new.recipe_user_id = Some("\\".repeat(200));
    let s = m.create(new.clone()).await.unwrap();
    let at = s.tokens.access.token.expose();
    assert!(
        at.len() <= sessiond_core::jose::MAX_TOKEN_LEN,
        "{}",
        at.len()
    );
    let csrf = s.tokens.anti_csrf.clone().unwrap();
    m.verify(
        at,
        VerifyOptions {
            anti_csrf_token: Some(csrf.expose()),
            check_anti_csrf: true,
            check_database: true,
            app_id: None,
        },
    )
    .await
    .unwrap();
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
    m.verify(r.tokens.access.token.expose(), CHECK_DB)
        .await
        .unwrap();

    let too_big = data(sessiond_core::MAX_PUBLIC_DATA_LEN + 1);
    assert!(matches!(
        m.create(new.public_data(too_big.clone())).await,
        Err(Error::InvalidInput(_))
    ));
    let h = s.session.handle.as_str();
    assert!(matches!(
        m.set_public_data(h, too_big.clone()).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        m.update_data_with(h, |p, _| *p = too_big.clone()).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        m.regenerate(r.tokens.access.token.expose(), Some(too_big), None)
            .await,
        Err(Error::InvalidInput(_))
    ));
}

/// A session belongs to one app: every check that reaches the store, and every handle-based
/// operation, treats another app's session as missing, and leaves it alone.
#[tokio::test]
async fn apps_are_confined_to_their_own_sessions() {
    use sessiond_core::SessionRef;
    let (m, _c, _s) = setup(cfg(Algorithm::EdDSA));
    let mut new = NewSession::new("u").public_data(obj(json!({"r": 1})));
    new.app_id = "shop".to_owned();
    let s = m.create(new).await.unwrap();
    let h = s.session.handle.as_str();
    let at = s.tokens.access.token.expose();
    let in_app = |app: &'static str| VerifyOptions {
        app_id: Some(app),
        ..CHECK_DB
    };
    // Each app has its own keys: another app's token does not verify, even statelessly.
    assert!(matches!(
        m.verify(at, in_app("blog")).await,
        Err(Error::TryRefreshToken(_))
    ));
    let stateless_blog = VerifyOptions {
        app_id: Some("blog"),
        ..VerifyOptions::default()
    };
    assert!(matches!(
        m.verify(at, stateless_blog).await,
        Err(Error::TryRefreshToken(_))
    ));
    m.verify(at, in_app("shop")).await.unwrap();
    let shop_kids: Vec<String> = m
        .keys()
        .jwks("shop")
        .keys
        .iter()
        .map(|k| k.kid.clone())
        .collect();
    let public_kids: Vec<String> = m
        .keys()
        .jwks("public")
        .keys
        .iter()
        .map(|k| k.kid.clone())
        .collect();
    assert!(
        !shop_kids.is_empty() && shop_kids.iter().all(|k| !public_kids.contains(k)),
        "a JWKS per app"
    );
    let other = RefreshOptions {
        app_id: Some("blog"),
        ..RefreshOptions::default()
    };
    assert!(matches!(
        m.refresh(s.tokens.refresh.token.expose(), other).await,
        Err(Error::Unauthorised(_))
    ));
    for r in [
        m.get(SessionRef::in_app(h, "blog")).await.map(drop),
        m.user_of(SessionRef::in_app(h, "blog")).await.map(drop),
        m.set_private_data(SessionRef::in_app(h, "blog"), obj(json!({"x": 1})))
            .await,
        m.set_public_data(SessionRef::in_app(h, "blog"), obj(json!({"x": 1})))
            .await,
        m.revoke(SessionRef::in_app(h, "blog")).await,
    ] {
        assert!(matches!(r, Err(Error::SessionNotFound)), "{r:?}");
    }
    assert!(
        m.revoke_many(&[h.to_owned()], Some("blog"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        m.regenerate(at, Some(obj(json!({"r": 9}))), Some("blog"))
            .await,
        Err(Error::Unauthorised(_))
    ));
    // All of that left the session as it was, and its own app still reaches it.
    let info = m.get(SessionRef::in_app(h, "shop")).await.unwrap();
    assert_eq!(info.summary.public_data, obj(json!({"r": 1})));
    assert!(info.private_data.is_empty());
    let same = RefreshOptions {
        app_id: Some("shop"),
        ..RefreshOptions::default()
    };
    m.refresh(s.tokens.refresh.token.expose(), same)
        .await
        .unwrap();
    assert_eq!(
        m.revoke_many(&[h.to_owned()], Some("shop")).await.unwrap(),
        vec![h.to_owned()]
    );
}

/// Activity seen by database-checked verifies (recorded off the request path, and awaited by
/// `stop`) moves the idle deadline, even when the configured touch interval is longer than the
/// idle timeout. (Access tokens never outlive the idle deadline they were issued under, so it
/// shows when the client refreshes.)
#[tokio::test]
async fn database_checked_verifies_keep_a_session_from_idling_out() {
    let (m, clock, _s) = setup(ManagerConfig {
        idle_timeout: Duration::from_secs(60),
        touch_interval: Duration::from_secs(120),
        access_token_ttl: Duration::from_secs(3600),
        ..cfg(Algorithm::EdDSA)
    });
    let mut refresh = String::new();
    let mut at = String::new();
    for round in 0..3 {
        if round == 0 {
            let s = m.create(NewSession::new("u")).await.unwrap();
            (at, refresh) = (
                s.tokens.access.token.expose().to_owned(),
                s.tokens.refresh.token.expose().to_owned(),
            );
        }
        clock.advance_secs(40);
        m.verify(&at, CHECK_DB).await.unwrap();
        m.stop().await.unwrap(); // waits for the activity record
        clock.advance_secs(25); // 65 s since the last create/refresh: past its idle deadline
        assert!(matches!(
            m.verify(&at, VerifyOptions::default()).await,
            Err(Error::TryRefreshToken(_))
        ));
        let r = m
            .refresh(&refresh, RefreshOptions::default())
            .await
            .unwrap_or_else(|e| panic!("round {round}: the verify kept it alive: {e:?}"));
        (at, refresh) = (
            r.tokens.access.token.expose().to_owned(),
            r.tokens.refresh.token.expose().to_owned(),
        );
    }
    // No activity for longer than the idle timeout ends it.
    clock.advance_secs(61);
    assert!(matches!(
        m.refresh(&refresh, RefreshOptions::default()).await,
        Err(Error::Unauthorised(_))
    ));
}
