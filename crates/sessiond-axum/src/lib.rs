//! # sessiond-axum
//!
//! Sessions for axum and tower apps, as a layer and extractors.
//!
//! **Server-backed sessions** speaking the SuperTokens frontend protocol, over a
//! [`SessionManager`](sessiond_core::SessionManager) in this process or a remote
//! `sessiond serve`: configure [`Sessions`] once, add [`Sessions::layer`], and take a
//! [`Session`] (or [`MaybeSession`]) in any handler; [`SessionIssuer`] signs users in.
//!
//! **Stateless cookie sessions** (seed 003, no store): configure a
//! [`CookieSessions`](sessiond_cookie::CookieSessions) once, add [`CookieSessionLayer`], and take
//! a [`CookieSession`] in any handler.
//!
//! ```
//! use axum::{Json, Router, routing::{get, post}};
//! use serde_json::{Value, json};
//! use sessiond_axum::{CookieSession, CookieSessionLayer};
//! use sessiond_cookie::{CookieKey, CookieSessions, Overrides, Refresh, SessionConfig};
//!
//! async fn login(session: CookieSession) -> Json<Value> {
//!     let r = session.set(json!({"userId": 123, "role": "admin"}), Overrides::none());
//!     Json(json!({"ok": r.is_ok()}))
//! }
//!
//! async fn me(session: CookieSession) -> Json<Value> {
//!     Json(serde_json::to_value(session.get(Refresh::Never).await).unwrap_or_default())
//! }
//!
//! # fn main() -> Result<(), sessiond_cookie::Error> {
//! let sessions = CookieSessions::builder([CookieKey::generate()?])
//!     .session(SessionConfig::new("user_session"))
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/login", post(login))
//!     .route("/me", get(me))
//!     .layer(CookieSessionLayer::new(sessions));
//! # let _ = app; Ok(()) }
//! ```

mod server;
mod stateless;

pub use server::*;
pub use stateless::{CookieSession, CookieSessionLayer, CookieSessionService};
