//! The stateless mode: seed 003's SvelteKit example on cookie sessions, route for route.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sessiond_axum::{CookieSession, CookieSessionLayer};
use sessiond_cookie::{CookieSessions, Error, Overrides, PayloadInterface, Refresh};
use sessiond_core::Code;

use crate::html::{escape, login_form, page};
use crate::users::{SignInError, Users};

/// The cookie of a signed-in user.
pub const USER_SESSION: &str = "user_session";
/// The cookie of a signed-in administrator.
pub const ADMIN_SESSION: &str = "admin_session";

#[derive(Clone)]
struct App {
    users: Users,
}

/// The stateless demo's routes over `sessions` (which must register `user_session` and
/// `admin_session`).
pub fn router(sessions: CookieSessions, users: Users) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/dashboard", get(dashboard))
        .route("/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/prefs", post(prefs))
        .route("/api/clear", post(clear))
        .route("/admin", get(admin_page))
        .route("/admin/login", post(admin_login))
        .route("/admin/logout", post(admin_logout))
        .route("/admin/users/{name}/disable", post(disable_user))
        .with_state(App { users })
        .layer(CookieSessionLayer::new(sessions))
}

/// `user` and `password`, from a form or a JSON body.
#[derive(Debug, Deserialize)]
struct Credentials {
    user: String,
    password: String,
}

impl<S: Send + Sync> FromRequest<S> for Credentials {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"));
        let parsed = if json {
            Json::<Credentials>::from_request(req, state)
                .await
                .map(|Json(c)| c)
                .map_err(|e| e.body_text())
        } else {
            Form::<Credentials>::from_request(req, state)
                .await
                .map(|Form(c)| c)
                .map_err(|e| e.body_text())
        };
        parsed.map_err(|m| error(StatusCode::BAD_REQUEST, Code::InvalidInput.as_str(), &m))
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

fn cookie_error(e: &Error) -> Response {
    let status = match e {
        Error::NoSession => StatusCode::UNAUTHORIZED,
        Error::CookieTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::NotAnObject | Error::ReservedClaim(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.code(), &e.to_string())
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// The dashboard's refresh (seed 003's "protected route" callback): look the user up again;
/// a disabled or unknown user is not refreshed, and the role is re-read.
fn refresh_from(users: &Users) -> Refresh {
    let users = users.clone();
    Refresh::with(move |mut old| {
        let users = users.clone();
        async move {
            let id = old.get("userId")?.as_str()?.to_owned();
            let role = users.active_role(&id)?;
            old.insert("role".to_owned(), Value::from(role));
            Some(Value::Object(old))
        }
    })
}

fn user_id(p: &PayloadInterface) -> Option<&str> {
    p.valid_payload()?.get("userId")?.as_str()
}

async fn home(session: CookieSession) -> impl IntoResponse {
    let who = session.named(USER_SESSION).get(Refresh::Never).await;
    let status = match user_id(&who) {
        Some(u) => format!(
            "<p>Signed in as <b id=\"user\">{}</b>. <a href=\"/dashboard\">Dashboard</a></p>",
            escape(u)
        ),
        None => "<p>Not signed in. <a href=\"/login\">Sign in</a></p>".to_owned(),
    };
    page("sessiond demo", &status)
}

async fn login_page() -> impl IntoResponse {
    page(
        "Sign in",
        &format!(
            "{}<h2>Administrators</h2>{}",
            login_form("/login", "Sign in", "login"),
            login_form("/admin/login", "Sign in as administrator", "admin-login")
        ),
    )
}

fn sign_in_failed(e: SignInError) -> Response {
    let (status, text) = match e {
        SignInError::BadCredentials => (StatusCode::UNAUTHORIZED, "Wrong user name or password."),
        SignInError::Disabled => (StatusCode::FORBIDDEN, "This account is disabled."),
    };
    (
        status,
        page(
            "Sign-in failed",
            &format!("<p id=\"error\">{text}</p>{}", login_form("/login", "Sign in", "login")),
        ),
    )
        .into_response()
}

async fn login(State(app): State<App>, session: CookieSession, c: Credentials) -> Response {
    let role = match app.users.sign_in(&c.user, &c.password) {
        Ok(r) => r,
        Err(e) => return sign_in_failed(e),
    };
    let data = json!({"userId": c.user, "role": role, "prefs": {"theme": "light", "lang": "en"}});
    match session.named(USER_SESSION).set(data, Overrides::none()) {
        Ok(_) => Redirect::to("/dashboard").into_response(),
        Err(e) => cookie_error(&e),
    }
}

async fn dashboard(State(app): State<App>, session: CookieSession) -> Response {
    let r = session.named(USER_SESSION).get(refresh_from(&app.users)).await;
    let Some(user) = user_id(&r) else {
        return Redirect::to("/login").into_response();
    };
    let p = &r.payload;
    let body = format!(
        "<p>Signed in as <b id=\"user\">{user}</b> (role <span id=\"role\">{role}</span>).</p>\
         <p>Theme <span id=\"theme\">{theme}</span>, language <span id=\"lang\">{lang}</span>.</p>\
         <p>Token issued <span id=\"iat\">{iat}</span>, expires <span id=\"exp\">{exp}</span>.</p>\
         <form method=\"post\" action=\"/logout\"><button id=\"logout\">Sign out</button></form>",
        user = escape(user),
        role = escape(p["role"].as_str().unwrap_or_default()),
        theme = escape(p["prefs"]["theme"].as_str().unwrap_or_default()),
        lang = escape(p["prefs"]["lang"].as_str().unwrap_or_default()),
        iat = r.iat,
        exp = r.exp,
    );
    page("Dashboard", &body).into_response()
}

async fn logout(session: CookieSession) -> Redirect {
    session.named(USER_SESSION).delete();
    Redirect::to("/")
}

/// Seed 003's API endpoint: the session as `PayloadInterface`, 401 when there is none or it
/// has expired (no refresh here).
async fn me(session: CookieSession) -> Response {
    let r = session.named(USER_SESSION).get(Refresh::Never).await;
    let status = if r.is_valid() { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
    (status, Json(r)).into_response()
}

/// Deep-merges the body into the session: `{"prefs": {...}}` is merged as is, any other
/// object is taken as the prefs to merge (`{"theme": "dark"}` = `{"prefs": {"theme": "dark"}}`).
async fn prefs(session: CookieSession, body: Result<Json<Value>, JsonRejection>) -> Response {
    let body = match body {
        Ok(Json(v)) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, "INVALID_JSON", &e.body_text()),
    };
    let Some(obj) = body.as_object() else {
        return error(
            StatusCode::BAD_REQUEST,
            Code::InvalidInput.as_str(),
            "the body must be a JSON object",
        );
    };
    let patch = if obj.len() == 1 && obj.get("prefs").is_some_and(Value::is_object) {
        body
    } else {
        json!({"prefs": body})
    };
    match session.named(USER_SESSION).update(patch).await {
        Ok(r) => Json(r).into_response(),
        Err(e) => cookie_error(&e),
    }
}

async fn clear(session: CookieSession) -> Response {
    let s = session.named(USER_SESSION);
    if let Err(e) = s.clear().await {
        return cookie_error(&e);
    }
    Json(s.get(Refresh::Never).await).into_response()
}

async fn admin_login(State(app): State<App>, session: CookieSession, c: Credentials) -> Response {
    let role = match app.users.sign_in(&c.user, &c.password) {
        Ok(r) => r,
        Err(e) => return sign_in_failed(e),
    };
    if role != "admin" {
        return (
            StatusCode::FORBIDDEN,
            page("Not an administrator", "<p id=\"error\">Administrators only.</p>"),
        )
            .into_response();
    }
    let data = json!({"userId": c.user, "role": role});
    match session.named(ADMIN_SESSION).set(data, Overrides::none()) {
        Ok(_) => Redirect::to("/admin").into_response(),
        Err(e) => cookie_error(&e),
    }
}

async fn admin_logout(session: CookieSession) -> Redirect {
    session.named(ADMIN_SESSION).delete();
    Redirect::to("/")
}

/// The administrator of a valid `admin_session` who is still an enabled admin.
async fn current_admin(app: &App, session: &CookieSession) -> Option<String> {
    let r = session.named(ADMIN_SESSION).get(Refresh::Never).await;
    let id = user_id(&r)?.to_owned();
    (app.users.active_role(&id).as_deref() == Some("admin")).then_some(id)
}

async fn admin_page(State(app): State<App>, session: CookieSession) -> Response {
    let Some(admin) = current_admin(&app, &session).await else {
        return Redirect::to("/login").into_response();
    };
    let rows: String = app
        .users
        .list()
        .into_iter()
        .map(|(name, role, disabled)| {
            let n = escape(&name);
            let action = if disabled {
                "disabled".to_owned()
            } else {
                format!(
                    "<form method=\"post\" action=\"/admin/users/{n}/disable\" style=\"display:inline\">\
                     <button id=\"disable-{n}\">Disable</button></form>"
                )
            };
            format!("<li>{n} ({}) {action}</li>", escape(&role))
        })
        .collect();
    page(
        "Administration",
        &format!(
            "<p>Administrator <b id=\"admin\">{}</b>.</p><ul>{rows}</ul>\
             <form method=\"post\" action=\"/admin/logout\"><button>Sign out</button></form>",
            escape(&admin)
        ),
    )
    .into_response()
}

async fn disable_user(
    State(app): State<App>, session: CookieSession, Path(name): Path<String>, headers: HeaderMap,
) -> Response {
    if current_admin(&app, &session).await.is_none() {
        return error(
            StatusCode::UNAUTHORIZED,
            "ADMIN_SESSION_REQUIRED",
            "sign in at /admin/login first",
        );
    }
    if !app.users.disable(&name) {
        return error(StatusCode::NOT_FOUND, "NO_SUCH_USER", "no such user");
    }
    tracing::info!(user = %name, "user disabled");
    if wants_html(&headers) {
        Redirect::to("/admin").into_response()
    } else {
        Json(json!({"disabled": name})).into_response()
    }
}
