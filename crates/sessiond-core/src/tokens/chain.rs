//! Everything sessiond derives instead of storing, from one server HMAC key (the chain key).
//!
//! For refresh generation `n` with secret `s_n`:
//! - successor secret `s_{n+1} = HMAC(k, "sessiond/v1/refresh" ‖ handle ‖ n+1 ‖ s_n)`;
//! - access secret `a_n = HMAC(k, "sessiond/v1/access" ‖ handle ‖ n ‖ s_n)` (the random part of
//!   an opaque access token);
//! - anti-CSRF token `c_n = base64url(HMAC(k, "sessiond/v1/csrf" ‖ a_n))`.
//!
//! Because the successor is a function of the parent, every refresh of `s_n` — concurrent or
//! retried — yields the same `s_{n+1}`, and the store only needs `SHA-256(s_n)` of the current
//! generation. Walking the chain forward from a presented secret also proves whether it is a
//! genuine ancestor (theft) or a forgery (no revocation), with nothing stored about ancestors.

use crate::b64;
use crate::error::Error;
use crate::jose::SigningKey;
use crate::secret::SECRET_LEN;

/// A 256-bit derived secret.
pub type Secret = [u8; SECRET_LEN];

/// The derivations, bound to one chain key.
#[derive(Debug, Clone, Copy)]
pub struct Chain<'a> {
    key: &'a SigningKey,
}

fn to_secret(mac: &[u8]) -> Result<Secret, Error> {
    mac.try_into().map_err(|_| Error::Crypto("chain MAC has the wrong length"))
}

impl<'a> Chain<'a> {
    /// Derivations under `key` (an HS256 key of kind `chain`).
    pub fn new(key: &'a SigningKey) -> Self {
        Self { key }
    }

    fn mac(
        &self, label: &[u8], handle: &str, generation: u64, secret: &[u8],
    ) -> Result<Secret, Error> {
        let mut msg = Vec::with_capacity(label.len() + handle.len() + 10 + secret.len());
        msg.extend_from_slice(label);
        msg.push(0);
        msg.extend_from_slice(handle.as_bytes());
        msg.push(0);
        msg.extend_from_slice(&generation.to_be_bytes());
        msg.extend_from_slice(secret);
        to_secret(&self.key.sign(&msg)?)
    }

    /// The secret of generation `generation + 1`, derived from generation `generation`'s.
    ///
    /// # Errors
    /// [`Error::Crypto`] if the MAC fails.
    pub fn successor(
        &self, handle: &str, generation: u64, secret: &Secret,
    ) -> Result<Secret, Error> {
        self.mac(b"sessiond/v1/refresh", handle, generation + 1, secret)
    }

    /// The access secret of generation `generation`.
    ///
    /// # Errors
    /// [`Error::Crypto`] if the MAC fails.
    pub fn access_secret(
        &self, handle: &str, generation: u64, secret: &Secret,
    ) -> Result<Secret, Error> {
        self.mac(b"sessiond/v1/access", handle, generation, secret)
    }

    /// The tag a refresh token of `generation` with `secret` carries: 128 bits of
    /// `HMAC(k, "sessiond/v2/tag" ‖ handle ‖ generation ‖ secret)`. Only the server can make it, so
    /// a valid tag proves the token was issued, whatever its generation, in one MAC.
    ///
    /// # Errors
    /// [`Error::Crypto`] if the MAC fails.
    pub fn tag(
        &self, handle: &str, generation: u64, secret: &Secret,
    ) -> Result<[u8; crate::tokens::refresh::TAG_LEN], Error> {
        let mac = self.mac(b"sessiond/v2/tag", handle, generation, secret)?;
        let mut t = [0u8; crate::tokens::refresh::TAG_LEN];
        t.copy_from_slice(&mac[..crate::tokens::refresh::TAG_LEN]);
        Ok(t)
    }

    /// The anti-CSRF token that goes with an access secret.
    ///
    /// # Errors
    /// [`Error::Crypto`] if the MAC fails.
    pub fn anti_csrf(&self, access_secret: &Secret) -> Result<String, Error> {
        let mut msg = b"sessiond/v1/csrf\0".to_vec();
        msg.extend_from_slice(access_secret);
        Ok(b64::encode(self.key.sign(&msg)?))
    }
}
