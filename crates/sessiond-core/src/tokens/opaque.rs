//! The opaque access-token format of seed 000: `base64url(handle ";" random ";v0")`.
//!
//! Nothing in it can be checked without the store: the manager compares
//! `SHA-256(random)` with the hash kept on the session row, in constant time.

use crate::b64;
use crate::secret::SecretString;
use crate::tokens::chain::Secret;

/// A decoded opaque access token.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueToken {
    /// The session the token claims to belong to (not a secret).
    pub handle: String,
    /// The random part, as it appears in the token (base64url of the access secret).
    pub random: String,
}

impl std::fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaqueToken").field("handle", &self.handle).finish_non_exhaustive()
    }
}

impl OpaqueToken {
    /// The token for `handle` and access secret `secret`.
    pub fn new(handle: &str, secret: &Secret) -> Self {
        Self { handle: handle.to_owned(), random: b64::encode(secret) }
    }

    /// Encodes the token for the wire.
    pub fn encode(&self) -> SecretString {
        SecretString::new(b64::encode(format!("{};{};v0", self.handle, self.random)))
    }

    /// Decodes a token; `None` for anything malformed.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() > 1024 || text.contains('.') {
            return None;
        }
        let raw = String::from_utf8(b64::decode(text)?).ok()?;
        let mut parts = raw.split(';');
        let (Some(handle), Some(random), Some("v0"), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        if handle.is_empty() || random.len() < 22 {
            return None;
        }
        Some(Self { handle: handle.to_owned(), random: random.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(handle in "[a-zA-Z0-9_-]{1,80}", secret: [u8; 32]) {
            let t = OpaqueToken::new(&handle, &secret);
            prop_assert_eq!(OpaqueToken::decode(t.encode().expose()), Some(t));
        }

        #[test]
        fn never_panics_on_garbage(s in "\\PC{0,300}") {
            let _ = OpaqueToken::decode(&s);
        }
    }

    #[test]
    fn requires_version_marker() {
        let bad = b64::encode("h;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;v1");
        assert!(OpaqueToken::decode(&bad).is_none());
        let good = b64::encode("h;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;v0");
        assert!(OpaqueToken::decode(&good).is_some());
    }
}
