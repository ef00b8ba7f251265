//! How the session travels, through the axum layer as the SuperTokens frontend SDK drives it:
//! cookies and the front-token, header mode, the anti-CSRF token and CORS. Every case runs
//! against both backends (see `common`).

#![allow(clippy::unwrap_used)] // tests report failures by panicking

#[macro_use]
mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use sessiond_axum::AntiCsrf;

use common::{Kind, Opts, harness, message};

both!(
    cookie_sign_in_sets_the_cookies_and_front_token,
    header_mode_uses_headers_only,
    anti_csrf_via_token,
    cors_exposes_the_session_headers,
);

async fn cookie_sign_in_sets_the_cookies_and_front_token(kind: Kind) {
    let h = harness(kind, Opts::default()).await;
    let (r, jar) = h.sign_in_cookie("alice", "user").await;
    let access = r.cookie("sAccessToken").unwrap();
    let refresh = r.cookie("sRefreshToken").unwrap();
    for (c, path) in [(&access, "/"), (&refresh, "/auth/session/refresh")] {
        assert!(c.contains(&format!("; Path={path};")), "{c}");
        assert!(
            c.contains("; HttpOnly") && c.contains("; Secure") && c.contains("; SameSite=Lax"),
            "{c}"
        );
        assert!(c.contains("; Expires=") && !c.contains("Max-Age"), "{c}");
    }
    let front = r.front();
    assert_eq!(front["uid"], "alice");
    assert_eq!(front["up"]["sub"], "alice");
    assert_eq!(front["up"]["role"], "user");
    assert_eq!(front["ate"].as_i64().unwrap(), front["up"]["exp"].as_i64().unwrap() * 1000);
    assert!(r.header("access-control-expose-headers").unwrap().contains("front-token"));
    assert!(r.header("st-access-token").is_none());
    // The cookie carries the session.
    let me = h.get("/api/me", &jar).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["userId"], "alice");
    assert_eq!(me.body["accessTokenPayload"]["role"], "user");
    assert_eq!(me.body["sessionHandle"], r.body["handle"]);
}

async fn header_mode_uses_headers_only(kind: Kind) {
    let h = harness(kind, Opts::default()).await;
    // No st-auth-mode: header mode, as supertokens-node defaults.
    let req = Request::post("/auth/demo/signin")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"user":"hana"}"#))
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, 200);
    assert!(r.set_cookies().is_empty());
    let access = r.header("st-access-token").unwrap();
    let refresh = r.header("st-refresh-token").unwrap();
    let expose = r.header("access-control-expose-headers").unwrap();
    for name in ["front-token", "st-access-token", "st-refresh-token"] {
        assert!(expose.contains(name), "{expose}");
    }
    let me = h.bearer("POST", "/api/me", &access).await;
    assert_eq!(me.status, 200, "header mode skips the cookie anti-CSRF check");
    assert_eq!(me.body["userId"], "hana");
    let r = h.bearer("POST", "/auth/session/refresh", &refresh).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({}));
    let new_access = r.header("st-access-token").unwrap();
    assert_ne!(new_access, access);
    assert!(r.header("st-refresh-token").is_some());
    assert_eq!(r.front()["uid"], "hana");
    // A foreign Bearer value (an API key) is not a session.
    let r = h.bearer("GET", "/api/me", "not-a-jwt").await;
    assert_eq!(r.outcome(), message(StatusCode::UNAUTHORIZED, "unauthorised"));
}

async fn anti_csrf_via_token(kind: Kind) {
    let h = harness(kind, Opts::default().tweak(|b| b.anti_csrf(AntiCsrf::ViaToken))).await;
    let (r, jar) = h.sign_in_cookie("ivy", "user").await;
    let token = r.header("anti-csrf").expect("an anti-csrf token in cookie mode");
    assert!(r.header("access-control-expose-headers").unwrap().contains("anti-csrf"));
    assert_eq!(r.front()["up"]["antiCsrfToken"], token.as_str());
    // GET needs none; POST without it: try refresh; with it: fine.
    assert_eq!(h.get("/api/me", &jar).await.status, 200);
    assert_eq!(h.post("/api/me", &jar).await.status, StatusCode::UNAUTHORIZED);
    let req = Request::post("/api/me")
        .header("cookie", jar.header("/api/me"))
        .header("anti-csrf", &token)
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(req).await.status, 200);
    // Refresh without the token: unauthorised; with it: a new token.
    let r = h.post("/auth/session/refresh", &jar).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let (_, jar) = h.sign_in_cookie("ivy", "user").await;
    let me = h.get("/api/me", &jar).await;
    let t2 = me.body["accessTokenPayload"]["antiCsrfToken"].as_str().unwrap().to_owned();
    let req = Request::post("/auth/session/refresh")
        .header("cookie", jar.header("/auth/session/refresh"))
        .header("anti-csrf", &t2)
        .body(Body::empty())
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.header("anti-csrf").is_some());
}

async fn cors_exposes_the_session_headers(kind: Kind) {
    let h = harness(kind, Opts::default()).await;
    let pre = Request::options("/auth/session/refresh")
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "rid,fdi-version,st-auth-mode,anti-csrf,authorization",
        )
        .body(Body::empty())
        .unwrap();
    let r = h.send(pre).await;
    assert_eq!(r.header("access-control-allow-origin").as_deref(), Some("http://localhost:3000"));
    assert_eq!(r.header("access-control-allow-credentials").as_deref(), Some("true"));
    let allowed = r.header("access-control-allow-headers").unwrap();
    for name in ["rid", "fdi-version", "st-auth-mode", "anti-csrf", "authorization"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    let req = Request::post("/auth/demo/signin")
        .header("origin", "http://localhost:3000")
        .header("st-auth-mode", "cookie")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"user":"jo"}"#))
        .unwrap();
    let r = h.send(req).await;
    let exposed: Vec<String> = r
        .headers
        .get_all("access-control-expose-headers")
        .iter()
        .flat_map(|v| {
            v.to_str().unwrap().split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>()
        })
        .collect();
    assert!(exposed.iter().any(|e| e == "front-token"), "{exposed:?}");
    let other = Request::options("/api/me")
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .unwrap();
    assert!(h.send(other).await.header("access-control-allow-origin").is_none());
}
