//! Seed 003's behaviours, and what sessiond-cookie does beyond them, through the public API.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sessiond_cookie::{
    CookieKey, CookieSessions, Error, Overrides, PayloadInterface, ReadError, Refresh,
    SessionConfig,
};
use sessiond_core::ManualClock;

const MIN: Duration = Duration::from_secs(60);

fn key() -> CookieKey {
    CookieKey::generate().unwrap()
}

struct App {
    sessions: CookieSessions,
    clock: ManualClock,
}

/// The seed's multiton example: `user_session` 30 min, `admin_session` 1 h.
fn app_with(keys: Vec<CookieKey>, signed: bool) -> App {
    let clock = ManualClock::new(1_700_000_000_000);
    let mut b = CookieSessions::builder(keys)
        .clock(Arc::new(clock.clone()))
        .session(SessionConfig::new("user_session").expires_in(30 * MIN))
        .session(SessionConfig::new("admin_session").expires_in(60 * MIN));
    if signed {
        b = b.signed();
    }
    App { sessions: b.build().unwrap(), clock }
}

fn app() -> App {
    app_with(vec![key()], false)
}

/// `name=value` of each `Set-Cookie`, joined as a browser would send them back.
fn cookie_header(set_cookies: &[String]) -> String {
    set_cookies
        .iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

fn token_of(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned()
}

/// Logs in as `payload` and returns the cookie header a browser would send next.
fn login(a: &App, payload: Value) -> String {
    let s = a.sessions.scope(None);
    s.session().set(payload, Overrides::none()).unwrap();
    cookie_header(&s.set_cookie_headers())
}

async fn read(a: &App, cookies: &str, refresh: Refresh) -> (PayloadInterface, Vec<String>) {
    let s = a.sessions.scope(Some(cookies));
    let r = s.session().get(refresh).await;
    (r, s.set_cookie_headers())
}

#[tokio::test]
async fn set_then_get_returns_the_payload_interface() {
    let a = app();
    let s = a.sessions.scope(None);
    let set = s.session().set(json!({"userId": 123, "role": "admin"}), Overrides::none()).unwrap();
    assert_eq!(set.payload, json!({"userId": 123, "role": "admin"}));
    assert!(!set.expired && set.error.is_none());
    assert_eq!(set.exp - set.iat, 30 * 60);
    // A read in the same request sees the new cookie.
    assert_eq!(s.session().get(Refresh::Never).await.payload["userId"], 123);
    let headers = s.set_cookie_headers();
    assert_eq!(headers.len(), 1);
    let h = &headers[0];
    assert!(h.starts_with("__Host-user_session="), "{h}");
    for attr in ["Path=/", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age=604800"] {
        assert!(h.contains(attr), "{attr} in {h}");
    }
    let (r, out) = read(&a, &cookie_header(&headers), Refresh::Never).await;
    assert_eq!(r.payload, json!({"userId": 123, "role": "admin"}));
    assert!(out.is_empty(), "a valid read sets nothing");
    let wire = serde_json::to_value(&r).unwrap();
    let mut keys: Vec<&String> = wire.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["error", "exp", "expired", "iat", "payload"]);
}

#[tokio::test]
async fn named_sessions_coexist_with_their_own_lifetimes() {
    let a = app();
    let s = a.sessions.scope(None);
    s.named("user_session").set(json!({"userId": "u"}), Overrides::none()).unwrap();
    s.named("admin_session").set(json!({"admin": true}), Overrides::none()).unwrap();
    let cookies = cookie_header(&s.set_cookie_headers());
    a.clock.advance_secs(31 * 60);
    let next = a.sessions.scope(Some(&cookies));
    assert!(next.named("user_session").get(Refresh::Never).await.expired);
    let admin = next.named("admin_session").get(Refresh::Never).await;
    assert!(admin.is_valid());
    assert_eq!(admin.payload, json!({"admin": true}));
    assert_eq!(admin.exp - admin.iat, 3600);
}

#[tokio::test]
async fn refresh_policies_on_an_expired_token() {
    let a = app();
    let cookies = login(&a, json!({"userId": 1}));
    a.clock.advance_secs(30 * 60);

    let (never, out) = read(&a, &cookies, Refresh::Never).await;
    assert!(never.expired && never.error.is_none());
    assert_eq!(never.payload["userId"], 1, "the old payload is reported");
    assert!(out.is_empty());

    let (always, out) = read(&a, &cookies, Refresh::Always).await;
    assert!(always.is_valid() && always.refreshed);
    assert_eq!(always.payload, json!({"userId": 1}));
    assert_eq!(out.len(), 1);

    let cb = Refresh::with(|old| async move {
        let id = old.get("userId")?.as_i64()?;
        Some(json!({"userId": id, "role": "fresh"}))
    });
    let (called, _) = read(&a, &cookies, cb).await;
    assert_eq!(called.payload, json!({"userId": 1, "role": "fresh"}));

    let declined = Refresh::with(|_| async { None });
    let (d, out) = read(&a, &cookies, declined).await;
    assert!(d.expired && out.is_empty());

    let not_object = Refresh::with(|_| async { Some(json!([1])) });
    assert!(read(&a, &cookies, not_object).await.0.expired);
}

#[tokio::test]
async fn no_refresh_passes_the_absolute_lifetime() {
    let a = app();
    let mut cookies = login(&a, json!({"userId": 1}));
    let start = a.clock.clone();
    // Refresh every 31 minutes for as long as the session lasts.
    let mut refreshed = 0;
    loop {
        a.clock.advance_secs(31 * 60);
        let (r, out) = read(&a, &cookies, Refresh::Always).await;
        if !r.is_valid() {
            assert!(r.expired && r.error.is_none(), "{r:?}");
            break;
        }
        assert!(r.exp <= r.auth_time + 7 * 24 * 3600);
        refreshed += 1;
        cookies = cookie_header(&out);
    }
    assert_eq!(refreshed, 7 * 24 * 60 / 31, "refreshed until the 7-day limit");
    let _ = start;
    // update cannot extend it either.
    let s = a.sessions.scope(Some(&cookies));
    assert!(matches!(s.session().update(json!({"x": 1})).await, Err(Error::NoSession)));
}

#[tokio::test]
async fn the_last_token_before_the_limit_expires_at_the_limit() {
    let clock = ManualClock::new(1_700_000_000_000);
    let sessions = CookieSessions::builder([key()])
        .clock(Arc::new(clock.clone()))
        .session(
            SessionConfig::new("s")
                .expires_in(Duration::from_secs(10))
                .absolute_lifetime(Duration::from_secs(25)),
        )
        .build()
        .unwrap();
    let s = sessions.scope(None);
    let first = s.session().set(json!({}), Overrides::none()).unwrap();
    let cookies = cookie_header(&s.set_cookie_headers());
    clock.advance_secs(20);
    let s = sessions.scope(Some(&cookies));
    let r = s.session().get(Refresh::Always).await;
    assert!(r.refreshed);
    assert_eq!(r.exp, first.iat + 25, "capped by the absolute lifetime");
    let out = s.set_cookie_headers();
    assert!(out[0].contains("Max-Age=5"), "{}", out[0]);
    clock.advance_secs(5);
    let s = sessions.scope(Some(&cookie_header(&out)));
    let r = s.session().get(Refresh::Always).await;
    assert!(r.expired && !r.refreshed);
}

#[tokio::test]
async fn bad_cookies_are_errors_never_panics() {
    let a = app();
    let good = login(&a, json!({"userId": 1}));
    let (name, token) = good.split_once('=').unwrap();
    let mut flipped = token.as_bytes().to_vec();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let other = app_with(vec![key()], false);
    let foreign = login(&other, json!({"userId": 666}));
    let cases = [
        (String::new(), ReadError::Missing),
        (format!("{name}=garbage"), ReadError::Malformed),
        (format!("{name}="), ReadError::Malformed),
        (format!("{name}={}", &token[..token.len() - 3]), ReadError::Malformed),
        (format!("{name}={flipped}"), ReadError::Tampered),
        (format!("{name}={}", foreign.split_once('=').unwrap().1), ReadError::UnknownKey),
        (format!("user_session={token}"), ReadError::Missing),
    ];
    for (cookies, want) in cases {
        let (r, _) = read(&a, &cookies, Refresh::Always).await;
        assert_eq!(r.error, Some(want), "{cookies}");
        assert_eq!(r.payload, Value::Null);
        assert!(!r.expired);
    }
}

#[tokio::test]
async fn an_older_key_opens_and_the_cookie_is_reissued_under_the_first() {
    let (old, new) = (key(), key());
    let before = app_with(vec![old.clone()], false);
    let cookies = login(&before, json!({"userId": 7}));
    let after = app_with(vec![new.clone(), old.clone()], false);
    let (r, out) = read(&after, &cookies, Refresh::Never).await;
    assert!(r.is_valid());
    assert_eq!(out.len(), 1, "re-issued");
    let reissued = cookie_header(&out);
    // The re-issued cookie opens with the new key alone.
    let only_new = app_with(vec![new], false);
    let (r2, out2) = read(&only_new, &reissued, Refresh::Never).await;
    assert_eq!(r2.payload["userId"], 7);
    assert_eq!((r2.exp, r2.auth_time), (r.exp, r.auth_time), "same claims");
    assert!(out2.is_empty());
}

#[tokio::test]
async fn removing_a_key_flushes_what_it_opened() {
    let (old, new) = (key(), key());
    let a = app_with(vec![old.clone()], false);
    let cookies = login(&a, json!({"userId": 1}));
    assert!(read(&a, &cookies, Refresh::Never).await.0.is_valid(), "cached now");
    a.sessions.add_key(&new).unwrap();
    assert_eq!(a.sessions.kids()[0], new.kid());
    a.sessions.remove_key(old.kid()).unwrap();
    let (r, _) = read(&a, &cookies, Refresh::Never).await;
    assert_eq!(r.error, Some(ReadError::UnknownKey));
    assert!(a.sessions.remove_key(new.kid()).is_err(), "not the last key");
    assert!(a.sessions.add_key(&new).is_err(), "not twice");
}

#[tokio::test]
async fn the_cache_never_serves_an_expired_token_and_nocache_bypasses_it() {
    let a = app();
    let cookies = login(&a, json!({"userId": 1}));
    assert!(read(&a, &cookies, Refresh::Never).await.0.is_valid());
    a.clock.advance_secs(30 * 60);
    assert!(read(&a, &cookies, Refresh::Never).await.0.expired);
    let s = a.sessions.scope(Some(&cookies));
    assert!(s.session().get_uncached(Refresh::Never).await.expired);
}

#[tokio::test]
async fn oversized_cookies_are_refused_and_the_old_one_stays() {
    let a = app();
    let cookies = login(&a, json!({"userId": 1}));
    let s = a.sessions.scope(Some(&cookies));
    let big = "x".repeat(4000);
    let e = s.session().set(json!({"userId": 1, "blob": big}), Overrides::none()).unwrap_err();
    assert!(matches!(e, Error::CookieTooLarge { size } if size > 4096), "{e}");
    let e = s.session().update(json!({"blob": big})).await.unwrap_err();
    assert_eq!(e.code(), "COOKIE_TOO_LARGE");
    assert!(s.set_cookie_headers().is_empty(), "nothing set");
    assert_eq!(s.session().get(Refresh::Never).await.payload, json!({"userId": 1}));
    // Just under the limit is fine.
    let s = a.sessions.scope(None);
    let mut n = 2000;
    while s.session().set(json!({"b": "y".repeat(n)}), Overrides::none()).is_ok() {
        n += 50;
    }
    let h = s.set_cookie_headers();
    assert!(h[0].len() <= 4096 && h[0].len() > 4000, "{}", h[0].len());
}

#[tokio::test]
async fn update_deep_merges_and_keeps_the_session_start() {
    let a = app();
    let cookies =
        login(&a, json!({"userId": 1, "prefs": {"theme": "light", "lang": "en"}, "tags": [1, 2]}));
    a.clock.advance_secs(60);
    let s = a.sessions.scope(Some(&cookies));
    let before = s.session().get(Refresh::Never).await;
    let r = s
        .session()
        .update(json!({"prefs": {"theme": "dark"}, "tags": [3], "userId": null}))
        .await
        .unwrap();
    assert_eq!(r.payload, json!({"prefs": {"theme": "dark", "lang": "en"}, "tags": [3]}));
    assert_eq!(r.auth_time, before.auth_time);
    assert_eq!(r.iat, before.iat + 60);
    assert!(matches!(
        s.session().update(json!({"exp": 1})).await,
        Err(Error::ReservedClaim("exp"))
    ));
    assert!(matches!(s.session().update(json!(5)).await, Err(Error::NotAnObject)));
    let none = a.sessions.scope(None);
    assert!(matches!(none.session().update(json!({"a": 1})).await, Err(Error::NoSession)));
}

#[tokio::test]
async fn clear_keeps_an_empty_cookie_and_delete_removes_it() {
    let a = app();
    let cookies = login(&a, json!({"userId": 1}));
    let s = a.sessions.scope(Some(&cookies));
    s.session().clear().await.unwrap();
    let out = s.set_cookie_headers();
    let (r, _) = read(&a, &cookie_header(&out), Refresh::Never).await;
    assert!(r.is_valid());
    assert_eq!(r.payload, json!({}));

    let s = a.sessions.scope(Some(&cookies));
    s.session().delete();
    assert_eq!(s.session().get(Refresh::Never).await.error, Some(ReadError::Missing));
    let out = s.set_cookie_headers();
    assert_eq!(
        out,
        [
            "__Host-user_session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax"
        ]
    );
    let s = a.sessions.scope(None);
    s.named("admin_session").delete_at(Some("/admin"));
    let out = s.set_cookie_headers();
    assert!(out[0].starts_with("admin_session=; Path=/admin;"), "{}", out[0]);
}

#[tokio::test]
async fn overrides_apply_to_one_call() {
    let a = app();
    let s = a.sessions.scope(None);
    let r = s
        .session()
        .set(
            json!({"a": 1}),
            Overrides::none()
                .name("other")
                .expires_in(Duration::from_secs(5))
                .path("/app")
                .http_only(false)
                .max_age(Duration::from_secs(100)),
        )
        .unwrap();
    assert_eq!(r.exp - r.iat, 5);
    let h = &s.set_cookie_headers()[0];
    assert!(h.starts_with("other="), "no prefix off Path=/: {h}");
    assert!(h.contains("Path=/app") && h.contains("Max-Age=100") && !h.contains("HttpOnly"));
    assert!(matches!(
        s.session().set(json!({}), Overrides::none().secure(false)),
        Err(Error::InsecureOverride)
    ));
    assert!(s.session().set(json!({}), Overrides::none().path("nope")).is_err());
    // The next call has the configuration back.
    s.session().set(json!({}), Overrides::none()).unwrap();
    assert!(s.set_cookie_headers()[0].starts_with("__Host-user_session="));
}

#[tokio::test]
async fn dev_mode_is_the_only_way_to_drop_secure() {
    assert!(matches!(
        CookieSessions::builder([key()]).session(SessionConfig::new("s").secure(false)).build(),
        Err(Error::InsecureOverride)
    ));
    let dev = CookieSessions::builder([key()]).insecure_dev_mode(true).build().unwrap();
    let s = dev.scope(None);
    s.session().set(json!({}), Overrides::none()).unwrap();
    let h = &s.set_cookie_headers()[0];
    assert!(h.starts_with("session_cookie=") && !h.contains("Secure"), "{h}");
    for bad in [
        CookieSessions::builder(Vec::<CookieKey>::new()).build(),
        CookieSessions::builder([key()])
            .session(SessionConfig::new("a"))
            .session(SessionConfig::new("a"))
            .build(),
        CookieSessions::builder([key()]).session(SessionConfig::new("__Host-a")).build(),
        CookieSessions::builder([key()])
            .session(SessionConfig::new("a").expires_in(Duration::ZERO))
            .build(),
        CookieSessions::builder([key()]).trusted_origin("not an origin").build(),
    ] {
        assert!(bad.is_err());
    }
}

#[tokio::test]
async fn signed_tokens_verify_with_an_independent_jwt_library() {
    let k = key();
    let a = app_with(vec![k.clone()], true);
    let cookies = login(&a, json!({"userId": "alice", "role": "admin"}));
    let token = token_of(&cookies);
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.validate_exp = false;
    v.required_spec_claims.clear();
    let secret = sessiond_core::b64::decode(k.to_base64url()).unwrap();
    let data =
        jsonwebtoken::decode::<Value>(&token, &jsonwebtoken::DecodingKey::from_secret(&secret), &v)
            .unwrap();
    assert_eq!(data.header.kid.as_deref(), Some(k.kid()));
    assert_eq!(data.claims["userId"], "alice");
    assert!(data.claims["auth_time"].is_i64());
    // And a token that library signs with the key is read back.
    let mut claims = data.claims.clone();
    claims["role"] = json!("user");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(k.kid().to_owned());
    let minted =
        jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(&secret))
            .unwrap();
    let name = cookies.split_once('=').unwrap().0;
    let (r, _) = read(&a, &format!("{name}={minted}"), Refresh::Never).await;
    assert_eq!(r.payload["role"], "user");
}

#[tokio::test]
async fn scoped_execution_outside_a_request() {
    let a = app();
    let (payload, headers) = a
        .sessions
        .run(None, |scope| async move {
            scope.session().set(json!({"job": 1}), Overrides::none()).unwrap()
        })
        .await;
    assert_eq!(payload.payload["job"], 1);
    assert_eq!(headers.len(), 1);
    let (r, _) = a
        .sessions
        .run(Some(&cookie_header(&headers)), |scope| async move {
            scope.session().get(Refresh::Never).await
        })
        .await;
    assert_eq!(r.payload["job"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_never_see_each_others_sessions() {
    let a = Arc::new(app());
    let mut tasks = Vec::new();
    for i in 0..64 {
        let a = Arc::clone(&a);
        tasks.push(tokio::spawn(async move {
            for round in 0..20 {
                let s = a.sessions.scope(None);
                s.session().set(json!({"userId": i, "round": round}), Overrides::none()).unwrap();
                tokio::task::yield_now().await;
                let cookies = cookie_header(&s.set_cookie_headers());
                let next = a.sessions.scope(Some(&cookies));
                let r = next.session().get(Refresh::Never).await;
                assert_eq!(r.payload, json!({"userId": i, "round": round}));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
