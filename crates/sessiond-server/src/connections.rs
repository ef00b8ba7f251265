//! Accepting and serving HTTP/1.1 connections, with the limits that keep slow or stalled
//! clients from starving the others.
//!
//! - **Open connections** are capped ([`ConnectionLimits::max_connections`]): the accept loop
//!   takes a permit before it accepts, so connections over the cap wait in the kernel's listen
//!   backlog (or are refused by it when that is full) and never cost the connections being
//!   served anything.
//! - **Headers** must arrive within [`ConnectionLimits::header_read_timeout`] (hyper's
//!   `header_read_timeout`, on a Tokio timer), counted from the connection's start or, on a
//!   keep-alive connection, from the end of the previous response; so a connection that sends
//!   half a request line and stalls, or sits idle, is closed then.
//! - **Bodies** must arrive within [`ConnectionLimits::body_read_timeout`] of the headers:
//!   each request carries a [`BodyDeadline`] that the JSON extractor enforces (408
//!   `REQUEST_TIMEOUT`, and the connection is closed).
//! - **Shutdown**: once the shutdown future resolves the listener closes, idle connections
//!   close at once, in-flight requests get [`ConnectionLimits::shutdown_timeout`] to finish,
//!   and whatever is still open then is closed.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::{Service, ServiceExt as _};

/// When the body of a request must have arrived: [`serve`] puts one on every request (from
/// [`ConnectionLimits::body_read_timeout`]), and the JSON body extractor answers 408
/// `REQUEST_TIMEOUT` when it passes. Absent (a router driven without [`serve`]): no deadline.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    /// The instant the body must be in by.
    pub at: tokio::time::Instant,
    /// The timeout it was computed from, seconds (for the error message).
    pub secs: u64,
}

/// The limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time to receive a request's line and headers (and for an idle keep-alive connection).
    pub header_read_timeout: Duration,
    /// Time to receive a request's body once its headers are in.
    pub body_read_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time in-flight requests get after shutdown starts.
    pub shutdown_timeout: Duration,
}

/// Whether an accept error concerns only the one connection (the loop goes on at once) rather
/// than the process (out of file descriptors: the loop pauses).
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}

/// Serves `svc` on `listener` within `limits` until `shutdown` resolves, then shuts down as the
/// module documentation says. Returns once every connection is closed.
pub async fn serve<S>(
    listener: TcpListener, svc: S, limits: ConnectionLimits, shutdown: impl Future<Output = ()>,
) where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (close_tx, close_rx) = watch::channel(false);
    let mut conns: JoinSet<()> = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let mut shutdown = pin!(shutdown);
    loop {
        // Finished connections leave the set here, so it only holds open ones.
        while conns.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = Arc::clone(&permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept connections; retrying in 1 s");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let svc = svc.clone();
        let builder = builder.clone();
        let mut close_rx = close_rx.clone();
        let body_timeout = limits.body_read_timeout;
        conns.spawn(async move {
            let _permit = permit;
            let hyper_svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(BodyDeadline {
                    at: tokio::time::Instant::now() + body_timeout,
                    secs: body_timeout.as_secs(),
                });
                svc.clone().oneshot(req)
            });
            let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), hyper_svc));
            let mut closing = false;
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    changed = close_rx.wait_for(|c| *c), if !closing => {
                        closing = true;
                        if changed.is_ok() {
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = close_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = conns.len(),
            shutdown_timeout_s = limits.shutdown_timeout.as_secs(),
            "shutdown deadline reached: closing the connections still open"
        );
        conns.shutdown().await;
    }
}
