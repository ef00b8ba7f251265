//! The cookie token: a standard JWT that any JOSE library reads with the key.
//!
//! - [`Format::Encrypted`] (the default): JWE compact serialisation, `alg: dir`, `enc: A256GCM`,
//!   a `kid` header, the 32-byte key used as is, a fresh 96-bit IV per token, the protected header
//!   as additional authenticated data. Clients cannot read the payload.
//! - [`Format::Signed`]: JWS compact serialisation, `alg: HS256`, `typ: JWT`, a `kid` header.
//!   Clients can read the payload (base64url) but not change it.
//!
//! # Security
//! Opening is strict: only the configured format; exactly 5 (JWE) or 3 (JWS) segments of
//! unpadded base64url; a header of known fields only (`alg`, `enc`, `kid`, `typ`, `cty`), so
//! `zip`, `crit`, `jku`, `jwk`, `x5u` and friends are refused; `alg`/`enc` fixed by the format, so
//! `none` and algorithm swaps are refused; an unknown `kid` is refused; tokens longer than
//! [`MAX_TOKEN_LEN`] are refused unread. Tags and MACs are checked in constant time by `ring`.

use ring::aead::{Aad, NONCE_LEN, Nonce};
use ring::hmac;
use serde::Deserialize;
use sessiond_core::b64;
use sessiond_core::secret::random_bytes;

use crate::key::{KeyRing, RingKey};

/// A cookie is at most 4,096 bytes, so no token this crate accepts is longer.
pub const MAX_TOKEN_LEN: usize = 4096;

/// AES-GCM tag length.
const TAG_LEN: usize = 16;

/// How cookie tokens are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// JWE `dir` + `A256GCM`: confidential and tamper-proof (the default).
    #[default]
    Encrypted,
    /// JWS `HS256`: tamper-proof, readable by the client.
    Signed,
}

/// Why a token did not open. Deliberately coarse for callers; the detail is for tests and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Not the configured serialisation, bad base64url, bad header, too long.
    Malformed,
    /// The `kid` names no key of the ring.
    UnknownKey,
    /// The tag or MAC does not verify (tampered, or sealed with another key).
    Tampered,
}

/// The protected header of a cookie token as written.
pub(crate) fn header_b64(format: Format, kid: &str) -> String {
    let json = match format {
        Format::Encrypted => serde_json::json!({"alg": "dir", "enc": "A256GCM", "kid": kid}),
        Format::Signed => serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": kid}),
    };
    b64::encode(json.to_string())
}

/// Seals the claims (JSON object bytes) with the ring's first key.
pub(crate) fn seal(ring: &KeyRing, claims: &[u8]) -> Result<String, crate::Error> {
    let key = ring.primary();
    match ring.format {
        Format::Encrypted => seal_jwe(key, claims),
        Format::Signed => Ok(seal_jws(key, claims)),
    }
}

fn seal_jwe(key: &RingKey, claims: &[u8]) -> Result<String, crate::Error> {
    let iv: [u8; NONCE_LEN] = random_bytes()
        .map_err(|_| crate::Error::Crypto("the OS random number generator failed"))?;
    let mut buf = claims.to_vec();
    let tag = key
        .aead
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(key.header_b64.as_bytes()),
            &mut buf,
        )
        .map_err(|_| crate::Error::Crypto("AES-256-GCM sealing failed"))?;
    let mut out = String::with_capacity(key.header_b64.len() + buf.len() * 4 / 3 + 48);
    out.push_str(&key.header_b64);
    out.push_str("..");
    push_b64(&mut out, &iv);
    out.push('.');
    push_b64(&mut out, &buf);
    out.push('.');
    push_b64(&mut out, tag.as_ref());
    Ok(out)
}

fn seal_jws(key: &RingKey, claims: &[u8]) -> String {
    let mut out = String::with_capacity(key.header_b64.len() + claims.len() * 4 / 3 + 48);
    out.push_str(&key.header_b64);
    out.push('.');
    push_b64(&mut out, claims);
    let mac = hmac::sign(&key.hmac, out.as_bytes());
    out.push('.');
    push_b64(&mut out, mac.as_ref());
    out
}

fn push_b64(out: &mut String, data: &[u8]) {
    base64::Engine::encode_string(&base64::engine::general_purpose::URL_SAFE_NO_PAD, data, out);
}

/// The header fields a cookie token may carry; anything else is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    #[serde(default)]
    enc: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    cty: Option<String>,
}

/// Finds the key a header names: byte-for-byte one this ring writes (no JSON decoding), or a
/// strictly parsed header with the format's `alg`/`enc` and a known `kid`.
fn key_for<'r>(ring: &'r KeyRing, header: &str) -> Result<(usize, &'r RingKey), OpenError> {
    if let Some(hit) = ring.by_header(header) {
        return Ok(hit);
    }
    if header.len() > 1024 {
        return Err(OpenError::Malformed);
    }
    let json = b64::decode(header).ok_or(OpenError::Malformed)?;
    let h: Header = serde_json::from_slice(&json).map_err(|_| OpenError::Malformed)?;
    let (alg, enc) = match ring.format {
        Format::Encrypted => ("dir", Some("A256GCM")),
        Format::Signed => ("HS256", None),
    };
    let jwt_or_absent = |v: &Option<String>| v.as_deref().is_none_or(|t| t == "JWT");
    if h.alg != alg || h.enc.as_deref() != enc || !jwt_or_absent(&h.typ) || !jwt_or_absent(&h.cty) {
        return Err(OpenError::Malformed);
    }
    let kid = h.kid.ok_or(OpenError::UnknownKey)?;
    ring.by_kid(&kid).ok_or(OpenError::UnknownKey)
}

/// Opens a token: returns the claims bytes and the index of the key that opened it (0: the
/// sealing key).
pub(crate) fn open(ring: &KeyRing, token: &str) -> Result<(Vec<u8>, usize), OpenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(OpenError::Malformed);
    }
    match ring.format {
        Format::Encrypted => open_jwe(ring, token),
        Format::Signed => open_jws(ring, token),
    }
}

fn open_jwe(ring: &KeyRing, token: &str) -> Result<(Vec<u8>, usize), OpenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(ek), Some(iv), Some(ct), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OpenError::Malformed);
    };
    if !ek.is_empty() {
        // `dir` has no encrypted key.
        return Err(OpenError::Malformed);
    }
    let (index, key) = key_for(ring, header)?;
    let iv: [u8; NONCE_LEN] =
        b64::decode(iv).and_then(|v| v.try_into().ok()).ok_or(OpenError::Malformed)?;
    let tag = b64::decode(tag).ok_or(OpenError::Malformed)?;
    if tag.len() != TAG_LEN {
        return Err(OpenError::Malformed);
    }
    let mut buf = b64::decode(ct).ok_or(OpenError::Malformed)?;
    buf.extend_from_slice(&tag);
    let plain = key
        .aead
        .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(header.as_bytes()), &mut buf)
        .map_err(|_| OpenError::Tampered)?;
    let n = plain.len();
    buf.truncate(n);
    Ok((buf, index))
}

fn open_jws(ring: &KeyRing, token: &str) -> Result<(Vec<u8>, usize), OpenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(mac), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OpenError::Malformed);
    };
    let (index, key) = key_for(ring, header)?;
    let mac = b64::decode(mac).ok_or(OpenError::Malformed)?;
    let signed = &token[..header.len() + 1 + payload.len()];
    hmac::verify(&key.hmac, signed.as_bytes(), &mac).map_err(|_| OpenError::Tampered)?;
    let claims = b64::decode(payload).ok_or(OpenError::Malformed)?;
    Ok((claims, index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::CookieKey;

    fn ring(format: Format) -> KeyRing {
        KeyRing::new(vec![CookieKey::generate().unwrap()], format).unwrap()
    }

    #[test]
    fn both_formats_round_trip() {
        for f in [Format::Encrypted, Format::Signed] {
            let r = ring(f);
            let t = seal(&r, br#"{"a":1}"#).unwrap();
            assert_eq!(open(&r, &t).unwrap(), (br#"{"a":1}"#.to_vec(), 0));
            let segments = t.split('.').count();
            assert_eq!(segments, if f == Format::Encrypted { 5 } else { 3 });
        }
    }

    #[test]
    fn encrypted_tokens_hide_the_payload() {
        let r = ring(Format::Encrypted);
        let t = seal(&r, br#"{"secret":"visible?"}"#).unwrap();
        for part in t.split('.') {
            let decoded = b64::decode(part).unwrap_or_default();
            assert!(!String::from_utf8_lossy(&decoded).contains("visible?"));
        }
    }

    #[test]
    fn a_foreign_key_or_format_does_not_open() {
        let (a, b) = (ring(Format::Encrypted), ring(Format::Encrypted));
        let t = seal(&a, b"{}").unwrap();
        assert_eq!(open(&b, &t), Err(OpenError::UnknownKey));
        let signed = ring(Format::Signed);
        let t = seal(&signed, b"{}").unwrap();
        assert_eq!(open(&a, &t), Err(OpenError::Malformed));
    }
}
