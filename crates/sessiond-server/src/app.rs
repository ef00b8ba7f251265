//! The router: every endpoint, with the layers that make bad input a clean 4xx.
//!
//! One request: `scope::rewrite` takes off `/appid-…/<tenant>` → the panic guard → the router
//! matches the route → [`track`] (metrics, log, error detail) → [`require_key`] → a malformed
//! app id is refused → the readiness gate (503 before the store is connected) → body limit →
//! the handler, which calls the [`SessionManager`](sessiond_core::SessionManager) and maps its
//! result to a CDI status or an [`ApiError`].
//!
//! The route table ([`route_paths`]) is the one list of endpoints: the router is built from it
//! and a test holds it equal to the OpenAPI document ([`crate::openapi`]).

use std::convert::Infallible;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use axum::{Router, middleware};
use sessiond_core::Code;
use tower::{Layer, Service, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::{ApiKeys, require_key};
use crate::error::ApiError;
use crate::extract::BodyLimit;
use crate::handlers::{cdi, events, ops, v1};
use crate::openapi;
use crate::readiness::{self, Readiness};
use crate::scope::InvalidAppId;
use crate::state::AppState;
use crate::telemetry::{report_escaped, track};

/// What the layers around the handlers enforce: body size, API keys, readiness.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Largest accepted request body, bytes; over it, 413 `PAYLOAD_TOO_LARGE`.
    pub body_limit: usize,
    /// The accepted API keys (none configured: every route is open).
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
        ("/recipe/session", post(cdi::create_session).get(cdi::session_info)),
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
        ("/sessiond/v1/users/{user_id}/sessions", get(v1::user_sessions)),
        ("/sessiond/v1/revocations", get(events::revocations)),
        ("/sessiond/v1/sessions/{handle}", get(v1::session_details)),
        ("/sessiond/v1/sessions/{handle}/private-data", put(v1::set_private_data)),
        ("/sessiond/v1/service-tokens", post(v1::create_service_token)),
        ("/sessiond/v1/service-tokens/verify", post(v1::verify_service_token)),
        ("/healthz", get(ops::healthz)),
        ("/readyz", get(ops::readyz)),
        ("/metrics", get(ops::metrics)),
        ("/openapi.json", get(openapi::serve)),
    ]
}

/// The path of every route, as the router matches it (after the `/appid-…/<tenant>` prefix is
/// taken off).
pub fn route_paths() -> Vec<&'static str> {
    routes().into_iter().map(|(p, _)| p).collect()
}

/// The routes with their layers, without the `/appid-…/<tenant>` prefix rewrite and the panic
/// guard (see [`service`]).
pub fn router(state: AppState, opts: &HttpOptions) -> Router {
    let body_limit = opts.body_limit;
    routes()
        .into_iter()
        .fold(Router::new(), |r, (path, handlers)| r.route(path, handlers))
        .fallback(|| async { ApiError::new(Code::NotFound, "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(Code::MethodNotAllowed, "method not allowed")
        })
        .layer(middleware::map_request(move |mut req: Request| async move {
            req.extensions_mut().insert(BodyLimit(body_limit));
            req
        }))
        .layer(middleware::from_fn_with_state(opts.readiness.clone(), readiness::gate))
        .layer(middleware::from_fn(refuse_invalid_app_id))
        .layer(middleware::from_fn_with_state(opts.api_keys.clone(), require_key))
        .layer(middleware::from_fn(track))
        .with_state(state)
}

/// Answers a path whose `/appid-…` segment is malformed (see [`crate::scope`]) with 400
/// `INVALID_APP_ID`, before any handler (or the routing fallback) sees it.
async fn refuse_invalid_app_id(req: Request, next: Next) -> Response {
    match req.extensions().get::<InvalidAppId>() {
        Some(e) => ApiError::new(Code::InvalidAppId, e.to_string()).into_response(),
        None => next.run(req).await,
    }
}

/// The answer to a handler that panicked: 500 `INTERNAL`, the panic's message withheld.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Panicked.into_response()
}

/// `router` behind the panic guard: a handler that panics is answered 500 `INTERNAL` (the
/// connection closed, the panic's message withheld) and logged by [`report_escaped`].
/// [`service`] puts it around [`router`]; it takes any router, so a panic can be tested.
pub fn guard(
    router: Router,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
    ServiceExt::<Request>::map_response(
        CatchPanicLayer::custom(panic_response).layer(router),
        |r| report_escaped(r.into_response()),
    )
}

/// The whole HTTP service: the `/appid-…/<tenant>` prefix rewrite, then [`guard`] around
/// [`router`].
pub fn service(
    state: AppState, opts: &HttpOptions,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
    tower::util::MapRequestLayer::new(crate::scope::rewrite).layer(guard(router(state, opts)))
}
