//! Handles on one backend, as separate processes hold them.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use sessiond_core::Store;

/// Opens handles on one backend namespace (one SQLite file, one PostgreSQL schema, one Redis
/// key prefix): each call gives another handle on the same data, as another process would hold
/// one. [`conformance_tests!`](crate::conformance_tests) gives every case a factory of its own,
/// on a namespace no other case uses; cases about several processes open several handles.
///
/// Any `Fn() -> impl Future<Output = Arc<dyn Store>>` is a factory, so a backend passes a
/// closure that connects to its test namespace:
///
/// ```
/// use std::path::PathBuf;
/// use std::sync::Arc;
///
/// use sessiond_core::{MemoryStore, Store};
/// use sessiond_store_tests::StoreFactory;
///
/// async fn open(path: PathBuf) -> Arc<dyn Store> {
///     // A real backend opens `path` (or connects to a URL) here, and panics if it cannot.
///     # let _ = path;
///     Arc::new(MemoryStore::new())
/// }
///
/// fn stores(path: PathBuf) -> impl StoreFactory {
///     move || open(path.clone())
/// }
/// # let _ = stores(PathBuf::from("sessiond.db"));
/// ```
#[async_trait]
pub trait StoreFactory: Send + Sync + 'static {
    /// Opens another handle on the backend namespace.
    ///
    /// # Panics
    /// When the backend cannot be opened: a conformance case fails by panicking.
    async fn open(&self) -> Arc<dyn Store>;
}

#[async_trait]
impl<F, Fut> StoreFactory for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Arc<dyn Store>> + Send + 'static,
{
    async fn open(&self) -> Arc<dyn Store> {
        self().await
    }
}

/// The factory of a store that lives in one process's memory: every handle is `store` itself.
pub fn same_store(store: Arc<dyn Store>) -> impl StoreFactory {
    move || {
        let store = Arc::clone(&store);
        async move { store }
    }
}
