//! The `SessionManager` under measurement: starting one on a store, the tokens to verify, and
//! its hot paths (create, verify, refresh) as operations for the harness. The in-process,
//! server-store, HTTP and revocation figures all drive the manager through these.

use std::sync::Arc;

use sessiond_core::{
    ManagerConfig, NewSession, RefreshOptions, SessionManager, StartOptions, Store, VerifyOptions,
};
use tokio::sync::Mutex;

/// A started manager on `store` with `config`.
pub(crate) async fn start(store: Arc<dyn Store>, config: ManagerConfig) -> SessionManager {
    let m = SessionManager::new(store, config).expect("config");
    m.start(StartOptions::default()).await.expect("start");
    m
}

/// The access tokens of sessions `new_session(0..n)`.
pub(crate) async fn access_tokens(
    m: &SessionManager, n: u64, new_session: fn(u64) -> NewSession,
) -> Arc<Vec<String>> {
    let mut tokens = Vec::new();
    for i in 0..n {
        tokens
            .push(m.create(new_session(i)).await.expect("create").tokens.access.token.into_inner());
    }
    Arc::new(tokens)
}

// The operations are `async fn`s taking their own handles (a closure cannot return an `impl
// Future` from a function), so each figure's closure is one call: `move |_, i|
// manager::create(m.clone(), new_session(i))`.

/// Creates one session.
pub(crate) async fn create(m: SessionManager, session: NewSession) {
    m.create(session).await.expect("create");
}

/// Verifies `tokens[i % len]` with `opts` (the signature alone, or the store too).
pub(crate) async fn verify(
    m: SessionManager, tokens: Arc<Vec<String>>, i: u64, opts: VerifyOptions<'static>,
) {
    m.verify(&tokens[(i as usize) % tokens.len()], opts).await.expect("verify");
}

/// The refresh token of one session per task: each task refreshes its own chain.
pub(crate) type Chains = Arc<Vec<Mutex<String>>>;

/// Sessions `new_session(0..tasks)`, one chain per task.
pub(crate) async fn chains(
    m: &SessionManager, tasks: usize, new_session: fn(u64) -> NewSession,
) -> Chains {
    let mut chains = Vec::new();
    for i in 0..tasks {
        let s = m.create(new_session(i as u64)).await.expect("create");
        chains.push(Mutex::new(s.tokens.refresh.token.into_inner()));
    }
    Arc::new(chains)
}

/// Refreshes `task`'s chain once.
pub(crate) async fn refresh(m: SessionManager, chains: Chains, task: usize) {
    let mut slot = chains[task].lock().await;
    let r = m.refresh(&slot, RefreshOptions::default()).await.expect("refresh");
    *slot = r.tokens.refresh.token.into_inner();
}
