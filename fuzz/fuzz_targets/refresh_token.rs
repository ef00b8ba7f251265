//! `sessiond_core::tokens::refresh::RefreshToken`: the refresh-token wire format, version 2
//! `base64url(0x02 ‖ generation u64 BE ‖ secret 32 ‖ tag 16 ‖ handle)`, and version 1
//! `base64url(0x01 ‖ generation ‖ secret ‖ handle)` (no tag), which is still read; plus the tag
//! itself, `sessiond_core::tokens::chain::Chain::tag`.
//!
//! Properties:
//! - `decode` never panics on arbitrary (lossily UTF-8) text.
//! - What decodes is canonical: `encode(decode(s)) == s` (strict unpadded base64url), and
//!   `decode(encode(t)) == t`; the handle is 1..=MAX_HANDLE_LEN bytes; the version byte says
//!   whether there is a tag (0x02: `Some`, 0x01: `None`).
//! - No forgery: no tag the fuzzer writes is the `Chain::tag` of the token's handle, generation
//!   and secret under a chain key fixed here (by either path below).
//! - The other way round, for a token built from the bytes `flags (1) ‖ generation (8) ‖
//!   secret (32) ‖ tag (16) ‖ handle (the rest, lossily UTF-8)`: it has a tag when flags bit 0 is
//!   set, and then, when bit 1 is set too, the tag is the genuine `Chain::tag` instead of the 16
//!   bytes. `decode(encode(t)) == Some(t)` exactly when the handle is 1..=MAX_HANDLE_LEN bytes; a
//!   genuine tag is still genuine after the round trip, and stops being genuine when the
//!   generation, the secret or the handle changes, or under another chain key.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sessiond_core::jose::{Algorithm, SigningKey};
use sessiond_core::tokens::chain::Chain;
use sessiond_core::tokens::refresh::{MAX_HANDLE_LEN, RefreshToken, TAG_LEN};

struct Keys {
    chain: SigningKey,
    other: SigningKey,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| Keys {
        chain: SigningKey::from_material("fuzz-chain", Algorithm::HS256, &[9u8; 32])
            .expect("HS256 chain key"),
        other: SigningKey::from_material("fuzz-chain-2", Algorithm::HS256, &[10u8; 32])
            .expect("HS256 chain key"),
    })
}

fn tag_under(key: &SigningKey, t: &RefreshToken) -> [u8; TAG_LEN] {
    Chain::new(key).tag(&t.handle, t.generation, &t.secret).expect("HMAC cannot fail")
}

fn is_genuine(t: &RefreshToken) -> bool {
    t.tag == Some(tag_under(&keys().chain, t))
}

fn raw_version(text: &str) -> Option<u8> {
    sessiond_core::b64::decode(text)?.first().copied()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(t) = RefreshToken::decode(&text) {
        assert!(!t.handle.is_empty() && t.handle.len() <= MAX_HANDLE_LEN);
        let version = raw_version(&text).expect("a token that decodes is base64url");
        assert_eq!(
            version,
            if t.tag.is_some() { 2 } else { 1 },
            "version byte {version}, tag {:?}",
            t.tag.is_some()
        );
        let again = t.encode();
        assert_eq!(again.expose(), &*text, "decode accepted a non-canonical encoding");
        assert_eq!(RefreshToken::decode(again.expose()).as_ref(), Some(&t));
        assert!(!is_genuine(&t), "fuzz input carries a genuine chain tag: {text:?}");
    }

    // Structured: flags (1) ‖ generation (8) ‖ secret (32) ‖ tag (16) ‖ handle.
    const FIXED: usize = 1 + 8 + 32 + TAG_LEN;
    if data.len() >= FIXED {
        let flags = data[0];
        let generation = u64::from_be_bytes(data[1..9].try_into().expect("8 bytes"));
        let secret: [u8; 32] = data[9..41].try_into().expect("32 bytes");
        let given: [u8; TAG_LEN] = data[41..FIXED].try_into().expect("16 bytes");
        let handle = String::from_utf8_lossy(&data[FIXED..]).into_owned();
        let ok_handle = !handle.is_empty() && handle.len() <= MAX_HANDLE_LEN;
        let mut t = RefreshToken { handle, generation, secret, tag: None };
        let genuine = flags & 3 == 3;
        t.tag = match flags & 3 {
            3 => Some(tag_under(&keys().chain, &t)),
            1 => Some(given),
            _ => None,
        };
        if flags & 3 == 1 {
            assert!(!is_genuine(&t), "fuzz bytes are a genuine chain tag");
        }
        let decoded = RefreshToken::decode(t.encode().expose());
        if ok_handle {
            let d = decoded.expect("a token with a valid handle decodes");
            assert_eq!(d, t);
            assert_eq!(is_genuine(&d), genuine);
        } else {
            assert_eq!(decoded, None, "a token with handle length {} decoded", t.handle.len());
        }
        if genuine {
            let tag = t.tag.expect("tagged");
            let mut u = t.clone();
            u.generation = u.generation.wrapping_add(1);
            assert_ne!(tag_under(&keys().chain, &u), tag, "tag ignores the generation");
            let mut u = t.clone();
            u.secret[usize::from(flags >> 3) % 32] ^= 1 << (flags & 7);
            assert_ne!(tag_under(&keys().chain, &u), tag, "tag ignores the secret");
            let mut u = t.clone();
            u.handle.push('x');
            assert_ne!(tag_under(&keys().chain, &u), tag, "tag ignores the handle");
            assert_ne!(tag_under(&keys().other, &t), tag, "tag ignores the key");
        }
    }
});
