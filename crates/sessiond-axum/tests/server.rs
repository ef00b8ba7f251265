//! Server-backed sessions through the axum layer, as the SuperTokens frontend SDK drives a
//! supertokens-node backend. Every case runs twice: over a `SessionManager` in process and over
//! a real `sessiond serve` (remote: tokens verified locally against its JWKS).

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::routing::{get, post};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sessiond_axum::{
    AntiCsrf, ClaimValidator, MaybeSession, Session, SessionError, SessionIssuer, Sessions,
    SessionsBuilder, VerifySession,
};
use sessiond_core::jose::Algorithm;
use sessiond_core::{ManagerConfig, MemoryStore, SessionManager, StartOptions, Store};
use sessiond_store_tests::outage::Switchable;
use tower::ServiceExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    InProcess,
    Remote,
}

struct Harness {
    app: Router,
    /// The manager that holds the sessions (in this process, or inside the test server).
    manager: SessionManager,
    /// In process: switches the store off.
    switch: Option<Arc<Switchable>>,
    server: Option<sessiond_server::Server>,
    sessions: Sessions,
}

struct Opts {
    access_ttl: u64,
    grace: u64,
    tweak: fn(SessionsBuilder) -> SessionsBuilder,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            access_ttl: 60,
            grace: 10,
            tweak: |b| b,
        }
    }
}

async fn sign_in(
    issuer: SessionIssuer,
    body: axum::Json<Value>,
) -> Result<axum::Json<Value>, SessionError> {
    let user = body["user"].as_str().unwrap_or("alice").to_owned();
    let role = body["role"].as_str().unwrap_or("user").to_owned();
    let s = issuer
        .create_new_session(&user, json!({"role": role}), json!({"cart": 0}))
        .await?;
    Ok(axum::Json(
        json!({"userId": s.user_id(), "handle": s.handle()}),
    ))
}

async fn me(s: Session) -> axum::Json<Value> {
    axum::Json(
        json!({"userId": s.user_id(), "sessionHandle": s.handle(), "accessTokenPayload": *s.access_token_payload()}),
    )
}

async fn maybe(s: MaybeSession) -> axum::Json<Value> {
    axum::Json(json!({"signedIn": s.0.is_some()}))
}

async fn merge(s: Session, body: axum::Json<Value>) -> Result<axum::Json<Value>, SessionError> {
    s.merge_into_access_token_payload(body.0).await?;
    Ok(axum::Json(json!({"payload": *s.access_token_payload()})))
}

async fn incr(s: Session) -> Result<axum::Json<Value>, SessionError> {
    let data = s
        .update_private_data(|d| {
            let n = d.get("cart").and_then(Value::as_i64).unwrap_or(0);
            d.insert("cart".to_owned(), json!(n + 1));
        })
        .await?;
    Ok(axum::Json(Value::Object(data)))
}

async fn devices(s: Session) -> Result<axum::Json<Value>, SessionError> {
    Ok(axum::Json(
        serde_json::to_value(s.devices().await?).unwrap(),
    ))
}

async fn revoke_others(s: Session) -> Result<axum::Json<Value>, SessionError> {
    Ok(axum::Json(
        json!({"revoked": s.revoke_other_devices().await?}),
    ))
}

fn routes(sessions: &Sessions) -> Router {
    Router::new()
        .route("/auth/demo/signin", post(sign_in))
        .route("/api/me", get(me).post(me))
        .route("/api/maybe", get(maybe))
        .route(
            "/api/me/strict",
            get(me).route_layer(VerifySession::new().check_database(true)),
        )
        .route("/api/me/payload", post(merge))
        .route(
            "/api/admin",
            get(me).route_layer(
                VerifySession::new().claim(ClaimValidator::equals("role", json!("admin"))),
            ),
        )
        .route("/api/private/incr", post(incr))
        .route("/api/sessions", get(devices))
        .route("/api/sessions/revoke-others", post(revoke_others))
        .layer(sessions.layer())
        .layer(sessions.cors())
}

async fn harness(kind: Kind, o: Opts) -> Harness {
    match kind {
        Kind::InProcess => {
            let switch = Arc::new(Switchable::new(Arc::new(MemoryStore::new())));
            let manager = SessionManager::new(
                Arc::clone(&switch) as Arc<dyn Store>,
                ManagerConfig {
                    algorithm: Algorithm::EdDSA,
                    access_token_ttl: Duration::from_secs(o.access_ttl),
                    refresh_grace: Duration::from_secs(o.grace),
                    ..ManagerConfig::default()
                },
            )
            .unwrap();
            manager.start(StartOptions::default()).await.unwrap();
            let sessions = (o.tweak)(
                Sessions::in_process(manager.clone()).website_origin("http://localhost:3000"),
            )
            .build();
            Harness {
                app: routes(&sessions),
                manager,
                switch: Some(switch),
                server: None,
                sessions,
            }
        }
        Kind::Remote => {
            let settings = sessiond_server::Settings {
                listen: "127.0.0.1:0".parse().unwrap(),
                store: "memory://".to_owned(),
                api_keys: vec!["a-test-api-key-of-enough-length".to_owned()],
                access_token_ttl: o.access_ttl,
                refresh_grace: o.grace,
                algorithm: "EdDSA".to_owned(),
                ..sessiond_server::Settings::default()
            };
            let server = sessiond_server::start(&settings, std::future::pending())
                .await
                .unwrap();
            let url = format!("http://{}", server.addr);
            let sessions = (o.tweak)(
                Sessions::remote(&url, Some("a-test-api-key-of-enough-length"))
                    .unwrap()
                    .website_origin("http://localhost:3000"),
            )
            .build();
            Harness {
                app: routes(&sessions),
                manager: server.manager.clone(),
                switch: None,
                server: Some(server),
                sessions,
            }
        }
    }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Resp {
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The decoded front-token.
    fn front(&self) -> Value {
        let t = self.header("front-token").expect("a front-token");
        let bytes = base64::engine::general_purpose::STANDARD.decode(t).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn cleared(&self) -> bool {
        self.header("front-token").as_deref() == Some("remove")
    }
}

/// The value of a `Set-Cookie`.
fn value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

/// A browser's cookie jar, enough for two cookies with their paths.
#[derive(Default, Clone)]
struct Jar {
    access: Option<String>,
    refresh: Option<String>,
}

impl Jar {
    fn take(&mut self, r: &Resp) {
        for c in r.set_cookies() {
            let v = value(&c);
            let slot = if c.starts_with("sAccessToken=") {
                &mut self.access
            } else if c.starts_with("sRefreshToken=") {
                &mut self.refresh
            } else {
                continue;
            };
            *slot = (!v.is_empty()).then_some(v);
        }
    }

    fn header(&self, path: &str) -> String {
        let mut parts = Vec::new();
        if let Some(a) = &self.access {
            parts.push(format!("sAccessToken={a}"));
        }
        if path == "/auth/session/refresh"
            && let Some(r) = &self.refresh
        {
            parts.push(format!("sRefreshToken={r}"));
        }
        parts.join("; ")
    }
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// A request as supertokens-web-js sends it in cookie mode (`rid`, `st-auth-mode`).
    async fn browser(&self, method: &str, path: &str, jar: &Jar, body: Value) -> Resp {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost:3001")
            .header("rid", "anti-csrf")
            .header("st-auth-mode", "cookie")
            .header("content-type", "application/json");
        let c = jar.header(path);
        if !c.is_empty() {
            b = b.header("cookie", c);
        }
        self.send(b.body(Body::from(body.to_string())).unwrap())
            .await
    }

    async fn sign_in_cookie(&self, user: &str, role: &str) -> (Resp, Jar) {
        let r = self
            .browser(
                "POST",
                "/auth/demo/signin",
                &Jar::default(),
                json!({"user": user, "role": role}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let mut jar = Jar::default();
        jar.take(&r);
        (r, jar)
    }

    /// A request in header mode (`Authorization: Bearer`).
    async fn bearer(&self, method: &str, path: &str, token: &str) -> Resp {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("rid", "anti-csrf")
            .header("st-auth-mode", "header")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        self.send(req).await
    }
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Kind::InProcess).await; })*
        }
        mod remote {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Kind::Remote).await; })*
        }
    };
}

both!(
    cookie_sign_in_sets_the_cookies_and_front_token,
    header_mode_uses_headers_only,
    verification_outcomes,
    refresh_rotates_and_replay_is_theft,
    sign_out_revokes_and_clears,
    revocation_is_seen_by_routes_that_check_the_store,
    revocation_reaches_the_stateless_path_within_a_second,
    merge_reissues_the_token_and_front_token,
    claims_and_private_data,
    devices_and_sign_out_other_devices,
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
    assert_eq!(
        front["ate"].as_i64().unwrap(),
        front["up"]["exp"].as_i64().unwrap() * 1000
    );
    assert!(
        r.header("access-control-expose-headers")
            .unwrap()
            .contains("front-token")
    );
    assert!(r.header("st-access-token").is_none());
    // The cookie carries the session.
    let me = h.browser("GET", "/api/me", &jar, Value::Null).await;
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
    assert_eq!(
        me.status, 200,
        "header mode skips the cookie anti-CSRF check"
    );
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
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::UNAUTHORIZED, json!({"message": "unauthorised"}))
    );
}

async fn verification_outcomes(kind: Kind) {
    let h = harness(
        kind,
        Opts {
            access_ttl: 1,
            ..Opts::default()
        },
    )
    .await;
    let none = h
        .browser("GET", "/api/me", &Jar::default(), Value::Null)
        .await;
    assert_eq!(
        (none.status, none.body.clone()),
        (StatusCode::UNAUTHORIZED, json!({"message": "unauthorised"}))
    );
    assert!(!none.cleared(), "nothing to clear");
    let maybe = h
        .browser("GET", "/api/maybe", &Jar::default(), Value::Null)
        .await;
    assert_eq!(maybe.body, json!({"signedIn": false}));
    let (_, jar) = h.sign_in_cookie("bob", "user").await;
    assert_eq!(
        h.browser("GET", "/api/maybe", &jar, Value::Null).await.body,
        json!({"signedIn": true})
    );
    // Unsafe method without `rid` (VIA_CUSTOM_HEADER): try refresh.
    let req = Request::post("/api/me")
        .header("cookie", jar.header("/api/me"))
        .body(Body::empty())
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!({"message": "try refresh token"})
        )
    );
    assert_eq!(
        h.browser("POST", "/api/me", &jar, Value::Null).await.status,
        200
    );
    // A tampered token.
    let mut bad = jar.clone();
    let a = bad.access.take().unwrap().into_bytes();
    let mut b = a.clone();
    let i = a.len() - 20; // inside the signature
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    bad.access = Some(String::from_utf8(b).unwrap());
    let r = h.browser("GET", "/api/me", &bad, Value::Null).await;
    assert_eq!(r.body, json!({"message": "try refresh token"}));
    // Expired: try refresh, then the refresh works.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = h.browser("GET", "/api/me", &jar, Value::Null).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!({"message": "try refresh token"})
        )
    );
    let r = h
        .browser("POST", "/auth/session/refresh", &jar, Value::Null)
        .await;
    assert_eq!(r.status, 200);
    let mut jar = jar;
    jar.take(&r);
    assert_eq!(
        h.browser("GET", "/api/me", &jar, Value::Null).await.status,
        200
    );
    // A store outage: 503, never "logged out" and never "valid".
    if let Some(switch) = &h.switch {
        switch.set_down(true);
        let r = h.browser("GET", "/api/me/strict", &jar, Value::Null).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.body["code"], "STORE_UNAVAILABLE");
        assert!(!r.cleared());
        let r = h
            .browser("POST", "/auth/session/refresh", &jar, Value::Null)
            .await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!r.cleared());
        switch.set_down(false);
    }
    let mut h = h;
    if let Some(server) = h.server.take() {
        server.shutdown().await.unwrap();
        let r = h.browser("GET", "/api/me/strict", &jar, Value::Null).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
        assert!(!r.cleared());
        let r = h
            .browser("POST", "/auth/session/refresh", &jar, Value::Null)
            .await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    }
}

async fn refresh_rotates_and_replay_is_theft(kind: Kind) {
    let h = harness(
        kind,
        Opts {
            grace: 1,
            ..Opts::default()
        },
    )
    .await;
    let (_, mut jar) = h.sign_in_cookie("carol", "user").await;
    let old = jar.clone();
    // No refresh token: unauthorised, everything cleared.
    let r = h
        .browser(
            "POST",
            "/auth/session/refresh",
            &Jar::default(),
            Value::Null,
        )
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::UNAUTHORIZED, json!({"message": "unauthorised"}))
    );
    assert!(r.cleared());
    assert!(
        r.cookie("sAccessToken")
            .unwrap()
            .contains("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    );
    assert_eq!(r.header("st-access-token").as_deref(), Some(""));
    // Without `rid` (VIA_CUSTOM_HEADER): unauthorised.
    let req = Request::post("/auth/session/refresh")
        .header("cookie", jar.header("/auth/session/refresh"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::UNAUTHORIZED);
    // Two tabs refreshing at once: both succeed, one lineage.
    let (a, b) = tokio::join!(
        h.browser("POST", "/auth/session/refresh", &jar, Value::Null),
        h.browser("POST", "/auth/session/refresh", &jar, Value::Null)
    );
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(
        value(&a.cookie("sRefreshToken").unwrap()),
        value(&b.cookie("sRefreshToken").unwrap())
    );
    jar.take(&a);
    assert_eq!(
        h.browser("GET", "/api/me", &jar, Value::Null).await.status,
        200
    );
    // The old refresh token replayed after the grace window: theft.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = h
        .browser("POST", "/auth/session/refresh", &old, Value::Null)
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!({"message": "token theft detected"})
        )
    );
    assert!(r.cleared());
    // The session is gone for every route that asks the store, and for the next refresh.
    let r = h.browser("GET", "/api/me/strict", &jar, Value::Null).await;
    assert_eq!(r.body, json!({"message": "unauthorised"}));
    assert!(r.cleared());
    let r = h
        .browser("POST", "/auth/session/refresh", &jar, Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn sign_out_revokes_and_clears(kind: Kind) {
    let h = harness(kind, Opts::default()).await;
    let (_, jar) = h.sign_in_cookie("dave", "user").await;
    let r = h.browser("POST", "/auth/signout", &jar, Value::Null).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::OK, json!({"status": "OK"}))
    );
    assert!(r.cleared());
    assert_eq!(r.set_cookies().len(), 2);
    let r = h.browser("GET", "/api/me/strict", &jar, Value::Null).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = h
        .browser("POST", "/auth/signout", &Jar::default(), Value::Null)
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::UNAUTHORIZED, json!({"message": "unauthorised"}))
    );
}

async fn revocation_is_seen_by_routes_that_check_the_store(kind: Kind) {
    let h = harness(kind, Opts::default()).await;
    let (r, jar) = h.sign_in_cookie("erin", "user").await;
    let handle = r.body["handle"].as_str().unwrap().to_owned();
    assert_eq!(
        h.browser("GET", "/api/me/strict", &jar, Value::Null)
            .await
            .status,
        200
    );
    h.manager.revoke(handle.as_str()).await.unwrap();
    let r = h.browser("GET", "/api/me/strict", &jar, Value::Null).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::UNAUTHORIZED, json!({"message": "unauthorised"}))
    );
    assert!(r.cleared(), "front-token: remove");
}

/// The revocation feed: a route that does not check the store still refuses a session revoked
/// elsewhere (here, straight on the manager behind the service), within a second.
async fn revocation_reaches_the_stateless_path_within_a_second(kind: Kind) {
    let h = harness(kind, Opts::default()).await;
    let (r, jar) = h.sign_in_cookie("rita", "user").await;
    let handle = r.body["handle"].as_str().unwrap().to_owned();
    // The first verification also starts the remote layer's stream; give it time to catch up.
    assert_eq!(
        h.browser("GET", "/api/me", &jar, Value::Null).await.status,
        200
    );
    let started = std::time::Instant::now();
    while !h.sessions.revocations_current() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the feed never caught up"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // From here a revoked session is refused by the feed, not by a store check: the routes
    // below do not check the store while the feed is current.
    assert_eq!(
        h.browser("GET", "/api/me", &jar, Value::Null).await.status,
        200
    );
    let revoked_at = std::time::Instant::now();
    h.manager.revoke(handle.as_str()).await.unwrap();
    loop {
        let r = h.browser("GET", "/api/me", &jar, Value::Null).await;
        if r.status == StatusCode::UNAUTHORIZED {
            assert!(r.cleared(), "front-token: remove");
            break;
        }
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "the stateless path still accepted a revoked session after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn merge_reissues_the_token_and_front_token(kind: Kind) {
    let h = harness(kind, Opts::default()).await;
    let (first, mut jar) = h.sign_in_cookie("fay", "user").await;
    let r = h
        .browser(
            "POST",
            "/api/me/payload",
            &jar,
            json!({"theme": "dark", "role": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let front = r.front();
    assert_eq!(front["up"]["theme"], "dark");
    assert!(front["up"].get("role").is_none(), "null removes");
    assert_eq!(
        front["up"]["exp"],
        first.front()["up"]["exp"],
        "same expiry"
    );
    assert!(r.cookie("sAccessToken").is_some() && r.cookie("sRefreshToken").is_none());
    jar.take(&r);
    let me = h.browser("GET", "/api/me", &jar, Value::Null).await;
    assert_eq!(me.body["accessTokenPayload"]["theme"], "dark");
    let bad = h
        .browser("POST", "/api/me/payload", &jar, json!({"sub": "mallory"}))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // The change reaches the next refresh too.
    let r = h
        .browser("POST", "/auth/session/refresh", &jar, Value::Null)
        .await;
    assert_eq!(r.front()["up"]["theme"], "dark");
}

async fn claims_and_private_data(kind: Kind) {
    let h = harness(kind, Opts::default()).await;
    let (_, user) = h.sign_in_cookie("gus", "user").await;
    let r = h.browser("GET", "/api/admin", &user, Value::Null).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"message": "invalid claim", "claimValidationErrors": [{"id": "role", "reason": {"message": "wrong value", "expectedValue": "admin", "actualValue": "user"}}]})
    );
    let (_, admin) = h.sign_in_cookie("ida", "admin").await;
    assert_eq!(
        h.browser("GET", "/api/admin", &admin, Value::Null)
            .await
            .status,
        200
    );
    // Sixteen concurrent read-modify-writes of the private data: none lost.
    let mut tasks = Vec::new();
    let h = Arc::new(h);
    for _ in 0..16 {
        let (h, jar) = (Arc::clone(&h), user.clone());
        tasks.push(tokio::spawn(async move {
            let r = h
                .browser("POST", "/api/private/incr", &jar, Value::Null)
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = h
        .browser("POST", "/api/private/incr", &user, Value::Null)
        .await;
    assert_eq!(r.body["cart"], 17);
}

async fn devices_and_sign_out_other_devices(kind: Kind) {
    let h = harness(kind, Opts::default()).await;
    let (_, laptop) = h.sign_in_cookie("hal", "user").await;
    let (_, phone) = h.sign_in_cookie("hal", "user").await;
    let list = h
        .browser("GET", "/api/sessions", &laptop, Value::Null)
        .await
        .body;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|d| d["current"] == true).count(), 1);
    assert!(list[0]["createdAt"].is_i64() && list[0]["lastActiveAt"].is_i64());
    let r = h
        .browser("POST", "/api/sessions/revoke-others", &laptop, Value::Null)
        .await;
    assert_eq!(r.body["revoked"].as_array().unwrap().len(), 1);
    assert_eq!(
        h.browser("GET", "/api/me/strict", &phone, Value::Null)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.browser("GET", "/api/me/strict", &laptop, Value::Null)
            .await
            .status,
        200
    );
}

async fn anti_csrf_via_token(kind: Kind) {
    let h = harness(
        kind,
        Opts {
            tweak: |b| b.anti_csrf(AntiCsrf::ViaToken),
            ..Opts::default()
        },
    )
    .await;
    let (r, jar) = h.sign_in_cookie("ivy", "user").await;
    let token = r
        .header("anti-csrf")
        .expect("an anti-csrf token in cookie mode");
    assert!(
        r.header("access-control-expose-headers")
            .unwrap()
            .contains("anti-csrf")
    );
    assert_eq!(r.front()["up"]["antiCsrfToken"], token.as_str());
    // GET needs none; POST without it: try refresh; with it: fine.
    assert_eq!(
        h.browser("GET", "/api/me", &jar, Value::Null).await.status,
        200
    );
    assert_eq!(
        h.browser("POST", "/api/me", &jar, Value::Null).await.status,
        StatusCode::UNAUTHORIZED
    );
    let req = Request::post("/api/me")
        .header("cookie", jar.header("/api/me"))
        .header("anti-csrf", &token)
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(req).await.status, 200);
    // Refresh without the token: unauthorised; with it: a new token.
    let r = h
        .browser("POST", "/auth/session/refresh", &jar, Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let (_, jar) = h.sign_in_cookie("ivy", "user").await;
    let t2 = {
        let (r, _) = (h.browser("GET", "/api/me", &jar, Value::Null).await, ());
        r.body["accessTokenPayload"]["antiCsrfToken"]
            .as_str()
            .unwrap()
            .to_owned()
    };
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
    assert_eq!(
        r.header("access-control-allow-origin").as_deref(),
        Some("http://localhost:3000")
    );
    assert_eq!(
        r.header("access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let allowed = r.header("access-control-allow-headers").unwrap();
    for name in [
        "rid",
        "fdi-version",
        "st-auth-mode",
        "anti-csrf",
        "authorization",
    ] {
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
            v.to_str()
                .unwrap()
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(exposed.iter().any(|e| e == "front-token"), "{exposed:?}");
    let other = Request::options("/api/me")
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .unwrap();
    assert!(
        h.send(other)
            .await
            .header("access-control-allow-origin")
            .is_none()
    );
}
