//! Builders for the rows, events and managers the cases (and each backend's own tests) use.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sessiond_core::jose::Algorithm;
use sessiond_core::model::SessionFlags;
use sessiond_core::store::EventKind;
use sessiond_core::{
    ClientInfo, KeyKind, KeyRecord, ManagerConfig, ManualClock, Millis, SessionManager,
    SessionRecord, Store,
};

/// `url` with the query parameter `name=value` added after any it has.
pub fn with_param(url: &str, name: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{name}={value}")
}

/// A fixed "now" far from the epoch and from any real clock.
pub const T0: Millis = 1_900_000_000_000;

/// A unique handle for user `alice` in the default app and tenant, made the way the manager
/// makes handles (its low bits carry the user's tag; see `sessiond_core::model::user_tag`).
pub fn handle() -> String {
    handle_for("alice")
}

/// A unique handle for `user` in the default app and tenant.
pub fn handle_for(user: &str) -> String {
    sessiond_core::model::new_handle("public", user, "public")
}

/// A unique handle for `user` in `app` and `tenant`.
pub fn handle_in(app: &str, user: &str, tenant: &str) -> String {
    sessiond_core::model::new_handle(app, user, tenant)
}

/// A live session row for `user`, created at `now`, expiring an hour later.
pub fn record(handle: &str, user: &str, now: Millis) -> SessionRecord {
    SessionRecord {
        handle: handle.to_owned(),
        app_id: "public".to_owned(),
        tenant_id: "public".to_owned(),
        user_id: user.to_owned(),
        recipe_user_id: user.to_owned(),
        public_data: r#"{"role":"user"}"#.to_owned(),
        private_data: r#"{"cart":[1,2,3]}"#.to_owned(),
        created_at: now,
        last_active_at: now,
        rotated_at: now,
        expires_at: now + 3_600_000,
        absolute_expires_at: now + 7_200_000,
        generation: 0,
        refresh_hash: [1u8; 32],
        access_hash: None,
        flags: SessionFlags::default(),
        version: 0,
        client: ClientInfo {
            ip: Some("192.0.2.1".to_owned()),
            user_agent: Some("conformance/1.0".to_owned()),
        },
        recent_rotations: Vec::new(),
    }
}

/// A key row of the default app (the material is not a real key; stores treat it as bytes).
pub fn key(kind: KeyKind, kid: &str, created_at: Millis) -> KeyRecord {
    key_in(sessiond_core::model::DEFAULT_APP, kind, kid, created_at)
}

/// A key row of `app` (kids are unique across apps: callers give each app its own).
pub fn key_in(app: &str, kind: KeyKind, kid: &str, created_at: Millis) -> KeyRecord {
    KeyRecord {
        kid: kid.to_owned(),
        app_id: app.to_owned(),
        kind,
        alg: Algorithm::HS256,
        material: (0u8..=255).collect(),
        sealed: false,
        public_jwk: None,
        created_at,
    }
}

/// Manager policy for the cases: EdDSA (fast key generation), short lifetimes.
pub fn config() -> ManagerConfig {
    ManagerConfig {
        algorithm: Algorithm::EdDSA,
        access_token_ttl: Duration::from_secs(60),
        refresh_token_ttl: Duration::from_secs(3600),
        idle_timeout: Duration::from_secs(1800),
        absolute_lifetime: Duration::from_secs(7200),
        refresh_grace: Duration::from_secs(10),
        ..ManagerConfig::default()
    }
}

/// A manager over `store` with a manual clock at [`T0`].
pub fn manager(store: Arc<dyn Store>) -> (SessionManager, ManualClock) {
    manager_with(store, config())
}

/// A manager over `store` with a manual clock at [`T0`] and the given policy.
pub fn manager_with(store: Arc<dyn Store>, cfg: ManagerConfig) -> (SessionManager, ManualClock) {
    let clock = ManualClock::new(T0);
    let m =
        SessionManager::with_clock(store, cfg, Arc::new(clock.clone())).expect("valid test config");
    (m, clock)
}

/// The revocation event of the session `handle`.
pub fn revoked(handle: &str) -> EventKind {
    EventKind::Revoked { handle: handle.to_owned() }
}

/// The cursor of the newest event in `store`'s log (0 when it is empty).
///
/// # Panics
/// When the store fails to read the log.
pub async fn last_cursor(store: &dyn Store) -> u64 {
    let page = store.events_since(0, 100_000).await.unwrap();
    page.events.last().map_or(0, |e| e.cursor)
}

/// Appends an event through `store` and waits (500 ms) for `signal` (another handle's, which
/// only the backend's push moves) to pass the cursor before it; retries up to `tries` times (a
/// push sent before the other handle's listener has started is missed). Returns how long the
/// successful round took from the append, or `None` when no round was pushed in time.
///
/// # Panics
/// When the store fails to read or append.
pub async fn append_until_pushed(
    store: &dyn Store, signal: &mut tokio::sync::watch::Receiver<u64>, tries: usize,
) -> Option<Duration> {
    for _ in 0..tries {
        let known = last_cursor(store).await;
        let started = Instant::now();
        store.append_events(&[revoked(&handle())], T0).await.unwrap();
        if tokio::time::timeout(Duration::from_millis(500), signal.wait_for(|v| *v > known))
            .await
            .is_ok()
        {
            return Some(started.elapsed());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_starts_or_extends_the_query() {
        assert_eq!(with_param("redis://h:1", "prefix", "p"), "redis://h:1?prefix=p");
        assert_eq!(
            with_param("postgres://h/db?sslmode=disable", "schema", "s"),
            "postgres://h/db?sslmode=disable&schema=s"
        );
    }
}
