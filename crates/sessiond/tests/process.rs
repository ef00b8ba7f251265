//! The real `sessiond` binary: durability across kill -9, graceful SIGTERM, startup refusals,
//! and every CLI command with its exit code.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_sessiond");

struct Proc {
    child: Child,
    url: String,
}

/// Starts `sessiond serve` on an ephemeral port and waits for its "listening" log line.
async fn serve(dir: &Path, extra: &[&str]) -> Proc {
    let db = format!("sqlite://{}/sessiond.db", dir.display());
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            &db,
            "--log-format",
            "json",
            "--algorithm",
            "EdDSA",
        ])
        .args(extra)
        .env_remove("SESSIOND_API_KEYS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["message"] == "sessiond listening"
            {
                return v["addr"].as_str().unwrap().to_owned();
            }
        }
        panic!("sessiond exited before listening");
    })
    .await
    .expect("sessiond did not start within 30 s");
    // Keep draining the log so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Proc {
        child,
        url: format!("http://{addr}"),
    }
}

async fn cli(url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--url", url])
        .env_remove("SESSIOND_API_KEY")
        .output()
        .await
        .unwrap()
}

fn json_out(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn signal(child: &Child, sig: &str) {
    let pid = child.id().unwrap().to_string();
    let ok = std::process::Command::new("kill")
        .args([sig, &pid])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_create_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let p = serve(dir.path(), &[]).await;
    let created = json_out(
        &cli(
            &p.url,
            &["session", "create", "--user", "durable", "--json"],
        )
        .await,
    );
    let rotated = json_out(
        &cli(
            &p.url,
            &[
                "session",
                "refresh",
                created["refreshToken"]["token"].as_str().unwrap(),
                "--json",
            ],
        )
        .await,
    );
    let revoke_me =
        json_out(&cli(&p.url, &["session", "create", "--user", "gone", "--json"]).await);
    let out = cli(
        &p.url,
        &[
            "session",
            "delete",
            revoke_me["session"]["handle"].as_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    // kill -9 immediately after the acknowledgements.
    let mut child = p.child;
    signal(&child, "-KILL");
    let status = child.wait().await.unwrap();
    assert!(!status.success());

    let p = serve(dir.path(), &[]).await;
    let access = rotated["accessToken"]["token"].as_str().unwrap();
    let v = cli(
        &p.url,
        &["session", "verify", access, "--check-database", "--json"],
    )
    .await;
    assert_eq!(json_out(&v)["status"], "OK");
    let r = cli(
        &p.url,
        &[
            "session",
            "refresh",
            rotated["refreshToken"]["token"].as_str().unwrap(),
            "--json",
        ],
    )
    .await;
    assert_eq!(json_out(&r)["status"], "OK", "the rotation was durable too");
    let g = cli(
        &p.url,
        &[
            "session",
            "get",
            revoke_me["session"]["handle"].as_str().unwrap(),
        ],
    )
    .await;
    assert!(!g.status.success(), "the revocation was durable");
}

/// SIGTERM under load: requests already in flight get their answer, new connections are
/// refused, the process exits 0, and every create that was acknowledged is there after a
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_acknowledged_write() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let p = serve(dir.path(), &[]).await;
    let signalled = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let url = p.url.clone();
            let signalled = Arc::clone(&signalled);
            tokio::spawn(async move {
                // One connection per client, as a load balancer would keep.
                let http = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                let (mut acked, mut after_signal, mut refused) = (Vec::new(), 0u32, 0u32);
                for i in 0.. {
                    let sent_after_signal = signalled.load(Ordering::SeqCst);
                    let r = http
                        .post(format!("{url}/public/recipe/session"))
                        .json(&serde_json::json!({"userId": format!("term-{c}-{i}")}))
                        .send()
                        .await;
                    match r {
                        Ok(r) => {
                            assert_eq!(r.status(), 200, "an answered request is a whole answer");
                            let v: Value = r.json().await.expect("a complete body");
                            assert_eq!(v["status"], "OK");
                            if signalled.load(Ordering::SeqCst) {
                                after_signal += 1;
                            }
                            acked.push(v["session"]["handle"].as_str().unwrap().to_owned());
                        }
                        // Refused or closed: the server is going away. Stop after a few.
                        Err(_) if sent_after_signal || signalled.load(Ordering::SeqCst) => {
                            refused += 1;
                            if refused >= 3 {
                                break;
                            }
                        }
                        Err(e) => panic!("request failed before SIGTERM: {e}"),
                    }
                }
                (acked, after_signal)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut child = p.child;
    signalled.store(true, Ordering::SeqCst);
    signal(&child, "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits within 15 s")
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let (mut acked, mut after_signal) = (Vec::new(), 0);
    for c in clients {
        let (a, n) = c.await.unwrap();
        acked.extend(a);
        after_signal += n;
    }
    assert!(acked.len() > 16, "load ran: {}", acked.len());

    let p = serve(dir.path(), &[]).await;
    let http = reqwest::Client::new();
    for h in &acked {
        let v: Value = http
            .get(format!("{}/recipe/session?sessionHandle={h}", p.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["status"], "OK", "acknowledged session {h} lost");
    }
    eprintln!(
        "{} creates acknowledged, {after_signal} of them answered after SIGTERM; all survived",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cli_command_works_and_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // A 1 s grace window, so the theft below can come after it.
    let p = serve(dir.path(), &["--refresh-grace", "1"]).await;
    let url = p.url.as_str();

    // create (human output), then the JSON variants.
    let out = cli(
        url,
        &[
            "session",
            "create",
            "--user",
            "ann",
            "--public",
            r#"{"role":"admin"}"#,
        ],
    )
    .await;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("access token") && text.contains("refresh token"),
        "{text}"
    );
    let s = json_out(
        &cli(
            url,
            &[
                "session",
                "create",
                "--user",
                "ann",
                "--private",
                r#"{"k":1}"#,
                "--json",
            ],
        )
        .await,
    );
    let handle = s["session"]["handle"].as_str().unwrap().to_owned();
    let access = s["accessToken"]["token"].as_str().unwrap().to_owned();
    let refresh = s["refreshToken"]["token"].as_str().unwrap().to_owned();

    let v = cli(url, &["session", "verify", &access]).await;
    assert!(v.status.success(), "{}", stderr(&v));
    let v = cli(url, &["session", "verify", "not-a-token"]).await;
    assert_eq!(v.status.code(), Some(1));
    assert!(stderr(&v).contains("UNAUTHORISED"), "{}", stderr(&v));

    let g = json_out(&cli(url, &["session", "get", &handle, "--json"]).await);
    assert_eq!(g["userDataInDatabase"]["k"], 1);
    let l = json_out(&cli(url, &["session", "list", "--user", "ann", "--json"]).await);
    assert_eq!(l["sessions"].as_array().unwrap().len(), 2);
    let l = cli(url, &["session", "list", "--user", "ann"]).await;
    assert!(String::from_utf8_lossy(&l.stdout).contains(&handle));

    let r = json_out(&cli(url, &["session", "refresh", &refresh, "--json"]).await);
    assert_eq!(r["status"], "OK");
    let r2 = json_out(
        &cli(
            url,
            &[
                "session",
                "refresh",
                r["refreshToken"]["token"].as_str().unwrap(),
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(r2["status"], "OK");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let theft = cli(url, &["session", "refresh", &refresh]).await;
    assert_eq!(theft.status.code(), Some(1));
    assert!(
        stderr(&theft).contains("TOKEN_THEFT_DETECTED"),
        "{}",
        stderr(&theft)
    );

    let d = cli(url, &["session", "delete", &handle]).await;
    assert_eq!(
        d.status.code(),
        Some(1),
        "already revoked by theft detection"
    );
    assert!(stderr(&d).contains("not found"), "{}", stderr(&d));
    let g = cli(url, &["session", "get", &handle]).await;
    assert_eq!(g.status.code(), Some(1));
    assert!(stderr(&g).contains("not found"));

    let ra = json_out(&cli(url, &["session", "revoke-all", "--user", "ann", "--json"]).await);
    assert_eq!(ra["sessionHandlesRevoked"].as_array().unwrap().len(), 1);
    let l = json_out(&cli(url, &["session", "list", "--user", "ann", "--json"]).await);
    assert!(l["sessions"].as_array().unwrap().is_empty());

    // keys
    let k = json_out(&cli(url, &["keys", "list", "--json"]).await);
    let before: Vec<String> = k["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    let rot = json_out(&cli(url, &["keys", "rotate", "--json"]).await);
    assert!(!before.contains(&rot["key"]["kid"].as_str().unwrap().to_owned()));
    let s = json_out(&cli(url, &["session", "create", "--user", "bo", "--json"]).await);
    let t = json_out(&cli(url, &["token", "create", "--json"]).await);
    let tv = cli(url, &["token", "verify", t["token"].as_str().unwrap()]).await;
    assert!(tv.status.success());
    assert!(cli(url, &["keys", "reset"]).await.status.success());
    let tv = cli(url, &["token", "verify", t["token"].as_str().unwrap()]).await;
    assert_eq!(
        tv.status.code(),
        Some(1),
        "service tokens die with a key reset"
    );
    let v = cli(
        url,
        &[
            "session",
            "verify",
            s["accessToken"]["token"].as_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        v.status.code(),
        Some(1),
        "access tokens die with a key reset"
    );
    assert!(stderr(&v).contains("TRY_REFRESH_TOKEN"));

    // Bad arguments and an unreachable server are clean errors.
    let bad = cli(
        url,
        &["session", "create", "--user", "x", "--public", "[1]"],
    )
    .await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("JSON object"));
    let down = cli("http://127.0.0.1:9", &["keys", "list"]).await;
    assert_eq!(down.status.code(), Some(1));
    assert!(
        stderr(&down).contains("cannot reach sessiond"),
        "{}",
        stderr(&down)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_refusals_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/x.db", dir.path().display());
    let run = |args: Vec<String>| async move {
        Command::new(BIN)
            .args(args)
            .env_remove("SESSIOND_API_KEYS")
            .output()
            .await
            .unwrap()
    };
    let o = run(vec![
        "serve".into(),
        "--listen".into(),
        "0.0.0.0:0".into(),
        "--store".into(),
        db.clone(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("refusing to listen on 0.0.0.0:0 without an API key"),
        "{}",
        stderr(&o)
    );

    let o = run(vec![
        "serve".into(),
        "--algorithm".into(),
        "none".into(),
        "--store".into(),
        db.clone(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("`algorithm`"), "{}", stderr(&o));

    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\naccess_token_ttl = \"soon\"\n",
    )
    .unwrap();
    let o = run(vec![
        "serve".into(),
        "--config".into(),
        cfg.display().to_string(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("access_token_ttl"), "{}", stderr(&o));

    let o = Command::new(BIN)
        .args(["serve", "--store", &db])
        .env("SESSIOND_REFRESH_TOKEN_TTL", "abc")
        .output()
        .await
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("refresh-token-ttl"), "{}", stderr(&o));

    let o = run(vec![
        "serve".into(),
        "--store".into(),
        "mongodb://localhost".into(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("unsupported store URL"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_cli_processes_share_one_token_file() {
    let dir = tempfile::tempdir().unwrap();
    // No grace window: a refresh that raced another, or a file left holding a superseded
    // refresh token, would be reported as theft and fail the run.
    let p = serve(
        dir.path(),
        &["--access-token-ttl", "1", "--refresh-grace", "0"],
    )
    .await;
    let tf = dir.path().join("state/sessiond/session.json");
    let tf_s = tf.display().to_string();
    let with_file = |args: &[&str]| {
        let mut v: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        v.extend(["--token-file".to_owned(), tf_s.clone()]);
        v
    };
    let login = cli(
        &p.url,
        &with_file(&["login", "--user", "carla"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .await;
    assert!(login.status.success(), "{}", stderr(&login));
    let first = std::fs::read_to_string(&tf).unwrap();

    // Waves of twenty concurrent `whoami`s; the access token expires during and between waves,
    // so refreshes race inside the lock and across waves.
    for wave in 0..4 {
        let runs: Vec<_> = (0..20)
            .map(|_| {
                let url = p.url.clone();
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
    assert_ne!(
        last["refreshToken"], first["refreshToken"],
        "refreshes happened"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&tf).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(tf.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
    }
    let leftovers = std::fs::read_dir(tf.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .count();
    assert_eq!(leftovers, 0, "no torn temporary files left behind");
    let r = json_out(
        &cli(
            &p.url,
            &[
                "session",
                "refresh",
                last["refreshToken"].as_str().unwrap(),
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(
        r["status"], "OK",
        "the stored refresh token is the latest one"
    );

    // A token file others can read is refused.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tf, std::fs::Permissions::from_mode(0o644)).unwrap();
        let o = cli(
            &p.url,
            &with_file(&["whoami"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .await;
        assert_eq!(o.status.code(), Some(1));
        assert!(
            stderr(&o).contains("accessible to other users"),
            "{}",
            stderr(&o)
        );
        std::fs::set_permissions(&tf, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_whoami_logout() {
    let dir = tempfile::tempdir().unwrap();
    let p = serve(dir.path(), &[]).await;
    let tf = dir.path().join("xdg/sessiond/session.json");
    let run = |args: Vec<&'static str>| {
        let url = p.url.clone();
        let xdg = dir.path().join("xdg");
        async move {
            Command::new(BIN)
                .args(&args)
                .args(["--url", &url])
                .env("XDG_STATE_HOME", &xdg)
                .env_remove("SESSIOND_TOKEN_FILE")
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
    assert!(
        tf.exists(),
        "the default token file lives under $XDG_STATE_HOME/sessiond/"
    );
    let o = run(vec!["whoami"]).await;
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("dora"));
    let handle: Value = serde_json::from_str(&std::fs::read_to_string(&tf).unwrap()).unwrap();
    let o = run(vec!["logout"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!tf.exists());
    let g = cli(
        &p.url,
        &["session", "get", handle["sessionHandle"].as_str().unwrap()],
    )
    .await;
    assert_eq!(
        g.status.code(),
        Some(1),
        "logout revoked the session on the server"
    );
    let o = run(vec!["logout"]).await;
    assert_eq!(o.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_keys_never_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let api_key = "log-test-api-key-0123456789abcdef";
    let db = format!("sqlite://{}/sessiond.db", dir.path().display());
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            &db,
            "--log-format",
            "json",
            "--log-level",
            "trace",
            "--refresh-grace",
            "1",
        ])
        .args(["--api-key", api_key, "--master-key", &"ab".repeat(32)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr_pipe = child.stderr.take().unwrap();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel::<String>();
    let collector = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr_pipe).lines();
        let mut all = String::new();
        let mut addr_tx = Some(addr_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["message"] == "sessiond listening"
                && let Some(tx) = addr_tx.take()
            {
                let _ = tx.send(v["addr"].as_str().unwrap().to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let addr = tokio::time::timeout(Duration::from_secs(30), addr_rx)
        .await
        .unwrap()
        .unwrap();
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("{base}{path}"))
            .header("api-key", api_key)
            .json(&body)
            .send()
    };
    let post = reqwest::Method::POST;
    // The master key (as given, hex) and private session data must not be logged either.
    let private_value = "private-data-value-0123456789abcdef";
    let mut secrets: Vec<String> = vec![
        api_key.to_owned(),
        "ab".repeat(32),
        private_value.to_owned(),
    ];

    let c: Value = call(
        post.clone(),
        "/public/recipe/session",
        serde_json::json!({"userId": "logan", "userDataInJWT": {"r": 1}, "enableAntiCsrf": true}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let access = c["accessToken"]["token"].as_str().unwrap().to_owned();
    let rt0 = c["refreshToken"]["token"].as_str().unwrap().to_owned();
    let csrf = c["antiCsrfToken"].as_str().unwrap().to_owned();
    secrets.extend([access.clone(), rt0.clone(), csrf.clone()]);
    call(post.clone(), "/recipe/session/verify", serde_json::json!({"accessToken": access, "antiCsrfToken": csrf, "doAntiCsrfCheck": true, "enableAntiCsrf": true, "checkDatabase": true})).await.unwrap();
    // A tampered token and a wrong anti-CSRF token are rejected; the log must not echo them.
    let tampered = format!("{}x", access);
    call(post.clone(), "/recipe/session/verify", serde_json::json!({"accessToken": tampered, "antiCsrfToken": "wrong-csrf-token-value", "doAntiCsrfCheck": true, "checkDatabase": false})).await.unwrap();
    let r1: Value = call(
        post.clone(),
        "/recipe/session/refresh",
        serde_json::json!({"refreshToken": rt0, "antiCsrfToken": csrf, "enableAntiCsrf": true}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let rt1 = r1["refreshToken"]["token"].as_str().unwrap().to_owned();
    secrets.extend([
        rt1.clone(),
        r1["accessToken"]["token"].as_str().unwrap().to_owned(),
        r1["antiCsrfToken"].as_str().unwrap().to_owned(),
    ]);
    let r2: Value = call(post.clone(), "/recipe/session/refresh", serde_json::json!({"refreshToken": rt1, "antiCsrfToken": r1["antiCsrfToken"], "enableAntiCsrf": true})).await.unwrap().json().await.unwrap();
    secrets.extend([
        r2["refreshToken"]["token"].as_str().unwrap().to_owned(),
        r2["accessToken"]["token"].as_str().unwrap().to_owned(),
    ]);
    // After the 1 s grace window, replaying rt0 is theft.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let theft: Value = call(
        post.clone(),
        "/recipe/session/refresh",
        serde_json::json!({"refreshToken": rt0, "antiCsrfToken": csrf, "enableAntiCsrf": true}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(theft["status"], "TOKEN_THEFT_DETECTED");
    let c2: Value = call(
        post.clone(),
        "/public/recipe/session",
        serde_json::json!({"userId": "logan"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let access2 = c2["accessToken"]["token"].as_str().unwrap().to_owned();
    secrets.extend([
        access2.clone(),
        c2["refreshToken"]["token"].as_str().unwrap().to_owned(),
    ]);
    let g: Value = call(
        post.clone(),
        "/recipe/session/regenerate",
        serde_json::json!({"accessToken": access2, "userDataInJWT": {"r": 2}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    secrets.push(g["accessToken"]["token"].as_str().unwrap().to_owned());
    // Data updates and revocation by handle, with the key as a bearer token this time.
    let h2 = c2["session"]["handle"].clone();
    for (path, body) in [
        (
            "/recipe/session/data",
            serde_json::json!({"sessionHandle": h2, "userDataInDatabase": {"v": private_value}}),
        ),
        (
            "/recipe/jwt/data",
            serde_json::json!({"sessionHandle": h2, "userDataInJWT": {"r": 3}}),
        ),
    ] {
        let r = http
            .put(format!("{base}{path}"))
            .bearer_auth(api_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = http
        .post(format!("{base}/recipe/session/remove"))
        .bearer_auth(api_key)
        .json(&serde_json::json!({"sessionHandles": [h2]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let j: Value = call(
        post.clone(),
        "/recipe/jwt",
        serde_json::json!({"payload": {"a": 1}, "validity": 60, "algorithm": "RS256"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    secrets.push(j["jwt"].as_str().unwrap().to_owned());
    let st: Value = call(
        post.clone(),
        "/sessiond/v1/service-tokens",
        serde_json::json!({"expiresIn": 60}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let service = st["token"].as_str().unwrap().to_owned();
    secrets.push(service.clone());
    call(
        post.clone(),
        "/sessiond/v1/service-tokens/verify",
        serde_json::json!({"token": service}),
    )
    .await
    .unwrap();
    call(
        post.clone(),
        "/sessiond/v1/keys/rotate",
        serde_json::json!({}),
    )
    .await
    .unwrap();
    call(
        post.clone(),
        "/sessiond/v1/keys/reset",
        serde_json::json!({}),
    )
    .await
    .unwrap();
    // A wrong API key is refused and not logged either.
    let wrong = "wrong-api-key-0123456789abcdef";
    secrets.push(wrong.to_owned());
    let r = http
        .get(format!("{base}/apiversion"))
        .header("api-key", wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("{base}/apiversion"))
        .bearer_auth(wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    signal(&child, "-TERM");
    child.wait().await.unwrap();
    let log = collector.await.unwrap();
    assert!(
        log.lines().count() > 10,
        "trace logging produced output:\n{log}"
    );
    assert!(
        log.contains("refresh token reuse detected"),
        "the theft is logged (without tokens)"
    );
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a token or key reached the log"
        );
        // Also no long fragment of it (a JWT's signature part, say).
        if secret.len() > 40 {
            let tail = &secret[secret.len() - 32..];
            assert!(!log.contains(tail), "a fragment of a token reached the log");
        }
    }
}

/// Starts `sessiond serve` with extra environment, returns the access-token lifetime it issues.
async fn issued_ttl(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> i64 {
    let db = format!("sqlite://{}/ttl.db", dir.display());
    let mut cmd = Command::new(BIN);
    cmd.args([
        "serve",
        "--store",
        &db,
        "--log-format",
        "json",
        "--algorithm",
        "EdDSA",
    ])
    .args(args)
    .env_remove("SESSIOND_API_KEYS")
    .env_remove("SESSIOND_ACCESS_TOKEN_TTL")
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("server exited early");
        if let Ok(v) = serde_json::from_str::<Value>(&line)
            && v["message"] == "sessiond listening"
        {
            break v["addr"].as_str().unwrap().to_owned();
        }
    };
    let s = json_out(
        &cli(
            &format!("http://{addr}"),
            &["session", "create", "--user", "t", "--json"],
        )
        .await,
    );
    let ttl = (s["accessToken"]["expiry"].as_i64().unwrap()
        - s["accessToken"]["createdTime"].as_i64().unwrap())
        / 1000;
    signal(&child, "-TERM");
    child.wait().await.unwrap();
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
