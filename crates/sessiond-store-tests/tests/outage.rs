//! The manager over a store that fails: what keeps working, and what fails closed.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::sync::Arc;
use std::time::Duration;

use sessiond_core::jose::Algorithm;
use sessiond_core::{
    Error, ManagerConfig, MemoryStore, NewSession, SessionManager, StartOptions, Store,
    VerifyOptions,
};
use sessiond_store_tests::outage::Switchable;

fn cfg(alg: Algorithm) -> ManagerConfig {
    ManagerConfig {
        algorithm: alg,
        access_token_ttl: Duration::from_secs(60),
        ..ManagerConfig::default()
    }
}

const CHECK_DB: VerifyOptions<'static> = VerifyOptions {
    app_id: None,
    anti_csrf_token: None,
    check_anti_csrf: false,
    check_database: true,
};

/// With the store down, tokens signed by keys a process holds still verify statelessly; a
/// token signed by a key it has not seen yet (rotated by another process) is "store
/// unavailable", never "valid" and never "refresh" (which would fail the same way).
#[tokio::test]
async fn a_store_outage_fails_closed_for_keys_not_yet_seen() {
    let shared: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let switch = Arc::new(Switchable::new(Arc::clone(&shared)));
    let a = SessionManager::new(Arc::clone(&shared), cfg(Algorithm::EdDSA)).unwrap();
    let b =
        SessionManager::new(Arc::clone(&switch) as Arc<dyn Store>, cfg(Algorithm::EdDSA)).unwrap();
    a.start(StartOptions::default()).await.unwrap();
    b.start(StartOptions::default()).await.unwrap();
    let old = b.create(NewSession::new("u")).await.unwrap();
    a.keys().rotate("public").await.unwrap();
    let new = a.create(NewSession::new("u")).await.unwrap();
    switch.set_down(true);
    b.verify(old.tokens.access.token.expose(), VerifyOptions::default()).await.unwrap();
    let r = b.verify(new.tokens.access.token.expose(), VerifyOptions::default()).await;
    assert!(matches!(r, Err(Error::Store(_))), "{r:?}");
    assert!(matches!(
        b.verify(old.tokens.access.token.expose(), CHECK_DB).await,
        Err(Error::Store(_))
    ));
    switch.set_down(false);
    // Back up: the unseen key is found (the on-miss reload is rate-limited to once a second).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    b.verify(new.tokens.access.token.expose(), VerifyOptions::default()).await.unwrap();
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
