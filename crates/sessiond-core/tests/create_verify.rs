//! Creating sessions and verifying their access tokens: the SuperTokens v5 token shape, static
//! keys, anti-CSRF, tampering and expiry, bad input and the size limit of public data.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use serde_json::json;
use sessiond_core::jose::Algorithm;
use sessiond_core::{Error, JsonObject, ManagerConfig, NewSession, VerifyOptions, b64};

use common::{
    CHECK_DB, cfg, claims, decode_rs256, header, kid, obj, published_jwk, refresh,
    refresh_with_csrf, setup, with_csrf,
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
    for k in ["sub", "exp", "iat", "sessionHandle", "refreshTokenHash1", "tId", "rsub"] {
        assert!(c.get(k).is_some(), "missing claim {k}");
    }
    assert!(c["parentRefreshTokenHash1"].is_null());
    assert!(c["antiCsrfToken"].is_null());
    assert_eq!(c["iss"], "http://api/auth");
    assert_eq!(c["tId"], "public");
    assert_eq!(s.tokens.access.expires_at, c["exp"].as_i64().unwrap() * 1000);
    assert_eq!(s.tokens.access.created_at / 1000, c["iat"].as_i64().unwrap());
    // The JWKS verifies it with an independent library.
    let jwk = published_jwk(&m, t);
    assert_eq!((jwk.kty.as_str(), jwk.alg.as_str(), jwk.use_.as_str()), ("RSA", "RS256", "sig"));
    assert_eq!(decode_rs256(&jwk, t, None)["sub"], "u1");
}

#[tokio::test]
async fn static_key_sessions_sign_with_s_keys() {
    let (m, _c, _s) = setup(cfg(Algorithm::EdDSA));
    let mut n = NewSession::new("u");
    n.static_key = true;
    let s = m.create(n).await.unwrap();
    assert!(kid(s.tokens.access.token.expose()).starts_with("s-"));
    let r = refresh(&m, &s).await.unwrap();
    assert!(kid(r.tokens.access.token.expose()).starts_with("s-"));
    m.verify(r.tokens.access.token.expose(), CHECK_DB).await.unwrap();
}

#[tokio::test]
async fn anti_csrf_is_checked_on_verify_and_refresh() {
    let (m, _c, _s) = setup(cfg(Algorithm::EdDSA));
    let s = m.create(NewSession::new("u").anti_csrf(true)).await.unwrap();
    let csrf = s.tokens.anti_csrf.clone().expect("issued");
    let at = s.tokens.access.token.expose();
    assert!(matches!(m.verify(at, with_csrf(None)).await, Err(Error::TryRefreshToken(_))));
    assert!(matches!(m.verify(at, with_csrf(Some("wrong"))).await, Err(Error::TryRefreshToken(_))));
    let ok = VerifyOptions { check_database: true, ..with_csrf(Some(csrf.expose())) };
    m.verify(at, ok).await.unwrap();

    let rt = s.tokens.refresh.token.expose();
    assert!(matches!(
        m.refresh(rt, refresh_with_csrf(Some("nope"))).await,
        Err(Error::Unauthorised(_))
    ));
    assert!(matches!(m.refresh(rt, refresh_with_csrf(None)).await, Err(Error::Unauthorised(_))));
    let good = refresh_with_csrf(Some(csrf.expose()));
    let r = m.refresh(rt, good).await.unwrap();
    let new_csrf = r.tokens.anti_csrf.clone().unwrap();
    assert_ne!(new_csrf.expose(), csrf.expose(), "a new generation gets a new anti-CSRF token");
    // A retry within the grace window gets the same tokens back, including anti-CSRF.
    let again = m.refresh(rt, good).await.unwrap();
    assert_eq!(again.tokens.anti_csrf.unwrap().expose(), new_csrf.expose());
    assert_eq!(again.tokens.refresh.token.expose(), r.tokens.refresh.token.expose());
    assert!(new_csrf.expose().len() >= 22, "at least 128 bits");
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
    for garbage in ["", "abc", "a.b.c", "....", "eyJhbGciOiJub25lIn0.e30.", &"x".repeat(20_000)] {
        assert!(m.verify(garbage, VerifyOptions::default()).await.is_err(), "{garbage:.20}");
    }
    clock.advance_secs(61);
    assert!(matches!(
        m.verify(&at, VerifyOptions::default()).await,
        Err(Error::TryRefreshToken(_))
    ));
}

#[tokio::test]
async fn bad_input_is_rejected_with_invalid_input() {
    let (m, _c, _s) = setup(cfg(Algorithm::EdDSA));
    assert!(matches!(m.create(NewSession::new("")).await, Err(Error::InvalidInput(_))));
    assert!(matches!(m.create(NewSession::new("a\u{0}b")).await, Err(Error::InvalidInput(_))));
    assert!(matches!(
        m.create(NewSession::new("x".repeat(201))).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        m.create(NewSession::new("u").tenant("Bad Tenant")).await,
        Err(Error::InvalidInput(_))
    ));
    for protected in ["sub", "exp", "sessionHandle", "tId", "rsub", "antiCsrfToken"] {
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

/// Public data that would make an access token too long to verify is refused up front, on
/// every path that sets it; the largest accepted data, with the longest ids, still verifies.
#[tokio::test]
async fn public_data_must_fit_in_an_access_token() {
    let (m, _c, _s) = setup(ManagerConfig::default()); // RS256: the longest signatures
    let data = |len: usize| obj(json!({ "k": "a".repeat(len - 8) })); // {"k":"…"}
    assert_eq!(
        serde_json::to_string(&data(sessiond_core::MAX_PUBLIC_DATA_LEN)).unwrap().len(),
        sessiond_core::MAX_PUBLIC_DATA_LEN
    );
    let mut new = NewSession::new("\"".repeat(200)) // escapes to 400 bytes
        .public_data(data(sessiond_core::MAX_PUBLIC_DATA_LEN))
        .anti_csrf(true)
        .tenant("t".repeat(64));
    new.recipe_user_id = Some("\\".repeat(200));
    let s = m.create(new.clone()).await.unwrap();
    let at = s.tokens.access.token.expose();
    assert!(at.len() <= sessiond_core::jose::MAX_TOKEN_LEN, "{}", at.len());
    let csrf = s.tokens.anti_csrf.clone().unwrap();
    m.verify(at, VerifyOptions { check_database: true, ..with_csrf(Some(csrf.expose())) })
        .await
        .unwrap();
    let r = m
        .refresh(s.tokens.refresh.token.expose(), refresh_with_csrf(Some(csrf.expose())))
        .await
        .unwrap();
    m.verify(r.tokens.access.token.expose(), CHECK_DB).await.unwrap();

    let too_big = data(sessiond_core::MAX_PUBLIC_DATA_LEN + 1);
    assert!(matches!(
        m.create(new.public_data(too_big.clone())).await,
        Err(Error::InvalidInput(_))
    ));
    let h = s.session.handle.as_str();
    assert!(matches!(m.set_public_data(h, too_big.clone()).await, Err(Error::InvalidInput(_))));
    assert!(matches!(
        m.update_data_with(h, |p, _| *p = too_big.clone()).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        m.regenerate(r.tokens.access.token.expose(), Some(too_big), None).await,
        Err(Error::InvalidInput(_))
    ));
}
