//! `ts-bench-server --store memory|sqlite:PATH|redis:URL`: axum + tower-sessions serving
//! `POST /login` (a new session holding a user id) and `GET /read` (the user id of a valid
//! session), the routes sessiond-bench measures sessiond-axum on. Prints
//! `listening on 127.0.0.1:PORT` once it accepts connections.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower_sessions::{MemoryStore, Session, SessionManagerLayer, SessionStore};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_sqlx_store::SqliteStore;
use tower_sessions_sqlx_store::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};

static NEXT: AtomicU64 = AtomicU64::new(0);

fn app<S: SessionStore + Clone>(store: S) -> Router {
    Router::new()
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
                let user = format!("user-{}", NEXT.fetch_add(1, Ordering::Relaxed) % 100_000);
                match s.insert("userId", user).await {
                    Ok(()) => "ok".into_response(),
                    Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                }
            }),
        )
        .layer(SessionManagerLayer::new(store).with_secure(false))
}

#[tokio::main]
async fn main() {
    let spec = std::env::args()
        .skip_while(|a| a != "--store")
        .nth(1)
        .unwrap_or_else(|| "memory".to_owned());
    let app = if spec == "memory" {
        app(MemoryStore::default())
    } else if let Some(path) = spec.strip_prefix("sqlite:") {
        // WAL, synchronous=FULL (sqlx's default): durable, as sessiond's SQLite store is.
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .expect("open the SQLite file");
        let store = SqliteStore::new(pool);
        store.migrate().await.expect("migrate");
        app(store)
    } else if let Some(url) = spec.strip_prefix("redis:") {
        let config = Config::from_url(url).expect("a redis:// URL");
        let pool = Pool::new(config, None, None, None, 4).expect("a Redis pool");
        let _ = pool.connect();
        pool.wait_for_connect().await.expect("connect to Redis");
        app(RedisStore::new(pool))
    } else {
        eprintln!("--store memory | sqlite:PATH | redis:URL");
        std::process::exit(2);
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("listening on {}", listener.local_addr().expect("addr"));
    axum::serve(listener, app).await.expect("serve");
}
