//! `sessiond_cookie::CookieSessions`: opening cookie tokens, both formats (JWE `dir`+`A256GCM`,
//! the default, and JWS `HS256`). Each format has two instances with the same key: one with the
//! verified-token cache off (`cache_capacity(0)`), so every read goes through the full check, and
//! one with a small cache (`cache_capacity(CACHE)`) that holds the start-up token and every token
//! it `set`, so reads also go through the cache's lookup (by the SHA-256 of the signature's last
//! 256 bits, the rest of the token compared).
//!
//! The first input byte picks the format (bit 0) and the mode (`(b >> 1) % 3`); the rest is the
//! mode's input:
//! - 0, garbage: the bytes (lossily UTF-8) are the value of `__Host-session_cookie`.
//! - 1, tampering: the bytes are XORed into a valid token issued at start-up (bytes past its end
//!   are appended), which then is the cookie's value.
//! - 2, round trip: the bytes, if a JSON value, are `set` as the payload (by the cached
//!   instance, which caches the new token); the `Set-Cookie` token then reads back (`get`) as the
//!   same payload from both instances (a cache hit, and a full check). `set` may refuse only a
//!   non-object (`NotAnObject`), a reserved claim (`ReservedClaim`) or a cookie over 4 KiB
//!   (`CookieTooLarge`), and then queues no `Set-Cookie`.
//!
//! Modes 0 and 1 check one oracle, on both instances of the format: `get(Refresh::Never)` never
//! panics and is valid with the start-up payload exactly when one of the first four
//! `__Host-session_cookie` values of the header (as `cookie::pairs` reads them) is the start-up
//! token of that format; otherwise it has `error.is_some()`. So random bytes and every changed
//! token are refused, with or without the cache (a token whose header or payload changed under a
//! cached signature included), and a JWS token is refused by the JWE sessions and the other way
//! round.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use sessiond_cookie::cookie::pairs;
use sessiond_cookie::{
    CookieKey, CookieSessions, Error, Overrides, RESERVED_CLAIMS, Refresh, SessionConfig,
};
use sessiond_fuzz::{block_on, json_eq};

const COOKIE: &str = "__Host-session_cookie";
/// `Scope::tokens` reads at most this many cookies of one name.
const MAX_SAME_NAME: usize = 4;
/// Capacity of the cached instances: small, so that long runs also evict.
const CACHE: usize = 256;

struct Fixture {
    /// Cache off.
    sessions: CookieSessions,
    /// Same key, cache on.
    cached: CookieSessions,
    token: String,
    payload: Value,
}

struct Fixtures {
    encrypted: Fixture,
    signed: Fixture,
}

fn token_of(set_cookie: &[String]) -> String {
    assert_eq!(set_cookie.len(), 1, "one Set-Cookie: {set_cookie:?}");
    let rest = set_cookie[0]
        .strip_prefix(COOKIE)
        .and_then(|r| r.strip_prefix('='))
        .unwrap_or_else(|| panic!("Set-Cookie for {COOKIE}: {}", set_cookie[0]));
    rest.split(';').next().unwrap_or_default().to_owned()
}

fn fixture(signed: bool) -> Fixture {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = 0x41 + u8::try_from(i).expect("32 fits a byte") * 5;
    }
    let key = CookieKey::from_bytes(bytes).expect("32 distinct bytes make a key");
    // Long enough that a long local fuzz run does not see the start-up token expire.
    let config = SessionConfig::default()
        .expires_in(Duration::from_secs(6 * 24 * 3600))
        .absolute_lifetime(Duration::from_secs(7 * 24 * 3600));
    let build = |capacity: usize| {
        let builder =
            CookieSessions::builder([key.clone()]).cache_capacity(capacity).session(config.clone());
        let builder = if signed { builder.signed() } else { builder };
        builder.build().expect("valid configuration")
    };
    let sessions = build(0);
    let cached = build(CACHE);
    let payload = json!({"userId": "fuzz", "roles": ["a", "b"], "n": 1});
    let scope = sessions.scope(None);
    scope.set(&payload, Overrides::default()).expect("set");
    let token = token_of(&scope.set_cookie_headers());
    // Read by both instances: the cached one keeps it.
    for s in [&sessions, &cached] {
        let check = s.scope(Some(&format!("{COOKIE}={token}")));
        let got = block_on(check.get(Refresh::Never));
        assert!(got.is_valid(), "the start-up token reads back: {got:?}");
        assert_eq!(got.payload, payload);
    }
    Fixture { sessions, cached, token, payload }
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| Fixtures { encrypted: fixture(false), signed: fixture(true) })
}

/// Reads `header` with both instances and checks the oracle of modes 0 and 1.
fn read_and_check(fx: &Fixture, header: &str) {
    let expect_valid =
        pairs(header).filter(|(n, _)| *n == COOKIE).take(MAX_SAME_NAME).any(|(_, v)| v == fx.token);
    for (which, sessions) in [("uncached", &fx.sessions), ("cached", &fx.cached)] {
        let got = block_on(sessions.scope(Some(header)).get(Refresh::Never));
        if expect_valid {
            assert!(got.is_valid(), "{which}: the start-up token did not read: {got:?}");
            assert_eq!(got.payload, fx.payload);
        } else {
            assert!(
                got.error.is_some(),
                "{which}: a cookie that is not the start-up token was accepted: {header:?} -> {got:?}"
            );
        }
    }
}

fn round_trip(fx: &Fixture, input: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(input) else {
        return;
    };
    let scope = fx.cached.scope(None);
    match scope.set(&value, Overrides::default()) {
        Ok(set) => {
            assert!(set.is_valid());
            assert_eq!(set.payload, value);
            let token = token_of(&scope.set_cookie_headers());
            let header = format!("{COOKIE}={token}");
            for (which, sessions) in [("cached", &fx.cached), ("uncached", &fx.sessions)] {
                let got = block_on(sessions.scope(Some(&header)).get(Refresh::Never));
                assert!(got.is_valid(), "{which}: a token just set does not read: {got:?}");
                assert!(
                    json_eq(&got.payload, &value),
                    "{which}: payload changed in the cookie\nset: {value}\ngot: {}",
                    got.payload
                );
            }
        }
        Err(Error::NotAnObject) => assert!(!value.is_object()),
        Err(Error::ReservedClaim(k)) => {
            assert!(RESERVED_CLAIMS.contains(&k) && value.get(k).is_some());
        }
        Err(Error::CookieTooLarge { size }) => assert!(size > sessiond_cookie::MAX_COOKIE_BYTES),
        Err(e) => panic!("set refused {value} with {e:?}"),
    }
    assert!(!scope.has_changes(), "a refused set left a Set-Cookie queued");
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let fxs = fixtures();
    let fx = if selector & 1 == 0 { &fxs.encrypted } else { &fxs.signed };
    match (selector >> 1) % 3 {
        0 => {
            let value = String::from_utf8_lossy(input);
            read_and_check(fx, &format!("{COOKIE}={value}"));
        }
        1 => {
            let mut token = fx.token.clone().into_bytes();
            for (i, b) in input.iter().enumerate() {
                match token.get_mut(i) {
                    Some(t) => *t ^= b,
                    None => token.push(*b),
                }
            }
            let value = String::from_utf8_lossy(&token);
            read_and_check(fx, &format!("{COOKIE}={value}"));
        }
        _ => round_trip(fx, input),
    }
});
