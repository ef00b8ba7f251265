//! Opening a store from its URL.

use std::sync::Arc;

use sessiond_core::{MemoryStore, Store, StoreError};
use sessiond_store_sqlite::SqliteStore;

use crate::settings::redact_url;

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
        source: StoreError,
    },
}

/// Opens the store at `url`: `sqlite://PATH` (relative, or `sqlite:///abs/path`), `memory://`,
/// `postgres://user@host:port/db[?schema=…&pool_size=…]`, `redis://host:port[/db][?prefix=…]`,
/// `redis+cluster://host:port,host:port[?…]`.
///
/// # Errors
/// [`StoreUrlError`] naming the URL (with any password redacted).
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreUrlError> {
    let open_err = |source| StoreUrlError::Open {
        url: redact_url(url),
        source,
    };
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(StoreUrlError::Unsupported(url.to_owned()));
        }
        let path = path.to_owned();
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(path))
            .await
            .map_err(|e| open_err(StoreError::unavailable(e)))?
            .map_err(open_err)?;
        return Ok(Arc::new(store));
    }
    if url == "memory://" || url == "memory:" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = sessiond_store_postgres::PostgresStore::connect(url)
            .await
            .map_err(open_err)?;
        return Ok(Arc::new(store));
    }
    if url.starts_with("redis://") || url.starts_with("redis+cluster://") {
        let store = sessiond_store_redis::RedisStore::connect(url)
            .await
            .map_err(open_err)?;
        return Ok(Arc::new(store));
    }
    Err(StoreUrlError::Unsupported(redact_url(url)))
}
