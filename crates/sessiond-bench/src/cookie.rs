//! Stateless cookie sessions over HTTP, beside a bare axum route and axum + tower-sessions
//! (`MemoryStore`) serving the same two routes: `GET /read` (a valid session) and `POST /login`
//! (a new session and its `Set-Cookie`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::json;
use sessiond_axum::{CookieSession, CookieSessionLayer};
use sessiond_cookie::{CookieKey, CookieSessions, Format, Overrides, Refresh, SessionConfig};
use tower_sessions::{MemoryStore, Session, SessionManagerLayer};

use crate::http;

static NEXT_USER: AtomicU64 = AtomicU64::new(0);

fn next_user() -> String {
    format!(
        "user-{}",
        NEXT_USER.fetch_add(1, Ordering::Relaxed) % 100_000
    )
}

/// A bare axum app with the same `GET /read` route, reading nothing.
pub(crate) async fn bare() -> SocketAddr {
    http::listen(Router::new().route("/read", get(|| async { "user-0" }))).await
}

/// axum + sessiond's cookie-session layer.
pub(crate) async fn sessiond(format: Format) -> SocketAddr {
    let sessions = CookieSessions::builder([CookieKey::generate().expect("key")])
        .format(format)
        .session(SessionConfig::new("session"))
        .build()
        .expect("cookie sessions");
    let app = Router::new()
        .route(
            "/read",
            get(|s: CookieSession| async move {
                match s.get(Refresh::Never).await.valid_payload() {
                    Some(p) => p["userId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                        .into_response(),
                    None => StatusCode::UNAUTHORIZED.into_response(),
                }
            }),
        )
        .route(
            "/login",
            post(|s: CookieSession| async move {
                match s.set(json!({"userId": next_user()}), Overrides::none()) {
                    Ok(_) => "ok".into_response(),
                    Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                }
            }),
        )
        .layer(CookieSessionLayer::new(sessions));
    http::listen(app).await
}

/// axum + tower-sessions on its `MemoryStore`.
pub(crate) async fn tower_sessions() -> SocketAddr {
    let app = Router::new()
        .route(
            "/read",
            get(|s: Session| async move {
                match s.get::<String>("userId").await {
                    Ok(Some(u)) => u.into_response(),
                    _ => StatusCode::UNAUTHORIZED.into_response(),
                }
            }),
        )
        .route(
            "/login",
            post(|s: Session| async move {
                match s.insert("userId", next_user()).await {
                    Ok(()) => "ok".into_response(),
                    Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                }
            }),
        )
        .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false));
    http::listen(app).await
}

/// Logs in `n` times and returns each session's `name=value` cookie.
pub(crate) async fn cookies(addr: SocketAddr, n: usize) -> Arc<Vec<String>> {
    let mut out = Vec::with_capacity(n);
    let mut conn = http::connect(addr).await;
    for _ in 0..n {
        let resp = http::send(&mut conn, "POST", "/login", None).await;
        let set = resp
            .headers()
            .get(axum::http::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .expect("the login sets a cookie");
        out.push(set.split(';').next().unwrap_or_default().to_owned());
        let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
    }
    Arc::new(out)
}
