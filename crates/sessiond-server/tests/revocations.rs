//! `GET /sessiond/v1/revocations`: the revocation log as server-sent events, read with the
//! typed client the axum layer uses.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::time::{Duration, Instant};

use common::{s, start};
use serde_json::json;
use sessiond_api::v1::RevocationMessage;
use sessiond_client::{Client, ClientError, RevocationStream};

const KEY: &str = "revocation-test-key-0123456789";

async fn next(stream: &mut RevocationStream) -> RevocationMessage {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("a message within 5 s")
        .expect("the stream is open")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_then_current_then_live_events_and_resuming_from_a_cursor() {
    let t = start(|s| s.api_keys = vec![KEY.into()]).await;
    let a = t.create("ann").await;
    let b = t.create("bob").await;
    let handle = |v: &serde_json::Value| s(&v["session"]["handle"]).to_owned();
    t.ok("/recipe/session/remove", json!({"sessionHandles": [handle(&a)]})).await;

    let client = Client::new(&t.base, Some(KEY)).unwrap();
    let mut stream = client.revocations(0).await.unwrap();
    let first = match next(&mut stream).await {
        RevocationMessage::Revoked { cursor, handle: h, .. } => {
            assert_eq!(h, handle(&a));
            cursor
        }
        other => panic!("expected ann's revocation, got {other:?}"),
    };
    assert!(matches!(next(&mut stream).await, RevocationMessage::Current));

    // A revocation after the client caught up arrives within a second.
    let at = Instant::now();
    t.ok("/recipe/session/remove", json!({"sessionHandles": [handle(&b)]})).await;
    match next(&mut stream).await {
        RevocationMessage::Revoked { cursor, handle: h, .. } => {
            assert_eq!(h, handle(&b));
            assert!(cursor > first);
        }
        other => panic!("expected bob's revocation, got {other:?}"),
    }
    assert!(at.elapsed() < Duration::from_secs(1), "{:?}", at.elapsed());

    // A key reset is an event too (verifiers refetch the JWKS).
    let (code, _) = t.post("/sessiond/v1/keys/reset", json!({})).await;
    assert_eq!(code, 200);
    assert!(matches!(next(&mut stream).await, RevocationMessage::KeysReset { .. }));

    // Resuming after the first event sends only what came after it.
    let mut resumed = client.revocations(first).await.unwrap();
    match next(&mut resumed).await {
        RevocationMessage::Revoked { handle: h, .. } => assert_eq!(h, handle(&b)),
        other => panic!("expected bob's revocation, got {other:?}"),
    }
    assert!(matches!(next(&mut resumed).await, RevocationMessage::KeysReset { .. }));
    assert!(matches!(next(&mut resumed).await, RevocationMessage::Current));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_whose_events_were_trimmed_is_told_about_the_gap() {
    let t = start(|s| s.api_keys = vec![KEY.into()]).await;
    for user in ["a", "b", "c"] {
        let v = t.create(user).await;
        t.ok("/recipe/session/remove", json!({"sessionHandles": [s(&v["session"]["handle"])]}))
            .await;
    }
    let store = t.server.manager.store();
    let page = store.events_since(0, 10).await.unwrap();
    assert_eq!(page.events.len(), 3);
    store.trim_events(i64::MAX).await.unwrap();

    let client = Client::new(&t.base, Some(KEY)).unwrap();
    let mut stream = client.revocations(page.events[0].cursor).await.unwrap();
    assert!(matches!(next(&mut stream).await, RevocationMessage::Gap));
    assert!(matches!(next(&mut stream).await, RevocationMessage::Current));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_needs_the_api_key() {
    let t = start(|s| s.api_keys = vec![KEY.into()]).await;
    let err = Client::new(&t.base, Some("wrong-key-0123456789abcdefgh"))
        .unwrap()
        .revocations(0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Http { status: 401, code, .. } if code == "INVALID_API_KEY"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_stream_does_not_hold_up_shutdown() {
    let t = start(|s| s.api_keys = vec![KEY.into()]).await;
    let client = Client::new(&t.base, Some(KEY)).unwrap();
    let mut stream = client.revocations(0).await.unwrap();
    assert!(matches!(next(&mut stream).await, RevocationMessage::Current));
    let at = Instant::now();
    // The default shutdown deadline is 30 s; the stream ends at once instead.
    tokio::time::timeout(Duration::from_secs(5), t.server.shutdown())
        .await
        .expect("shutdown within 5 s")
        .unwrap();
    assert!(at.elapsed() < Duration::from_secs(5));
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert!(matches!(end, Ok(None | Some(Err(_)))), "the stream ended: {end:?}");
}
