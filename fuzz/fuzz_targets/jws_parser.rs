//! `sessiond_core::jose`: the strict compact-JWS parser.
//!
//! Properties, for arbitrary bytes (lossily UTF-8):
//! - `Segments::split` and `UnverifiedJws::parse` never panic, and agree: whatever parses also
//!   splits, with the same header segment; `kid()` is the header's `kid`.
//! - Nothing the fuzzer writes verifies under a fresh HS256 key (no HMAC-SHA-256 forgery), by
//!   either path (`UnverifiedJws::verify`, `Segments::verify_known_header`); the key takes the
//!   token's own `kid`, so the HMAC check itself is reached, not just the `kid` check.
//! - Round trip: the same bytes as a payload, signed by `sign_compact` with that key, parse and
//!   verify back to exactly those bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sessiond_core::jose::{
    Algorithm, HeaderKind, JwsError, Segments, SigningKey, UnverifiedJws, VerifyingKey,
    sign_compact,
};

const SECRET: [u8; 32] = [7u8; 32];
const KID: &str = "fuzz-hs256";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    let split = Segments::split(&text);
    if let Ok(seg) = &split {
        let key = VerifyingKey::hmac(KID, &SECRET).expect("32-byte HMAC secret");
        assert!(
            seg.verify_known_header(&key).is_err(),
            "fuzz input verified under the fuzz key (verify_known_header): {text:?}"
        );
    }

    match UnverifiedJws::parse(&text) {
        Ok(jws) => {
            let seg = split.expect("a token that parses must split");
            let kid = jws.header.kid.clone().expect("parse demands a kid");
            assert_eq!(jws.kid(), kid);
            // The header segment decodes to the parsed header.
            let raw = sessiond_core::b64::decode(seg.header_b64).expect("header is base64url");
            let reparsed: sessiond_core::jose::Header =
                serde_json::from_slice(&raw).expect("header segment is the parsed JSON");
            assert_eq!(reparsed, jws.header);
            let key = VerifyingKey::hmac(&kid, &SECRET).expect("32-byte HMAC secret");
            let r = jws.verify(&key);
            assert!(r.is_err(), "fuzz input verified under the fuzz key: {text:?}");
        }
        Err(JwsError::Malformed | JwsError::UnknownKey) => {}
        Err(e) => panic!("parse returned a verification error without verifying: {e:?}"),
    }

    // Round trip: sign the bytes as a payload, then parse and verify.
    let signer = SigningKey::from_material(KID, Algorithm::HS256, &SECRET).expect("HS256 key");
    for kind in [HeaderKind::Plain, HeaderKind::AccessToken] {
        let token = sign_compact(&signer, kind, data).expect("HMAC signing cannot fail");
        let key = VerifyingKey::hmac(KID, &SECRET).expect("32-byte HMAC secret");
        if token.len() > sessiond_core::jose::MAX_TOKEN_LEN {
            assert_eq!(UnverifiedJws::parse(&token).err(), Some(JwsError::Malformed));
            continue;
        }
        let seg = Segments::split(&token).expect("own token splits");
        assert_eq!(seg.verify_known_header(&key).as_deref(), Ok(data));
        let jws = UnverifiedJws::parse(&token).expect("own token parses");
        assert_eq!(jws.kid(), KID);
        assert_eq!(jws.verify(&key).as_deref(), Ok(data));
        // The same token under another key fails.
        let other = VerifyingKey::hmac(KID, &[8u8; 32]).expect("32-byte HMAC secret");
        assert_eq!(
            UnverifiedJws::parse(&token).expect("parses").verify(&other),
            Err(JwsError::BadSignature)
        );
    }
});
