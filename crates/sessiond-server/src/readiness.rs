//! Starting without the store: readiness, the gate that answers 503 until the server is
//! ready, and the background task that gets it there.
//!
//! `sessiond serve` listens even when its store is down (PostgreSQL or Redis unreachable, an
//! SQLite file that cannot be opened yet). Until the store is connected and the manager has
//! loaded or created its keys, `/healthz`, `/hello`, `/apiversion`, `/metrics`,
//! `/openapi.json` and `/user/id` answer as usual and every other route (the JWKS and
//! `/readyz` included) is 503 `STORE_UNAVAILABLE`. In the background, [`become_ready`] retries
//! with exponential backoff (100 ms doubling to 5 s, ±20 % jitter) and logs one line per state
//! change (unreachable, connected, ready), not one per attempt.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sessiond_core::{SessionManager, StartOptions};

use crate::deferred_store::DeferredStore;
use crate::error::ApiError;
use crate::redact::{redact_url, scrub};
use crate::store_url::open_store;

/// First retry delay.
pub const RETRY_MIN: Duration = Duration::from_millis(100);
/// Longest retry delay.
pub const RETRY_MAX: Duration = Duration::from_secs(5);

/// Routes that answer before the store is connected: they need neither the store nor keys.
pub const WITHOUT_STORE: &[&str] = &[
    "/healthz",
    "/hello",
    "/apiversion",
    "/metrics",
    "/openapi.json",
    "/user/id",
];

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
    /// Not ready yet.
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
    let needs_store = req
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| !WITHOUT_STORE.contains(&p.as_str()));
    if needs_store {
        return ApiError::NotReady.into_response();
    }
    next.run(req).await
}

/// The flattened error chain of `e`, with anything quoting the store URL's password withheld.
pub(crate) fn describe(e: &dyn std::error::Error, url: &str) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    scrub(&s, url)
}

/// The next delay after `current`: doubled, capped, with ±20 % jitter so that many
/// processes waiting for one store do not retry in lockstep.
fn next_delay(current: Duration) -> (Duration, Duration) {
    let base = current.saturating_mul(2).min(RETRY_MAX);
    let r = RandomState::new().hash_one(current.as_nanos()) % 1000;
    let jittered = base.mul_f64(0.8 + 0.4 * (r as f64) / 1000.0);
    (jittered.max(RETRY_MIN), base)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Starting,
    Unreachable,
    Connected,
}

/// Gets the server ready in the background: connects `deferred` (when given) to the store at
/// `url`, then starts `manager` (loads or creates the keys, starts key sync and the sweep),
/// retrying with backoff; then marks `ready`.
///
/// # Errors
/// A failure that retrying cannot fix (a store URL that can never work, keys that cannot be
/// used with this configuration): the server should stop with it.
pub(crate) async fn become_ready(
    url: String,
    deferred: Option<Arc<DeferredStore>>,
    manager: SessionManager,
    ready: Readiness,
    already_unreachable: bool,
) -> Result<(), crate::serve::ServeError> {
    let store = redact_url(&url);
    let mut phase = if already_unreachable {
        Phase::Unreachable
    } else {
        Phase::Starting
    };
    let mut base = RETRY_MIN;
    let mut delay = RETRY_MIN;
    let note_unreachable = |phase: &mut Phase, error: String| {
        if *phase != Phase::Unreachable {
            tracing::warn!(
                store = %store,
                error,
                "store unreachable: answering 503 STORE_UNAVAILABLE and retrying in the background"
            );
            *phase = Phase::Unreachable;
        } else {
            tracing::debug!(store = %store, error, "store still unreachable");
        }
    };
    loop {
        let step = async {
            if let Some(d) = &deferred
                && !d.is_connected()
            {
                match open_store(&url).await {
                    Ok(s) => {
                        d.connect(s);
                        tracing::info!(store = %store, "store connected: loading the signing keys");
                        phase = Phase::Connected;
                    }
                    Err(e) if e.is_retryable() => return Ok(Err(describe(&e, &url))),
                    Err(e) => return Err(crate::serve::ServeError::Store(e)),
                }
            }
            match manager.start(StartOptions::default()).await {
                Ok(()) => Ok(Ok(())),
                Err(sessiond_core::Error::Store(e)) => Ok(Err(describe(&e, &url))),
                Err(e) => Err(crate::serve::ServeError::Manager(e)),
            }
        };
        match step.await? {
            Ok(()) => {
                ready.set_ready();
                tracing::info!(store = %store, "sessiond ready");
                return Ok(());
            }
            Err(error) => note_unreachable(&mut phase, error),
        }
        tokio::time::sleep(delay).await;
        (delay, base) = next_delay(base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter() {
        let mut base = RETRY_MIN;
        let mut seen = Vec::new();
        for _ in 0..12 {
            let d;
            (d, base) = next_delay(base);
            seen.push(d);
            assert!(d >= RETRY_MIN && d <= RETRY_MAX.mul_f64(1.2), "{d:?}");
        }
        assert_eq!(base, RETRY_MAX);
        assert!(seen[0] < Duration::from_millis(300), "{seen:?}");
        assert!(*seen.last().unwrap_or(&Duration::ZERO) >= RETRY_MAX.mul_f64(0.8));
    }
}
