//! The whole 4xx/5xx mapping, in process: [`service`] driven with `tower::ServiceExt::oneshot`
//! (as axum's `examples/testing` does) over a store that can be switched off
//! ([`Switchable`]), so no server is started and none is killed.
//!
//! Every code asserted here is `Code::X.as_str()` with the status `Code::X.http_status()`,
//! from `sessiond-core`'s one table; [`every_code_of_the_table_is_accounted_for`] runs every
//! case and checks that each code the server can emit was met.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::routing::get;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use sessiond_core::{
    Code, ManagerConfig, MasterKey, MemoryStore, SessionManager, StartOptions, Store,
};
use sessiond_server::app::guard;
use sessiond_server::auth::ApiKeys;
use sessiond_server::connections::BodyDeadline;
use sessiond_server::readiness::Readiness;
use sessiond_server::{AppState, HttpOptions, service};
use sessiond_store_tests::outage::Switchable;
use tower::ServiceExt as _;

/// Codes of the table that this server never puts in an error body, and why.
const NOT_ERROR_BODIES: &[(Code, &str)] = &[
    (Code::TryRefreshToken, "a CDI status in a 200 body (tests/cdi.rs)"),
    (Code::TokenTheftDetected, "a CDI status in a 200 body (tests/cdi.rs)"),
    (Code::InvalidClaim, "the axum layer's"),
    (Code::CrossOriginRequest, "the cookie layer's"),
    (Code::SessionLayerMissing, "the axum layer's"),
];

const API_KEY: &str = "key-0123456789abcdefghij";

/// A manager on a switchable memory store, and the options of the service around it; records
/// every code a case asserts.
struct App {
    store: Arc<Switchable>,
    manager: SessionManager,
    opts: HttpOptions,
    met: Mutex<BTreeSet<&'static str>>,
}

impl App {
    async fn new(adjust: impl FnOnce(&mut HttpOptions)) -> Self {
        Self::on(Arc::new(MemoryStore::new()), ManagerConfig::default(), adjust).await
    }

    async fn on(
        inner: Arc<dyn Store>, config: ManagerConfig, adjust: impl FnOnce(&mut HttpOptions),
    ) -> Self {
        let store = Arc::new(Switchable::new(inner));
        let manager = SessionManager::new(store.clone(), config).unwrap();
        manager.start(StartOptions::default()).await.unwrap();
        let mut opts = HttpOptions::default();
        adjust(&mut opts);
        Self { store, manager, opts, met: Mutex::default() }
    }

    fn state(&self) -> AppState {
        AppState::new(self.manager.clone())
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Value, header::HeaderMap) {
        let resp = service(self.state(), &self.opts).oneshot(req).await.unwrap();
        read(resp).await
    }

    /// Sends `req` and checks that the answer is the error `code`, with its table status.
    async fn expect(&self, req: Request<Body>, code: Code) -> Value {
        let what = format!("{} {}", req.method(), req.uri());
        let (status, body, _) = self.send(req).await;
        check(status, &body, code, &what);
        self.met.lock().unwrap().insert(code.as_str());
        body
    }

    /// Sends `req` and checks that it succeeds.
    async fn expect_ok(&self, req: Request<Body>) -> Value {
        let what = format!("{} {}", req.method(), req.uri());
        let (status, body, _) = self.send(req).await;
        assert_eq!(status, StatusCode::OK, "{what}: {body}");
        body
    }

    /// A session of user `u`, made through the service.
    async fn create(&self) -> Value {
        self.expect_ok(post("/public/recipe/session", json!({"userId": "u"}))).await
    }
}

async fn read(resp: axum::response::Response) -> (StatusCode, Value, header::HeaderMap) {
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (parts.status, body, parts.headers)
}

fn check(status: StatusCode, body: &Value, code: Code, what: &str) {
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (code.http_status(), Some(code.as_str())),
        "{what}: {body}"
    );
    assert!(body["message"].is_string(), "{what}: {body}");
}

fn request(method: Method, path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder().method(method).uri(path).body(body.into()).unwrap()
}

fn get_(path: &str) -> Request<Body> {
    request(Method::GET, path, Body::empty())
}

fn post(path: &str, body: Value) -> Request<Body> {
    request(Method::POST, path, body.to_string())
}

fn put(path: &str, body: Value) -> Request<Body> {
    request(Method::PUT, path, body.to_string())
}

/// Every route that reads or writes the store, for one session's handle and tokens.
fn store_backed(handle: &str, refresh: &str, access: &str) -> Vec<Request<Body>> {
    vec![
        post("/public/recipe/session", json!({"userId": "u"})),
        post(
            "/recipe/session/verify",
            json!({"accessToken": access, "doAntiCsrfCheck": false, "checkDatabase": true}),
        ),
        post("/recipe/session/refresh", json!({"refreshToken": refresh, "enableAntiCsrf": false})),
        get_(&format!("/recipe/session?sessionHandle={handle}")),
        get_("/recipe/session/user?userId=u"),
        put(
            "/recipe/session/data",
            json!({"sessionHandle": handle, "userDataInDatabase": {"a": 1}}),
        ),
        put("/recipe/jwt/data", json!({"sessionHandle": handle, "userDataInJWT": {"a": 1}})),
        get_("/sessiond/v1/keys"),
        get_("/sessiond/v1/users/u/sessions"),
        get_(&format!("/sessiond/v1/sessions/{handle}")),
        get_("/readyz"),
        post("/recipe/session/remove", json!({"sessionHandles": [handle]})),
    ]
}

async fn store_outage_is_503_and_passes(app: &App) {
    let s = app.create().await;
    let handle = s["session"]["handle"].as_str().unwrap().to_owned();
    let refresh = s["refreshToken"]["token"].as_str().unwrap().to_owned();
    let access = s["accessToken"]["token"].as_str().unwrap().to_owned();

    app.store.set_down(true);
    for req in store_backed(&handle, &refresh, &access) {
        let body = app.expect(req, Code::StoreUnavailable).await;
        // Fail closed, and say nothing about why.
        assert_eq!(body["message"], "store unavailable", "{body}");
        assert!(!body.to_string().contains("switched off"), "{body}");
    }
    // The revocation stream reads its first page before answering.
    app.expect(get_("/sessiond/v1/revocations"), Code::StoreUnavailable).await;
    // Routes that need no store still answer.
    for path in ["/healthz", "/hello", "/apiversion", "/openapi.json"] {
        app.expect_ok(get_(path)).await;
    }

    app.store.set_down(false);
    for req in store_backed(&handle, &refresh, &access) {
        app.expect_ok(req).await;
    }
    let (status, _, headers) = {
        let resp = service(app.state(), &app.opts)
            .oneshot(get_("/sessiond/v1/revocations"))
            .await
            .unwrap();
        (resp.status(), (), resp.headers().clone())
    };
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/event-stream");
}

async fn not_ready_is_503_for_store_routes_only(app: &App) {
    let body = app.expect(get_("/sessiond/v1/keys"), Code::StoreUnavailable).await;
    assert_eq!(body["message"], "the store is not connected yet; retrying");
    app.expect(get_("/readyz"), Code::StoreUnavailable).await;
    app.expect_ok(get_("/healthz")).await;
}

async fn malformed_requests_are_400(app: &App) {
    let verify = "/recipe/session/verify";
    for body in ["{not json", "", "   "] {
        app.expect(request(Method::POST, verify, body), Code::InvalidJson).await;
    }
    for body in ["[1,2]", "\"text\"", "{\"accessToken\": 5}", "{}"] {
        app.expect(request(Method::POST, verify, body), Code::InvalidField).await;
    }
    app.expect(get_("/recipe/session"), Code::InvalidQuery).await;
    app.expect(
        get_("/recipe/session/user?userId=x&fetchAcrossAllTenants=maybe"),
        Code::InvalidQuery,
    )
    .await;
    for path in [
        "/appid-UPPER/recipe/session/verify",
        "/appid-/recipe/session/verify",
        "/appid-a/appid-b/hello",
        "/appid-a%20b/nothing",
    ] {
        app.expect(post(path, json!({})), Code::InvalidAppId).await;
    }
    app.expect(post("/recipe/session/remove", json!({})), Code::InvalidInput).await;
    app.expect(post("/sessiond/v1/service-tokens", json!({"expiresIn": 0})), Code::InvalidInput)
        .await;
    // A body that breaks off with an error while it is read.
    let broken = Body::from_stream(futures_util::stream::iter([
        Ok(axum::body::Bytes::from_static(b"{\"access")),
        Err(std::io::Error::other("connection reset")),
    ]));
    app.expect(request(Method::POST, verify, broken), Code::InvalidBody).await;
}

async fn garbage_tokens_are_cdi_statuses_not_errors(app: &App) {
    let body = app
        .expect_ok(post(
            "/recipe/session/verify",
            json!({"accessToken": "garbage", "doAntiCsrfCheck": false}),
        ))
        .await;
    assert_eq!(body["status"], Code::Unauthorised.as_str());
    let body =
        app.expect_ok(post("/recipe/session/refresh", json!({"refreshToken": "garbage"}))).await;
    assert_eq!(body["status"], Code::Unauthorised.as_str());
    app.met.lock().unwrap().insert(Code::Unauthorised.as_str());
}

async fn api_keys_are_401(app: &App) {
    app.expect(get_("/sessiond/v1/keys"), Code::InvalidApiKey).await;
    let mut wrong = get_("/sessiond/v1/keys");
    wrong.headers_mut().insert("api-key", "wrong-0123456789abcdefghij".parse().unwrap());
    app.expect(wrong, Code::InvalidApiKey).await;
    let mut right = get_("/sessiond/v1/keys");
    right.headers_mut().insert("api-key", API_KEY.parse().unwrap());
    app.expect_ok(right).await;
    app.expect_ok(get_("/healthz")).await;
}

async fn unknown_routes_methods_and_sessions_are_404_and_405(app: &App) {
    app.expect(get_("/nothing/here"), Code::NotFound).await;
    app.expect(
        request(Method::DELETE, "/recipe/session/verify", Body::empty()),
        Code::MethodNotAllowed,
    )
    .await;
    app.expect(get_("/sessiond/v1/sessions/no-such-handle"), Code::SessionNotFound).await;
    app.expect(
        put(
            "/sessiond/v1/sessions/no-such-handle/private-data",
            json!({"privateData": {}, "expectedVersion": 0}),
        ),
        Code::SessionNotFound,
    )
    .await;
}

async fn a_moved_data_version_is_409(app: &App) {
    let s = app.create().await;
    let handle = s["session"]["handle"].as_str().unwrap();
    app.expect(
        put(
            &format!("/sessiond/v1/sessions/{handle}/private-data"),
            json!({"privateData": {"a": 1}, "expectedVersion": 999}),
        ),
        Code::Conflict,
    )
    .await;
}

async fn bodies_over_the_limit_or_late_are_413_and_408(app: &App) {
    app.expect(
        request(
            Method::POST,
            "/recipe/session/verify",
            format!("{{\"accessToken\": \"{}\"}}", "a".repeat(4096)),
        ),
        Code::PayloadTooLarge,
    )
    .await;
    // A body that never arrives, past its deadline: 408, and the connection is closed.
    let mut late = request(
        Method::POST,
        "/recipe/session/verify",
        Body::from_stream(futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>()),
    );
    late.extensions_mut().insert(BodyDeadline { at: tokio::time::Instant::now(), secs: 0 });
    let (status, body, headers) = app.send(late).await;
    check(status, &body, Code::RequestTimeout, "late body");
    assert_eq!(headers[header::CONNECTION], "close");
    app.met.lock().unwrap().insert(Code::RequestTimeout.as_str());
}

/// A handler that panics, behind the same guard [`service`] uses: 500 `INTERNAL`, nothing of
/// the panic in the body, and the connection closed.
async fn a_handler_panic_is_500_internal_without_detail(app: &App) {
    async fn boom() -> &'static str {
        panic!("the handler held secret-token-1234");
    }
    let boom = Router::new().route("/boom", get(boom));
    let resp = guard(boom).oneshot(get_("/boom")).await.unwrap();
    let (status, body, headers) = read(resp).await;
    check(status, &body, Code::Internal, "panic");
    assert_eq!(body["message"], "internal error");
    assert!(!body.to_string().contains("secret"), "{body}");
    assert_eq!(headers[header::CONNECTION], "close");
    app.met.lock().unwrap().insert(Code::Internal.as_str());
}

/// Another process, holding a master key, rotates a key: this one, without the master key,
/// cannot open it. 500 `INVALID_CONFIGURATION`, with no detail in the body.
async fn a_key_this_configuration_cannot_open_is_500_invalid_configuration(app: &App) {
    let shared: Arc<MemoryStore> = Arc::new(MemoryStore::new());
    let plain = App::on(shared.clone(), ManagerConfig::default(), |_| {}).await;
    let sealing = SessionManager::new(
        shared,
        ManagerConfig {
            master_key: Some(MasterKey::from_bytes(&[7; 32]).unwrap()),
            ..ManagerConfig::default()
        },
    )
    .unwrap();
    sealing.start(StartOptions::default()).await.unwrap();
    sealing.keys().rotate("public").await.unwrap();
    let body = plain.expect(get_("/sessiond/v1/keys"), Code::InvalidConfiguration).await;
    assert_eq!(body["message"], "internal error");
    assert!(!body.to_string().contains("master"), "{body}");
    app.met.lock().unwrap().extend(plain.met.lock().unwrap().iter());
}

fn not_ready(o: &mut HttpOptions) {
    o.readiness = Readiness::not_ready();
}

fn with_key(o: &mut HttpOptions) {
    o.api_keys = ApiKeys::new(&[API_KEY.to_owned()]);
}

fn small_bodies(o: &mut HttpOptions) {
    o.body_limit = 1024;
}

/// One test per case, each on a fresh [`App`] with the options it needs, and `every_case`,
/// which runs them all and returns every code they met: one list of cases for both.
macro_rules! case_tests {
    ($($test:ident: $case:ident($adjust:expr);)*) => {
        $(
            #[tokio::test]
            async fn $test() {
                $case(&App::new($adjust).await).await;
            }
        )*

        async fn every_case() -> BTreeSet<&'static str> {
            let mut met = BTreeSet::new();
            $(
                let app = App::new($adjust).await;
                $case(&app).await;
                met.extend(app.met.lock().unwrap().iter().copied());
            )*
            met
        }
    };
}

case_tests! {
    a_store_outage_is_503_and_the_routes_work_again_after_it: store_outage_is_503_and_passes(|_| {});
    before_the_store_is_connected_routes_that_need_it_are_503: not_ready_is_503_for_store_routes_only(not_ready);
    malformed_json_fields_queries_and_app_ids_are_400: malformed_requests_are_400(|_| {});
    garbage_tokens_are_a_cdi_unauthorised: garbage_tokens_are_cdi_statuses_not_errors(|_| {});
    a_missing_or_wrong_api_key_is_401: api_keys_are_401(with_key);
    unknown_routes_methods_and_sessions: unknown_routes_methods_and_sessions_are_404_and_405(|_| {});
    a_data_version_that_moved_is_409: a_moved_data_version_is_409(|_| {});
    oversized_and_late_bodies: bodies_over_the_limit_or_late_are_413_and_408(small_bodies);
    a_handler_panic: a_handler_panic_is_500_internal_without_detail(|_| {});
    a_key_sealed_with_a_master_key_this_process_lacks: a_key_this_configuration_cannot_open_is_500_invalid_configuration(|_| {});
}

#[tokio::test]
async fn every_code_of_the_table_is_accounted_for() {
    let met = every_case().await;
    let elsewhere: BTreeSet<&str> = NOT_ERROR_BODIES.iter().map(|(c, _)| c.as_str()).collect();
    for code in Code::ALL {
        assert!(
            met.contains(code.as_str()) ^ elsewhere.contains(code.as_str()),
            "{code}: met here: {}, listed as not this server's: {}",
            met.contains(code.as_str()),
            elsewhere.contains(code.as_str()),
        );
    }
}
