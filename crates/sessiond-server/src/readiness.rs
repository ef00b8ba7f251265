//! Starting without the store: [`Readiness`], and the [`gate`] that answers 503 until the
//! server is ready.
//!
//! `sessiond serve` listens even when its store is down (PostgreSQL or Redis unreachable, an
//! SQLite file that cannot be opened yet). Until the store is connected and the manager has
//! loaded or created its keys, `/healthz`, `/hello`, `/apiversion`, `/metrics`,
//! `/openapi.json` and `/user/id` answer as usual and every other route (the JWKS and
//! `/readyz` included) is 503 `STORE_UNAVAILABLE`. The background task that gets the server
//! ready is in [`crate::serve`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Routes that answer before the store is connected: they need neither the store nor keys.
pub const WITHOUT_STORE: &[&str] =
    &["/healthz", "/hello", "/apiversion", "/metrics", "/openapi.json", "/user/id"];

/// Whether the server is ready: its store connected and its manager started. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Readiness(Arc<AtomicBool>);

impl Default for Readiness {
    /// Ready: a router built around a started manager (as in-process users build it).
    fn default() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
}

impl Readiness {
    /// Not ready: routes that need the store answer 503 until the background start sets it.
    pub fn not_ready() -> Self {
        Self(Arc::new(AtomicBool::new(false)))
    }

    /// Whether the server is ready.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    pub(crate) fn set_ready(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Middleware: before the server is ready, 503 `STORE_UNAVAILABLE` for every route that needs
/// the store or the keys. Unknown routes still get their 404.
pub async fn gate(State(ready): State<Readiness>, req: Request, next: Next) -> Response {
    if ready.is_ready() {
        return next.run(req).await;
    }
    let needs_store =
        req.extensions().get::<MatchedPath>().is_some_and(|p| !WITHOUT_STORE.contains(&p.as_str()));
    if needs_store {
        return ApiError::NotReady.into_response();
    }
    next.run(req).await
}
