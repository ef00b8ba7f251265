//! Logs and Prometheus metrics for requests and session events.
//!
//! # Security
//! The request log records method, route template, status and latency — never the query
//! string, headers or body, so tokens and keys cannot reach it.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::error::ErrorCode;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Session-event counters and the Prometheus renderer.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    handle: Option<PrometheusHandle>,
}

impl Metrics {
    /// Installs the process-wide Prometheus recorder (once) and returns a handle to it.
    pub fn install() -> Self {
        let handle = HANDLE.get_or_init(|| {
            let buckets = [
                0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                0.5, 1.0, 2.5,
            ];
            PrometheusBuilder::new()
                .set_buckets(&buckets)
                .ok()
                .and_then(|b| b.install_recorder().ok())
        });
        Self {
            handle: handle.clone(),
        }
    }

    /// The Prometheus text exposition, if metrics are installed.
    pub fn render(&self) -> Option<String> {
        self.handle.as_ref().map(PrometheusHandle::render)
    }

    /// A session was created.
    pub fn session_created(&self) {
        metrics::counter!("sessiond_sessions_created_total").increment(1);
    }

    /// A refresh succeeded.
    pub fn refreshed(&self) {
        metrics::counter!("sessiond_refreshes_total").increment(1);
    }

    /// A refresh-token replay was detected.
    pub fn theft_detected(&self) {
        metrics::counter!("sessiond_thefts_detected_total").increment(1);
    }
}

/// Middleware: counts and times every request by route template, logs it, and counts store
/// errors.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let secs = start.elapsed().as_secs_f64();
    let labels = [
        ("method", method.to_string()),
        ("route", route.clone()),
        ("status", status.to_string()),
    ];
    metrics::counter!("sessiond_http_requests_total", &labels).increment(1);
    metrics::histogram!(
        "sessiond_http_request_duration_seconds",
        &[("method", method.to_string()), ("route", route.clone())]
    )
    .record(secs);
    let code = resp.extensions().get::<ErrorCode>().map(|c| c.0);
    if code == Some("STORE_UNAVAILABLE") {
        metrics::counter!("sessiond_store_errors_total", &[("route", route.clone())]).increment(1);
    }
    if status >= 500 {
        tracing::warn!(%method, %route, status, code, latency_ms = secs * 1000.0, "request failed");
    } else {
        tracing::debug!(%method, %route, status, code, latency_ms = secs * 1000.0, "request");
    }
    resp
}
