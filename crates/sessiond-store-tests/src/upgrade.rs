//! What every backend checks after opening data an earlier build wrote: the rows read back as
//! they were written, and a manager of this build carries on over them.
//!
//! A backend's upgrade test writes the rows in the old layout (old tables, old record format)
//! itself, opens the store (which upgrades in place), and then calls these.

use std::sync::Arc;

use sessiond_core::jose::Algorithm;
use sessiond_core::model::DEFAULT_APP;
use sessiond_core::store::EventKind;
use sessiond_core::{
    KeyKind, KeyRecord, ManagerConfig, MemoryStore, NewSession, RefreshOptions, SessionManager,
    SessionRecord, StartOptions, Store, VerifyOptions,
};

use crate::fixtures::{T0, key};

/// What an earlier build held: a manager's keys and a session it refreshed once, made by a
/// manager of this build over the memory store, less what the earlier build had no place for.
#[derive(Debug, Clone)]
pub struct EarlierBuild {
    /// The keys, sorted by kid; all of the default app (earlier builds knew no other).
    pub keys: Vec<KeyRecord>,
    /// The session row (generation 1), without rotation times.
    pub session: SessionRecord,
    /// The session's access token after its one refresh.
    pub access_token: String,
    /// The session's refresh token after its one refresh.
    pub refresh_token: String,
}

/// The manager policy on both sides of the upgrade: real time, EdDSA.
fn config() -> ManagerConfig {
    ManagerConfig { algorithm: Algorithm::EdDSA, ..ManagerConfig::default() }
}

/// Makes what an earlier build held (see [`EarlierBuild`]).
pub async fn earlier_build() -> EarlierBuild {
    let mem: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let old = SessionManager::new(Arc::clone(&mem), config()).unwrap();
    old.start(StartOptions::default()).await.unwrap();
    let s0 = old.create(NewSession::new("old")).await.unwrap();
    let s1 =
        old.refresh(s0.tokens.refresh.token.expose(), RefreshOptions::default()).await.unwrap();
    old.stop().await.unwrap();
    let keys = by_kid(mem.load_keys().await.unwrap());
    assert!(keys.iter().all(|k| k.app_id == DEFAULT_APP));
    let mut session = mem.load_session(&s0.session.handle, 0).await.unwrap().unwrap();
    assert_eq!(session.generation, 1);
    session.recent_rotations.clear();
    EarlierBuild {
        keys,
        session,
        access_token: s1.tokens.access.token.expose().to_owned(),
        refresh_token: s1.tokens.refresh.token.expose().to_owned(),
    }
}

/// `keys` sorted by kid.
pub fn by_kid(mut keys: Vec<KeyRecord>) -> Vec<KeyRecord> {
    keys.sort_by(|a, b| a.kid.cmp(&b.kid));
    keys
}

/// `store` holds `old` as the earlier build wrote it (upgraded in place on open): its keys and
/// session read back as they were (the session with no rotation times), and a manager of this
/// build carries on. The old access token verifies in the default app, with and without the
/// store check, and in no other app; the old dynamic key still signs; the old refresh token
/// rotates, the session keeps rotation times from then on, and the old token retried within
/// the grace window gets the current one; another app gets keys of its own, and the default
/// app none beyond the old ones.
pub async fn a_manager_carries_on(store: Arc<dyn Store>, old: &EarlierBuild) {
    let h = &old.session.handle;
    assert_eq!(
        by_kid(store.load_keys().await.unwrap()),
        old.keys,
        "every key kept, in the default app"
    );
    assert_eq!(
        store.load_session(h, 0).await.unwrap().as_ref(),
        Some(&old.session),
        "the session is kept, with no rotation times"
    );

    let m = SessionManager::new(Arc::clone(&store), config()).unwrap();
    m.start(StartOptions::default()).await.unwrap();
    let at = old.access_token.as_str();
    let in_app = |app| VerifyOptions { app_id: Some(app), ..VerifyOptions::default() };
    let checked = VerifyOptions { check_database: true, ..in_app(DEFAULT_APP) };
    m.verify(at, in_app(DEFAULT_APP)).await.unwrap();
    m.verify(at, checked).await.unwrap();
    assert!(m.verify(at, in_app("b")).await.is_err());
    let old_dynamic = old.keys.iter().find(|k| k.kind == KeyKind::Dynamic);
    let signer = m.keys().signer(DEFAULT_APP, KeyKind::Dynamic).await.unwrap();
    assert_eq!(
        Some(signer.kid()),
        old_dynamic.map(|k| k.kid.as_str()),
        "the old key still signs for the default app"
    );

    let refresh = || m.refresh(&old.refresh_token, RefreshOptions::default());
    let next = refresh().await.unwrap();
    let rec = store.load_session(h, 0).await.unwrap().unwrap();
    assert_eq!(rec.generation, 2);
    assert_eq!(rec.recent_rotations, vec![rec.rotated_at], "kept from now on");
    let again = refresh().await.unwrap();
    assert_eq!(again.tokens.refresh.token, next.tokens.refresh.token);

    let b =
        m.create(NewSession { app_id: "b".to_owned(), ..NewSession::new("new") }).await.unwrap();
    m.verify(b.tokens.access.token.expose(), in_app("b")).await.unwrap();
    let keys = store.load_keys().await.unwrap();
    assert!(keys.iter().any(|k| k.app_id == "b"));
    let default_app: Vec<KeyRecord> =
        keys.into_iter().filter(|k| k.app_id == DEFAULT_APP).collect();
    assert_eq!(
        by_kid(default_app),
        old.keys,
        "the manager took the old keys as the default app's and made none"
    );
    m.stop().await.unwrap();
}

/// The key a test writes in the first schema version's layout.
pub fn first_version_key() -> KeyRecord {
    key(KeyKind::Dynamic, "d-old", T0)
}

/// `store` holds the session `rec` and [`first_version_key`] as the first schema version wrote
/// them (upgraded in place on open): both read back as they were, and the revocation log, which
/// that version did not have, starts empty and works.
pub async fn first_version_rows_carry_on(store: &dyn Store, rec: &SessionRecord) {
    assert_eq!(
        store.load_session(&rec.handle, T0).await.unwrap().as_ref(),
        Some(rec),
        "the old rows are kept"
    );
    assert_eq!(store.load_keys().await.unwrap(), vec![first_version_key()]);
    let page = store.events_since(0, 10).await.unwrap();
    assert!(page.continuous && page.events.is_empty());
    let revoked = EventKind::Revoked { handle: rec.handle.clone() };
    store.append_events(&[revoked], T0).await.unwrap();
    let page = store.events_since(0, 10).await.unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].cursor, 1);
}

/// `store` holds a revocation log an earlier build wrote with the cursors 1 and 2: an append
/// carries on after them.
pub async fn the_log_carries_on(store: &dyn Store) {
    let revoked = EventKind::Revoked { handle: "h3".to_owned() };
    store.append_events(&[revoked], 7).await.unwrap();
    let page = store.events_since(0, 10).await.unwrap();
    let cursors: Vec<u64> = page.events.iter().map(|e| e.cursor).collect();
    assert_eq!(cursors, vec![1, 2, 3]);
}

/// Adds two revocation events with the cursors 1 and 2 to the log of an earlier build's
/// database, and its counter: SQL for a backend whose log tables are `events` and `event_log`
/// (`{s}` stands for where they are, e.g. a schema; replace it with `""` for none).
pub const TWO_OLD_EVENTS_SQL: &str = "INSERT INTO {s}events (id, at, kind, subject) VALUES \
     (1, 5, 'revoked', 'gone'), (2, 6, 'revoked', 'gone2'); \
     UPDATE {s}event_log SET last_cursor = 2";
