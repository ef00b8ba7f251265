//! The one place that decides whether a test that needs a service runs, skips or fails.
//!
//! Tests that need PostgreSQL, Redis or a local server binary read their configuration at run
//! time. Outside CI a missing service is a skip: the test prints one line saying what is
//! missing and returns. Under `CI=true` (set by `.ci/run`) the same absence is a failure, so a
//! suite that CI is meant to run can never pass by skipping.
//!
//! ```
//! use sessiond_store_tests::env;
//!
//! // A service this machine does not have: outside CI this prints a skip line.
//! # if !env::in_ci() {
//! assert_eq!(env::service_url("SESSIOND_TEST_NO_SUCH_SERVICE_URL"), None);
//! assert!(!env::prerequisite(false, "the no-such-server binary is not installed"));
//! # }
//! assert!(env::prerequisite(true, "never printed"));
//! ```

/// Whether this run is CI (`CI=true`), where every suite must run and none may skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The value of the environment variable `var` naming a test service (for example
/// `SESSIOND_TEST_POSTGRES_URL`), or `None` when it is unset or empty.
///
/// On `None` it prints a one-line skip notice naming `var` to stderr; the caller then returns
/// without testing anything.
///
/// # Panics
///
/// Under `CI=true` when `var` is unset or empty: the suite must run in CI, not skip.
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ if in_ci() => panic!("CI=true but {var} is not set: this suite must run in CI, not skip"),
        _ => {
            eprintln!("SKIP: {var} is not set; set it to run the tests that need this service");
            None
        }
    }
}

/// Whether a test's prerequisite is `present` (an installed binary, a running service), with
/// `what` describing its absence, e.g. `"redis-server is not installed"`.
///
/// Returns `true` when `present`; otherwise prints a one-line skip notice with `what` to stderr
/// and returns `false`, and the caller returns without testing anything.
///
/// # Panics
///
/// Under `CI=true` when not `present`: the test must run in CI, not skip.
pub fn prerequisite(present: bool, what: &str) -> bool {
    if present {
        return true;
    }
    assert!(!in_ci(), "CI=true but {what}: this test must run in CI, not skip");
    eprintln!("SKIP: {what}");
    false
}
