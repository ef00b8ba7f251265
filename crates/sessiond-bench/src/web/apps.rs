//! `sessiond-bench serve-web SPEC`: the sessiond web apps of the web figures, each served in a
//! process of its own until SIGTERM, printing `listening on ADDR` first.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::json;
use sessiond_axum::{
    CookieSession, CookieSessionLayer, Session, SessionIssuer, Sessions, VerifySession,
};
use sessiond_cookie::{CookieKey, CookieSessions, Format, Overrides, Refresh, SessionConfig};
use sessiond_core::jose::Algorithm;
use sessiond_core::{ManagerConfig, SessionManager};

use crate::manager;

static NEXT_USER: AtomicU64 = AtomicU64::new(0);

fn next_user() -> String {
    format!("user-{}", NEXT_USER.fetch_add(1, Ordering::Relaxed) % 100_000)
}

/// Serves one app (`serve-web SPEC`) until SIGTERM:
/// `bare`, `bare-redis REDIS_URL`, `cookie-jwe`, `cookie-jws`, or `axum ALG STORE_URL`.
pub(crate) async fn serve(spec: &[String]) {
    let (app, manager) = match spec.first().map(String::as_str) {
        Some("bare") => (Router::new().route("/read", get(|| async { "user-0" })), None),
        Some("bare-redis") => {
            (redis_floor(spec.get(1).expect("a Redis URL")).await.expect("connect to Redis"), None)
        }
        Some("cookie-jwe") => (cookie_app(Format::Encrypted), None),
        Some("cookie-jws") => (cookie_app(Format::Signed), None),
        Some("axum") => {
            let alg = spec.get(1).and_then(|a| Algorithm::parse(a)).expect("an algorithm");
            let url = spec.get(2).expect("a store URL");
            let (app, m) = axum_app(alg, url).await;
            (app, Some(m))
        }
        other => panic!("unknown serve-web spec {other:?}"),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("listening on {}", listener.local_addr().expect("addr"));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    let served = axum::serve(listener, app).with_graceful_shutdown(async move {
        term.recv().await;
    });
    let _ = served.await;
    if let Some(m) = manager {
        // Leave nothing on a shared store.
        let _ = m.destroy().await;
    }
}

/// The least a route that reads or writes one Redis key per request can cost: bare axum handlers
/// doing one `GET` (`/read`) or one `SET … PX` (`/login`) of a session-sized value, over the
/// same client and connection type as sessiond's Redis store (one multiplexed connection).
async fn redis_floor(url: &str) -> redis::RedisResult<Router> {
    const KEY: &str = "sessiond-bench:floor";
    let conn = redis::Client::open(url)?.get_connection_manager().await?;
    let value = "v".repeat(RECORD_BYTES);
    redis::cmd("SET")
        .arg(KEY)
        .arg(&value)
        .arg("PX")
        .arg(600_000)
        .exec_async(&mut conn.clone())
        .await?;
    let read = conn.clone();
    let app = Router::new()
        .route(
            "/read",
            get(move || {
                let mut c = read.clone();
                async move {
                    let v: redis::RedisResult<Option<Vec<u8>>> =
                        redis::cmd("GET").arg(KEY).query_async(&mut c).await;
                    match v {
                        Ok(Some(v)) => v.len().to_string().into_response(),
                        _ => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                    }
                }
            }),
        )
        .route(
            "/login",
            post(move || {
                let mut c = conn.clone();
                let value = value.clone();
                async move {
                    let key = format!("{KEY}:{}", next_user());
                    let set = redis::cmd("SET")
                        .arg(key)
                        .arg(value)
                        .arg("PX")
                        .arg(600_000)
                        .exec_async(&mut c)
                        .await;
                    match set {
                        Ok(()) => "ok".into_response(),
                        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                    }
                }
            }),
        );
    Ok(app)
}

/// About the size of one session as sessiond's Redis store encodes it.
const RECORD_BYTES: usize = 185;

fn cookie_app(format: Format) -> Router {
    let sessions = CookieSessions::builder([CookieKey::generate().expect("key")])
        .format(format)
        .session(SessionConfig::new("session"))
        .build()
        .expect("cookie sessions");
    Router::new()
        .route(
            "/read",
            get(|s: CookieSession| async move {
                match s.get(Refresh::Never).await.valid_payload() {
                    Some(p) => p["userId"].as_str().unwrap_or_default().to_owned().into_response(),
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
        .layer(CookieSessionLayer::new(sessions))
}

async fn axum_app(alg: Algorithm, url: &str) -> (Router, SessionManager) {
    let store = sessiond_server::open_store(url).await.expect("open the store");
    let config = ManagerConfig { algorithm: alg, ..ManagerConfig::default() };
    let manager = manager::start(store, config).await;
    let sessions = Sessions::in_process(manager.clone()).build();
    let app = Router::new()
        .route("/read", get(|s: Session| async move { s.user_id().to_owned() }))
        .route(
            "/read-checked",
            get(|s: Session| async move { s.user_id().to_owned() })
                .route_layer(VerifySession::new().check_database(true)),
        )
        .route(
            "/login",
            post(|issuer: SessionIssuer| async move {
                match issuer
                    .create_new_session(&next_user(), json!({"role": "user"}), json!({}))
                    .await
                {
                    Ok(_) => "ok".into_response(),
                    Err(e) => e.into_response(),
                }
            }),
        )
        .layer(sessions.layer());
    (app, manager)
}
