//! The router: every endpoint, with the layers that make bad input a clean 4xx.
//!
//! One request: [`crate::scope::rewrite`] takes off `/appid-…/<tenant>` → the router matches
//! the route → `track` (metrics, log) → `require_key` → a malformed app id is refused → the
//! readiness gate (503 before the store is connected) → body limit → the handler, which calls
//! the [`SessionManager`] and maps its result to a CDI status or an [`ApiError`].

use std::convert::Infallible;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use axum::{Router, middleware};
use sessiond_core::SessionManager;
use tower::{Layer, Service, ServiceExt as _};
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::{ApiKeys, require_key};
use crate::error::ApiError;
use crate::extract::BodyLimit;
use crate::handlers::{cdi, events, ops, v1};
use crate::readiness::{self, Readiness};
use crate::scope::InvalidAppId;
use crate::telemetry::{Metrics, track};

/// Everything a handler needs.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The session manager.
    pub manager: SessionManager,
    /// Issue anti-CSRF tokens when a create request does not say.
    pub anti_csrf_default: bool,
    /// Counters and the Prometheus renderer.
    pub metrics: Metrics,
    /// Cancelled when the server starts shutting down: long-lived responses (the revocation
    /// stream) end then, so they do not hold the shutdown for its whole deadline.
    pub stopping: tokio_util::sync::CancellationToken,
}

/// HTTP-level options.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Largest accepted body, bytes.
    pub body_limit: usize,
    /// API keys (none: open).
    pub api_keys: ApiKeys,
    /// Whether the store is connected and the manager started; until then routes that need
    /// them answer 503 (default: ready).
    pub readiness: Readiness,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            body_limit: 1024 * 1024,
            api_keys: ApiKeys::default(),
            readiness: Readiness::default(),
        }
    }
}

/// Every route: path and handlers. The router is built from this table, and a test checks it
/// against the OpenAPI document in both directions, so no route goes undocumented.
fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/apiversion", get(cdi::api_version)),
        ("/hello", get(cdi::hello)),
        ("/user/id", get(cdi::user_by_id)),
        ("/.well-known/jwks.json", get(cdi::jwks)),
        (
            "/recipe/session",
            post(cdi::create_session).get(cdi::session_info),
        ),
        ("/recipe/session/verify", post(cdi::verify_session)),
        ("/recipe/session/refresh", post(cdi::refresh_session)),
        ("/recipe/session/remove", post(cdi::remove_sessions)),
        ("/recipe/session/user", get(cdi::user_sessions)),
        ("/recipe/session/regenerate", post(cdi::regenerate)),
        ("/recipe/session/data", put(cdi::update_session_data)),
        ("/recipe/jwt/data", put(cdi::update_jwt_data)),
        ("/recipe/jwt", post(cdi::create_jwt)),
        ("/recipe/jwt/jwks", get(cdi::jwt_jwks)),
        ("/sessiond/v1/keys", get(v1::list_keys)),
        ("/sessiond/v1/keys/rotate", post(v1::rotate_keys)),
        ("/sessiond/v1/keys/reset", post(v1::reset_keys)),
        (
            "/sessiond/v1/users/{user_id}/sessions",
            get(v1::user_sessions),
        ),
        ("/sessiond/v1/revocations", get(events::revocations)),
        ("/sessiond/v1/sessions/{handle}", get(v1::session_details)),
        (
            "/sessiond/v1/sessions/{handle}/private-data",
            put(v1::set_private_data),
        ),
        (
            "/sessiond/v1/service-tokens",
            post(v1::create_service_token),
        ),
        (
            "/sessiond/v1/service-tokens/verify",
            post(v1::verify_service_token),
        ),
        ("/healthz", get(ops::healthz)),
        ("/readyz", get(ops::readyz)),
        ("/metrics", get(ops::metrics)),
        ("/openapi.json", get(ops::openapi)),
    ]
}

/// The path of every route, as the router matches it (after the `/appid-…/<tenant>` prefix is
/// taken off).
pub fn route_paths() -> Vec<&'static str> {
    routes().into_iter().map(|(p, _)| p).collect()
}

/// The routes, without the path-prefix rewrite (see [`service`]).
pub fn router(state: AppState, opts: &HttpOptions) -> Router {
    let body_limit = opts.body_limit;
    routes()
        .into_iter()
        .fold(Router::new(), |r, (path, handlers)| r.route(path, handlers))
        .fallback(|| async { ApiError::NotFound("no such endpoint") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::map_request(
            move |mut req: Request| async move {
                req.extensions_mut().insert(BodyLimit(body_limit));
                req
            },
        ))
        .layer(middleware::from_fn_with_state(
            opts.readiness.clone(),
            readiness::gate,
        ))
        .layer(middleware::from_fn(refuse_invalid_app_id))
        .layer(middleware::from_fn_with_state(
            opts.api_keys.clone(),
            require_key,
        ))
        .layer(middleware::from_fn(track))
        .with_state(state)
}

/// Answers a path whose `/appid-…` segment is malformed (see [`crate::scope`]) with 400
/// `INVALID_APP_ID`, before any handler (or the routing fallback) sees it.
async fn refuse_invalid_app_id(req: Request, next: Next) -> Response {
    match req.extensions().get::<InvalidAppId>() {
        Some(e) => ApiError::bad_request("INVALID_APP_ID", e.to_string()).into_response(),
        None => next.run(req).await,
    }
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let mut resp =
        ApiError::Internal(sessiond_core::Error::Crypto("handler panicked")).into_response();
    resp.headers_mut()
        .insert("connection", HeaderValue::from_static("close"));
    resp
}

/// The whole HTTP service: prefix rewrite, panic guard, router.
pub fn service(
    state: AppState,
    opts: &HttpOptions,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
    let router = router(state, opts);
    let guarded = CatchPanicLayer::custom(panic_response).layer(router);
    tower::util::MapRequestLayer::new(crate::scope::rewrite)
        .layer(guarded)
        .map_response(IntoResponse::into_response)
}
