//! Opaque access tokens (`base64url(handle;random;v0)`): every check reaches the store, only a
//! hash is stored, and knowing a handle is not enough to forge one.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use serde_json::json;
use sessiond_core::jose::Algorithm;
use sessiond_core::{Error, ManagerConfig, NewSession, TokenFormat, VerifyOptions, b64};

use common::{cfg, obj, opaque_cfg, refresh, setup, with_csrf};

#[tokio::test]
async fn opaque_tokens_are_checked_against_the_store() {
    let (m, clock, store) = setup(opaque_cfg());
    let s = m
        .create(NewSession::new("u").public_data(obj(json!({"r": 1}))).anti_csrf(true))
        .await
        .unwrap();
    let at = s.tokens.access.token.expose().to_owned();
    let raw = String::from_utf8(b64::decode(&at).unwrap()).unwrap();
    assert!(raw.starts_with(&format!("{};", s.session.handle)) && raw.ends_with(";v0"));
    let v = m.verify(&at, VerifyOptions::default()).await.unwrap();
    assert_eq!(v.session.public_data, obj(json!({"r": 1})));
    let csrf = s.tokens.anti_csrf.clone().unwrap();
    m.verify(&at, with_csrf(Some(csrf.expose()))).await.unwrap();
    assert!(m.verify(&at, with_csrf(Some("x"))).await.is_err());
    // Only the hash is stored.
    let rec = store.load_session(&s.session.handle, m.now_ms()).await.unwrap().unwrap();
    assert!(rec.access_hash.is_some());
    // Refresh supersedes the old opaque token at once.
    let r = refresh(&m, &s).await.unwrap();
    assert!(matches!(
        m.verify(&at, VerifyOptions::default()).await,
        Err(Error::TryRefreshToken(_))
    ));
    m.verify(r.tokens.access.token.expose(), VerifyOptions::default()).await.unwrap();
    // Revocation is instant even without asking for a database check.
    m.revoke(&s.session.handle).await.unwrap();
    assert!(matches!(
        m.verify(r.tokens.access.token.expose(), VerifyOptions::default()).await,
        Err(Error::Unauthorised(_))
    ));
    // Expiry.
    let s = m.create(NewSession::new("u")).await.unwrap();
    clock.advance_secs(61);
    assert!(matches!(
        m.verify(s.tokens.access.token.expose(), VerifyOptions::default()).await,
        Err(Error::TryRefreshToken(_))
    ));
}

/// An opaque token is only as good as its secret: knowing a handle is not enough to regenerate
/// (read or overwrite the public data of) someone else's session.
#[tokio::test]
async fn regenerate_refuses_a_forged_opaque_token() {
    let forge = |handle: &str| b64::encode(format!("{handle};{};v0", b64::encode([7u8; 32])));
    for format in [TokenFormat::Opaque, TokenFormat::Jwt] {
        let (m, _c, _s) = setup(ManagerConfig { token_format: format, ..cfg(Algorithm::EdDSA) });
        let s =
            m.create(NewSession::new("victim").public_data(obj(json!({"r": 1})))).await.unwrap();
        let h = s.session.handle.clone();
        let r = m.regenerate(&forge(&h), Some(obj(json!({"r": 2}))), None).await;
        assert!(matches!(r, Err(Error::Unauthorised(_))), "{format:?}: {r:?}");
        assert!(matches!(m.regenerate(&forge(&h), None, None).await, Err(Error::Unauthorised(_))));
        assert_eq!(
            m.get(&h).await.unwrap().summary.public_data,
            obj(json!({"r": 1})),
            "{format:?}: untouched"
        );
    }
    // The genuine opaque token regenerates (no new token: an opaque one carries no data).
    let (m, _c, _s) = setup(opaque_cfg());
    let s = m.create(NewSession::new("u")).await.unwrap();
    let r = m
        .regenerate(s.tokens.access.token.expose(), Some(obj(json!({"r": 3}))), None)
        .await
        .unwrap();
    assert!(r.access_token.is_none());
    let v = m.verify(s.tokens.access.token.expose(), VerifyOptions::default()).await.unwrap();
    assert_eq!(v.session.public_data, obj(json!({"r": 3})));
}
