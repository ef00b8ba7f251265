//! Property tests of the cookie token, through the public API: whatever arrives in the cookie,
//! a read is either the session that was set or an error, never a panic and never another
//! payload.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use proptest::prelude::*;
use serde_json::{Value, json};
use sessiond_cookie::{CookieKey, CookieSessions, Overrides, ReadError, Refresh};
use sessiond_core::b64;

fn sessions(key: &CookieKey, signed: bool) -> CookieSessions {
    let b = CookieSessions::builder([key.clone()]).cache_capacity(0);
    if signed { b.signed() } else { b }.build().unwrap()
}

fn issue(s: &CookieSessions, payload: &Value) -> String {
    let scope = s.scope(None);
    scope.session().set(payload, Overrides::none()).unwrap();
    let h = scope.set_cookie_headers().remove(0);
    let pair = h.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_owned()
}

fn read(s: &CookieSessions, token: &str) -> sessiond_cookie::PayloadInterface {
    let scope = s.scope(Some(&format!("__Host-session_cookie={token}")));
    futures_lite(scope.session().get(Refresh::Always))
}

/// Runs a future that never waits (a read with no callback).
fn futures_lite<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
}

fn payloads() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ];
    let tree = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map("[a-zA-Z_]{1,8}", tree, 0..5).prop_map(|m| {
        Value::Object(
            m.into_iter()
                .filter(|(k, _)| !sessiond_cookie::RESERVED_CLAIMS.contains(&k.as_str()))
                .collect(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(payload in payloads(), signed in any::<bool>()) {
        let key = CookieKey::generate().unwrap();
        let s = sessions(&key, signed);
        let r = read(&s, &issue(&s, &payload));
        prop_assert!(r.is_valid());
        prop_assert_eq!(r.payload, payload);
    }

    #[test]
    fn any_bit_flip_is_an_error(payload in payloads(), signed in any::<bool>(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let key = CookieKey::generate().unwrap();
        let s = sessions(&key, signed);
        let mut token = issue(&s, &payload).into_bytes();
        let i = pos.index(token.len());
        token[i] ^= 1 << bit;
        let token = String::from_utf8_lossy(&token).into_owned();
        let r = read(&s, &token);
        prop_assert!(r.error.is_some(), "flip at {} bit {}: {:?}", i, bit, r);
        prop_assert_eq!(r.payload, Value::Null);
    }

    #[test]
    fn any_truncation_is_an_error(signed in any::<bool>(), cut in any::<prop::sample::Index>()) {
        let key = CookieKey::generate().unwrap();
        let s = sessions(&key, signed);
        let token = issue(&s, &json!({"userId": 1}));
        let n = cut.index(token.len());
        let r = read(&s, &token[..n]);
        prop_assert!(r.error.is_some());
    }

    #[test]
    fn another_key_is_an_error(signed in any::<bool>()) {
        let (a, b) = (CookieKey::generate().unwrap(), CookieKey::generate().unwrap());
        let token = issue(&sessions(&a, signed), &json!({"userId": 1}));
        let r = read(&sessions(&b, signed), &token);
        prop_assert_eq!(r.error, Some(ReadError::UnknownKey));
    }

    #[test]
    fn garbage_is_an_error_never_a_panic(cookie in ".{0,300}", signed in any::<bool>()) {
        let key = CookieKey::generate().unwrap();
        let s = sessions(&key, signed);
        let r = read(&s, &cookie);
        prop_assert!(r.error.is_some());
    }

    #[test]
    fn structured_garbage_is_an_error(parts in prop::collection::vec("[A-Za-z0-9_-]{0,40}", 1..7), signed in any::<bool>()) {
        let key = CookieKey::generate().unwrap();
        let s = sessions(&key, signed);
        let r = read(&s, &parts.join("."));
        prop_assert!(r.error.is_some());
    }
}

/// Rebuilds `token` with its protected header replaced by `header` (the rest kept).
fn with_header(token: &str, header: &Value) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", b64::encode(header.to_string()))
}

#[test]
fn algorithm_and_encryption_swaps_are_errors() {
    let key = CookieKey::generate().unwrap();
    let jwe = sessions(&key, false);
    let token = issue(&jwe, &json!({"userId": 1}));
    let kid = key.kid();
    for h in [
        json!({"alg": "dir", "enc": "A128GCM", "kid": kid}),
        json!({"alg": "dir", "enc": "A256CBC-HS512", "kid": kid}),
        json!({"alg": "A256KW", "enc": "A256GCM", "kid": kid}),
        json!({"alg": "none", "enc": "A256GCM", "kid": kid}),
        json!({"alg": "dir", "enc": "A256GCM", "kid": kid, "zip": "DEF"}),
        json!({"alg": "dir", "enc": "A256GCM", "kid": kid, "crit": ["exp"]}),
        json!({"alg": "dir", "enc": "A256GCM", "kid": kid, "typ": "JWE-other"}),
    ] {
        assert!(read(&jwe, &with_header(&token, &h)).error.is_some(), "{h}");
    }
    // The same fields in another order: parses, but the header is the AAD, so the tag fails.
    let reordered = format!(r#"{{"kid":"{kid}","enc":"A256GCM","alg":"dir"}}"#);
    let (_, rest) = token.split_once('.').unwrap();
    let t = format!("{}.{rest}", b64::encode(reordered));
    assert_eq!(read(&jwe, &t).error, Some(ReadError::Tampered));
    let jws = sessions(&key, true);
    let token = issue(&jws, &json!({"userId": 1}));
    for h in [
        json!({"alg": "HS512", "typ": "JWT", "kid": kid}),
        json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
        json!({"alg": "none", "typ": "JWT", "kid": kid}),
        json!({"alg": "HS256", "typ": "JWT", "kid": kid, "jku": "https://evil"}),
        json!({"alg": "HS256", "typ": "JWT", "kid": kid, "jwk": {"kty": "oct", "k": "AAAA"}}),
        json!({"alg": "HS256", "typ": "JWT", "kid": "someone-else"}),
    ] {
        assert!(read(&jws, &with_header(&token, &h)).error.is_some(), "{h}");
    }
    // An unsecured JWT: header `none`, the same payload, no signature.
    let payload = token.split('.').nth(1).unwrap();
    let none = format!("{}.{payload}.", b64::encode(r#"{"alg":"none","typ":"JWT"}"#));
    assert!(read(&jws, &none).error.is_some());
    // A JWS in place of a JWE and the other way round.
    assert_eq!(read(&jwe, &token).error, Some(ReadError::Malformed));
    let jwe_token = issue(&jwe, &json!({}));
    assert_eq!(read(&jws, &jwe_token).error, Some(ReadError::Malformed));
}

#[test]
fn oversized_input_is_refused_unread() {
    let key = CookieKey::generate().unwrap();
    for signed in [false, true] {
        let s = sessions(&key, signed);
        let token = issue(&s, &json!({}));
        let huge = format!("{token}{}", "A".repeat(100_000));
        assert_eq!(read(&s, &huge).error, Some(ReadError::Malformed));
    }
}
