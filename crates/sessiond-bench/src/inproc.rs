//! In-process rates of the manager's hot paths on one store.

use std::sync::Arc;

use serde_json::json;
use sessiond_core::jose::Algorithm;
use sessiond_core::{
    ManagerConfig, MemoryStore, NewSession, RefreshOptions, SessionManager, StartOptions, Store,
    VerifyOptions,
};
use sessiond_store_sqlite::SqliteStore;
use tokio::sync::Mutex;

use crate::harness::{Plan, Rate, pair};
use crate::raw;

/// The stores the benchmark runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreKind {
    Memory,
    Sqlite,
}

impl StoreKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            StoreKind::Memory => "memory",
            StoreKind::Sqlite => "sqlite",
        }
    }
}

pub(crate) async fn manager(
    kind: StoreKind,
    alg: Algorithm,
    dir: &std::path::Path,
) -> SessionManager {
    let store: Arc<dyn Store> = match kind {
        StoreKind::Memory => Arc::new(MemoryStore::new()),
        StoreKind::Sqlite => Arc::new(
            SqliteStore::open(dir.join(format!("bench-{}-{}.db", alg.as_str(), uuid_like())))
                .expect("open SQLite"),
        ),
    };
    let m = SessionManager::new(
        store,
        ManagerConfig {
            algorithm: alg,
            ..ManagerConfig::default()
        },
    )
    .expect("config");
    m.start(StartOptions::default()).await.expect("start");
    m
}

fn uuid_like() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn new_session(i: u64) -> NewSession {
    let public = json!({"role": "user", "plan": "pro"});
    NewSession::new(format!("user-{}", i % 10_000))
        .public_data(public.as_object().cloned().unwrap_or_default())
}

/// Which hot paths to run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ops {
    create: bool,
    verify: bool,
    checked: bool,
    refresh: bool,
}

impl Ops {
    pub(crate) fn parse(names: &[String]) -> Self {
        let has = |n: &str| names.iter().any(|x| x == n);
        Self {
            create: has("create"),
            verify: has("verify"),
            checked: has("checked"),
            refresh: has("refresh"),
        }
    }
}

fn skipped() -> Rate {
    Rate {
        median: f64::NAN,
        samples: vec![f64::NAN],
    }
}

/// A measured figure and the baseline measured in alternating rounds with it.
pub(crate) type Paired = (Rate, Rate);

/// Results of the four hot paths on one store and algorithm, each with its baseline.
pub(crate) struct HotPaths {
    pub(crate) create: Paired,
    pub(crate) verify_stateless: Paired,
    pub(crate) verify_checked: Paired,
    pub(crate) refresh: Paired,
}

fn skipped_pair() -> Paired {
    (skipped(), skipped())
}

pub(crate) async fn hot_paths(
    plan: Plan,
    m: &SessionManager,
    ops: Ops,
    alg: Algorithm,
) -> HotPaths {
    let mm = m.clone();
    let create = if ops.create {
        pair(
            plan,
            move |_, i| {
                let m = mm.clone();
                async move {
                    m.create(new_session(i)).await.expect("create");
                }
            },
            raw::sign_op(alg),
        )
        .await
    } else {
        skipped_pair()
    };

    let mut tokens = Vec::new();
    for i in 0..512 {
        tokens.push(
            m.create(new_session(i))
                .await
                .expect("create")
                .tokens
                .access
                .token
                .into_inner(),
        );
    }
    let tokens = Arc::new(tokens);
    let verify_op = |check_database: bool| {
        let (m, tk) = (m.clone(), Arc::clone(&tokens));
        move |_: usize, i: u64| {
            let m = m.clone();
            let tk = Arc::clone(&tk);
            async move {
                let t = &tk[(i as usize) % tk.len()];
                let opts = VerifyOptions {
                    app_id: None,
                    check_database,
                    ..VerifyOptions::default()
                };
                m.verify(t, opts).await.expect("verify");
            }
        }
    };
    let verify_stateless = if ops.verify {
        pair(plan, verify_op(false), raw::verify_op(alg)).await
    } else {
        skipped_pair()
    };
    let verify_checked = if ops.checked {
        pair(plan, verify_op(true), raw::verify_op(alg)).await
    } else {
        skipped_pair()
    };
    if !ops.refresh {
        return HotPaths {
            create,
            verify_stateless,
            verify_checked,
            refresh: skipped_pair(),
        };
    }

    // Each task refreshes its own session's chain.
    let mut chains = Vec::new();
    for i in 0..plan.concurrency {
        let s = m.create(new_session(i as u64)).await.expect("create");
        chains.push(Mutex::new(s.tokens.refresh.token.into_inner()));
    }
    let chains = Arc::new(chains);
    let mm = m.clone();
    let refresh = pair(
        plan,
        move |task, _| {
            let m = mm.clone();
            let chains = Arc::clone(&chains);
            async move {
                let mut slot = chains[task].lock().await;
                let r = m
                    .refresh(&slot, RefreshOptions::default())
                    .await
                    .expect("refresh");
                *slot = r.tokens.refresh.token.into_inner();
            }
        },
        raw::sign_op(alg),
    )
    .await;
    HotPaths {
        create,
        verify_stateless,
        verify_checked,
        refresh,
    }
}
