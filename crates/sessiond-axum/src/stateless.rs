//! The tower layer and axum extractor of stateless cookie sessions.

use std::convert::Infallible;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request};
use axum::http::header::{CACHE_CONTROL, COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
use axum::response::{IntoResponse, Response};
use sessiond_cookie::{CookieSessions, Scope};
use tower::{Layer, Service};

/// Adds stateless cookie sessions to every request under it:
///
/// 1. refuses unsafe requests (`POST`, `PUT`, `PATCH`, `DELETE`, …) from another origin with
///    403 `{"code":"CROSS_ORIGIN_REQUEST"}` (see [`OriginPolicy`](sessiond_cookie::OriginPolicy));
/// 2. gives the request a [`Scope`] over its `Cookie` headers, which handlers take as a
///    [`CookieSession`];
/// 3. sends what the handler set, refreshed or deleted as `Set-Cookie` headers, with
///    `Cache-Control: no-store` unless the response already says how to cache.
#[derive(Clone, Debug)]
pub struct CookieSessionLayer {
    sessions: CookieSessions,
}

impl CookieSessionLayer {
    /// A layer over `sessions`.
    pub fn new(sessions: CookieSessions) -> Self {
        Self { sessions }
    }
}

impl<S> Layer<S> for CookieSessionLayer {
    type Service = CookieSessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CookieSessionService { inner, sessions: self.sessions.clone() }
    }
}

/// The service [`CookieSessionLayer`] makes.
#[derive(Clone, Debug)]
pub struct CookieSessionService<S> {
    inner: S,
    sessions: CookieSessions,
}

fn header_str(headers: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The request's `Cookie` headers as one string (HTTP/2 may split them).
fn cookie_header(headers: &HeaderMap) -> String {
    let mut all = headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok());
    let Some(first) = all.next() else {
        return String::new();
    };
    let mut out = first.to_owned();
    for more in all {
        out.push_str("; ");
        out.push_str(more);
    }
    out
}

pub(crate) fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"code": code, "message": message});
    (status, axum::Json(body)).into_response()
}

impl<S> Service<Request> for CookieSessionService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let headers = req.headers();
        let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let checked = if safe {
            Ok(())
        } else {
            self.sessions.origin_policy().check(
                req.method().as_str(),
                header_str(headers, HOST),
                header_str(headers, ORIGIN),
                header_str(headers, SEC_FETCH_SITE),
            )
        };
        if let Err(e) = checked {
            let resp = json_error(StatusCode::FORBIDDEN, e.code(), &e.to_string());
            return Box::pin(async move { Ok(resp) });
        }
        let scope = Arc::new(self.sessions.scope_owned(cookie_header(headers)));
        req.extensions_mut().insert(CookieSession(Arc::clone(&scope)));
        // Called here, on the instance `poll_ready` readied: no clone of the inner service per
        // request; the future owns nothing of `self`.
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut resp = fut.await?;
            let cookies = scope.set_cookie_headers();
            if !cookies.is_empty() {
                let h = resp.headers_mut();
                for c in cookies {
                    if let Ok(v) = HeaderValue::try_from(c) {
                        h.append(SET_COOKIE, v);
                    }
                }
                if !h.contains_key(CACHE_CONTROL) {
                    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                }
            }
            Ok(resp)
        })
    }
}

/// The request's cookie sessions: seed 003's `set`, `get`, `update`, `clear`, `delete` on the
/// default session, and [`Scope::named`] for the others. Dereferences to [`Scope`].
///
/// Extracting it without a [`CookieSessionLayer`] above the route is a programming error: the
/// request fails with 500 `{"code":"COOKIE_SESSION_LAYER_MISSING"}`.
#[derive(Clone, Debug)]
pub struct CookieSession(Arc<Scope>);

impl Deref for CookieSession {
    type Target = Scope;

    fn deref(&self) -> &Scope {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CookieSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<CookieSession>().cloned().ok_or_else(|| {
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "COOKIE_SESSION_LAYER_MISSING",
                "the route takes a CookieSession but no CookieSessionLayer is above it",
            )
        })
    }
}
