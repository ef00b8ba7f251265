//! The refresh-token wire format: `base64url(0x02 ‖ generation (u64 BE) ‖ secret (32) ‖ tag (16)
//! ‖ handle)`, where the tag is a MAC of the rest under the app's chain key (see
//! [`Chain::tag`](crate::tokens::chain::Chain::tag)). Version 1 tokens (no tag) are still read.
//!
//! The handle and generation travel in the clear (they are not secrets); the 256-bit secret is
//! what proves possession. Stores keep only `SHA-256(secret)`. The tag proves in one MAC that the
//! server issued this token for this session and generation, so telling a replayed ancestor
//! (theft) from a forgery costs the same whatever the session's generation.

use crate::b64;
use crate::secret::{SECRET_LEN, SecretString};
use crate::tokens::chain::Secret;

const V1: u8 = 1;
const V2: u8 = 2;
const HEADER_LEN: usize = 1 + 8 + SECRET_LEN;
/// Bytes of the tag.
pub const TAG_LEN: usize = 16;
/// Longest handle a refresh token may carry.
pub const MAX_HANDLE_LEN: usize = 256;

/// A decoded refresh token.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// The session the token belongs to (in the clear: not a secret).
    pub handle: String,
    /// How many rotations preceded this token: 0 at creation, +1 per refresh.
    pub generation: u64,
    /// The 256-bit secret that proves possession; stores keep only its SHA-256.
    pub secret: Secret,
    /// The chain-key tag (`None` for version 1 tokens, issued before tags existed).
    pub tag: Option<[u8; TAG_LEN]>,
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
        let mut raw = Vec::with_capacity(HEADER_LEN + TAG_LEN + self.handle.len());
        raw.push(if self.tag.is_some() { V2 } else { V1 });
        raw.extend_from_slice(&self.generation.to_be_bytes());
        raw.extend_from_slice(&self.secret);
        if let Some(t) = &self.tag {
            raw.extend_from_slice(t);
        }
        raw.extend_from_slice(self.handle.as_bytes());
        SecretString::new(b64::encode(raw))
    }

    /// Decodes a token; `None` for anything malformed.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() > 2 * (HEADER_LEN + TAG_LEN + MAX_HANDLE_LEN) {
            return None;
        }
        let raw = b64::decode(text)?;
        let tag_len = match *raw.first()? {
            V1 => 0,
            V2 => TAG_LEN,
            _ => return None,
        };
        let start = HEADER_LEN + tag_len;
        if raw.len() <= start || raw.len() - start > MAX_HANDLE_LEN {
            return None;
        }
        let generation = u64::from_be_bytes(raw[1..9].try_into().ok()?);
        let secret: Secret = raw[9..HEADER_LEN].try_into().ok()?;
        let tag = if tag_len == 0 { None } else { Some(raw[HEADER_LEN..start].try_into().ok()?) };
        let handle = String::from_utf8(raw[start..].to_vec()).ok()?;
        Some(Self { handle, generation, secret, tag })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(handle in "[a-zA-Z0-9_-]{1,80}", generation: u64, secret: [u8; 32], tag: Option<[u8; 16]>) {
            let t = RefreshToken { handle, generation, secret, tag };
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
        let mut raw = vec![3u8];
        raw.extend([0u8; 8 + 32]);
        raw.extend(b"h");
        assert!(RefreshToken::decode(&b64::encode(&raw)).is_none());
        raw[0] = 1;
        assert!(RefreshToken::decode(&b64::encode(&raw)).is_some());
        raw[0] = 2;
        assert!(
            RefreshToken::decode(&b64::encode(&raw)).is_none(),
            "version 2 needs a tag and a handle"
        );
        raw.truncate(HEADER_LEN);
        raw[0] = 1;
        assert!(RefreshToken::decode(&b64::encode(&raw)).is_none());
    }

    #[test]
    fn debug_hides_the_secret() {
        let t = RefreshToken {
            handle: "h".into(),
            generation: 1,
            secret: [0xAB; 32],
            tag: Some([0xAB; 16]),
        };
        assert!(!format!("{t:?}").to_lowercase().contains("ab, "));
    }
}
