//! Key names. Every key of one user's sessions shares the hash tag `{<prefix>:<tag>}`, where
//! `tag` is the 12-bit user tag the session handle carries (`sessiond_core::model::user_tag`),
//! so in a Redis Cluster each atomic step touches one slot:
//!
//! - `{P:ttt}:s:<handle>`: the session (a hash);
//! - `{P:ttt}:u`: the tag's user index, members `app \0 user \0 handle` (read by lexical range);
//! - `{P:ttt}:x`: the same members scored by expiry, for the sweeper;
//! - `{P:rrr}:r`: account-linked sessions by recipe user, members `app \0 recipe \0 handle`,
//!   under the recipe user's tag;
//! - `{P:keys}:all`: the signing keys (a hash, kid → JSON record).

use sessiond_core::model::{USER_TAG_BITS, handle_tag, user_tag};

/// Number of distinct tags.
pub(crate) const TAGS: u16 = 1 << USER_TAG_BITS;

/// Key names under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    fn tagged(&self, tag: u16, rest: &str) -> String {
        format!("{{{}:{tag:03x}}}:{rest}", self.prefix)
    }

    /// The tag of a handle; handles not made by sessiond fall back to tag 0.
    pub(crate) fn tag_of_handle(handle: &str) -> u16 {
        handle_tag(handle).unwrap_or(0)
    }

    pub(crate) fn session(&self, handle: &str) -> String {
        self.tagged(Self::tag_of_handle(handle), &format!("s:{handle}"))
    }

    pub(crate) fn user_index(&self, tag: u16) -> String {
        self.tagged(tag, "u")
    }

    pub(crate) fn expiry(&self, tag: u16) -> String {
        self.tagged(tag, "x")
    }

    pub(crate) fn recipe_index(&self, tag: u16) -> String {
        self.tagged(tag, "r")
    }

    pub(crate) fn signing_keys(&self) -> String {
        format!("{{{}:keys}}:all", self.prefix)
    }

    /// The hash tag string of a tag (what `WAIT` routing and slot computation use).
    pub(crate) fn hash_tag(&self, tag: u16) -> String {
        format!("{}:{tag:03x}", self.prefix)
    }
}

/// The tag of an (app, user) pair.
pub(crate) fn tag(app: &str, user: &str) -> u16 {
    user_tag(app, user)
}

/// An index member: `app \0 user \0 handle`.
pub(crate) fn member(app: &str, user: &str, handle: &str) -> String {
    format!("{app}\0{user}\0{handle}")
}

/// The lexical range `[min, max]` of every member of (app, user).
pub(crate) fn member_range(app: &str, user: &str) -> (Vec<u8>, Vec<u8>) {
    let mut min = b"[".to_vec();
    min.extend_from_slice(app.as_bytes());
    min.push(0);
    min.extend_from_slice(user.as_bytes());
    min.push(0);
    let mut max = min.clone();
    // 0xFF never occurs in UTF-8, so it bounds every handle.
    max.push(0xFF);
    (min, max)
}

/// The handle of an index member.
pub(crate) fn handle_of_member(member: &[u8]) -> Option<String> {
    let pos = member.iter().rposition(|b| *b == 0)?;
    String::from_utf8(member[pos + 1..].to_vec()).ok()
}

/// The Redis Cluster slot of a hash tag (CRC16/XMODEM mod 16384).
pub(crate) fn slot(hash_tag: &str) -> u16 {
    let mut crc: u16 = 0;
    for &b in hash_tag.as_bytes() {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16384
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_and_its_users_index_share_a_slot() {
        let keys = Keys::new("sd");
        let h = sessiond_core::model::new_handle("public", "alice", "public");
        let t = tag("public", "alice");
        let slot_of = |k: &str| {
            let open = k.find('{').unwrap();
            let close = k.find('}').unwrap();
            slot(&k[open + 1..close])
        };
        assert_eq!(slot_of(&keys.session(&h)), slot_of(&keys.user_index(t)));
        assert_eq!(slot_of(&keys.session(&h)), slot_of(&keys.expiry(t)));
    }

    #[test]
    fn crc16_matches_redis() {
        // From the Redis Cluster specification: "123456789" has CRC16 0x31C3.
        assert_eq!(slot("123456789"), 0x31C3);
        assert_eq!(slot("foo"), 12182);
    }

    #[test]
    fn member_ranges_bound_exactly_one_user() {
        let (min, max) = member_range("public", "al");
        let m1 = member("public", "al", "h1").into_bytes();
        let m2 = member("public", "alice", "h1").into_bytes();
        assert!(m1.as_slice() >= &min[1..] && m1.as_slice() <= &max[1..]);
        assert!(!(m2.as_slice() >= &min[1..] && m2.as_slice() <= &max[1..]));
        assert_eq!(handle_of_member(&m1).as_deref(), Some("h1"));
    }
}
