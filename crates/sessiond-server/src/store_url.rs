//! Opening a store from its URL.

use std::sync::Arc;

use sessiond_core::{MemoryStore, Store, StoreError};
use sessiond_store_sqlite::SqliteStore;

use crate::redact::{redact_url, scrub};

/// Why a store URL could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreUrlError {
    /// The scheme is not one sessiond knows.
    #[error(
        "unsupported store URL `{0}`: use sqlite://PATH, memory://, postgres://…, redis://… or redis+cluster://host:port,host:port"
    )]
    Unsupported(String),
    /// The store could not be opened.
    #[error("cannot open store `{url}`")]
    Open {
        /// The URL, password redacted.
        url: String,
        /// Why.
        #[source]
        source: OpenError,
    },
}

impl StoreUrlError {
    /// Whether opening again later may succeed (the store is down or unreachable), as opposed
    /// to a URL that can never work (unknown scheme, malformed or unknown parameters).
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreUrlError::Unsupported(_) => false,
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
    fn new(e: &StoreError, url: &str, retryable: bool) -> Self {
        let mut detail = e.to_string();
        let mut cur = std::error::Error::source(e);
        while let Some(c) = cur {
            detail.push_str(": ");
            detail.push_str(&c.to_string());
            cur = c.source();
        }
        Self {
            detail: scrub(&detail, url),
            retryable,
        }
    }

    /// Whether opening again later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// Whether `e` from opening a store is a passing condition (down, unreachable, refusing) rather
/// than a URL that can never work.
fn retryable(e: &StoreError) -> bool {
    match e {
        StoreError::Unavailable(source) => !source.is::<sessiond_store_postgres::ConfigError>(),
        StoreError::Closed => true,
        _ => false,
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
    let open_err = |source: StoreError, retry: bool| StoreUrlError::Open {
        url: redact_url(url),
        source: OpenError::new(&source, url, retry),
    };
    check_store_url(url)?;
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.to_owned();
        // A file that cannot be opened yet (a volume not mounted, a folder not writable) may
        // become openable: every SQLite failure is worth retrying.
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(path))
            .await
            .map_err(|e| open_err(StoreError::unavailable(e), true))?
            .map_err(|e| open_err(e, true))?;
        return Ok(Arc::new(store));
    }
    if url == "memory://" || url == "memory:" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = sessiond_store_postgres::PostgresStore::connect(url)
            .await
            .map_err(|e| {
                let r = retryable(&e);
                open_err(e, r)
            })?;
        return Ok(Arc::new(store));
    }
    let store = sessiond_store_redis::RedisStore::connect(url)
        .await
        .map_err(|e| {
            let r = retryable(&e);
            open_err(e, r)
        })?;
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
            .map_err(|e| StoreUrlError::Open {
                url: redact_url(url),
                source: OpenError::new(&e, url, false),
            });
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
        let down = open_store("postgres://u@127.0.0.1:1/db")
            .await
            .err()
            .unwrap();
        assert!(down.is_retryable(), "{down:?}");
        let down = open_store("redis://127.0.0.1:1?timeout_ms=200")
            .await
            .err()
            .unwrap();
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
    }
}
