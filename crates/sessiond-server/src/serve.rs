//! `sessiond serve`: open the store, start the manager, listen, shut down gracefully.

use std::net::SocketAddr;

use sessiond_core::{SessionManager, StartOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::{AppState, HttpOptions, service};
use crate::auth::ApiKeys;
use crate::connections::{self, ConnectionLimits};
use crate::settings::{Settings, SettingsError, redact_url};
use crate::store_url::{StoreUrlError, open_store};
use crate::telemetry::Metrics;

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
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("HTTP server error")]
    Http(#[source] std::io::Error),
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The manager behind it.
    pub manager: SessionManager,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl Server {
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

    /// Runs until the server stops by itself (its shutdown signal fired).
    ///
    /// # Errors
    /// Errors from serving or from the final flush.
    pub async fn wait(self) -> Result<(), ServeError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(ServeError::Http(std::io::Error::other(e))),
        }
    }
}

/// Starts serving with `settings`; stops on `stop` (or when [`Server::shutdown`] is called).
///
/// # Errors
/// [`ServeError`] naming what could not be set up.
pub async fn start(
    settings: &Settings,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Server, ServeError> {
    let config = settings.manager_config()?;
    let api_keys = settings.all_api_keys()?;
    if api_keys.is_empty() && !settings.listen.ip().is_loopback() {
        return Err(ServeError::NoApiKeyOnPublicAddress(settings.listen));
    }
    let store = open_store(&settings.store).await?;
    let manager = SessionManager::new(store, config)?;
    manager.start(StartOptions::default()).await?;
    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: settings.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServeError::Http)?;
    let state = AppState {
        manager: manager.clone(),
        anti_csrf_default: settings.anti_csrf,
        metrics: Metrics::install(),
    };
    let opts = HttpOptions {
        body_limit: settings.body_limit,
        api_keys: ApiKeys::new(&api_keys),
    };
    let svc = service(state, &opts);
    let limits = ConnectionLimits {
        header_read_timeout: settings.header_read_timeout(),
        body_read_timeout: settings.body_read_timeout(),
        max_connections: settings.max_connections,
        shutdown_timeout: settings.shutdown_timeout(),
    };
    let (tx, rx) = oneshot::channel::<()>();
    let m = manager.clone();
    tracing::info!(
        %addr,
        store = %redact_url(&settings.store),
        backend = m.store().backend(),
        api_keys = api_keys.len(),
        "sessiond listening"
    );
    let task = tokio::spawn(async move {
        let shutdown = async move {
            tokio::select! {
                () = stop => {},
                _ = rx => {},
            }
            tracing::info!("shutting down: finishing in-flight requests");
        };
        connections::serve(listener, svc, limits, shutdown).await;
        let stopped = m.stop().await.map_err(ServeError::Manager);
        tracing::info!("sessiond stopped");
        stopped
    });
    Ok(Server {
        addr,
        manager,
        shutdown: Some(tx),
        task,
    })
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
