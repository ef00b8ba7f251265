//! `sessiond_core::tokens::refresh::RefreshToken`: the refresh-token wire format
//! `base64url(0x01 ‖ generation u64 BE ‖ secret 32 ‖ handle)`.
//!
//! Properties:
//! - `decode` never panics on arbitrary (lossily UTF-8) text.
//! - What decodes is canonical: `encode(decode(s)) == s` (strict unpadded base64url), and
//!   `decode(encode(t)) == t`.
//! - The other way round, for a token built from the bytes (generation, secret, handle):
//!   `decode(encode(t)) == Some(t)` exactly when the handle is 1..=MAX_HANDLE_LEN bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sessiond_core::tokens::refresh::{MAX_HANDLE_LEN, RefreshToken};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(t) = RefreshToken::decode(&text) {
        assert!(!t.handle.is_empty() && t.handle.len() <= MAX_HANDLE_LEN);
        let again = t.encode();
        assert_eq!(
            again.expose(),
            &*text,
            "decode accepted a non-canonical encoding"
        );
        assert_eq!(RefreshToken::decode(again.expose()).as_ref(), Some(&t));
    }

    // Structured: generation (8) ‖ secret (32) ‖ handle (the rest, lossily UTF-8).
    if data.len() >= 40 {
        let generation = u64::from_be_bytes(data[..8].try_into().expect("8 bytes"));
        let secret: [u8; 32] = data[8..40].try_into().expect("32 bytes");
        let handle = String::from_utf8_lossy(&data[40..]).into_owned();
        let ok_handle = !handle.is_empty() && handle.len() <= MAX_HANDLE_LEN;
        let t = RefreshToken {
            handle,
            generation,
            secret,
        };
        let decoded = RefreshToken::decode(t.encode().expose());
        if ok_handle {
            assert_eq!(decoded, Some(t));
        } else {
            assert_eq!(
                decoded,
                None,
                "a token with handle length {} decoded",
                t.handle.len()
            );
        }
    }
});
