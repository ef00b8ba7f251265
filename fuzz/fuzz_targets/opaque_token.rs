//! `sessiond_core::tokens::opaque::OpaqueToken`: `base64url(handle ";" random ";v0")`.
//!
//! Properties:
//! - `decode` never panics on arbitrary (lossily UTF-8) text.
//! - What decodes is canonical: `encode(decode(s)) == s`, and `decode(encode(t)) == t`; the
//!   handle is non-empty, `random` has at least 22 characters, neither holds a `;`.
//! - The other way round, for a token built from the bytes (handle, random split at the first
//!   0x00): `decode(encode(t)) == Some(t)` exactly when the fields are valid (as above) and the
//!   encoding is at most 1,024 characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sessiond_core::tokens::opaque::OpaqueToken;

const MAX_LEN: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(t) = OpaqueToken::decode(&text) {
        assert!(!t.handle.is_empty() && !t.handle.contains(';'));
        assert!(t.random.len() >= 22 && !t.random.contains(';'));
        let again = t.encode();
        assert_eq!(again.expose(), &*text, "decode accepted a non-canonical encoding");
        assert_eq!(OpaqueToken::decode(again.expose()).as_ref(), Some(&t));
    }

    // Structured: handle NUL random.
    if let Some(nul) = data.iter().position(|b| *b == 0) {
        let t = OpaqueToken {
            handle: String::from_utf8_lossy(&data[..nul]).into_owned(),
            random: String::from_utf8_lossy(&data[nul + 1..]).into_owned(),
        };
        let encoded = t.encode();
        let valid = !t.handle.is_empty()
            && !t.handle.contains(';')
            && t.random.len() >= 22
            && !t.random.contains(';')
            && encoded.expose().len() <= MAX_LEN;
        let decoded = OpaqueToken::decode(encoded.expose());
        if valid {
            assert_eq!(decoded, Some(t));
        } else {
            assert_eq!(decoded, None);
        }
    }

    // And the constructor the manager uses always round-trips for a sane handle.
    if data.len() >= 32 {
        let secret: [u8; 32] = data[..32].try_into().expect("32 bytes");
        let handle = String::from_utf8_lossy(&data[32..]).replace(';', "_");
        let t = OpaqueToken::new(&handle, &secret);
        let encoded = t.encode();
        if !handle.is_empty() && encoded.expose().len() <= MAX_LEN {
            assert_eq!(OpaqueToken::decode(encoded.expose()), Some(t));
        }
    }
});
