//! Cookie keys: 32 random bytes, checked on the way in, held in a ring that seals with its first
//! key and opens with any of them.

use std::fmt;
use std::sync::Arc;

use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use ring::hmac;
use sessiond_core::b64;
use sessiond_core::secret::{random_bytes, sha256};

use crate::codec::{Format, header_b64};
use crate::error::Error;

/// Length of a cookie key in bytes (AES-256-GCM and HMAC-SHA-256 both take it as is).
pub const KEY_LEN: usize = 32;

/// Fewer distinct byte values than this in 32 bytes is not a random key. 32 random bytes have
/// fewer than 22 distinct values about once in 10^5 draws and fewer than 20 far less often.
const MIN_DISTINCT_BYTES: usize = 20;

/// One cookie key. Its `Debug` output shows only its key id.
///
/// # Security
/// The key encrypts (JWE `dir` + `A256GCM`) or signs (JWS `HS256`) every cookie it seals, and an
/// independent JOSE library holding it can do the same, so treat it like a password database's
/// master secret: keep it out of source control and logs, and rotate it by adding a new key in
/// front of the ring.
#[derive(Clone)]
pub struct CookieKey {
    bytes: [u8; KEY_LEN],
    kid: String,
}

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl CookieKey {
    /// A new key of 32 bytes from the operating system's CSPRNG.
    ///
    /// # Errors
    /// [`Error::Crypto`] when the OS refuses randomness.
    pub fn generate() -> Result<Self, Error> {
        loop {
            let bytes: [u8; KEY_LEN] = random_bytes()
                .map_err(|_| Error::Crypto("the OS random number generator failed"))?;
            // A fresh draw fails the entropy check about once in 10^9; draw again rather than
            // hand out a key the parser would refuse. Nor a key starting with '-', which command
            // lines would take for a flag (`--cookie-key -Ab…`).
            if let Ok(k) = Self::from_bytes(bytes)
                && !k.to_base64url().starts_with('-')
            {
                return Ok(k);
            }
        }
    }

    /// A key from its raw 32 bytes.
    ///
    /// # Errors
    /// [`Error::WeakKey`] when the bytes do not look random (fewer than 20 distinct values).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Result<Self, Error> {
        let mut seen = [false; 256];
        for b in bytes {
            seen[usize::from(b)] = true;
        }
        if seen.iter().filter(|s| **s).count() < MIN_DISTINCT_BYTES {
            return Err(Error::WeakKey(
                "the key's bytes repeat too much to be random; generate one with `sessiond cookie-key`",
            ));
        }
        let digest = sha256(&[b"sessiond-cookie-kid\0".as_slice(), &bytes].concat());
        Ok(Self { bytes, kid: b64::encode(&digest[..9]) })
    }

    /// Parses a key written as unpadded base64url (43 characters), the form
    /// [`CookieKey::to_base64url`] and `sessiond cookie-key` print.
    ///
    /// # Errors
    /// [`Error::WeakKey`] for anything that is not base64url, not exactly 32 bytes, or not
    /// random-looking: a text made only of lower-case or only of upper-case letters and digits
    /// (a pass phrase) or bytes that repeat too much. A random key fails this check about once
    /// in 10^9 draws.
    pub fn from_base64url(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let bytes = b64::decode(text).ok_or(Error::WeakKey(
            "a cookie key is 32 random bytes written as unpadded base64url (43 characters)",
        ))?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| {
            Error::WeakKey("a cookie key must be exactly 32 bytes (43 base64url characters)")
        })?;
        let has = |f: fn(&u8) -> bool| text.as_bytes().iter().any(f);
        if !has(u8::is_ascii_lowercase) || !has(u8::is_ascii_uppercase) {
            return Err(Error::WeakKey(
                "the key looks like a pass phrase, not random bytes; generate one with `sessiond cookie-key`",
            ));
        }
        Self::from_bytes(bytes)
    }

    /// The key as unpadded base64url.
    ///
    /// # Security
    /// This is the secret itself: print it once, to a person or a secret store.
    pub fn to_base64url(&self) -> String {
        b64::encode(self.bytes)
    }

    /// The key id: 12 base64url characters derived from the key (not reversible). Every cookie
    /// carries it in its `kid` header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key as a JWK (`{"kty":"oct","k":…,"kid":…}`), for handing to a JOSE library.
    ///
    /// # Security
    /// Contains the secret.
    pub fn to_jwk(&self) -> serde_json::Value {
        serde_json::json!({"kty": "oct", "k": self.to_base64url(), "kid": self.kid})
    }
}

/// One key of a [`KeyRing`], ready to use.
pub(crate) struct RingKey {
    pub(crate) kid: String,
    pub(crate) aead: LessSafeKey,
    pub(crate) hmac: hmac::Key,
    /// The protected header this key writes in the ring's format, base64url.
    pub(crate) header_b64: String,
}

/// The keys a [`CookieSessions`](crate::CookieSessions) uses: the first seals, every key opens,
/// and a cookie opened with a key other than the first is re-issued under the first.
#[derive(Clone)]
pub struct KeyRing {
    pub(crate) keys: Vec<Arc<RingKey>>,
    pub(crate) format: Format,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing").field("kids", &self.kids()).field("format", &self.format).finish()
    }
}

impl KeyRing {
    /// A ring of `keys` (the first seals) writing tokens in `format`.
    ///
    /// # Errors
    /// [`Error::Config`] for an empty ring or two keys with one id (the same key twice).
    pub fn new(keys: Vec<CookieKey>, format: Format) -> Result<Self, Error> {
        if keys.is_empty() {
            return Err(Error::Config(
                "a cookie session needs at least one key; there is no default key".to_owned(),
            ));
        }
        let mut ring = Self { keys: Vec::with_capacity(keys.len()), format };
        for k in &keys {
            ring.push(k)?;
        }
        Ok(ring)
    }

    fn push(&mut self, k: &CookieKey) -> Result<(), Error> {
        if self.by_kid(&k.kid).is_some() {
            return Err(Error::Config(format!("key {} is in the ring twice", k.kid)));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, &k.bytes)
            .map_err(|_| Error::Crypto("AES-256-GCM refused the key"))?;
        self.keys.push(Arc::new(RingKey {
            kid: k.kid.clone(),
            aead: LessSafeKey::new(unbound),
            hmac: hmac::Key::new(hmac::HMAC_SHA256, &k.bytes),
            header_b64: header_b64(self.format, &k.kid),
        }));
        Ok(())
    }

    /// This ring with `key` in front (sealing from now on).
    pub(crate) fn with_front(&self, key: &CookieKey) -> Result<Self, Error> {
        let mut ring = Self { keys: Vec::with_capacity(self.keys.len() + 1), format: self.format };
        ring.push(key)?;
        for k in &self.keys {
            if k.kid == key.kid {
                return Err(Error::Config(format!("key {} is in the ring twice", k.kid)));
            }
            ring.keys.push(Arc::clone(k));
        }
        Ok(ring)
    }

    /// This ring without the key `kid`.
    pub(crate) fn without(&self, kid: &str) -> Self {
        Self {
            keys: self.keys.iter().filter(|k| k.kid != kid).cloned().collect(),
            format: self.format,
        }
    }

    /// The ids of the keys, sealing key first.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    /// Whether tokens are encrypted (JWE, the default) or signed (JWS).
    pub fn format(&self) -> Format {
        self.format
    }

    pub(crate) fn primary(&self) -> &RingKey {
        // `new` refuses an empty ring.
        &self.keys[0]
    }

    pub(crate) fn by_kid(&self, kid: &str) -> Option<(usize, &RingKey)> {
        self.find(|k| k.kid == kid)
    }

    pub(crate) fn by_header(&self, header_b64: &str) -> Option<(usize, &RingKey)> {
        self.find(|k| k.header_b64 == header_b64)
    }

    /// The first key `matches` accepts, with its place in the ring (0 is the sealing key).
    fn find(&self, matches: impl Fn(&RingKey) -> bool) -> Option<(usize, &RingKey)> {
        self.keys.iter().enumerate().find(|(_, k)| matches(k)).map(|(i, k)| (i, &**k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_and_differ() {
        let a = CookieKey::generate().unwrap();
        let b = CookieKey::generate().unwrap();
        assert_ne!(a.kid(), b.kid());
        let text = a.to_base64url();
        assert_eq!(text.len(), 43);
        assert_eq!(CookieKey::from_base64url(&text).unwrap().kid(), a.kid());
        assert!(!format!("{a:?}").contains(&text), "Debug shows no key");
    }

    #[test]
    fn weak_keys_are_refused_with_a_message() {
        let short = b64::encode([7u8; 16]);
        let e = CookieKey::from_base64url(&short).unwrap_err();
        assert!(e.to_string().contains("32 bytes"), "{e}");
        let repeated = b64::encode([0xA5u8; 32]);
        assert!(CookieKey::from_base64url(&repeated).is_err());
        // 43 characters of a pass phrase: valid base64url, 32 bytes, but text.
        let phrase = "thisismysupersecretkeyforthedemoapp12345678";
        let e = CookieKey::from_base64url(phrase).unwrap_err();
        assert!(e.to_string().contains("pass phrase"), "{e}");
        assert!(CookieKey::from_base64url("not base64!").is_err());
        assert!(CookieKey::from_bytes([1u8; 32]).is_err());
        let counting: [u8; 32] = std::array::from_fn(|i| u8::try_from(i).unwrap() * 7);
        assert!(CookieKey::from_bytes(counting).is_ok());
    }

    #[test]
    fn an_empty_ring_or_a_repeated_key_is_a_config_error() {
        assert!(KeyRing::new(vec![], Format::Encrypted).is_err());
        let k = CookieKey::generate().unwrap();
        assert!(KeyRing::new(vec![k.clone(), k], Format::Signed).is_err());
    }
}
