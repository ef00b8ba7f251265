//! Fixtures shared by the manager tests (one home for each): a manager over the memory store
//! with a clock the test moves by hand, the options the tests keep passing, and decoders for
//! what the manager issues.

// Each test binary uses some of these; tests report failures by panicking.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sessiond_core::jose::{Algorithm, Jwk};
use sessiond_core::{
    Error, IssuedSession, JsonObject, ManagerConfig, ManualClock, MemoryStore, RefreshOptions,
    SessionManager, Store, TokenFormat, VerifyOptions, b64,
};

/// A database-checked verify without anti-CSRF.
pub(crate) const CHECK_DB: VerifyOptions<'static> = VerifyOptions {
    app_id: None,
    anti_csrf_token: None,
    check_anti_csrf: false,
    check_database: true,
};

/// The JSON object literal `v` (empty when `v` is not an object).
pub(crate) fn obj(v: Value) -> JsonObject {
    v.as_object().cloned().unwrap_or_default()
}

/// The default configuration with `alg` and 60-second access tokens.
pub(crate) fn cfg(alg: Algorithm) -> ManagerConfig {
    ManagerConfig {
        algorithm: alg,
        access_token_ttl: Duration::from_secs(60),
        ..ManagerConfig::default()
    }
}

/// [`cfg`] with opaque access tokens.
pub(crate) fn opaque_cfg() -> ManagerConfig {
    ManagerConfig { token_format: TokenFormat::Opaque, ..cfg(Algorithm::HS256) }
}

/// A manager over `store` whose time is `clock`.
pub(crate) fn manager_on(
    store: &Arc<dyn Store>, c: ManagerConfig, clock: &ManualClock,
) -> SessionManager {
    SessionManager::with_clock(Arc::clone(store), c, Arc::new(clock.clone())).unwrap()
}

/// A manager over a fresh memory store, its clock (stopped at the system time) and the store.
pub(crate) fn setup(c: ManagerConfig) -> (SessionManager, ManualClock, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = ManualClock::at_system_time();
    let m = manager_on(&store, c, &clock);
    (m, clock, store)
}

/// A stateless verify that checks the anti-CSRF token `token`.
pub(crate) fn with_csrf(token: Option<&str>) -> VerifyOptions<'_> {
    VerifyOptions { anti_csrf_token: token, check_anti_csrf: true, ..VerifyOptions::default() }
}

/// A refresh that checks the anti-CSRF token `token`.
pub(crate) fn refresh_with_csrf(token: Option<&str>) -> RefreshOptions<'_> {
    RefreshOptions { anti_csrf_token: token, check_anti_csrf: true, ..RefreshOptions::default() }
}

/// Refreshes `s` with its refresh token and default options.
pub(crate) async fn refresh(m: &SessionManager, s: &IssuedSession) -> Result<IssuedSession, Error> {
    m.refresh(s.tokens.refresh.token.expose(), RefreshOptions::default()).await
}

/// The decoded protected header of a JWT.
pub(crate) fn header(token: &str) -> Value {
    let h = token.split('.').next().unwrap();
    serde_json::from_slice(&b64::decode(h).unwrap()).unwrap()
}

/// The decoded claims of a JWT.
pub(crate) fn claims(token: &str) -> Value {
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&b64::decode(p).unwrap()).unwrap()
}

/// The `kid` of a JWT.
pub(crate) fn kid(token: &str) -> String {
    header(token)["kid"].as_str().unwrap().to_owned()
}

/// The key ids of `app_id`'s current keys of `kind` (`dynamic`, `chain`, …).
pub(crate) fn current_kids(m: &SessionManager, app_id: &str, kind: &str) -> Vec<String> {
    m.keys()
        .list(Some(app_id))
        .into_iter()
        .filter(|k| k.kind == kind && k.current)
        .map(|k| k.kid)
        .collect()
}

/// The JWK the default app publishes for the key that signed `token`.
pub(crate) fn published_jwk(m: &SessionManager, token: &str) -> Jwk {
    let kid = kid(token);
    m.keys().jwks("public").keys.iter().find(|k| k.kid == kid).cloned().unwrap()
}

/// The claims of an RS256 `token`, checked by an independent library (`jsonwebtoken`) with the
/// published `jwk`, and against `issuer` when given.
pub(crate) fn decode_rs256(jwk: &Jwk, token: &str, issuer: Option<&str>) -> Value {
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk.n.as_deref().unwrap(),
        jwk.e.as_deref().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    if let Some(iss) = issuer {
        v.set_issuer(&[iss]);
    }
    v.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &v).unwrap().claims
}
