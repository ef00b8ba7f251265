//! Session data: merging into the access-token payload (re-issued with its front-token),
//! claim validators, and concurrent updates of the private data. Every case runs against both
//! backends (see `common`).

#![allow(clippy::unwrap_used)] // tests report failures by panicking

#[macro_use]
mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;

use common::{Kind, Opts, harness};

both!(merge_reissues_the_token_and_front_token, claims_and_private_data,);

async fn merge_reissues_the_token_and_front_token(kind: Kind) {
    let h = harness(kind, Opts::default()).await;
    let (first, mut jar) = h.sign_in_cookie("fay", "user").await;
    let r =
        h.browser("POST", "/api/me/payload", &jar, json!({"theme": "dark", "role": null})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let front = r.front();
    assert_eq!(front["up"]["theme"], "dark");
    assert!(front["up"].get("role").is_none(), "null removes");
    assert_eq!(front["up"]["exp"], first.front()["up"]["exp"], "same expiry");
    assert!(r.cookie("sAccessToken").is_some() && r.cookie("sRefreshToken").is_none());
    jar.take(&r);
    let me = h.get("/api/me", &jar).await;
    assert_eq!(me.body["accessTokenPayload"]["theme"], "dark");
    let bad = h.browser("POST", "/api/me/payload", &jar, json!({"sub": "mallory"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // The change reaches the next refresh too.
    let r = h.post("/auth/session/refresh", &jar).await;
    assert_eq!(r.front()["up"]["theme"], "dark");
}

async fn claims_and_private_data(kind: Kind) {
    let h = harness(kind, Opts::default()).await;
    let (_, user) = h.sign_in_cookie("gus", "user").await;
    let r = h.get("/api/admin", &user).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"message": "invalid claim", "claimValidationErrors": [{"id": "role", "reason": {"message": "wrong value", "expectedValue": "admin", "actualValue": "user"}}]})
    );
    let (_, admin) = h.sign_in_cookie("ida", "admin").await;
    assert_eq!(h.get("/api/admin", &admin).await.status, 200);
    // Sixteen concurrent read-modify-writes of the private data: none lost.
    let mut tasks = Vec::new();
    let h = Arc::new(h);
    for _ in 0..16 {
        let (h, jar) = (Arc::clone(&h), user.clone());
        tasks.push(tokio::spawn(async move {
            let r = h.post("/api/private/incr", &jar).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = h.post("/api/private/incr", &user).await;
    assert_eq!(r.body["cart"], 17);
}
