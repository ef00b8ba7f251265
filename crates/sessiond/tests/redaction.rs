//! Secrets never show. Tokens, API keys, the master key and private session data never reach
//! the log, even at `trace`. Store URLs never show their password: in every log line, in
//! startup errors and in `Settings`' `Debug`, whatever the password holds (`@`, `%40`, `?`,
//! `/`).

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::time::Duration;

use common::{Serve, free_port, serve_refused, spawn_serve};
use serde_json::{Value, json};
use sessiond_server::Settings;

/// Passwords as written in the URL, and the fragments of them that must never appear.
fn cases(port: u16) -> Vec<(String, &'static [&'static str])> {
    vec![
        (
            format!("postgres://sessiond:p@ss-word@127.0.0.1:{port}/db"),
            &["p@ss", "ss-word", "p@ss-word"],
        ),
        (
            format!("postgres://sessiond:p%40ss-word@127.0.0.1:{port}/db?schema=s"),
            &["p%40ss", "ss-word", "p@ss"],
        ),
        (
            format!("postgres://127.0.0.1:{port}/db?user=u&password=qu@ery-secret"),
            &["qu@ery", "ery-secret"],
        ),
        (format!("redis://:r3d@s-secret@127.0.0.1:{port}?timeout_ms=200"), &["r3d@s", "s-secret"]),
    ]
}

fn assert_clean(text: &str, url: &str, fragments: &[&str]) {
    for f in fragments {
        assert!(!text.contains(f), "{url}: `{f}` shows in:\n{text}");
    }
}

/// The server starts (the store is down: nothing listens on the port) and logs the URL in its
/// "listening" and "store unreachable" lines: redacted, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_urls_are_redacted_in_every_log_line() {
    for (url, fragments) in cases(free_port()) {
        let p = spawn_serve(&["--store", &url, "--log-level", "trace"], &[]).await;
        // Let it retry a few times, and answer a request that needs the store.
        let r = reqwest::get(format!("{}/readyz", p.url())).await.unwrap();
        assert_eq!(r.status(), 503);
        tokio::time::sleep(Duration::from_millis(700)).await;
        let listening = &p.with_message("sessiond listening")[0];
        let shown = listening["store"].as_str().unwrap();
        assert!(shown.contains("***"), "{url} shown as {shown}");
        assert!(shown.contains("127.0.0.1:"), "the host stays visible: {shown}");
        let unreachable = p
            .records()
            .into_iter()
            .find(|r| r["message"].as_str().is_some_and(|m| m.starts_with("store unreachable")));
        assert!(unreachable.is_some(), "{}", p.text());
        assert_clean(&p.text(), &url, fragments);
    }
}

/// A URL that can never work stops startup with a message naming the store, redacted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_errors_never_show_the_password() {
    let port = free_port();
    for (url, fragments) in [
        (
            format!("postgres://u:p@ss-word@127.0.0.1:{port}/db?pool_size=0"),
            &["p@ss", "ss-word"][..],
        ),
        (format!("postgres://u:p%40ss-word@127.0.0.1:{port}/db?nope=1"), &["p%40ss", "ss-word"]),
        (format!("postgres://u:pa?ss-word@127.0.0.1:{port}/db"), &["pa?ss", "ss-word"]),
        (
            // The driver cannot parse this one (the `/` ends the authority): it never works.
            format!("postgresql://sessiond:a/b@c-secret@127.0.0.1:{port}/db"),
            &["a/b", "c-secret"],
        ),
        (format!("redis://:p@ss-word@127.0.0.1:{port}?nope=1"), &["p@ss", "ss-word"]),
        (format!("mongodb://u:p@ss-word@127.0.0.1:{port}/db"), &["p@ss", "ss-word"]),
    ] {
        let (code, err) = serve_refused(&["--store", &url], &[]).await;
        assert_eq!(code, Some(1), "{url}: {err}");
        assert!(err.contains("store") && err.contains("***"), "{url}: names the store: {err}");
        assert_clean(&err, &url, fragments);
    }
}

#[test]
fn settings_debug_redacts_store_passwords() {
    for (url, fragments) in cases(5432) {
        let s = Settings {
            store: url.clone(),
            api_keys: vec!["an-api-key-that-is-secret-0123".into()],
            ..Settings::default()
        };
        let d = format!("{s:?}");
        assert_clean(&d, &url, fragments);
        assert!(!d.contains("an-api-key-that-is-secret"), "{d}");
        assert!(d.contains("***"), "{d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_keys_never_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let api_key = "log-test-api-key-0123456789abcdef";
    let mut p = Serve::new()
        .sqlite(dir.path())
        .args(&["--log-level", "trace", "--refresh-grace", "1"])
        .args(&["--api-key", api_key, "--master-key", &"ab".repeat(32)])
        .default_algorithm()
        .spawn()
        .await;
    let base = p.url();
    let api = p.api().with_api_key(api_key);
    let http = &api.http;
    // The status of a request with the key as a bearer token, or a wrong key.
    let status = |rb: reqwest::RequestBuilder| async move { rb.send().await.unwrap().status() };
    // A POST with the key in the `api-key` header: its answer's body.
    let call = |path: &'static str, body: Value| {
        let api = &api;
        async move {
            let (st, v) = api.post(path, body).await;
            assert_ne!(st, 0, "{path}: no answer: {v}");
            v
        }
    };
    // The master key (as given, hex) and private session data must not be logged either.
    let private_value = "private-data-value-0123456789abcdef";
    let mut secrets: Vec<String> =
        vec![api_key.to_owned(), "ab".repeat(32), private_value.to_owned()];

    let c: Value = call(
        "/public/recipe/session",
        json!({"userId": "logan", "userDataInJWT": {"r": 1}, "enableAntiCsrf": true}),
    )
    .await;
    let access = c["accessToken"]["token"].as_str().unwrap().to_owned();
    let rt0 = c["refreshToken"]["token"].as_str().unwrap().to_owned();
    let csrf = c["antiCsrfToken"].as_str().unwrap().to_owned();
    secrets.extend([access.clone(), rt0.clone(), csrf.clone()]);
    call("/recipe/session/verify", json!({"accessToken": access, "antiCsrfToken": csrf, "doAntiCsrfCheck": true, "enableAntiCsrf": true, "checkDatabase": true})).await;
    // A tampered token and a wrong anti-CSRF token are rejected; the log must not echo them.
    let tampered = format!("{}x", access);
    call("/recipe/session/verify", json!({"accessToken": tampered, "antiCsrfToken": "wrong-csrf-token-value", "doAntiCsrfCheck": true, "checkDatabase": false})).await;
    let r1: Value = call(
        "/recipe/session/refresh",
        json!({"refreshToken": rt0, "antiCsrfToken": csrf, "enableAntiCsrf": true}),
    )
    .await;
    let rt1 = r1["refreshToken"]["token"].as_str().unwrap().to_owned();
    secrets.extend([
        rt1.clone(),
        r1["accessToken"]["token"].as_str().unwrap().to_owned(),
        r1["antiCsrfToken"].as_str().unwrap().to_owned(),
    ]);
    let r2: Value = call(
        "/recipe/session/refresh",
        json!({"refreshToken": rt1, "antiCsrfToken": r1["antiCsrfToken"], "enableAntiCsrf": true}),
    )
    .await;
    secrets.extend([
        r2["refreshToken"]["token"].as_str().unwrap().to_owned(),
        r2["accessToken"]["token"].as_str().unwrap().to_owned(),
    ]);
    // After the 1 s grace window, replaying rt0 is theft.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let theft: Value = call(
        "/recipe/session/refresh",
        json!({"refreshToken": rt0, "antiCsrfToken": csrf, "enableAntiCsrf": true}),
    )
    .await;
    assert_eq!(theft["status"], "TOKEN_THEFT_DETECTED");
    let c2: Value = call("/public/recipe/session", json!({"userId": "logan"})).await;
    let access2 = c2["accessToken"]["token"].as_str().unwrap().to_owned();
    secrets.extend([access2.clone(), c2["refreshToken"]["token"].as_str().unwrap().to_owned()]);
    let g: Value = call(
        "/recipe/session/regenerate",
        json!({"accessToken": access2, "userDataInJWT": {"r": 2}}),
    )
    .await;
    secrets.push(g["accessToken"]["token"].as_str().unwrap().to_owned());
    // Data updates and revocation by handle, with the key as a bearer token this time.
    let h2 = c2["session"]["handle"].clone();
    for (path, body) in [
        (
            "/recipe/session/data",
            json!({"sessionHandle": h2, "userDataInDatabase": {"v": private_value}}),
        ),
        ("/recipe/jwt/data", json!({"sessionHandle": h2, "userDataInJWT": {"r": 3}})),
    ] {
        let put = http.put(format!("{base}{path}")).json(&body);
        assert_eq!(status(put.bearer_auth(api_key)).await, 200);
    }
    let remove =
        http.post(format!("{base}/recipe/session/remove")).json(&json!({"sessionHandles": [h2]}));
    assert_eq!(status(remove.bearer_auth(api_key)).await, 200);
    let j: Value =
        call("/recipe/jwt", json!({"payload": {"a": 1}, "validity": 60, "algorithm": "RS256"}))
            .await;
    secrets.push(j["jwt"].as_str().unwrap().to_owned());
    let st: Value = call("/sessiond/v1/service-tokens", json!({"expiresIn": 60})).await;
    let service = st["token"].as_str().unwrap().to_owned();
    secrets.push(service.clone());
    call("/sessiond/v1/service-tokens/verify", json!({"token": service})).await;
    call("/sessiond/v1/keys/rotate", json!({})).await;
    call("/sessiond/v1/keys/reset", json!({})).await;
    // A wrong API key is refused and not logged either.
    let wrong = "wrong-api-key-0123456789abcdef";
    secrets.push(wrong.to_owned());
    let apiversion = || http.get(format!("{base}/apiversion"));
    assert_eq!(status(apiversion().header("api-key", wrong)).await, 401);
    assert_eq!(status(apiversion().bearer_auth(wrong)).await, 401);

    p.stop("-TERM", Duration::from_secs(30)).await;
    let log = p.text();
    assert!(log.lines().count() > 10, "trace logging produced output:\n{log}");
    assert!(log.contains("refresh token reuse detected"), "the theft is logged (without tokens)");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a token or key reached the log");
        // Also no long fragment of it (a JWT's signature part, say).
        if secret.len() > 40 {
            let tail = &secret[secret.len() - 32..];
            assert!(!log.contains(tail), "a fragment of a token reached the log");
        }
    }
}
