//! In-process rates of the manager's hot paths on one store.

use std::sync::Arc;

use serde_json::json;
use sessiond_core::jose::Algorithm;
use sessiond_core::{ManagerConfig, MemoryStore, NewSession, SessionManager, Store, VerifyOptions};
use sessiond_store_sqlite::SqliteStore;

use crate::harness::{Paired, Plan, Rate, pair};
use crate::report::Report;
use crate::{manager, raw};

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

/// A started manager of `alg` on a new store of `kind` (SQLite: a new file in `dir`).
pub(crate) async fn manager(
    kind: StoreKind, alg: Algorithm, dir: &std::path::Path,
) -> SessionManager {
    let store: Arc<dyn Store> = match kind {
        StoreKind::Memory => Arc::new(MemoryStore::new()),
        StoreKind::Sqlite => Arc::new(
            SqliteStore::open(dir.join(format!("bench-{}-{}.db", alg.as_str(), uuid_like())))
                .expect("open SQLite"),
        ),
    };
    manager::start(store, ManagerConfig { algorithm: alg, ..ManagerConfig::default() }).await
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

/// Results of the four hot paths on one store and algorithm, each with its baseline.
pub(crate) struct HotPaths {
    pub(crate) create: Paired,
    pub(crate) verify_stateless: Paired,
    pub(crate) verify_checked: Paired,
    pub(crate) refresh: Paired,
}

fn skipped() -> Paired {
    (Rate::skipped(), Rate::skipped())
}

/// Measures the hot paths that `ops` selects, each in rounds alternating with the raw
/// signature it wraps (the others are skipped: NaN).
pub(crate) async fn hot_paths(
    plan: Plan, m: &SessionManager, ops: Ops, alg: Algorithm,
) -> HotPaths {
    let mm = m.clone();
    let create = if ops.create {
        let op = move |_, i| manager::create(mm.clone(), new_session(i));
        pair(plan, op, raw::sign_op(alg)).await
    } else {
        skipped()
    };
    let tokens = manager::access_tokens(m, 512, new_session).await;
    let verify = |check_database: bool| {
        let (m, tokens) = (m.clone(), Arc::clone(&tokens));
        let opts = VerifyOptions { app_id: None, check_database, ..VerifyOptions::default() };
        move |_, i| manager::verify(m.clone(), Arc::clone(&tokens), i, opts)
    };
    let verify_stateless =
        if ops.verify { pair(plan, verify(false), raw::verify_op(alg)).await } else { skipped() };
    let verify_checked =
        if ops.checked { pair(plan, verify(true), raw::verify_op(alg)).await } else { skipped() };
    let refresh = if ops.refresh {
        let (mm, chains) = (m.clone(), manager::chains(m, plan.concurrency, new_session).await);
        let op = move |task, _| manager::refresh(mm.clone(), Arc::clone(&chains), task);
        pair(plan, op, raw::sign_op(alg)).await
    } else {
        skipped()
    };
    HotPaths { create, verify_stateless, verify_checked, refresh }
}

/// Prints the hot paths of `kind` and `alg` beside the raw signature they wrap, with the
/// checked verification also beside `raw_select` (the raw SQLite PK select, NaN when not
/// measured), and records their targets.
pub(crate) fn report(
    report: &mut Report, kind: StoreKind, alg: Algorithm, hp: HotPaths, raw_select: f64,
) {
    let store = kind.name();
    let sign = format!("raw {alg} sign (ring)");
    let verify = format!("raw {alg} verify (ring)");
    let (create, create_base) =
        report.pair(format!("create           {store:<6} {alg}"), hp.create, &sign);
    let (stateless, verify_base) =
        report.pair(format!("verify stateless {store:<6} {alg}"), hp.verify_stateless, &verify);
    let (checked, _) =
        report.pair(format!("verify checked   {store:<6} {alg}"), hp.verify_checked, &verify);
    report.pair(format!("refresh          {store:<6} {alg}"), hp.refresh, &sign);
    if kind == StoreKind::Sqlite && !raw_select.is_nan() {
        println!(
            "{:<52} {:>11.0} ops/s  = {:.2}x raw SQLite PK select",
            "",
            checked,
            checked / raw_select
        );
    }
    if alg != Algorithm::HS256 && !stateless.is_nan() {
        report.ratio_target(
            format!("stateless verify {alg} on {store} >= 0.85x raw verify"),
            stateless,
            0.85,
            verify_base,
        );
    }
    if kind == StoreKind::Sqlite && alg == Algorithm::RS256 && !create.is_nan() {
        report.ratio_target("create SQLite RS256 >= 0.8x raw RS256 sign", create, 0.8, create_base);
    }
    if kind == StoreKind::Sqlite && alg == Algorithm::HS256 {
        if !create.is_nan() {
            report.target(
                "create SQLite HS256 >= 50,000/s",
                create >= 50_000.0,
                format!("{create:.0}/s"),
            );
        }
        if !checked.is_nan() {
            report.target(
                "verify checked SQLite HS256 >= 100,000/s",
                checked >= 100_000.0,
                format!("{checked:.0}/s"),
            );
        }
    }
}
