//! Counters for work no request reports on: store failures in background tasks (activity
//! records, the expired-session sweep, key maintenance). They go through the `metrics` facade:
//! the HTTP service exports them with its own; without a recorder they cost nothing.

/// The counter shared with the HTTP layer, which counts requests that failed on the store.
pub(crate) const STORE_ERRORS: &str = "sessiond_store_errors_total";

/// Counts one store failure.
pub(crate) fn store_error() {
    metrics::counter!(STORE_ERRORS).increment(1);
}
