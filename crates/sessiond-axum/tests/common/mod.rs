//! What the server-backed session tests share: the app under test (a few routes behind the
//! session layer), a harness that builds it over either backend, a browser-like cookie jar,
//! and `both!`, which runs each case against both backends: a `SessionManager` in process and
//! a real `sessiond serve` (remote: tokens verified locally against its JWKS).

#![allow(dead_code)] // each test file uses a different part of this module

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
    ClaimValidator, MaybeSession, Session, SessionError, SessionIssuer, Sessions, SessionsBuilder,
    VerifySession,
};
use sessiond_core::jose::Algorithm;
use sessiond_core::{ManagerConfig, MemoryStore, SessionManager, StartOptions, Store};
use sessiond_store_tests::outage::Switchable;
use tower::ServiceExt;

/// Runs each named case, an `async fn(Kind)`, against both backends: `in_process::NAME` over a
/// `SessionManager` in this process, `remote::NAME` over a `sessiond serve` started for the test.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::Kind::InProcess).await; })*
        }
        mod remote {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::Kind::Remote).await; })*
        }
    };
}

/// Where the sessions live in a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    InProcess,
    Remote,
}

/// The app under test over one backend, with handles to reach behind it.
pub(crate) struct Harness {
    pub(crate) app: Router,
    /// The manager that holds the sessions (in this process, or inside the test server).
    pub(crate) manager: SessionManager,
    /// In process: switches the store off.
    pub(crate) switch: Option<Arc<Switchable>>,
    pub(crate) server: Option<sessiond_server::Server>,
    pub(crate) sessions: Sessions,
}

/// How a case configures its sessions: token lifetimes in seconds, and a change to the builder.
pub(crate) struct Opts {
    pub(crate) access_ttl: u64,
    pub(crate) grace: u64,
    pub(crate) tweak: fn(SessionsBuilder) -> SessionsBuilder,
}

impl Default for Opts {
    fn default() -> Self {
        Self { access_ttl: 60, grace: 10, tweak: |b| b }
    }
}

impl Opts {
    /// Access tokens that live `secs` seconds (default 60).
    pub(crate) fn access_ttl(self, secs: u64) -> Self {
        Self { access_ttl: secs, ..self }
    }

    /// A refresh grace window of `secs` seconds (default 10).
    pub(crate) fn grace(self, secs: u64) -> Self {
        Self { grace: secs, ..self }
    }

    /// A change to the sessions builder (the website origin is already set).
    pub(crate) fn tweak(self, tweak: fn(SessionsBuilder) -> SessionsBuilder) -> Self {
        Self { tweak, ..self }
    }
}

async fn sign_in(
    issuer: SessionIssuer, body: axum::Json<Value>,
) -> Result<axum::Json<Value>, SessionError> {
    let user = body["user"].as_str().unwrap_or("alice").to_owned();
    let role = body["role"].as_str().unwrap_or("user").to_owned();
    let s = issuer.create_new_session(&user, json!({"role": role}), json!({"cart": 0})).await?;
    Ok(axum::Json(json!({"userId": s.user_id(), "handle": s.handle()})))
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
    Ok(axum::Json(serde_json::to_value(s.devices().await?).unwrap()))
}

async fn revoke_others(s: Session) -> Result<axum::Json<Value>, SessionError> {
    Ok(axum::Json(json!({"revoked": s.revoke_other_devices().await?})))
}

/// The app under test: a sign-in route, routes that read and change the session, and routes
/// behind `VerifySession` (a store check, a claim), all behind the session layer and its CORS.
fn routes(sessions: &Sessions) -> Router {
    Router::new()
        .route("/auth/demo/signin", post(sign_in))
        .route("/api/me", get(me).post(me))
        .route("/api/maybe", get(maybe))
        .route("/api/me/strict", get(me).route_layer(VerifySession::new().check_database(true)))
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

/// The app over `kind`'s backend, configured by `o`.
pub(crate) async fn harness(kind: Kind, o: Opts) -> Harness {
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
            let server = sessiond_server::start(&settings, std::future::pending()).await.unwrap();
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

/// A response, read whole.
pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Resp {
    pub(crate) fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().into_iter().find(|c| c.starts_with(&format!("{name}=")))
    }

    pub(crate) fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }

    /// The decoded front-token.
    pub(crate) fn front(&self) -> Value {
        let t = self.header("front-token").expect("a front-token");
        let bytes = base64::engine::general_purpose::STANDARD.decode(t).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// The status and JSON body, to compare with [`message`].
    pub(crate) fn outcome(&self) -> (StatusCode, Value) {
        (self.status, self.body.clone())
    }

    /// Whether the response clears the session (`front-token: remove`).
    pub(crate) fn cleared(&self) -> bool {
        self.header("front-token").as_deref() == Some("remove")
    }
}

/// A protocol answer: `status` with the body `{"message": text}`.
pub(crate) fn message(status: StatusCode, text: &str) -> (StatusCode, Value) {
    (status, json!({ "message": text }))
}

/// The value of a `Set-Cookie`.
pub(crate) fn value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned()
}

/// A browser's cookie jar, enough for two cookies with their paths.
#[derive(Default, Clone)]
pub(crate) struct Jar {
    pub(crate) access: Option<String>,
    pub(crate) refresh: Option<String>,
}

impl Jar {
    pub(crate) fn take(&mut self, r: &Resp) {
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

    pub(crate) fn header(&self, path: &str) -> String {
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
    pub(crate) async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Resp { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
    }

    /// A request as supertokens-web-js sends it in cookie mode (`rid`, `st-auth-mode`).
    pub(crate) async fn browser(&self, method: &str, path: &str, jar: &Jar, body: Value) -> Resp {
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
        self.send(b.body(Body::from(body.to_string())).unwrap()).await
    }

    pub(crate) async fn sign_in_cookie(&self, user: &str, role: &str) -> (Resp, Jar) {
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

    /// A cookie-mode `GET` with no body.
    pub(crate) async fn get(&self, path: &str, jar: &Jar) -> Resp {
        self.browser("GET", path, jar, Value::Null).await
    }

    /// A cookie-mode `POST` with no body.
    pub(crate) async fn post(&self, path: &str, jar: &Jar) -> Resp {
        self.browser("POST", path, jar, Value::Null).await
    }

    /// A request in header mode (`Authorization: Bearer`).
    pub(crate) async fn bearer(&self, method: &str, path: &str, token: &str) -> Resp {
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
