//! API keys: `api-key: KEY` or `Authorization: Bearer KEY`, any configured key accepted.
//!
//! # Security
//! Keys are compared as SHA-256 digests in constant time, against every configured key without
//! stopping at the first match, so neither content nor length nor position leaks through
//! timing. `/hello`, `/healthz` and `/.well-known/jwks.json` stay open (the SDKs fetch the JWKS
//! without headers).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sessiond_core::secret::sha256;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Paths served without an API key.
pub const OPEN_PATHS: &[&str] = &["/hello", "/healthz", "/.well-known/jwks.json"];

/// The configured keys, as digests.
#[derive(Clone, Default)]
pub struct ApiKeys {
    digests: Arc<Vec<[u8; 32]>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys(<{} keys>)", self.digests.len())
    }
}

impl ApiKeys {
    /// Digests of `keys`.
    pub fn new(keys: &[String]) -> Self {
        Self {
            digests: Arc::new(keys.iter().map(|k| sha256(k.as_bytes())).collect()),
        }
    }

    /// Whether any key is configured.
    pub fn required(&self) -> bool {
        !self.digests.is_empty()
    }

    /// Whether `presented` is one of the keys (constant time).
    pub fn accepts(&self, presented: &str) -> bool {
        let d = sha256(presented.as_bytes());
        let mut ok = subtle::Choice::from(0);
        for k in self.digests.iter() {
            ok |= k.ct_eq(&d);
        }
        ok.into()
    }
}

fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("api-key") {
        return v.to_str().ok();
    }
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Middleware enforcing [`ApiKeys`].
pub async fn require_key(State(keys): State<ApiKeys>, req: Request, next: Next) -> Response {
    if !keys.required() || OPEN_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    match presented(req.headers()) {
        Some(k) if keys.accepts(k) => next.run(req).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_configured_key_is_accepted() {
        let keys = ApiKeys::new(&[
            "first-key-0123456789".into(),
            "second-key-0123456789".into(),
        ]);
        assert!(keys.accepts("first-key-0123456789"));
        assert!(keys.accepts("second-key-0123456789"));
        assert!(!keys.accepts("first-key-012345678"));
        assert!(!keys.accepts(""));
        assert!(!ApiKeys::default().required());
    }

    #[test]
    fn headers_are_read_in_both_forms() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(presented(&h), Some("abc"));
        h.insert("api-key", "xyz".parse().unwrap());
        assert_eq!(presented(&h), Some("xyz"));
        let mut h = HeaderMap::new();
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(presented(&h), None);
    }
}
