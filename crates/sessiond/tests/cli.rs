//! The CLI of the real binary: every command with its output and exit code, and the token file
//! (`login`, `whoami`, `logout`) shared by concurrent processes.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::time::Duration;

use common::{Serve, cli, cli_json, sessiond, stderr};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cli_command_works_and_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // A 1 s grace window, so the theft below can come after it.
    let p = Serve::new().sqlite(dir.path()).args(&["--refresh-grace", "1"]).spawn().await;
    let base = p.url();
    let url = base.as_str();

    // create (human output), then the JSON variants.
    let out =
        cli(url, &["session", "create", "--user", "ann", "--public", r#"{"role":"admin"}"#]).await;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("access token") && text.contains("refresh token"), "{text}");
    let s = cli_json(url, &["session", "create", "--user", "ann", "--private", r#"{"k":1}"#]).await;
    let handle = s["session"]["handle"].as_str().unwrap().to_owned();
    let access = s["accessToken"]["token"].as_str().unwrap().to_owned();
    let refresh = s["refreshToken"]["token"].as_str().unwrap().to_owned();

    let v = cli(url, &["session", "verify", &access]).await;
    assert!(v.status.success(), "{}", stderr(&v));
    let v = cli(url, &["session", "verify", "not-a-token"]).await;
    assert_eq!(v.status.code(), Some(1));
    assert!(stderr(&v).contains("UNAUTHORISED"), "{}", stderr(&v));

    let g = cli_json(url, &["session", "get", &handle]).await;
    assert_eq!(g["userDataInDatabase"]["k"], 1);
    let l = cli_json(url, &["session", "list", "--user", "ann"]).await;
    assert_eq!(l["sessions"].as_array().unwrap().len(), 2);
    let l = cli(url, &["session", "list", "--user", "ann"]).await;
    assert!(String::from_utf8_lossy(&l.stdout).contains(&handle));

    let r = cli_json(url, &["session", "refresh", &refresh]).await;
    assert_eq!(r["status"], "OK");
    let rotated = r["refreshToken"]["token"].as_str().unwrap();
    let r2 = cli_json(url, &["session", "refresh", rotated]).await;
    assert_eq!(r2["status"], "OK");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let theft = cli(url, &["session", "refresh", &refresh]).await;
    assert_eq!(theft.status.code(), Some(1));
    assert!(stderr(&theft).contains("TOKEN_THEFT_DETECTED"), "{}", stderr(&theft));

    let d = cli(url, &["session", "delete", &handle]).await;
    assert_eq!(d.status.code(), Some(1), "already revoked by theft detection");
    assert!(stderr(&d).contains("not found"), "{}", stderr(&d));
    let g = cli(url, &["session", "get", &handle]).await;
    assert_eq!(g.status.code(), Some(1));
    assert!(stderr(&g).contains("not found"));

    let ra = cli_json(url, &["session", "revoke-all", "--user", "ann"]).await;
    assert_eq!(ra["sessionHandlesRevoked"].as_array().unwrap().len(), 1);
    let l = cli_json(url, &["session", "list", "--user", "ann"]).await;
    assert!(l["sessions"].as_array().unwrap().is_empty());

    // keys
    let k = cli_json(url, &["keys", "list"]).await;
    let before: Vec<String> = k["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    let rot = cli_json(url, &["keys", "rotate"]).await;
    assert!(!before.contains(&rot["key"]["kid"].as_str().unwrap().to_owned()));
    let s = cli_json(url, &["session", "create", "--user", "bo"]).await;
    let t = cli_json(url, &["token", "create"]).await;
    let tv = cli(url, &["token", "verify", t["token"].as_str().unwrap()]).await;
    assert!(tv.status.success());
    assert!(cli(url, &["keys", "reset"]).await.status.success());
    let tv = cli(url, &["token", "verify", t["token"].as_str().unwrap()]).await;
    assert_eq!(tv.status.code(), Some(1), "service tokens die with a key reset");
    let access = s["accessToken"]["token"].as_str().unwrap();
    let v = cli(url, &["session", "verify", access]).await;
    assert_eq!(v.status.code(), Some(1), "access tokens die with a key reset");
    assert!(stderr(&v).contains("TRY_REFRESH_TOKEN"));

    // Bad arguments and an unreachable server are clean errors.
    let bad = cli(url, &["session", "create", "--user", "x", "--public", "[1]"]).await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("JSON object"));
    let down = cli("http://127.0.0.1:9", &["keys", "list"]).await;
    assert_eq!(down.status.code(), Some(1));
    assert!(stderr(&down).contains("cannot reach sessiond"), "{}", stderr(&down));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_cli_processes_share_one_token_file() {
    let dir = tempfile::tempdir().unwrap();
    // No grace window: a refresh that raced another, or a file left holding a superseded
    // refresh token, would be reported as theft and fail the run.
    let p = Serve::new()
        .sqlite(dir.path())
        .args(&["--access-token-ttl", "1", "--refresh-grace", "0"])
        .spawn()
        .await;
    let url = p.url();
    let tf = dir.path().join("state/sessiond/session.json");
    let tf_s = tf.display().to_string();
    let with_file = |args: &[&str]| {
        let mut v: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        v.extend(["--token-file".to_owned(), tf_s.clone()]);
        v
    };
    let login = cli(
        &url,
        &with_file(&["login", "--user", "carla"]).iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    assert!(login.status.success(), "{}", stderr(&login));
    let first = std::fs::read_to_string(&tf).unwrap();

    // Waves of twenty concurrent `whoami`s; the access token expires during and between waves,
    // so refreshes race inside the lock and across waves.
    for wave in 0..4 {
        let runs: Vec<_> = (0..20)
            .map(|_| {
                let url = url.clone();
                let args = with_file(&["whoami", "--json"]);
                tokio::spawn(async move {
                    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                    cli(&url, &refs).await
                })
            })
            .collect();
        for r in runs {
            let o = r.await.unwrap();
            assert!(o.status.success(), "wave {wave}: {}", stderr(&o));
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(v["userId"], "carla");
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    // The file is whole, private, rotated, and its refresh token is the live one.
    let last: Value = serde_json::from_str(&std::fs::read_to_string(&tf).unwrap()).unwrap();
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_ne!(last["refreshToken"], first["refreshToken"], "refreshes happened");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&tf).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(tf.parent().unwrap()).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    let leftovers = std::fs::read_dir(tf.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .count();
    assert_eq!(leftovers, 0, "no torn temporary files left behind");
    let r = cli_json(&url, &["session", "refresh", last["refreshToken"].as_str().unwrap()]).await;
    assert_eq!(r["status"], "OK", "the stored refresh token is the latest one");

    // A token file others can read is refused.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tf, std::fs::Permissions::from_mode(0o644)).unwrap();
        let o =
            cli(&url, &with_file(&["whoami"]).iter().map(String::as_str).collect::<Vec<_>>()).await;
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("accessible to other users"), "{}", stderr(&o));
        std::fs::set_permissions(&tf, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_whoami_logout() {
    let dir = tempfile::tempdir().unwrap();
    let p = Serve::new().sqlite(dir.path()).spawn().await;
    let url = p.url();
    let tf = dir.path().join("xdg/sessiond/session.json");
    let run = |args: Vec<&'static str>| {
        let url = url.clone();
        let xdg = dir.path().join("xdg");
        async move {
            sessiond()
                .args(&args)
                .args(["--url", &url])
                .env("XDG_STATE_HOME", &xdg)
                .output()
                .await
                .unwrap()
        }
    };
    let o = run(vec!["whoami"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not logged in"), "{}", stderr(&o));
    let o = run(vec!["login", "--user", "dora"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(tf.exists(), "the default token file lives under $XDG_STATE_HOME/sessiond/");
    let o = run(vec!["whoami"]).await;
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("dora"));
    let handle: Value = serde_json::from_str(&std::fs::read_to_string(&tf).unwrap()).unwrap();
    let o = run(vec!["logout"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!tf.exists());
    let g = cli(&url, &["session", "get", handle["sessionHandle"].as_str().unwrap()]).await;
    assert_eq!(g.status.code(), Some(1), "logout revoked the session on the server");
    let o = run(vec!["logout"]).await;
    assert_eq!(o.status.code(), Some(1));
}
