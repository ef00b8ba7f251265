//! Store URLs never show their password: in every log line, in startup errors and in
//! `Settings`' `Debug`, whatever the password holds (`@`, `%40`, `?`, `/`).

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::time::Duration;

use common::{free_port, serve_refused, spawn_serve};
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
        (
            format!("redis://:r3d@s-secret@127.0.0.1:{port}?timeout_ms=200"),
            &["r3d@s", "s-secret"],
        ),
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
        assert!(
            shown.contains("127.0.0.1:"),
            "the host stays visible: {shown}"
        );
        let unreachable = p.records().into_iter().find(|r| {
            r["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("store unreachable"))
        });
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
        (
            format!("postgres://u:p%40ss-word@127.0.0.1:{port}/db?nope=1"),
            &["p%40ss", "ss-word"],
        ),
        (
            format!("postgres://u:pa?ss-word@127.0.0.1:{port}/db"),
            &["pa?ss", "ss-word"],
        ),
        (
            // The driver cannot parse this one (the `/` ends the authority): it never works.
            format!("postgresql://sessiond:a/b@c-secret@127.0.0.1:{port}/db"),
            &["a/b", "c-secret"],
        ),
        (
            format!("redis://:p@ss-word@127.0.0.1:{port}?nope=1"),
            &["p@ss", "ss-word"],
        ),
        (
            format!("mongodb://u:p@ss-word@127.0.0.1:{port}/db"),
            &["p@ss", "ss-word"],
        ),
    ] {
        let (code, err) = serve_refused(&["--store", &url], &[]).await;
        assert_eq!(code, Some(1), "{url}: {err}");
        assert!(
            err.contains("store") && err.contains("***"),
            "{url}: names the store: {err}"
        );
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
