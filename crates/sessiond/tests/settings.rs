//! Settings of `sessiond serve`: the config file, then the environment, then the flags; and the
//! startup refusals that name the problem.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Serve, cli_json, serve_refused};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_refusals_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/x.db", dir.path().display());
    let (code, err) = serve_refused(&["--listen", "0.0.0.0:0", "--store", &db], &[]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("refusing to listen on 0.0.0.0:0 without an API key"), "{err}");

    let (code, err) = serve_refused(&["--algorithm", "none", "--store", &db], &[]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("`algorithm`"), "{err}");

    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\naccess_token_ttl = \"soon\"\n").unwrap();
    let (code, err) = serve_refused(&["--config", &cfg.display().to_string()], &[]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("access_token_ttl"), "{err}");

    let (code, err) =
        serve_refused(&["--store", &db], &[("SESSIOND_REFRESH_TOKEN_TTL", "abc")]).await;
    assert_ne!(code, Some(0));
    assert!(err.contains("refresh-token-ttl"), "{err}");

    let (code, err) = serve_refused(&["--store", "mongodb://localhost"], &[]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("unsupported store URL"), "{err}");
}

/// Starts `sessiond serve` with `args` and `env`, returns the access-token lifetime it issues.
async fn issued_ttl(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> i64 {
    let db = format!("sqlite://{}/ttl.db", dir.display());
    let mut p = Serve::new().store(&db).args(args).env(env).spawn().await;
    let s = cli_json(&p.url(), &["session", "create", "--user", "t"]).await;
    let ttl = (s["accessToken"]["expiry"].as_i64().unwrap()
        - s["accessToken"]["createdTime"].as_i64().unwrap())
        / 1000;
    p.stop("-TERM", Duration::from_secs(30)).await;
    ttl
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_come_from_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sessiond.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\naccess_token_ttl = 100\n").unwrap();
    let cfg = cfg.display().to_string();
    let file = ["--config", cfg.as_str()];
    let ttl = issued_ttl(dir.path(), &file, &[]).await;
    assert!((99..=100).contains(&ttl), "file: {ttl}");
    let ttl = issued_ttl(dir.path(), &file, &[("SESSIOND_ACCESS_TOKEN_TTL", "200")]).await;
    assert!((199..=200).contains(&ttl), "env over file: {ttl}");
    let flags = ["--config", cfg.as_str(), "--access-token-ttl", "300"];
    let ttl = issued_ttl(dir.path(), &flags, &[("SESSIOND_ACCESS_TOKEN_TTL", "200")]).await;
    assert!((299..=300).contains(&ttl), "flag over env: {ttl}");
    // The config file may also come from SESSIOND_CONFIG.
    let ttl = issued_ttl(dir.path(), &[], &[("SESSIOND_CONFIG", cfg.as_str())]).await;
    assert!((99..=100).contains(&ttl), "SESSIOND_CONFIG: {ttl}");
}
