//! API keys from files (`--api-key-file`, `SESSIOND_API_KEY_FILE`, `api_key_file`), and the
//! rate-limited warn line for refused attempts, on the real binary.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{serve_refused, spawn_serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FILE_KEY: &str = "key-from-a-file-0123456789abcdef";
const FILE_KEY_2: &str = "second-key-from-a-file-0123456789";
const FLAG_KEY: &str = "key-from-the-flag-0123456789abcd";
const WRONG_KEY: &str = "wrong-key-never-logged-0123456789";

fn key_file(dir: &Path, name: &str, content: &str, mode: u32) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p.display().to_string()
}

async fn status_with(url: &str, key: Option<&str>) -> u16 {
    let mut rb = reqwest::Client::new().get(format!("{url}/apiversion"));
    if let Some(k) = key {
        rb = rb.header("api-key", k);
    }
    rb.send().await.unwrap().status().as_u16()
}

/// Keys from files (trimmed) work, from the flag, the environment and the config file, and
/// combine with `--api-key`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_files_work_and_combine_with_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let f1 = key_file(dir.path(), "k1", &format!("  {FILE_KEY}\n\n"), 0o600);
    let f2 = key_file(dir.path(), "k2", &format!("{FILE_KEY_2}\n"), 0o400);
    let db = format!("sqlite://{}/a.db", dir.path().display());

    // --api-key-file twice, plus --api-key.
    let p = spawn_serve(
        &["--store", &db, "--api-key-file", &f1, "--api-key-file", &f2, "--api-key", FLAG_KEY],
        &[],
    )
    .await;
    for k in [FILE_KEY, FILE_KEY_2, FLAG_KEY] {
        assert_eq!(status_with(&p.url(), Some(k)).await, 200, "{k}");
    }
    assert_eq!(status_with(&p.url(), Some(WRONG_KEY)).await, 401);
    assert_eq!(status_with(&p.url(), None).await, 401);
    assert_eq!(p.with_message("sessiond listening")[0]["api_keys"], 3);
    drop(p);

    // SESSIOND_API_KEY_FILE, comma-separated.
    let both = format!("{f1},{f2}");
    let p = spawn_serve(&["--store", &db], &[("SESSIOND_API_KEY_FILE", &both)]).await;
    for k in [FILE_KEY, FILE_KEY_2] {
        assert_eq!(status_with(&p.url(), Some(k)).await, 200, "{k}");
    }
    assert_eq!(status_with(&p.url(), None).await, 401);
    drop(p);

    // api_key_file in the config file: one path or a list.
    for value in [format!("{f1:?}"), format!("[{f1:?}, {f2:?}]")] {
        let cfg = dir.path().join("sessiond.toml");
        std::fs::write(&cfg, format!("api_key_file = {value}\n")).unwrap();
        let p = spawn_serve(&["--store", &db, "--config", &cfg.display().to_string()], &[]).await;
        assert_eq!(status_with(&p.url(), Some(FILE_KEY)).await, 200, "{value}");
        assert_eq!(status_with(&p.url(), None).await, 401, "{value}");
    }

    // A key from a file lets the server listen on a public address.
    let p =
        spawn_serve(&["--store", &db, "--api-key-file", &f1, "--listen", "0.0.0.0:0"], &[]).await;
    assert!(p.addr.starts_with("0.0.0.0:"), "{}", p.addr);
}

/// A key file that other users can read or write is refused at startup, naming the file; so
/// are a missing file, an empty one and a short key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_or_unusable_key_files_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/a.db", dir.path().display());
    for mode in [0o644, 0o640, 0o604, 0o660, 0o602] {
        let f = key_file(dir.path(), &format!("k{mode:o}"), FILE_KEY, mode);
        let (code, err) = serve_refused(&["--store", &db, "--api-key-file", &f], &[]).await;
        assert_eq!(code, Some(1), "{mode:o}: {err}");
        assert!(err.contains(&f), "{mode:o}: the message names the file: {err}");
        assert!(err.contains("other users"), "{mode:o}: {err}");
        assert!(err.contains(&format!("chmod 600 {f}")), "{mode:o}: {err}");
        assert!(!err.contains(FILE_KEY), "the key is never printed: {err}");
        // The environment and the config file take the same path.
        let (code, err) = serve_refused(&["--store", &db], &[("SESSIOND_API_KEY_FILE", &f)]).await;
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains(&f), "{err}");
    }
    let missing = dir.path().join("nope").display().to_string();
    let empty = key_file(dir.path(), "empty", " \n", 0o600);
    let short = key_file(dir.path(), "short", "short-key\n", 0o600);
    let two = key_file(dir.path(), "two", &format!("{FILE_KEY}\n{FILE_KEY_2}\n"), 0o600);
    for f in [&missing, &empty, &short, &two] {
        let (code, err) = serve_refused(&["--store", &db, "--api-key-file", f], &[]).await;
        assert_eq!(code, Some(1), "{f}: {err}");
        assert!(err.contains(f.as_str()), "{f}: {err}");
        assert!(!err.contains(FILE_KEY), "{err}");
    }
}

/// A request with a wrong key produces a warn line with the client's socket address and
/// without the key; a burst of 100 failures produces a few lines whose counts add up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_attempts_are_logged_with_the_peer_rate_limited_and_never_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = key_file(dir.path(), "k", FILE_KEY, 0o600);
    let db = format!("sqlite://{}/a.db", dir.path().display());
    let p = spawn_serve(&["--store", &db, "--api-key-file", &f], &[]).await;
    const REFUSED: &str = "refused requests without a valid API key (peer: the last one's address)";

    // One wrong key, from a socket whose address the test knows.
    let mut s = tokio::net::TcpStream::connect(&p.addr).await.unwrap();
    let me = s.local_addr().unwrap().to_string();
    s.write_all(
        format!("GET /apiversion HTTP/1.1\r\nHost: x\r\napi-key: {WRONG_KEY}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");
    let mut lines = Vec::new();
    for _ in 0..50 {
        lines = p.with_message(REFUSED);
        if !lines.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(lines.len(), 1, "{}", p.text());
    let line = &lines[0];
    assert_eq!(line["level"], "WARN", "{line}");
    assert_eq!(line["peer"], me.as_str(), "{line}");
    assert_eq!(line["attempts"], 1, "{line}");
    assert_eq!(line["wrong_key"], 1, "{line}");

    // A burst of 100: 50 wrong keys, 50 without any.
    let http = reqwest::Client::new();
    for i in 0..100 {
        let mut rb = http.get(format!("{}/sessiond/v1/keys", p.url()));
        if i % 2 == 0 {
            rb = rb.header("authorization", format!("Bearer {WRONG_KEY}-{i}"));
        }
        assert_eq!(rb.send().await.unwrap().status(), 401);
    }
    // Held-back attempts are reported within a second of the line before.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let lines = p.with_message(REFUSED);
    let total: u64 = lines.iter().map(|l| l["attempts"].as_u64().unwrap()).sum();
    let missing: u64 = lines.iter().map(|l| l["missing_key"].as_u64().unwrap()).sum();
    assert_eq!(total, 101, "every attempt is counted: {lines:?}");
    assert_eq!(missing, 50, "{lines:?}");
    assert!(lines.len() <= 4, "a burst of 100 failures gave {} lines: {lines:?}", lines.len());
    for l in &lines {
        assert!(l["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{l}");
    }
    let log = p.text();
    assert!(!log.contains(WRONG_KEY) && !log.contains(FILE_KEY), "{log}");
    eprintln!("100 refused attempts → {} log lines", lines.len() - 1);
}
