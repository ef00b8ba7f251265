//! API keys: `api-key: KEY` or `Authorization: Bearer KEY`, any configured key accepted.
//!
//! # Security
//! Keys are compared as SHA-256 digests in constant time, against every configured key without
//! stopping at the first match, so neither content nor length nor position leaks through
//! timing. `/hello`, `/healthz` and `/.well-known/jwks.json` stay open (the SDKs fetch the JWKS
//! without headers).
//!
//! Refused attempts (no key, or a wrong one) are logged at `warn` with the client's socket
//! address, at most one line a second: a line counts the attempts since the previous one, and
//! attempts held back are reported a second after the line before. The presented key is never
//! logged.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sessiond_core::Code;
use sessiond_core::secret::sha256;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Paths served without an API key.
pub const OPEN_PATHS: &[&str] = &["/hello", "/healthz", "/.well-known/jwks.json"];

/// The configured keys, as digests.
#[derive(Clone, Default)]
pub struct ApiKeys {
    digests: Arc<Vec<[u8; 32]>>,
    refused: Arc<RefusalLog>,
}

/// At most one log line per this interval about refused attempts.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Refused attempts since the last log line.
#[derive(Default)]
struct RefusalLog {
    state: parking_lot::Mutex<Refusals>,
}

#[derive(Default)]
struct Refusals {
    last_line: Option<Instant>,
    missing: u64,
    wrong: u64,
    last_peer: Option<SocketAddr>,
    flush_scheduled: bool,
}

impl Refusals {
    fn log(&mut self, now: Instant) {
        let peer = self.last_peer.map_or_else(|| "unknown".to_owned(), |p| p.to_string());
        tracing::warn!(
            peer,
            attempts = self.missing + self.wrong,
            missing_key = self.missing,
            wrong_key = self.wrong,
            "refused requests without a valid API key (peer: the last one's address)"
        );
        self.missing = 0;
        self.wrong = 0;
        self.last_line = Some(now);
    }
}

impl RefusalLog {
    fn record(self: &Arc<Self>, peer: Option<SocketAddr>, missing: bool) {
        let now = Instant::now();
        let mut st = self.state.lock();
        if missing {
            st.missing += 1;
        } else {
            st.wrong += 1;
        }
        st.last_peer = peer;
        let next = st.last_line.map(|t| t + REFUSAL_LOG_INTERVAL);
        match next {
            Some(at) if at > now => {
                if !st.flush_scheduled
                    && let Ok(rt) = tokio::runtime::Handle::try_current()
                {
                    st.flush_scheduled = true;
                    let this = Arc::clone(self);
                    rt.spawn(async move {
                        tokio::time::sleep_until(at.into()).await;
                        let mut st = this.state.lock();
                        st.flush_scheduled = false;
                        if st.missing + st.wrong > 0 {
                            st.log(Instant::now());
                        }
                    });
                }
            }
            _ => st.log(now),
        }
    }
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys(<{} keys>)", self.digests.len())
    }
}

impl ApiKeys {
    /// Accepts any of `keys`, kept only as SHA-256 digests.
    pub fn new(keys: &[String]) -> Self {
        Self {
            digests: Arc::new(keys.iter().map(|k| sha256(k.as_bytes())).collect()),
            refused: Arc::default(),
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
    let auth = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Middleware enforcing [`ApiKeys`].
pub async fn require_key(State(keys): State<ApiKeys>, req: Request, next: Next) -> Response {
    if !keys.required() || OPEN_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let missing = match presented(req.headers()) {
        Some(k) if keys.accepts(k) => return next.run(req).await,
        Some(_) => false,
        None => true,
    };
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    keys.refused.record(peer, missing);
    ApiError::new(Code::InvalidApiKey, "missing or invalid API key").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_configured_key_is_accepted() {
        let keys = ApiKeys::new(&["first-key-0123456789".into(), "second-key-0123456789".into()]);
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
