//! Handle-based administration and the manager's lifecycle: every app confined to its own
//! sessions, fresh start and destroy wiping the store, and configuration errors that name the
//! setting.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sessiond_core::jose::Algorithm;
use sessiond_core::{
    Error, ManagerConfig, MemoryStore, NewSession, RefreshOptions, SessionManager, SessionRef,
    StartOptions, VerifyOptions,
};

use common::{CHECK_DB, cfg, obj, setup};

/// A session belongs to one app: every check that reaches the store, and every handle-based
/// operation, treats another app's session as missing, and leaves it alone.
#[tokio::test]
async fn apps_are_confined_to_their_own_sessions() {
    let (m, _c, _s) = setup(cfg(Algorithm::EdDSA));
    let mut new = NewSession::new("u").public_data(obj(json!({"r": 1})));
    new.app_id = "shop".to_owned();
    let s = m.create(new).await.unwrap();
    let h = s.session.handle.as_str();
    let at = s.tokens.access.token.expose();
    let in_app = |app: &'static str| VerifyOptions { app_id: Some(app), ..CHECK_DB };
    // Each app has its own keys: another app's token does not verify, even statelessly.
    assert!(matches!(m.verify(at, in_app("blog")).await, Err(Error::TryRefreshToken(_))));
    let stateless_blog = VerifyOptions { app_id: Some("blog"), ..VerifyOptions::default() };
    assert!(matches!(m.verify(at, stateless_blog).await, Err(Error::TryRefreshToken(_))));
    m.verify(at, in_app("shop")).await.unwrap();
    let published = |app: &str| -> Vec<String> {
        let jwks = m.keys().jwks(app);
        jwks.keys.iter().map(|k| k.kid.clone()).collect()
    };
    let (shop_kids, public_kids) = (published("shop"), published("public"));
    assert!(
        !shop_kids.is_empty() && shop_kids.iter().all(|k| !public_kids.contains(k)),
        "a JWKS per app"
    );
    let refresh_in =
        |app: &'static str| RefreshOptions { app_id: Some(app), ..RefreshOptions::default() };
    assert!(matches!(
        m.refresh(s.tokens.refresh.token.expose(), refresh_in("blog")).await,
        Err(Error::Unauthorised(_))
    ));
    for r in [
        m.get(SessionRef::in_app(h, "blog")).await.map(drop),
        m.user_of(SessionRef::in_app(h, "blog")).await.map(drop),
        m.set_private_data(SessionRef::in_app(h, "blog"), obj(json!({"x": 1}))).await,
        m.set_public_data(SessionRef::in_app(h, "blog"), obj(json!({"x": 1}))).await,
        m.revoke(SessionRef::in_app(h, "blog")).await,
    ] {
        assert!(matches!(r, Err(Error::SessionNotFound)), "{r:?}");
    }
    assert!(m.revoke_many(&[h.to_owned()], Some("blog")).await.unwrap().is_empty());
    assert!(matches!(
        m.regenerate(at, Some(obj(json!({"r": 9}))), Some("blog")).await,
        Err(Error::Unauthorised(_))
    ));
    // All of that left the session as it was, and its own app still reaches it.
    let info = m.get(SessionRef::in_app(h, "shop")).await.unwrap();
    assert_eq!(info.summary.public_data, obj(json!({"r": 1})));
    assert!(info.private_data.is_empty());
    m.refresh(s.tokens.refresh.token.expose(), refresh_in("shop")).await.unwrap();
    assert_eq!(m.revoke_many(&[h.to_owned()], Some("shop")).await.unwrap(), vec![h.to_owned()]);
}

#[tokio::test]
async fn fresh_start_and_destroy_wipe_the_store() {
    let (m, _c, store) = setup(cfg(Algorithm::EdDSA));
    let s = m.create(NewSession::new("u")).await.unwrap();
    m.start(StartOptions { fresh: true }).await.unwrap();
    assert!(matches!(m.get(&s.session.handle).await, Err(Error::SessionNotFound)));
    let s = m.create(NewSession::new("u")).await.unwrap();
    m.stop().await.unwrap();
    m.destroy().await.unwrap();
    assert!(matches!(m.get(&s.session.handle).await, Err(Error::SessionNotFound)));
    assert!(store.load_keys().await.unwrap().is_empty());
}

#[test]
fn config_validation_names_the_setting() {
    let c = ManagerConfig { access_token_ttl: Duration::ZERO, ..ManagerConfig::default() };
    let e = SessionManager::new(Arc::new(MemoryStore::new()), c).unwrap_err();
    assert!(e.to_string().contains("access_token_ttl"), "{e}");
    let c = ManagerConfig {
        refresh_grace: Duration::from_secs(10),
        refresh_token_ttl: Duration::from_secs(5),
        ..ManagerConfig::default()
    };
    assert!(SessionManager::new(Arc::new(MemoryStore::new()), c).is_err());
}
