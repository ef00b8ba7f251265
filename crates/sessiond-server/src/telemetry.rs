//! Logs and Prometheus metrics for requests and session events.
//!
//! Every error is logged here, not where it is turned into a response: [`track`] reads the
//! [`ErrorReport`] an [`ApiError`](crate::error::ApiError) attaches, logs a failure on this
//! side at `error` with its detail, and removes the report before the response leaves.
//! [`report_escaped`] does the same outside the panic guard, for the one response that never
//! passes through [`track`]: the 500 that replaces a handler that panicked.
//!
//! # Security
//! The request log records method, route template, status, error code and latency — never the
//! query string, headers or body, so tokens and keys cannot reach it. The detail of a failure
//! is the error chain of the store or the manager, whose errors never quote a token.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use parking_lot::RwLock;
use sessiond_core::Code;

use crate::error::ErrorReport;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Registers every metric with its help text, counters at zero, so they are scraped from the
/// first request on.
fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!("sessiond_http_requests_total", "HTTP requests by method, route and status");
    describe_histogram!(
        "sessiond_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by method and route"
    );
    describe_counter!("sessiond_sessions_created_total", "sessions created");
    describe_counter!("sessiond_refreshes_total", "successful refresh-token rotations");
    describe_counter!(
        "sessiond_thefts_detected_total",
        "replayed refresh tokens detected (the session was revoked)"
    );
    describe_counter!("sessiond_store_errors_total", "requests that failed because the store did");
    for name in [
        "sessiond_sessions_created_total",
        "sessiond_refreshes_total",
        "sessiond_thefts_detected_total",
        "sessiond_store_errors_total",
    ] {
        metrics::counter!(name).increment(0);
    }
}

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
            let handle = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .ok()
                .and_then(|b| b.install_recorder().ok());
            describe();
            handle
        });
        Self { handle: handle.clone() }
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

/// Metric handles of one route, by method and status, so a request records into existing
/// handles instead of building and hashing label sets each time.
#[derive(Default)]
struct RouteHandles {
    counters: Vec<(&'static str, u16, Counter)>,
    histograms: Vec<(&'static str, Histogram)>,
}

/// The method as a label; anything unusual is `OTHER`, so clients cannot grow the metric set.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

static HANDLES: OnceLock<RwLock<HashMap<String, RouteHandles>>> = OnceLock::new();

fn record(method: &'static str, route: &str, status: u16, secs: f64) {
    let map = HANDLES.get_or_init(|| RwLock::new(HashMap::new()));
    {
        let guard = map.read();
        if let Some(h) = guard.get(route) {
            let counter = h.counters.iter().find(|(m, s, _)| *m == method && *s == status);
            let histogram = h.histograms.iter().find(|(m, _)| *m == method);
            if let (Some((_, _, c)), Some((_, hist))) = (counter, histogram) {
                c.increment(1);
                hist.record(secs);
                return;
            }
        }
    }
    let mut guard = map.write();
    let h = guard.entry(route.to_owned()).or_default();
    if !h.counters.iter().any(|(m, s, _)| *m == method && *s == status) {
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ];
        h.counters.push((
            method,
            status,
            metrics::counter!("sessiond_http_requests_total", &labels),
        ));
    }
    if !h.histograms.iter().any(|(m, _)| *m == method) {
        let labels = [("method", method.to_owned()), ("route", route.to_owned())];
        h.histograms
            .push((method, metrics::histogram!("sessiond_http_request_duration_seconds", &labels)));
    }
    drop(guard);
    record(method, route, status, secs);
}

/// Middleware: counts and times every request by route template, logs it (and the detail of
/// a failure on this side), and counts store errors.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut resp = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let status = resp.status().as_u16();
    let secs = start.elapsed().as_secs_f64();
    record(method, route, status, secs);
    let report = resp.extensions_mut().remove::<ErrorReport>();
    let code = report.as_ref().map(|r| r.code.as_str());
    if report.as_ref().is_some_and(|r| r.code == Code::StoreUnavailable) {
        metrics::counter!("sessiond_store_errors_total").increment(1);
    }
    if let Some(f) = report.and_then(|r| r.failure) {
        tracing::error!(method, route, error = %f.detail, "{}", f.what);
    }
    if status >= 500 {
        tracing::warn!(method, route, status, code, latency_ms = secs * 1000.0, "request failed");
    } else {
        tracing::debug!(method, route, status, code, latency_ms = secs * 1000.0, "request");
    }
    resp
}

/// Logs and removes an [`ErrorReport`] that no [`track`] layer took: the response to a handler
/// that panicked, made outside the router by the panic guard.
pub fn report_escaped(mut resp: Response) -> Response {
    if let Some(f) = resp.extensions_mut().remove::<ErrorReport>().and_then(|r| r.failure) {
        tracing::error!(error = %f.detail, "{}", f.what);
    }
    resp
}
