//! Verifying and refreshing: every verification outcome (none, tampered, expired, store
//! down), refresh-token rotation, two tabs refreshing at once, and a replayed refresh token
//! treated as theft. Every case runs against both backends (see `common`).

#![allow(clippy::unwrap_used)] // tests report failures by panicking

#[macro_use]
mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use common::{Jar, Kind, Opts, harness, message, value};

both!(verification_outcomes, refresh_rotates_and_replay_is_theft);

async fn verification_outcomes(kind: Kind) {
    let h = harness(kind, Opts::default().access_ttl(1)).await;
    let none = h.get("/api/me", &Jar::default()).await;
    assert_eq!(none.outcome(), message(StatusCode::UNAUTHORIZED, "unauthorised"));
    assert!(!none.cleared(), "nothing to clear");
    let maybe = h.get("/api/maybe", &Jar::default()).await;
    assert_eq!(maybe.body, json!({"signedIn": false}));
    let (_, jar) = h.sign_in_cookie("bob", "user").await;
    assert_eq!(h.get("/api/maybe", &jar).await.body, json!({"signedIn": true}));
    // Unsafe method without `rid` (VIA_CUSTOM_HEADER): try refresh.
    let req = Request::post("/api/me")
        .header("cookie", jar.header("/api/me"))
        .body(Body::empty())
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.outcome(), message(StatusCode::UNAUTHORIZED, "try refresh token"));
    assert_eq!(h.post("/api/me", &jar).await.status, 200);
    // A tampered token.
    let mut bad = jar.clone();
    let a = bad.access.take().unwrap().into_bytes();
    let mut b = a.clone();
    let i = a.len() - 20; // inside the signature
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    bad.access = Some(String::from_utf8(b).unwrap());
    let r = h.get("/api/me", &bad).await;
    assert_eq!(r.body, json!({"message": "try refresh token"}));
    // Expired: try refresh, then the refresh works.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = h.get("/api/me", &jar).await;
    assert_eq!(r.outcome(), message(StatusCode::UNAUTHORIZED, "try refresh token"));
    let r = h.post("/auth/session/refresh", &jar).await;
    assert_eq!(r.status, 200);
    let mut jar = jar;
    jar.take(&r);
    assert_eq!(h.get("/api/me", &jar).await.status, 200);
    // A store outage: 503, never "logged out" and never "valid".
    if let Some(switch) = &h.switch {
        switch.set_down(true);
        let r = h.get("/api/me/strict", &jar).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.body["code"], "STORE_UNAVAILABLE");
        assert!(!r.cleared());
        let r = h.post("/auth/session/refresh", &jar).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!r.cleared());
        switch.set_down(false);
    }
    let mut h = h;
    if let Some(server) = h.server.take() {
        server.shutdown().await.unwrap();
        let r = h.get("/api/me/strict", &jar).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
        assert!(!r.cleared());
        let r = h.post("/auth/session/refresh", &jar).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    }
}

async fn refresh_rotates_and_replay_is_theft(kind: Kind) {
    let h = harness(kind, Opts::default().grace(1)).await;
    let (_, mut jar) = h.sign_in_cookie("carol", "user").await;
    let old = jar.clone();
    // No refresh token: unauthorised, everything cleared.
    let r = h.post("/auth/session/refresh", &Jar::default()).await;
    assert_eq!(r.outcome(), message(StatusCode::UNAUTHORIZED, "unauthorised"));
    assert!(r.cleared());
    assert!(r.cookie("sAccessToken").unwrap().contains("Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
    assert_eq!(r.header("st-access-token").as_deref(), Some(""));
    // Without `rid` (VIA_CUSTOM_HEADER): unauthorised.
    let req = Request::post("/auth/session/refresh")
        .header("cookie", jar.header("/auth/session/refresh"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::UNAUTHORIZED);
    // Two tabs refreshing at once: both succeed, one lineage.
    let (a, b) =
        tokio::join!(h.post("/auth/session/refresh", &jar), h.post("/auth/session/refresh", &jar));
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(
        value(&a.cookie("sRefreshToken").unwrap()),
        value(&b.cookie("sRefreshToken").unwrap())
    );
    jar.take(&a);
    assert_eq!(h.get("/api/me", &jar).await.status, 200);
    // The old refresh token replayed after the grace window: theft.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = h.post("/auth/session/refresh", &old).await;
    assert_eq!(r.outcome(), message(StatusCode::UNAUTHORIZED, "token theft detected"));
    assert!(r.cleared());
    // The session is gone for every route that asks the store, and for the next refresh.
    let r = h.get("/api/me/strict", &jar).await;
    assert_eq!(r.body, json!({"message": "unauthorised"}));
    assert!(r.cleared());
    let r = h.post("/auth/session/refresh", &jar).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
