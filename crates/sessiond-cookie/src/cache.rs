//! The verified-token cache: opened tokens by the SHA-256 of the token, so a cookie seen again
//! skips decryption and JSON parsing.
//!
//! # Security
//! - Keyed by a hash: no token is kept in memory.
//! - An entry is never served at or after its token's `exp` (it is dropped instead, and the
//!   token goes through the full check, which reports it expired).
//! - Removing a key from the ring flushes the whole cache, so nothing opened with that key is
//!   served again.
//! - Bounded: 16 shards of `capacity / 16` entries; a full shard first drops its expired
//!   entries, then everything.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use sessiond_core::secret::sha256;

use crate::claims::Claims;

const SHARDS: usize = 16;

/// A token that opened, with the key that opened it.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) claims: Claims,
    pub(crate) kid: String,
}

pub(crate) struct VerifiedCache {
    shards: Vec<Mutex<HashMap<[u8; 32], Arc<Opened>>>>,
    per_shard: usize,
}

impl VerifiedCache {
    /// A cache of about `capacity` entries (0: no caching).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    pub(crate) fn key(token: &str) -> [u8; 32] {
        sha256(token.as_bytes())
    }

    fn shard(&self, key: &[u8; 32]) -> &Mutex<HashMap<[u8; 32], Arc<Opened>>> {
        &self.shards[usize::from(key[0]) % SHARDS]
    }

    /// The opened token for `key`, unless it has expired by `now` (seconds).
    pub(crate) fn get(&self, key: &[u8; 32], now: i64) -> Option<Arc<Opened>> {
        if self.per_shard == 0 {
            return None;
        }
        let mut shard = self.shard(key).lock();
        let hit = shard.get(key)?;
        if hit.claims.exp <= now {
            shard.remove(key);
            return None;
        }
        Some(Arc::clone(hit))
    }

    pub(crate) fn insert(&self, key: [u8; 32], opened: Arc<Opened>, now: i64) {
        if self.per_shard == 0 || opened.claims.exp <= now {
            return;
        }
        let mut shard = self.shard(&key).lock();
        if shard.len() >= self.per_shard {
            shard.retain(|_, o| o.claims.exp > now);
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(key, opened);
    }

    pub(crate) fn flush(&self) {
        for s in &self.shards {
            s.lock().clear();
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened(exp: i64) -> Arc<Opened> {
        Arc::new(Opened {
            claims: Claims {
                payload: serde_json::Map::new(),
                iat: 0,
                exp,
                auth_time: 0,
            },
            kid: "k".to_owned(),
        })
    }

    #[test]
    fn never_serves_past_expiry_and_stays_bounded() {
        let c = VerifiedCache::new(32);
        let k = VerifiedCache::key("t");
        c.insert(k, opened(100), 50);
        assert!(c.get(&k, 99).is_some());
        assert!(c.get(&k, 100).is_none(), "at exp: gone");
        assert!(c.get(&k, 99).is_none(), "and dropped");
        for i in 0..10_000 {
            c.insert(VerifiedCache::key(&i.to_string()), opened(1000), 0);
        }
        assert!(c.len() <= 32, "{}", c.len());
        c.flush();
        assert_eq!(c.len(), 0);
        let none = VerifiedCache::new(0);
        none.insert(k, opened(100), 0);
        assert!(none.get(&k, 0).is_none());
    }
}
