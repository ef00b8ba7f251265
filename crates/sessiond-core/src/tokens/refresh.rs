//! The refresh-token wire format: `base64url(0x01 ‖ generation (u64 BE) ‖ secret (32) ‖ handle)`.
//!
//! The handle and generation travel in the clear (they are not secrets); the 256-bit secret is
//! what proves possession. Stores keep only `SHA-256(secret)`.

use crate::b64;
use crate::secret::{SECRET_LEN, SecretString};
use crate::tokens::chain::Secret;

const VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 8 + SECRET_LEN;
/// Longest handle a refresh token may carry.
pub const MAX_HANDLE_LEN: usize = 256;

/// A decoded refresh token.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// Session handle.
    pub handle: String,
    /// Rotation generation.
    pub generation: u64,
    /// The secret.
    pub secret: Secret,
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("handle", &self.handle)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl RefreshToken {
    /// Encodes the token for the wire.
    pub fn encode(&self) -> SecretString {
        let mut raw = Vec::with_capacity(HEADER_LEN + self.handle.len());
        raw.push(VERSION);
        raw.extend_from_slice(&self.generation.to_be_bytes());
        raw.extend_from_slice(&self.secret);
        raw.extend_from_slice(self.handle.as_bytes());
        SecretString::new(b64::encode(raw))
    }

    /// Decodes a token; `None` for anything malformed.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() > 2 * (HEADER_LEN + MAX_HANDLE_LEN) {
            return None;
        }
        let raw = b64::decode(text)?;
        if raw.len() <= HEADER_LEN || raw[0] != VERSION || raw.len() - HEADER_LEN > MAX_HANDLE_LEN {
            return None;
        }
        let generation = u64::from_be_bytes(raw[1..9].try_into().ok()?);
        let secret: Secret = raw[9..HEADER_LEN].try_into().ok()?;
        let handle = String::from_utf8(raw[HEADER_LEN..].to_vec()).ok()?;
        Some(Self {
            handle,
            generation,
            secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(handle in "[a-zA-Z0-9_-]{1,80}", generation: u64, secret: [u8; 32]) {
            let t = RefreshToken { handle, generation, secret };
            prop_assert_eq!(RefreshToken::decode(t.encode().expose()), Some(t));
        }

        #[test]
        fn never_panics_on_garbage(s in "\\PC{0,600}") {
            let _ = RefreshToken::decode(&s);
        }

        #[test]
        fn never_panics_on_garbage_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = RefreshToken::decode(&b64::encode(bytes));
        }
    }

    #[test]
    fn rejects_wrong_version_and_empty_handle() {
        let mut raw = vec![2u8];
        raw.extend([0u8; 8 + 32]);
        raw.extend(b"h");
        assert!(RefreshToken::decode(&b64::encode(&raw)).is_none());
        raw[0] = 1;
        assert!(RefreshToken::decode(&b64::encode(&raw)).is_some());
        raw.truncate(HEADER_LEN);
        assert!(RefreshToken::decode(&b64::encode(&raw)).is_none());
    }

    #[test]
    fn debug_hides_the_secret() {
        let t = RefreshToken {
            handle: "h".into(),
            generation: 1,
            secret: [0xAB; 32],
        };
        assert!(!format!("{t:?}").to_lowercase().contains("ab, "));
    }
}
