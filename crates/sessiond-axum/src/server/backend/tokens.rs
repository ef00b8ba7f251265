//! Token helpers both backends share: reading a verified JWT's payload, claims and `kid`, the
//! verified-token cache entry, and building the [`Tokens`] and [`Issued`] the layer sends.

use std::sync::{Arc, OnceLock};

use serde_json::Value;
use sessiond_core::JsonObject;
use sessiond_core::jose::UnverifiedJws;
use sessiond_core::tokens::access::VerifiedClaims;

use super::{Issued, SessionIdentity, Tokens, Verified};

/// An access token's payload: its JSON text, parsed the first time it is read. A login
/// response needs only the text (the `front-token` carries it), so it is never parsed there.
#[derive(Debug)]
pub(crate) struct Payload {
    json: Box<[u8]>,
    parsed: OnceLock<Arc<JsonObject>>,
}

impl Payload {
    fn from_json(json: Vec<u8>) -> Arc<Self> {
        Arc::new(Payload { json: json.into(), parsed: OnceLock::new() })
    }

    /// The payload of a JWT, not checked (the caller has verified the token).
    pub(super) fn of_token(token: &str) -> Arc<Self> {
        Self::from_json(payload_json(token).unwrap_or_default())
    }

    /// The payload as a JSON object (empty when it is not one).
    pub(crate) fn object(&self) -> Arc<JsonObject> {
        Arc::clone(self.parsed.get_or_init(|| Arc::new(object_of(&self.json).unwrap_or_default())))
    }
}

/// The JSON text of a JWT's payload.
fn payload_json(token: &str) -> Option<Vec<u8>> {
    sessiond_core::b64::decode(token.split('.').nth(1)?)
}

fn object_of(json: &[u8]) -> Option<JsonObject> {
    match serde_json::from_slice(json).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The claims of a JWT whose signature the caller has verified.
pub(super) fn claims_of(token: &str) -> Option<VerifiedClaims> {
    let seg = token.split('.').nth(1)?;
    VerifiedClaims::parse(&sessiond_core::b64::decode(seg)?)
}

/// The `kid` in a JWS header, unverified.
pub(super) fn kid_of(token: &str) -> Option<String> {
    UnverifiedJws::parse(token).ok().map(|j| j.kid().to_owned())
}

/// A verified token kept in the cache.
#[derive(Debug)]
pub(crate) struct Cached {
    pub(super) identity: Arc<SessionIdentity>,
    pub(super) payload: Arc<Payload>,
    pub(super) claims: VerifiedClaims,
    pub(super) kid: String,
}

impl Cached {
    pub(super) fn exp_ms(&self) -> i64 {
        self.claims.exp.saturating_mul(1000)
    }

    pub(super) fn verified(&self) -> Verified {
        Verified {
            identity: Arc::clone(&self.identity),
            payload: Arc::clone(&self.payload),
            reissued: None,
        }
    }
}

/// A claim the service sets itself and a payload merge must not send back.
pub(super) fn is_protected_claim(k: &str) -> bool {
    sessiond_core::tokens::access::is_protected(k) || k == "iss"
}

/// RFC 7396 merge of `patch` into `target` at the top level and below (`null` removes).
pub(super) fn merge_into(target: &mut JsonObject, patch: &JsonObject) {
    let mut t = Value::Object(std::mem::take(target));
    sessiond_cookie::merge_patch(&mut t, Value::Object(patch.clone()));
    if let Value::Object(m) = t {
        *target = m;
    }
}

/// The tokens to send for an access token (and a refresh token, when one is issued).
pub(super) fn tokens(
    user_id: &str, access: String, access_exp_ms: i64, refresh: Option<(String, i64)>,
    anti_csrf: Option<String>,
) -> Tokens {
    // A verified JWT's payload is a JSON object; anything else travels as `{}`.
    let json = payload_json(&access)
        .filter(|j| j.first() == Some(&b'{'))
        .unwrap_or_else(|| b"{}".to_vec());
    // The front-token carries the payload's own text: no second serialisation.
    let front_token = crate::server::transport::front_token(user_id, access_exp_ms, &json);
    Tokens { access, payload: Payload::from_json(json), front_token, refresh, anti_csrf }
}

/// A new or refreshed session to send: who it is and its tokens.
pub(super) fn issued(
    identity: SessionIdentity, access: String, access_exp_ms: i64, refresh: Option<(String, i64)>,
    anti_csrf: Option<String>,
) -> Issued {
    Issued {
        tokens: tokens(&identity.user_id, access, access_exp_ms, refresh, anti_csrf),
        identity,
    }
}

/// A session this process's manager created or refreshed, as the layer sends it.
pub(super) fn issued_from_core(s: sessiond_core::IssuedSession) -> Issued {
    let t = s.tokens;
    issued(
        SessionIdentity {
            handle: s.session.handle,
            user_id: s.session.user_id,
            recipe_user_id: s.session.recipe_user_id,
            tenant_id: s.session.tenant_id,
        },
        t.access.token.into_inner(),
        t.access.expires_at,
        Some((t.refresh.token.into_inner(), t.refresh.expires_at)),
        t.anti_csrf.map(sessiond_core::SecretString::into_inner),
    )
}
