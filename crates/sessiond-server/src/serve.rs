//! `sessiond serve`: listen, open the store (now or, when it is down, in the background), start
//! the manager, shut down gracefully within a deadline.
//!
//! When the store is down at startup the server listens anyway (see [`crate::readiness`]) and
//! a background task retries with exponential backoff (100 ms doubling to 5 s, ±20 % jitter),
//! logging one line per state change (unreachable, connected, ready), not one per attempt.

use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sessiond_core::{SessionManager, StartOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::{HttpOptions, service};
use crate::auth::ApiKeys;
use crate::connections::{self, ConnectionLimits};
use crate::deferred_store::DeferredStore;
use crate::readiness::Readiness;
use crate::redact::{describe, redact_url};
use crate::settings::{Settings, SettingsError};
use crate::state::AppState;
use crate::store_url::{StoreUrlError, check_store_url, open_store};
use crate::telemetry::Metrics;

/// First retry delay of the background start.
const RETRY_MIN: Duration = Duration::from_millis(100);
/// Longest retry delay of the background start.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A setting is invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreUrlError),
    /// The manager could not start (store unreachable, unusable keys).
    #[error("cannot start the session manager: {0}")]
    Manager(#[from] sessiond_core::Error),
    /// Listening without an API key on a non-loopback address.
    #[error(
        "refusing to listen on {0} without an API key: set --api-key or --api-key-file (or SESSIOND_API_KEYS / SESSIOND_API_KEY_FILE, or api_keys / api_key_file in the config file), or listen on a loopback address such as 127.0.0.1"
    )]
    NoApiKeyOnPublicAddress(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address that could not be bound.
        addr: SocketAddr,
        /// The OS error (address in use, permission denied…).
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("HTTP server error")]
    Http(#[source] std::io::Error),
}

/// A running server: its address, its manager, and the handle to stop it.
#[derive(Debug)]
pub struct Server {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The manager behind it. When the server started without its store, the manager is not
    /// started (and every operation fails as the store being unavailable) until
    /// [`Server::is_ready`].
    pub manager: SessionManager,
    readiness: Readiness,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl Server {
    /// Whether the store is connected and the manager started (until then, routes that need
    /// them answer 503 `STORE_UNAVAILABLE`).
    pub fn is_ready(&self) -> bool {
        self.readiness.is_ready()
    }

    /// Stops accepting, lets in-flight requests finish (up to the shutdown timeout), flushes
    /// the store.
    ///
    /// # Errors
    /// Errors from serving or from the final flush.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.wait().await
    }

    /// Runs until the server stops by itself (its shutdown signal fired, or the background
    /// start met an error that retrying cannot fix).
    ///
    /// # Errors
    /// Errors from serving, from the background start, or from the final flush.
    pub async fn wait(self) -> Result<(), ServeError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(ServeError::Http(std::io::Error::other(e))),
        }
    }
}

/// Starts serving with `settings`; stops on `stop` (or when [`Server::shutdown`] is called).
///
/// The store is tried once before this returns. When it is down (unreachable, or an SQLite
/// file that cannot be opened yet) the server starts anyway: `/healthz` answers, `/readyz` and
/// every route that needs the store answer 503 `STORE_UNAVAILABLE`, and a background task
/// retries (see the module documentation) until the store is there and the keys are loaded.
///
/// # Errors
/// [`ServeError`] naming what could not be set up: a bad setting, an unreadable or
/// world-readable API key file, a store URL that can never work, keys unusable with this
/// configuration, an address that cannot be bound.
pub async fn start(
    settings: &Settings, stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Server, ServeError> {
    let config = settings.manager_config()?;
    let api_keys = settings.all_api_keys()?;
    if api_keys.is_empty() && !settings.listen.ip().is_loopback() {
        return Err(ServeError::NoApiKeyOnPublicAddress(settings.listen));
    }
    check_store_url(&settings.store)?;
    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: settings.listen, source })?;
    let addr = listener.local_addr().map_err(ServeError::Http)?;
    let url = settings.store.clone();

    // One attempt now: a store that is up makes the server ready before it answers anything.
    let readiness = Readiness::not_ready();
    let mut unreachable = false;
    let (manager, deferred) = match open_store(&url).await {
        Ok(store) => (SessionManager::new(store, config)?, None),
        Err(e) if e.is_retryable() => {
            log_unreachable(&redact_url(&url), &describe(&e, &url));
            unreachable = true;
            let d = Arc::new(DeferredStore::new(DeferredStore::backend_of(&url)));
            let store: Arc<dyn sessiond_core::Store> = d.clone();
            (SessionManager::new(store, config)?, Some(d))
        }
        Err(e) => return Err(e.into()),
    };
    if deferred.is_none() {
        match manager.start(StartOptions::default()).await {
            Ok(()) => readiness.set_ready(),
            Err(sessiond_core::Error::Store(e)) => {
                log_unreachable(&redact_url(&url), &describe(&e, &url));
                unreachable = true;
            }
            Err(e) => return Err(ServeError::Manager(e)),
        }
    }
    let state = AppState {
        anti_csrf_default: settings.anti_csrf,
        metrics: Metrics::install(),
        ..AppState::new(manager.clone())
    };
    let stopping = state.stopping.clone();
    let opts = HttpOptions {
        body_limit: settings.body_limit,
        api_keys: ApiKeys::new(&api_keys),
        readiness: readiness.clone(),
    };
    let svc = service(state, &opts);
    let limits = ConnectionLimits {
        header_read_timeout: settings.header_read_timeout(),
        body_read_timeout: settings.body_read_timeout(),
        max_connections: settings.max_connections,
        shutdown_timeout: settings.shutdown_timeout(),
    };
    // Until ready, a background task keeps trying; an error it cannot fix stops the server.
    let (fatal_tx, fatal_rx) = oneshot::channel::<ServeError>();
    let background = (!readiness.is_ready()).then(|| {
        let (m, r) = (manager.clone(), readiness.clone());
        tokio::spawn(async move {
            if let Err(e) = become_ready(url, deferred, m, r, unreachable).await {
                tracing::error!(error = %e, "cannot start: stopping");
                let _ = fatal_tx.send(e);
            }
        })
    });
    let (tx, rx) = oneshot::channel::<()>();
    let m = manager.clone();
    tracing::info!(
        %addr,
        store = %redact_url(&settings.store),
        backend = m.store().backend(),
        api_keys = api_keys.len(),
        ready = readiness.is_ready(),
        "sessiond listening"
    );
    let task = tokio::spawn(async move {
        let fatal = Arc::new(parking_lot::Mutex::new(None));
        let slot = Arc::clone(&fatal);
        let shutdown = async move {
            tokio::select! {
                () = stop => {},
                _ = rx => {},
                Ok(e) = fatal_rx => {
                    *slot.lock() = Some(e);
                },
            }
            tracing::info!("shutting down: finishing in-flight requests");
            stopping.cancel();
        };
        connections::serve(listener, svc, limits, shutdown).await;
        if let Some(bg) = background {
            bg.abort();
        }
        let stopped = m.stop().await.map_err(ServeError::Manager);
        tracing::info!("sessiond stopped");
        match fatal.lock().take() {
            Some(e) => Err(e),
            None => stopped,
        }
    });
    Ok(Server { addr, manager, readiness, shutdown: Some(tx), task })
}

/// The one line logged when the store turns out to be unreachable (`store` redacted).
fn log_unreachable(store: &str, error: &str) {
    tracing::warn!(
        store,
        error,
        "store unreachable: answering 503 STORE_UNAVAILABLE and retrying in the background"
    );
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
async fn become_ready(
    url: String, deferred: Option<Arc<DeferredStore>>, manager: SessionManager, ready: Readiness,
    already_unreachable: bool,
) -> Result<(), ServeError> {
    let store = redact_url(&url);
    let mut phase = if already_unreachable { Phase::Unreachable } else { Phase::Starting };
    let mut base = RETRY_MIN;
    let mut delay = RETRY_MIN;
    let note_unreachable = |phase: &mut Phase, error: String| {
        if *phase != Phase::Unreachable {
            log_unreachable(&store, &error);
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
                    Err(e) => return Err(ServeError::Store(e)),
                }
            }
            match manager.start(StartOptions::default()).await {
                Ok(()) => Ok(Ok(())),
                Err(sessiond_core::Error::Store(e)) => Ok(Err(describe(&e, &url))),
                Err(e) => Err(ServeError::Manager(e)),
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

/// Resolves on SIGTERM or Ctrl-C.
pub async fn termination_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
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
