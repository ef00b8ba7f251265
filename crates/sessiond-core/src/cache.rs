//! A bounded cache of verified tokens, keyed by the SHA-256 of the token: a token seen again
//! skips signature checks, decryption and JSON parsing.
//!
//! # Security
//! - Keyed by a hash: no token is kept in memory.
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

/// The key of a token in a [`VerifiedCache`]: its SHA-256.
pub type TokenKey = [u8; 32];

type Shard<T> = Mutex<HashMap<TokenKey, (i64, Arc<T>)>>;

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
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    /// The cache key of `token`.
    pub fn key(token: &str) -> TokenKey {
        sha256(token.as_bytes())
    }

    fn shard(&self, key: &TokenKey) -> &Shard<T> {
        &self.shards[usize::from(key[0]) % SHARDS]
    }

    /// The entry for `key`, unless it expires at or before `now`.
    pub fn get(&self, key: &TokenKey, now: i64) -> Option<Arc<T>> {
        if self.per_shard == 0 {
            return None;
        }
        let mut shard = self.shard(key).lock();
        let (exp, hit) = shard.get(key)?;
        if *exp <= now {
            shard.remove(key);
            return None;
        }
        Some(Arc::clone(hit))
    }

    /// Keeps `value` until `exp` (not at all if that is not after `now`).
    pub fn insert(&self, key: TokenKey, value: Arc<T>, exp: i64, now: i64) {
        if self.per_shard == 0 || exp <= now {
            return;
        }
        let mut shard = self.shard(&key).lock();
        if shard.len() >= self.per_shard {
            shard.retain(|_, (e, _)| *e > now);
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(key, (exp, value));
    }

    /// Drops the entry for `key`.
    pub fn remove(&self, key: &TokenKey) {
        self.shard(key).lock().remove(key);
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
        let k = VerifiedCache::<u8>::key("t");
        c.insert(k, Arc::new(1u8), 100, 50);
        assert!(c.get(&k, 99).is_some());
        assert!(c.get(&k, 100).is_none(), "at exp: gone");
        assert!(c.get(&k, 99).is_none(), "and dropped");
        for i in 0..10_000 {
            c.insert(
                VerifiedCache::<u8>::key(&i.to_string()),
                Arc::new(0),
                1000,
                0,
            );
        }
        assert!(c.len() <= 32, "{}", c.len());
        c.flush();
        assert!(c.is_empty());
        let none = VerifiedCache::new(0);
        none.insert(k, Arc::new(1u8), 100, 0);
        assert!(none.get(&k, 0).is_none());
        c.insert(k, Arc::new(1u8), 100, 0);
        c.remove(&k);
        assert!(c.get(&k, 0).is_none());
    }
}
