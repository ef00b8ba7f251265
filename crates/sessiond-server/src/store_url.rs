//! Opening a store from its URL, and telling a URL that can never work (a configuration
//! error: stop) from a store that is down (retry).

use std::sync::Arc;

use sessiond_core::{MemoryStore, Store, StoreError};
use sessiond_store_sqlite::SqliteStore;

use crate::redact::{describe, redact_url};

/// Why a store URL could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreUrlError {
    /// The scheme is not one sessiond knows.
    #[error(
        "unsupported store URL `{0}`: use sqlite://PATH, memory://, postgres://…, redis://… or redis+cluster://host:port,host:port"
    )]
    Unsupported(String),
    /// The URL names a known store but cannot work as written (malformed, an unknown or
    /// out-of-range parameter): a configuration error, never retryable.
    #[error("invalid store URL `{url}`")]
    Invalid {
        /// The URL, password redacted.
        url: String,
        /// What is wrong with it.
        #[source]
        source: OpenError,
    },
    /// The store could not be opened ([`StoreUrlError::is_retryable`] when it is down or
    /// unreachable).
    #[error("cannot open store `{url}`")]
    Open {
        /// The URL, password redacted.
        url: String,
        /// The driver's explanation.
        #[source]
        source: OpenError,
    },
}

impl StoreUrlError {
    /// Whether opening again later may succeed (the store is down or unreachable), as opposed
    /// to a URL that can never work (unknown scheme, malformed or unknown parameters).
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreUrlError::Unsupported(_) | StoreUrlError::Invalid { .. } => false,
            StoreUrlError::Open { source, .. } => source.retryable,
        }
    }
}

/// Why a store could not be opened: the driver's explanation, and whether it may pass.
///
/// # Security
/// The explanation is the driver's error chain flattened to text, because drivers sometimes
/// quote the URL they were given. When it quotes any piece of the URL's password it is
/// withheld whole (see [`crate::redact`]).
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct OpenError {
    detail: String,
    retryable: bool,
}

impl OpenError {
    /// Whether opening again later may succeed (never for a configuration that cannot work).
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// The error of opening the store at `url`: [`StoreUrlError::Invalid`] for a configuration
/// that cannot work, else [`StoreUrlError::Open`], retryable when the store is down or
/// unreachable (`down_means_retry` widens that to every other failure, for SQLite).
fn open_error(url: &str, e: &StoreError, down_means_retry: bool) -> StoreUrlError {
    // A configuration that cannot work (a malformed URL, a database the store refuses) is
    // never retried; the store says so with `StoreError::Config`.
    let config = matches!(e, StoreError::Config(_));
    let retryable = !config
        && (down_means_retry || matches!(e, StoreError::Unavailable(_) | StoreError::Closed));
    let url_shown = redact_url(url);
    let source = OpenError { detail: describe(e, url), retryable };
    if config {
        StoreUrlError::Invalid { url: url_shown, source }
    } else {
        StoreUrlError::Open { url: url_shown, source }
    }
}

/// Opens the store at `url`: `sqlite://PATH` (relative, or `sqlite:///abs/path`), `memory://`,
/// `postgres://user@host:port/db[?schema=…&pool_size=…]`, `redis://host:port[/db][?prefix=…]`,
/// `redis+cluster://host:port,host:port[?…]`.
///
/// # Errors
/// [`StoreUrlError`] naming the URL (with any password redacted);
/// [`StoreUrlError::is_retryable`] tells a store that is down from a URL that cannot work.
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreUrlError> {
    check_store_url(url)?;
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.to_owned();
        // A file that cannot be opened yet (a volume not mounted, a folder not writable) may
        // become openable: every SQLite failure is worth retrying.
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(path))
            .await
            .map_err(|e| open_error(url, &StoreError::unavailable(e), true))?
            .map_err(|e| open_error(url, &e, true))?;
        return Ok(Arc::new(store));
    }
    if url == "memory://" || url == "memory:" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = sessiond_store_postgres::PostgresStore::connect(url)
            .await
            .map_err(|e| open_error(url, &e, false))?;
        return Ok(Arc::new(store));
    }
    let store = sessiond_store_redis::RedisStore::connect(url)
        .await
        .map_err(|e| open_error(url, &e, false))?;
    Ok(Arc::new(store))
}

/// Checks what can be checked of `url` without connecting: the scheme, and for Redis the
/// options (PostgreSQL's are checked by its driver before it connects, and reported as a
/// non-retryable error).
///
/// # Errors
/// [`StoreUrlError`] (never retryable).
pub fn check_store_url(url: &str) -> Result<(), StoreUrlError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(StoreUrlError::Unsupported(url.to_owned()));
        }
        return Ok(());
    }
    if url == "memory://"
        || url == "memory:"
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        return Ok(());
    }
    if url.starts_with("redis://") || url.starts_with("redis+cluster://") {
        return sessiond_store_redis::RedisOptions::parse(url)
            .map(|_| ())
            .map_err(|e| open_error(url, &e, false));
    }
    Err(StoreUrlError::Unsupported(redact_url(url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_never_show_the_password() {
        for url in [
            "postgres://u:p@ss@127.0.0.1:1/db",
            "postgres://u:p%40ss@127.0.0.1:1/db",
            "postgres://u:p?ss@127.0.0.1:1/db",
            "postgres://u:p@ss@127.0.0.1:1/db?pool_size=0",
            "redis://:p@ss@127.0.0.1:1?timeout_ms=200",
            "redis://:p@ss@127.0.0.1:1?nope=1",
            "mongodb://u:p@ss@host/db",
        ] {
            let e = open_store(url).await.err().expect("cannot open");
            let mut text = format!("{e} {e:?}");
            let mut cur = std::error::Error::source(&e);
            while let Some(c) = cur {
                text.push_str(&c.to_string());
                cur = c.source();
            }
            assert!(
                !text.contains("p@ss") && !text.contains("p%40ss") && !text.contains("ss@"),
                "{url}: {text}"
            );
        }
    }

    #[tokio::test]
    async fn a_store_that_is_down_is_retryable_a_bad_url_is_not() {
        let down = open_store("postgres://u@127.0.0.1:1/db").await.err().unwrap();
        assert!(down.is_retryable(), "{down:?}");
        let down = open_store("redis://127.0.0.1:1?timeout_ms=200").await.err().unwrap();
        assert!(down.is_retryable(), "{down:?}");
        for bad in [
            "postgres://u@127.0.0.1:1/db?pool_size=0",
            "redis://127.0.0.1:1?nope=1",
            "mongodb://x",
            "sqlite://",
        ] {
            let e = open_store(bad).await.err().unwrap();
            assert!(!e.is_retryable(), "{bad}: {e:?}");
        }
        // A malformed URL of a known store is a configuration error, not a store that is down.
        for bad in [
            "postgres://u@127.0.0.1:1/db?pool_size=0",
            "redis://127.0.0.1:1?nope=1",
            "redis+cluster://127.0.0.1:1?timeout_ms=x",
        ] {
            let e = open_store(bad).await.err().unwrap();
            assert!(matches!(e, StoreUrlError::Invalid { .. }), "{bad}: {e:?}");
        }
    }
}
