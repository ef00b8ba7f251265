//! # sessiond-server
//!
//! sessiond's HTTP service as a library: the SuperTokens Core Driver Interface 5.4 session and
//! JWT endpoints, sessiond's own `/sessiond/v1` endpoints, health, readiness and metrics, the
//! server loop that runs them, its settings and the store URLs. The `sessiond` binary (crate
//! `sessiond`) is `serve` on top of this, plus the CLI client commands.
//!
//! Two ways in: [`start`] runs the whole server from [`Settings`] (listener, store, background
//! start, graceful shutdown); [`router`] / [`service`] give the routes alone, around a
//! [`SessionManager`](sessiond_core::SessionManager) you built, for your own server or for
//! tests that drive them with `tower::ServiceExt::oneshot`. The crate's README has the module
//! map, how a request flows, and the steps to add an endpoint.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sessiond_server::ServeError> {
//! let settings = sessiond_server::Settings::default(); // 127.0.0.1:3567, sqlite://sessiond-data/sessiond.db
//! let server = sessiond_server::start(&settings, sessiond_server::termination_signal()).await?;
//! server.wait().await
//! # }
//! ```

pub mod app;
pub mod auth;
pub mod connections;
pub mod deferred_store;
pub mod error;
mod extract;
mod handlers;
pub mod openapi;
pub mod readiness;
pub mod redact;
mod scope;
pub mod serve;
pub mod settings;
pub mod state;
pub mod store_url;
pub mod telemetry;

pub use app::{HttpOptions, route_paths, router, service};
pub use error::ApiError;
pub use serve::{ServeError, Server, start, termination_signal};
pub use sessiond_core::error_chain;
pub use settings::{LogFormat, Settings};
pub use state::AppState;
pub use store_url::open_store;
pub use telemetry::Metrics;
