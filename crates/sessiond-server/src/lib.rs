//! # sessiond-server
//!
//! sessiond's HTTP service as a library: the SuperTokens Core Driver Interface 5.4 session and
//! JWT endpoints, sessiond's own `/sessiond/v1` endpoints, health, readiness and metrics, the
//! server loop that runs them, its settings and the store URLs. The `sessiond` binary (crate
//! `sessiond`) is `serve` on top of this, plus the CLI client commands.
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
pub mod extract;
pub mod handlers;
pub mod openapi;
pub mod readiness;
pub mod redact;
pub mod scope;
pub mod serve;
pub mod settings;
pub mod store_url;
pub mod telemetry;

pub use app::{AppState, HttpOptions, router, service};
pub use error::ApiError;
pub use serve::{ServeError, Server, start, termination_signal};
pub use settings::Settings;
pub use store_url::open_store;
