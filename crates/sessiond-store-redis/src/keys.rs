//! Key names. Every key of one user's sessions shares the hash tag `{<prefix>:<tag>}`, where
//! `tag` is the 12-bit user tag the session handle carries (`sessiond_core::model::user_tag`),
//! so in a Redis Cluster each atomic step touches one slot:
//!
//! - `{P:ttt}:s:<handle>`: the session (one MessagePack value);
//! - `{P:ttt}:i`: the tag's index, members `app \0 user \0 handle` scored by expiry: the
//!   sweeper reads it by score, per-user queries by `ZSCAN MATCH` on the member prefix;
//! - `{P:rrr}:r`: account-linked sessions by recipe user, members `app \0 recipe \0 handle`,
//!   under the recipe user's tag;
//! - `{P:keys}:all`: the signing keys (a hash, kid → JSON record);
//! - `{P:keys}:ping`: written by readiness checks, expires after a minute;
//! - `{P:events}:log`: the revocation log (a stream), and `{P:events}:meta` (a hash: the last
//!   id handed out and the trim mark), in one slot (see `events`).

use sessiond_core::model::{USER_TAG_BITS, handle_tag, user_tag};

/// How many user tags there are (`2^USER_TAG_BITS`): the hash tags a prefix's sessions spread
/// over.
pub(crate) const TAGS: u16 = 1 << USER_TAG_BITS;

/// Builds every key name of one prefix, each with the hash tag that decides its cluster slot.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned() }
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

    pub(crate) fn index(&self, tag: u16) -> String {
        self.tagged(tag, "i")
    }

    pub(crate) fn recipe_index(&self, tag: u16) -> String {
        self.tagged(tag, "r")
    }

    pub(crate) fn signing_keys(&self) -> String {
        format!("{{{}:keys}}:all", self.prefix)
    }

    /// What readiness checks write to (beside the signing keys, expiring after a minute).
    pub(crate) fn ping(&self) -> String {
        format!("{{{}:keys}}:ping", self.prefix)
    }

    /// The revocation log (a stream).
    pub(crate) fn events_log(&self) -> String {
        format!("{{{}:events}}:log", self.prefix)
    }

    /// The revocation log's last id and trim mark (a hash in the log's slot).
    pub(crate) fn events_meta(&self) -> String {
        format!("{{{}:events}}:meta", self.prefix)
    }

    /// The revocation log's hash tag (for `WAIT` routing).
    pub(crate) fn events_hash_tag(&self) -> String {
        format!("{}:events", self.prefix)
    }

    /// The hash tag string of a tag (what `WAIT` routing and slot computation use).
    pub(crate) fn hash_tag(&self, tag: u16) -> String {
        format!("{}:{tag:03x}", self.prefix)
    }
}

/// The hash tag holding an (app, user) pair's sessions (the low bits of their handles).
pub(crate) fn tag(app: &str, user: &str) -> u16 {
    user_tag(app, user)
}

/// An index member: `app \0 user \0 handle`.
pub(crate) fn member(app: &str, user: &str, handle: &str) -> String {
    format!("{app}\0{user}\0{handle}")
}

/// A `ZSCAN MATCH` pattern selecting every member of (app, user): the prefix with glob
/// characters escaped, then `*`.
pub(crate) fn member_pattern(app: &str, user: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(app.len() + user.len() + 4);
    for (i, part) in [app, user].into_iter().enumerate() {
        if i > 0 {
            p.push(0);
        }
        for &b in part.as_bytes() {
            if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
                p.push(b'\\');
            }
            p.push(b);
        }
    }
    p.push(0);
    p.push(b'*');
    p
}

/// The handle in an index member (after its last NUL); `None` when there is no NUL or the
/// handle is not UTF-8.
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
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
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
        assert_eq!(slot_of(&keys.session(&h)), slot_of(&keys.index(t)));
    }

    #[test]
    fn crc16_matches_redis() {
        // From the Redis Cluster specification: "123456789" has CRC16 0x31C3.
        assert_eq!(slot("123456789"), 0x31C3);
        assert_eq!(slot("foo"), 12182);
    }

    #[test]
    fn member_patterns_escape_globs() {
        assert_eq!(member_pattern("public", "a*b"), b"public\0a\\*b\0*".to_vec());
        assert_eq!(member_pattern("public", "[x]?\\"), b"public\0\\[x\\]\\?\\\\\0*".to_vec());
        let m = member("public", "al", "h1").into_bytes();
        assert_eq!(handle_of_member(&m).as_deref(), Some("h1"));
    }
}
