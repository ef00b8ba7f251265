//! A bounded cache of verified tokens: a token seen again skips signature checks, decryption
//! and JSON parsing.
//!
//! An entry is found by the SHA-256 of the token's signature (or tag): its last segment, at most
//! the last 43 characters (256 bits). The entry keeps the rest of the token (header and payload,
//! or a JWE's header, IV and ciphertext) and a hit must match it byte for byte, so a token whose
//! payload was changed under a known signature is never served from the cache. Hashing the
//! short signature instead of the whole token keeps a hit cheap (a 500-byte token costs one
//! SHA-256 block, not nine).
//!
//! # Security
//! - No whole token is kept in memory: its signature or tag, without which the rest is not a
//!   credential, only as a hash.
//! - An entry is never served at or after its expiry (it is dropped instead, and the caller
//!   checks the token in full, which reports it expired).
//! - The owner flushes it when a key it verified with is removed, and checks on every hit that
//!   whatever else an entry depends on (its key, the session's revocation) still holds.
//! - Bounded: 16 shards of `capacity / 16` entries; a full shard first drops its expired
//!   entries, then everything.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::secret::sha256;

const SHARDS: usize = 16;

/// The key of a token in a [`VerifiedCache`]: the SHA-256 of its signature.
pub type TokenKey = [u8; 32];

/// Characters of the signature that are hashed: 43 base64url characters are 256 bits.
const SIGNATURE_CHARS: usize = 43;

struct Entry<T> {
    exp: i64,
    /// The token without the hashed signature characters.
    rest: Box<str>,
    value: Arc<T>,
}

type Shard<T> = Mutex<HashMap<TokenKey, Entry<T>, KeyHasher>>;

/// Keys are SHA-256 outputs: their first eight bytes are already a uniform hash.
#[derive(Default, Clone, Copy)]
struct KeyHasher;

impl std::hash::BuildHasher for KeyHasher {
    type Hasher = FirstBytes;
    fn build_hasher(&self) -> FirstBytes {
        FirstBytes(0)
    }
}

struct FirstBytes(u64);

impl std::hash::Hasher for FirstBytes {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 ^= u64::from(*b) << (8 * i);
        }
    }
}

/// Splits `token` into what is hashed (the tail of its last segment) and the rest.
fn split(token: &str) -> (&str, &str) {
    let last = token.rfind('.').map_or(0, |i| i + 1);
    let start = last.max(token.len().saturating_sub(SIGNATURE_CHARS));
    // `start` is on a character boundary unless the token holds multibyte characters, which no
    // verified token does; fall back to hashing the whole token.
    if token.is_char_boundary(start) { (&token[start..], &token[..start]) } else { (token, "") }
}

/// Verified tokens with their expiry (in whatever unit the owner uses consistently).
pub struct VerifiedCache<T> {
    shards: Vec<Shard<T>>,
    per_shard: usize,
}

impl<T> std::fmt::Debug for VerifiedCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("capacity", &(self.per_shard * SHARDS))
            .finish_non_exhaustive()
    }
}

impl<T> VerifiedCache<T> {
    /// A cache of about `capacity` entries (0: no caching).
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::with_hasher(KeyHasher))).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    /// The cache key of `token` (the SHA-256 of its signature's last 256 bits).
    pub fn key(token: &str) -> TokenKey {
        sha256(split(token).0.as_bytes())
    }

    fn shard(&self, key: &TokenKey) -> &Shard<T> {
        &self.shards[usize::from(key[31]) % SHARDS]
    }

    /// The entry for `token`, unless it expires at or before `now`.
    pub fn get(&self, token: &str, now: i64) -> Option<Arc<T>> {
        if self.per_shard == 0 {
            return None;
        }
        let (signature, rest) = split(token);
        let key = sha256(signature.as_bytes());
        let mut shard = self.shard(&key).lock();
        let e = shard.get(&key)?;
        if e.exp <= now {
            shard.remove(&key);
            return None;
        }
        // Not a secret comparison: `rest` is the header and payload, which the client can read
        // and which are no credential without the signature; and this entry is only reached by
        // presenting that signature (its last 256 bits) in the first place.
        if *e.rest != *rest {
            return None;
        }
        Some(Arc::clone(&e.value))
    }

    /// Keeps `value` for `token` until `exp` (not at all if that is not after `now`).
    pub fn insert(&self, token: &str, value: Arc<T>, exp: i64, now: i64) {
        if self.per_shard == 0 || exp <= now {
            return;
        }
        let (signature, rest) = split(token);
        let key = sha256(signature.as_bytes());
        let mut shard = self.shard(&key).lock();
        if shard.len() >= self.per_shard {
            shard.retain(|_, e| e.exp > now);
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(key, Entry { exp, rest: rest.into(), value });
    }

    /// Drops the entry for `token`.
    pub fn remove(&self, token: &str) {
        let key = Self::key(token);
        self.shard(&key).lock().remove(&key);
    }

    /// Drops every entry.
    pub fn flush(&self) {
        for s in &self.shards {
            s.lock().clear();
        }
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_serves_past_expiry_and_stays_bounded() {
        let c = VerifiedCache::new(32);
        let t = "header.payload.signature-of-the-token";
        c.insert(t, Arc::new(1u8), 100, 50);
        assert!(c.get(t, 99).is_some());
        assert!(c.get(t, 100).is_none(), "at exp: gone");
        assert!(c.get(t, 99).is_none(), "and dropped");
        for i in 0..10_000 {
            c.insert(&format!("h.p.{i}"), Arc::new(0), 1000, 0);
        }
        assert!(c.len() <= 32, "{}", c.len());
        c.flush();
        assert!(c.is_empty());
        let none = VerifiedCache::new(0);
        none.insert(t, Arc::new(1u8), 100, 0);
        assert!(none.get(t, 0).is_none());
        c.insert(t, Arc::new(1u8), 100, 0);
        c.remove(t);
        assert!(c.get(t, 0).is_none());
    }

    #[test]
    fn a_known_signature_under_another_payload_is_a_miss() {
        let c = VerifiedCache::new(32);
        let sig = "S".repeat(86);
        c.insert(&format!("hdr.payload.{sig}"), Arc::new(1u8), 100, 0);
        assert!(c.get(&format!("hdr.payload.{sig}"), 0).is_some());
        assert!(c.get(&format!("hdr.pAyload.{sig}"), 0).is_none());
        // Only the signature's last 256 bits are hashed; the rest must match byte for byte.
        assert!(c.get(&format!("hdr.payload.x{}", &sig[1..]), 0).is_none());
        assert!(c.get(&format!("hdr.payload.{}x", &sig[..85]), 0).is_none());
        // Tokens shorter than a signature, or without dots, still work.
        c.insert("abc", Arc::new(2u8), 100, 0);
        assert_eq!(*c.get("abc", 0).unwrap(), 2);
        assert!(c.get("abd", 0).is_none());
        assert_eq!(split("a.bé"), ("bé", "a."));
    }
}
