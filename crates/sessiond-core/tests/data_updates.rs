//! Changing a session's public data: regenerate (expired tokens accepted, expiry kept), and the
//! re-issued token a database-checked verify hands out when the token's data is stale.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use serde_json::json;
use sessiond_core::jose::Algorithm;
use sessiond_core::{Error, NewSession, VerifyOptions};

use common::{CHECK_DB, cfg, claims, obj, refresh, setup};

#[tokio::test]
async fn regenerate_keeps_expiry_and_accepts_expired_tokens() {
    let (m, clock, _s) = setup(cfg(Algorithm::EdDSA));
    let s = m.create(NewSession::new("u").public_data(obj(json!({"a": 1})))).await.unwrap();
    let at = s.tokens.access.token.expose().to_owned();
    clock.advance_secs(5);
    let r = m.regenerate(&at, Some(obj(json!({"a": 2, "b": true}))), None).await.unwrap();
    let new = r.access_token.expect("unexpired token gets a new one");
    assert_eq!(new.expires_at, s.tokens.access.expires_at, "same exp");
    assert_eq!(claims(new.token.expose())["a"], 2);
    assert_eq!(claims(new.token.expose())["refreshTokenHash1"], claims(&at)["refreshTokenHash1"]);
    assert_eq!(r.session.public_data, obj(json!({"a": 2, "b": true})));
    assert!(matches!(
        m.regenerate(&at, Some(obj(json!({"sub": "x"}))), None).await,
        Err(Error::InvalidInput(_))
    ));
    clock.advance_secs(120);
    let r = m.regenerate(&at, Some(obj(json!({"a": 3}))), None).await.unwrap();
    assert!(r.access_token.is_none(), "expired input: data updated, no token");
    assert_eq!(m.get(&s.session.handle).await.unwrap().summary.public_data, obj(json!({"a": 3})));
    m.revoke(&s.session.handle).await.unwrap();
    assert!(matches!(m.regenerate(&at, None, None).await, Err(Error::Unauthorised(_))));
}

#[tokio::test]
async fn database_check_reissues_a_token_with_stale_public_data() {
    let (m, _c, _s) = setup(cfg(Algorithm::EdDSA));
    let s = m.create(NewSession::new("u").public_data(obj(json!({"plan": "free"})))).await.unwrap();
    let at = s.tokens.access.token.expose();
    m.set_public_data(&s.session.handle, obj(json!({"plan": "pro"}))).await.unwrap();
    let v = m.verify(at, VerifyOptions::default()).await.unwrap();
    assert_eq!(v.session.public_data, obj(json!({"plan": "free"})), "stateless sees the token");
    let v = m.verify(at, CHECK_DB).await.unwrap();
    assert_eq!(v.session.public_data, obj(json!({"plan": "pro"})));
    let fresh = v.new_access_token.expect("reissued");
    assert_eq!(claims(fresh.token.expose())["plan"], "pro");
    let again = m.verify(fresh.token.expose(), CHECK_DB).await.unwrap();
    assert!(again.new_access_token.is_none());
    let r = refresh(&m, &s).await.unwrap();
    assert_eq!(claims(r.tokens.access.token.expose())["plan"], "pro");
}

#[tokio::test]
async fn a_token_reissued_by_a_checked_verify_keeps_its_expiry() {
    let (m, clock, _s) = setup(cfg(Algorithm::EdDSA));
    let s = m.create(NewSession::new("u")).await.unwrap();
    clock.advance_secs(20);
    m.set_public_data(s.session.handle.as_str(), serde_json::Map::new()).await.unwrap();
    m.set_public_data(s.session.handle.as_str(), obj(json!({"role": "admin"}))).await.unwrap();
    let v = m.verify(s.tokens.access.token.expose(), CHECK_DB).await.unwrap();
    let t = v.new_access_token.expect("stale payload: a new token");
    assert_eq!(t.expires_at, s.tokens.access.expires_at, "same expiry");
    assert_eq!(v.session.public_data["role"], "admin");
}
