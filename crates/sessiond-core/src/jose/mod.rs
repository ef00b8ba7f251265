//! A deliberately small, strict JWS (compact serialisation) implementation on `ring`.
//!
//! # Security
//! - The key is found by `kid` among keys held in memory; the key fixes the algorithm. A header
//!   whose `alg` differs from the key's, `alg: none`, a missing or unknown `kid`, and any header
//!   other than `alg`, `typ`, `kid`, `version` (so `jku`, `x5u`, `jwk`, `x5c`, `crit`) are rejected.
//! - Only unpadded base64url is accepted; tokens over [`MAX_TOKEN_LEN`] are rejected unread.
//! - HMAC secrets shorter than 32 bytes are refused.

mod alg;
mod jwk;

pub use alg::{
    Algorithm, MIN_HMAC_SECRET, SigningKey, VerifyingKey, access_header_b64, generate_key,
};
pub use jwk::{Jwk, Jwks};

use serde::{Deserialize, Serialize};

use crate::b64;

/// Tokens longer than this are rejected before any decoding (16 KiB).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The protected header sessiond writes and accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Header {
    /// Signature algorithm; must match the key's.
    pub alg: String,
    /// Token type (`JWT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Key id: names the key in memory that verifies the token (required; never a URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// SuperTokens access-token structure version (`"5"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Why a compact JWS was rejected. Deliberately coarse: callers map every variant to
/// "unauthorised"; the detail is for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Not three base64url parts, bad JSON, too long, unknown header fields.
    #[error("malformed token")]
    Malformed,
    /// No `kid`, or a `kid` no key in memory has.
    #[error("unknown signing key")]
    UnknownKey,
    /// The header's `alg` is not the key's algorithm (includes `none`).
    #[error("algorithm mismatch")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
}

/// The three segments of a compact JWS, split but not decoded.
#[derive(Debug, Clone, Copy)]
pub struct Segments<'a> {
    /// The protected header, base64url.
    pub header_b64: &'a str,
    signing_input: &'a str,
    payload_b64: &'a str,
    signature_b64: &'a str,
}

impl<'a> Segments<'a> {
    /// Splits `token` into exactly three segments.
    ///
    /// # Errors
    /// [`JwsError::Malformed`] for anything longer than [`MAX_TOKEN_LEN`] or not three segments.
    pub fn split(token: &'a str) -> Result<Self, JwsError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwsError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed);
        };
        Ok(Self {
            header_b64: h,
            signing_input: &token[..h.len() + 1 + p.len()],
            payload_b64: p,
            signature_b64: s,
        })
    }

    /// Verifies the signature with `key` and decodes the payload. The caller vouches that the
    /// header names `key` and its algorithm (it is byte-for-byte a header sessiond issued for
    /// `key`, see `KeyManager::verifier_for_header`).
    ///
    /// # Errors
    /// [`JwsError::BadSignature`]; [`JwsError::Malformed`] for bad base64url.
    pub fn verify_known_header(&self, key: &VerifyingKey) -> Result<Vec<u8>, JwsError> {
        let signature = b64::decode(self.signature_b64).ok_or(JwsError::Malformed)?;
        key.verify(self.signing_input.as_bytes(), &signature)
            .map_err(|_| JwsError::BadSignature)?;
        b64::decode(self.payload_b64).ok_or(JwsError::Malformed)
    }
}

/// A compact JWS whose structure has been checked but whose signature has not.
#[derive(Debug)]
pub struct UnverifiedJws<'a> {
    /// The decoded protected header.
    pub header: Header,
    signing_input: &'a str,
    payload_b64: &'a str,
    signature: Vec<u8>,
}

impl<'a> UnverifiedJws<'a> {
    /// Splits and decodes `token`, checking everything but the signature.
    ///
    /// # Errors
    /// [`JwsError::Malformed`] for anything that is not a well-formed compact JWS with a `kid`.
    pub fn parse(token: &'a str) -> Result<Self, JwsError> {
        let seg = Segments::split(token)?;
        let header_json = b64::decode(seg.header_b64).ok_or(JwsError::Malformed)?;
        let header: Header =
            serde_json::from_slice(&header_json).map_err(|_| JwsError::Malformed)?;
        if header.kid.is_none() {
            return Err(JwsError::UnknownKey);
        }
        let signature = b64::decode(seg.signature_b64).ok_or(JwsError::Malformed)?;
        Ok(Self {
            header,
            signing_input: seg.signing_input,
            payload_b64: seg.payload_b64,
            signature,
        })
    }

    /// The `kid` of the header (always present after [`UnverifiedJws::parse`]).
    pub fn kid(&self) -> &str {
        self.header.kid.as_deref().unwrap_or_default()
    }

    /// Verifies the signature with `key` and returns the decoded payload bytes.
    ///
    /// # Errors
    /// [`JwsError::AlgorithmMismatch`] when the header names another algorithm than the key's;
    /// [`JwsError::BadSignature`]; [`JwsError::Malformed`] for a payload that is not base64url.
    pub fn verify(self, key: &VerifyingKey) -> Result<Vec<u8>, JwsError> {
        if self.header.alg != key.alg().as_str() || self.header.kid.as_deref() != Some(key.kid()) {
            return Err(JwsError::AlgorithmMismatch);
        }
        key.verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwsError::BadSignature)?;
        b64::decode(self.payload_b64).ok_or(JwsError::Malformed)
    }
}

/// Which protected header a token gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderKind {
    /// `{"alg","typ":"JWT","version":"5","kid"}`: SuperTokens v5 access tokens.
    AccessToken,
    /// `{"alg","typ":"JWT","kid"}`: id tokens and service tokens.
    Plain,
}

/// Signs `payload` (JSON bytes) with `key`, producing a compact JWS with `key`'s precomputed
/// header of the given kind.
///
/// # Errors
/// [`crate::Error::Crypto`] if the signing primitive fails.
pub fn sign_compact(
    key: &SigningKey, kind: HeaderKind, payload: &[u8],
) -> Result<String, crate::Error> {
    let header = key.header_b64(kind == HeaderKind::AccessToken);
    let payload_len = base64::encoded_len(payload.len(), false).unwrap_or(0);
    let mut out = String::with_capacity(header.len() + payload_len + 2 + 400);
    out.push_str(header);
    out.push('.');
    base64::Engine::encode_string(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        payload,
        &mut out,
    );
    let sig = key.sign(out.as_bytes())?;
    out.push('.');
    base64::Engine::encode_string(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests;
