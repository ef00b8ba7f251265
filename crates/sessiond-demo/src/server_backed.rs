//! The server-backed modes (`--sessions embedded|remote`): the SuperTokens frontend protocol
//! through `sessiond-axum`, and `/app/`, a page that drives it with supertokens-web-js.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sessiond_axum::{
    ClaimValidator, Session, SessionError, SessionIssuer, Sessions, VerifySession,
};
use sessiond_core::Code;
use sessiond_core::jose::Algorithm;
use sessiond_core::{ManagerConfig, SessionManager, StartOptions};

use crate::args::{Args, SessionsMode};
use crate::users::Users;

/// The page at `/app/`.
const APP_PAGE: &str = include_str!("app.html");

#[derive(Clone)]
struct App {
    users: Users,
    bundles: Arc<Bundles>,
}

/// supertokens-web-js's `bundle/` scripts the page loads, by file name.
#[derive(Default)]
struct Bundles {
    dir: Option<PathBuf>,
    website: Option<String>,
    supertokens: Option<String>,
    session: Option<String>,
}

impl Bundles {
    fn find(dir: Option<PathBuf>) -> Self {
        let dir = dir.unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("web/node_modules/supertokens-web-js/bundle")
        });
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Self::default();
        };
        let mut b = Bundles { dir: Some(dir), ..Self::default() };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".js") {
                continue;
            }
            let slot = if name.starts_with("website.") {
                &mut b.website
            } else if name.starts_with("supertokens.") {
                &mut b.supertokens
            } else if name.starts_with("session.") {
                &mut b.session
            } else {
                continue;
            };
            *slot = Some(name);
        }
        b
    }

    fn names(&self) -> Option<[&str; 3]> {
        Some([self.website.as_deref()?, self.supertokens.as_deref()?, self.session.as_deref()?])
    }
}

/// A running server-backed demo: its routes, and the manager to stop (embedded mode).
pub struct ServerBacked {
    /// The app: the sign-in and API routes behind the session layer, and the `/app/` page.
    pub router: Router,
    /// Embedded mode: the manager, stopped (flushed) on shutdown.
    pub manager: Option<SessionManager>,
}

/// Builds the server-backed demo the flags describe.
///
/// # Errors
/// A message naming the flag that is wrong, or the store that cannot be opened.
pub async fn build(args: &Args, users: Users) -> Result<ServerBacked, String> {
    let (builder, manager) = match args.sessions {
        SessionsMode::Embedded => {
            let store = sessiond_server::open_store(&args.store)
                .await
                .map_err(|e| format!("--store: {e}"))?;
            let algorithm = Algorithm::parse(&args.algorithm).ok_or_else(|| {
                format!("--algorithm {}: expected RS256, EdDSA, ES256 or HS256", args.algorithm)
            })?;
            let manager = SessionManager::new(
                store,
                ManagerConfig {
                    access_token_ttl: Duration::from_secs(args.access_token_ttl.max(1)),
                    refresh_grace: Duration::from_secs(args.refresh_grace),
                    algorithm,
                    ..ManagerConfig::default()
                },
            )
            .map_err(|e| e.to_string())?;
            manager
                .start(StartOptions::default())
                .await
                .map_err(|e| format!("starting the session manager on --store: {e}"))?;
            (Sessions::in_process(manager.clone()), Some(manager))
        }
        SessionsMode::Remote => {
            let url =
                args.sessiond_url.as_deref().ok_or("--sessions remote needs --sessiond-url")?;
            let b = Sessions::remote(url, args.sessiond_api_key.as_deref())
                .map_err(|e| format!("--sessiond-url: {e}"))?;
            (b, None)
        }
        SessionsMode::Stateless => return Err("not a server-backed mode".to_owned()),
    };
    let mut builder = builder.anti_csrf(args.anti_csrf).insecure_dev_mode(args.insecure_dev_mode);
    for o in &args.website_origins {
        builder = builder.website_origin(o.clone());
    }
    if args.id_token {
        builder = builder.id_token(Duration::from_secs(3600));
    }
    let sessions = builder.build();
    let bundles = Bundles::find(args.web_js_dir.clone());
    if bundles.names().is_none() {
        eprintln!(
            "sessiond-demo: supertokens-web-js bundles not found (run `npm ci` in crates/sessiond-demo/web, or pass --web-js-dir); /app/ will say so"
        );
    }
    let router = Router::new()
        .route("/", get(|| async { Redirect::to("/app/") }))
        .route("/auth/demo/signin", post(sign_in))
        .route("/api/me", get(me))
        .route("/api/me/strict", get(me).route_layer(VerifySession::new().check_database(true)))
        .route("/api/me/payload", post(merge_payload))
        .route(
            "/api/admin",
            get(me).route_layer(
                VerifySession::new().claim(ClaimValidator::equals("role", json!("admin"))),
            ),
        )
        .route("/api/sessions", get(devices))
        .route("/api/sessions/revoke-others", post(revoke_others))
        .route("/app", get(|| async { Redirect::to("/app/") }))
        .route("/app/", get(app_page))
        .route("/app/st/{file}", get(bundle))
        .with_state(App { users, bundles: Arc::new(bundles) })
        .layer(sessions.layer())
        .layer(sessions.cors());
    Ok(ServerBacked { router, manager })
}

#[derive(Deserialize)]
struct SignIn {
    user: String,
    password: String,
}

/// `POST /auth/demo/signin` `{user, password}`: a new session with public data `{role}`.
/// Wrong credentials are 200 `{"status":"WRONG_CREDENTIALS_ERROR"}`, as SuperTokens' sign-in
/// answers them (a 401 would make the frontend SDK try a refresh).
async fn sign_in(
    State(app): State<App>, issuer: SessionIssuer,
    body: Result<Json<SignIn>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(c)) = body else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "message": "expected JSON {user, password}",
                "code": Code::InvalidInput.as_str(),
            })),
        )
            .into_response();
    };
    let Ok(role) = app.users.sign_in(&c.user, &c.password) else {
        return Json(json!({"status": "WRONG_CREDENTIALS_ERROR"})).into_response();
    };
    match issuer.create_new_session(&c.user, json!({"role": role}), json!({})).await {
        Ok(s) => Json(json!({"status": "OK", "userId": s.user_id(), "sessionHandle": s.handle()}))
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /api/me` (stateless check), `/api/me/strict` (store check), `/api/admin` (claim).
async fn me(s: Session) -> Json<Value> {
    Json(json!({
        "userId": s.user_id(),
        "sessionHandle": s.handle(),
        "accessTokenPayload": *s.access_token_payload(),
    }))
}

/// `POST /api/me/payload`: merges the body into the access-token payload.
async fn merge_payload(s: Session, Json(body): Json<Value>) -> Result<Json<Value>, SessionError> {
    s.merge_into_access_token_payload(body).await?;
    Ok(me(s).await)
}

/// `GET /api/sessions`: the user's signed-in devices.
async fn devices(s: Session) -> Result<Json<Value>, SessionError> {
    let list = s.devices().await?;
    Ok(Json(json!({"userId": s.user_id(), "sessions": list})))
}

/// `POST /api/sessions/revoke-others`: sign out every other device.
async fn revoke_others(s: Session) -> Result<Json<Value>, SessionError> {
    let revoked = s.revoke_other_devices().await?;
    Ok(Json(json!({"revoked": revoked})))
}

async fn app_page(State(app): State<App>) -> Response {
    let Some([website, supertokens, session]) = app.bundles.names() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(
                "<p>supertokens-web-js is not installed: run <code>npm ci</code> in \
                 crates/sessiond-demo/web, or start the demo with --web-js-dir.</p>",
            ),
        )
            .into_response();
    };
    Html(
        APP_PAGE
            .replace("{{WEBSITE}}", website)
            .replace("{{SUPERTOKENS}}", supertokens)
            .replace("{{SESSION}}", session),
    )
    .into_response()
}

async fn bundle(State(app): State<App>, UrlPath(file): UrlPath<String>) -> Response {
    let b = &app.bundles;
    let known = [&b.website, &b.supertokens, &b.session]
        .into_iter()
        .any(|n| n.as_deref() == Some(file.as_str()));
    let Some(dir) = b.dir.as_ref().filter(|_| known) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(dir.join(&file)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
