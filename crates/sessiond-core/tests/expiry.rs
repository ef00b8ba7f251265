//! Sessions end: the background sweeper deletes expired rows in batches, and activity seen by
//! database-checked verifies keeps a session from idling out.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::time::Duration;

use sessiond_core::jose::Algorithm;
use sessiond_core::{
    Error, ManagerConfig, NewSession, RefreshOptions, StartOptions, UserQuery, VerifyOptions,
};

use common::{CHECK_DB, cfg, setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_sweeper_deletes_expired_sessions_in_batches() {
    let (m, clock, store) = setup(ManagerConfig {
        sweep_interval: Duration::from_millis(50),
        sweep_batch: 7,
        idle_timeout: Duration::from_secs(60),
        ..cfg(Algorithm::EdDSA)
    });
    m.start(StartOptions::default()).await.unwrap();
    for i in 0..30 {
        m.create(NewSession::new(format!("sweep-{i}"))).await.unwrap();
    }
    clock.advance_secs(61);
    let live = m.create(NewSession::new("sweep-live")).await.unwrap();
    // Reads with a `now` before every expiry see rows that still exist in the store.
    let remaining = || async {
        let mut n = 0;
        for i in 0..30 {
            n += store
                .list_user_sessions(&UserQuery::user(format!("sweep-{i}")), 0)
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
    m.get(&live.session.handle).await.expect("live sessions are kept");
    m.stop().await.unwrap();
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
        (at, refresh) =
            (r.tokens.access.token.expose().to_owned(), r.tokens.refresh.token.expose().to_owned());
    }
    // No activity for longer than the idle timeout ends it.
    clock.advance_secs(61);
    assert!(matches!(
        m.refresh(&refresh, RefreshOptions::default()).await,
        Err(Error::Unauthorised(_))
    ));
}
