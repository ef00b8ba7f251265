//! How records are laid out in Redis: a session is a hash of short fields; a signing key is a
//! JSON object in one hash field.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sessiond_core::jose::Algorithm;
use sessiond_core::model::SessionFlags;
use sessiond_core::{ClientInfo, KeyKind, KeyRecord, SessionRecord, StoreError};

/// The field/value pairs of a session hash.
pub(crate) fn session_fields(r: &SessionRecord) -> Vec<(&'static str, Vec<u8>)> {
    let mut f: Vec<(&'static str, Vec<u8>)> = vec![
        ("h", r.handle.clone().into_bytes()),
        ("a", r.app_id.clone().into_bytes()),
        ("t", r.tenant_id.clone().into_bytes()),
        ("u", r.user_id.clone().into_bytes()),
        ("r", r.recipe_user_id.clone().into_bytes()),
        ("pd", r.public_data.clone().into_bytes()),
        ("sd", r.private_data.clone().into_bytes()),
        ("ca", r.created_at.to_string().into_bytes()),
        ("la", r.last_active_at.to_string().into_bytes()),
        ("ra", r.rotated_at.to_string().into_bytes()),
        ("ea", r.expires_at.to_string().into_bytes()),
        ("aea", r.absolute_expires_at.to_string().into_bytes()),
        ("g", r.generation.to_string().into_bytes()),
        ("rh", r.refresh_hash.to_vec()),
        ("f", r.flags.bits().to_string().into_bytes()),
        ("v", r.version.to_string().into_bytes()),
    ];
    if let Some(h) = r.access_hash {
        f.push(("ah", h.to_vec()));
    }
    if let Some(ip) = &r.client.ip {
        f.push(("ip", ip.clone().into_bytes()));
    }
    if let Some(ua) = &r.client.user_agent {
        f.push(("ua", ua.clone().into_bytes()));
    }
    f
}

const CORRUPT: StoreError = StoreError::Corrupt("undecodable session hash in Redis");

fn text(m: &mut HashMap<String, Vec<u8>>, k: &str) -> Result<String, StoreError> {
    String::from_utf8(m.remove(k).ok_or(CORRUPT)?).map_err(|_| CORRUPT)
}

fn opt_text(m: &mut HashMap<String, Vec<u8>>, k: &str) -> Result<Option<String>, StoreError> {
    m.remove(k)
        .map(|v| String::from_utf8(v).map_err(|_| CORRUPT))
        .transpose()
}

fn number<T: std::str::FromStr>(
    m: &mut HashMap<String, Vec<u8>>,
    k: &str,
) -> Result<T, StoreError> {
    text(m, k)?.parse().map_err(|_| CORRUPT)
}

fn hash(v: Vec<u8>) -> Result<[u8; 32], StoreError> {
    v.try_into().map_err(|_| CORRUPT)
}

/// Decodes an `HGETALL` reply; `None` for an empty one (no such key).
pub(crate) fn session_from(
    mut m: HashMap<String, Vec<u8>>,
) -> Result<Option<SessionRecord>, StoreError> {
    if m.is_empty() {
        return Ok(None);
    }
    Ok(Some(SessionRecord {
        handle: text(&mut m, "h")?,
        app_id: text(&mut m, "a")?,
        tenant_id: text(&mut m, "t")?,
        user_id: text(&mut m, "u")?,
        recipe_user_id: text(&mut m, "r")?,
        public_data: text(&mut m, "pd")?,
        private_data: text(&mut m, "sd")?,
        created_at: number(&mut m, "ca")?,
        last_active_at: number(&mut m, "la")?,
        rotated_at: number(&mut m, "ra")?,
        expires_at: number(&mut m, "ea")?,
        absolute_expires_at: number(&mut m, "aea")?,
        generation: number(&mut m, "g")?,
        refresh_hash: hash(m.remove("rh").ok_or(CORRUPT)?)?,
        access_hash: m.remove("ah").map(hash).transpose()?,
        flags: SessionFlags::from_bits(number(&mut m, "f")?),
        version: number(&mut m, "v")?,
        client: ClientInfo {
            ip: opt_text(&mut m, "ip")?,
            user_agent: opt_text(&mut m, "ua")?,
        },
    }))
}

/// A signing key as stored (JSON, so the key scripts can read `kind` and `created_at`).
#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    kind: String,
    alg: String,
    material: String,
    sealed: bool,
    public_jwk: Option<String>,
    created_at: i64,
}

pub(crate) fn key_json(k: &KeyRecord) -> String {
    let stored = StoredKey {
        kid: k.kid.clone(),
        kind: k.kind.as_str().to_owned(),
        alg: k.alg.as_str().to_owned(),
        material: sessiond_core::b64::encode(&k.material),
        sealed: k.sealed,
        public_jwk: k.public_jwk.clone(),
        created_at: k.created_at,
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

pub(crate) fn key_from(json: &[u8]) -> Result<KeyRecord, StoreError> {
    let bad = || StoreError::Corrupt("undecodable signing key in Redis");
    let s: StoredKey = serde_json::from_slice(json).map_err(|_| bad())?;
    Ok(KeyRecord {
        kid: s.kid,
        kind: KeyKind::parse(&s.kind).ok_or_else(bad)?,
        alg: Algorithm::parse(&s.alg).ok_or_else(bad)?,
        material: sessiond_core::b64::decode(&s.material).ok_or_else(bad)?,
        sealed: s.sealed,
        public_jwk: s.public_jwk,
        created_at: s.created_at,
    })
}
