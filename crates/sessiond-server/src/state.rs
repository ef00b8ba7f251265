//! [`AppState`]: what every handler gets, in its own file so that the router (`app`) and the
//! handlers both depend on it and not on each other.

use sessiond_core::SessionManager;
use tokio_util::sync::CancellationToken;

use crate::telemetry::Metrics;

/// What the handlers share: the manager they call, the counters they bump, and the signal that
/// ends long-lived responses. Cheap to clone (every field is a handle).
#[derive(Clone, Debug)]
pub struct AppState {
    /// The session manager every endpoint calls.
    pub manager: SessionManager,
    /// Whether `POST /recipe/session` issues an anti-CSRF token when the request does not say
    /// (`enableAntiCsrf` absent).
    pub anti_csrf_default: bool,
    /// Session-event counters and the Prometheus renderer behind `/metrics`.
    pub metrics: Metrics,
    /// Cancelled when the server starts shutting down: long-lived responses (the revocation
    /// stream) end then, so they do not hold the shutdown for its whole deadline.
    pub stopping: CancellationToken,
}

impl AppState {
    /// The state of a server over `manager` with the defaults: no anti-CSRF token unless asked,
    /// counters of its own (not installed as the process's `/metrics`), and not stopping.
    pub fn new(manager: SessionManager) -> Self {
        AppState {
            manager,
            anti_csrf_default: false,
            metrics: Metrics::default(),
            stopping: CancellationToken::new(),
        }
    }
}
