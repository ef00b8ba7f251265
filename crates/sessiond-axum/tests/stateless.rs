//! The stateless cookie-session layer, driven in process with `oneshot`.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sessiond_axum::{CookieSession, CookieSessionLayer};
use sessiond_cookie::{CookieKey, CookieSessions, Overrides, Refresh, SessionConfig};
use tower::ServiceExt;

fn app() -> Router {
    let sessions = CookieSessions::builder([CookieKey::generate().unwrap()])
        .session(SessionConfig::new("user_session"))
        .session(SessionConfig::new("admin_session"))
        .trusted_origin("https://front.example")
        .build()
        .unwrap();
    Router::new()
        .route(
            "/login",
            post(|s: CookieSession| async move {
                s.set(json!({"userId": "alice"}), Overrides::none()).unwrap();
                s.named("admin_session").set(json!({"admin": true}), Overrides::none()).unwrap();
                "ok"
            }),
        )
        .route(
            "/me",
            get(|s: CookieSession| async move {
                axum::Json(json!({
                    "user": s.get(Refresh::Never).await,
                    "admin": s.named("admin_session").get(Refresh::Never).await,
                }))
            }),
        )
        .route(
            "/logout",
            post(|s: CookieSession| async move {
                s.delete();
                "bye"
            }),
        )
        .layer(CookieSessionLayer::new(sessions))
}

async fn call(
    app: &Router, req: Request<Body>,
) -> (StatusCode, Vec<String>, Value, Option<String>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let cookies = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let cache = resp.headers().get(header::CACHE_CONTROL).map(|v| v.to_str().unwrap().to_owned());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, cookies, body, cache)
}

fn post_from(path: &str, origin: Option<&str>, site: Option<&str>) -> Request<Body> {
    let mut b = Request::post(path).header(header::HOST, "app.example");
    if let Some(o) = origin {
        b = b.header(header::ORIGIN, o);
    }
    if let Some(s) = site {
        b = b.header("sec-fetch-site", s);
    }
    b.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn handlers_set_and_read_both_named_sessions() {
    let app = app();
    let (status, cookies, _, cache) =
        call(&app, post_from("/login", Some("https://app.example"), Some("same-origin"))).await;
    assert_eq!(status, 200);
    assert_eq!(cookies.len(), 2);
    assert!(cookies[0].starts_with("__Host-user_session="));
    assert!(cookies[1].starts_with("__Host-admin_session="));
    assert_eq!(cache.as_deref(), Some("no-store"));
    let jar: Vec<&str> = cookies.iter().map(|c| c.split(';').next().unwrap()).collect();
    let req =
        Request::get("/me").header(header::COOKIE, jar.join("; ")).body(Body::empty()).unwrap();
    let (status, cookies, body, cache) = call(&app, req).await;
    assert_eq!(status, 200);
    assert!(cookies.is_empty() && cache.is_none(), "reads set nothing");
    assert_eq!(body["user"]["payload"]["userId"], "alice");
    assert_eq!(body["admin"]["payload"]["admin"], true);
    // HTTP/2 clients may send one Cookie header per cookie.
    let req = Request::get("/me")
        .header(header::COOKIE, jar[0])
        .header(header::COOKIE, jar[1])
        .body(Body::empty())
        .unwrap();
    let (_, _, body, _) = call(&app, req).await;
    assert_eq!(body["admin"]["payload"]["admin"], true);
}

#[tokio::test]
async fn unsafe_requests_from_other_origins_are_refused_before_the_handler() {
    let app = app();
    for (origin, site) in [
        (Some("https://evil.example"), Some("cross-site")),
        (Some("https://app.example:8443"), Some("same-site")),
        (Some("https://evil.example"), None),
        (None, Some("cross-site")),
    ] {
        let (status, cookies, body, _) = call(&app, post_from("/login", origin, site)).await;
        assert_eq!(status, 403, "{origin:?} {site:?}");
        assert_eq!(body["code"], "CROSS_ORIGIN_REQUEST");
        assert!(cookies.is_empty(), "the handler did not run");
    }
    for (origin, site) in [
        (Some("https://front.example"), Some("cross-site")),
        (Some("http://app.example"), None),
        (None, None),
    ] {
        let (status, ..) = call(&app, post_from("/login", origin, site)).await;
        assert_eq!(status, 200, "{origin:?} {site:?}");
    }
    let req =
        Request::get("/me").header("sec-fetch-site", "cross-site").body(Body::empty()).unwrap();
    assert_eq!(call(&app, req).await.0, 200, "safe methods pass");
}

#[tokio::test]
async fn logout_sends_a_matching_removal() {
    let (_, cookies, _, _) = call(&app(), post_from("/logout", None, None)).await;
    assert_eq!(
        cookies,
        [
            "__Host-user_session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax"
        ]
    );
}

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_clear_500() {
    let app = Router::new().route("/", get(|_s: CookieSession| async { "never" }));
    let (status, _, body, _) = call(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, 500);
    assert_eq!(body["code"], "COOKIE_SESSION_LAYER_MISSING");
}
