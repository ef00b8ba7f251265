//! The demo binary over real HTTP: the flags, the routes and the cookie attributes that
//! outside clients rely on. (`e2e/browser` drives the same app from Chromium.)

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

struct Demo {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key() -> String {
    sessiond_cookie::CookieKey::generate().unwrap().to_base64url()
}

fn start(extra: &[&str]) -> Demo {
    // `--cookie-key=KEY`: a base64url key may start with '-'.
    let k = format!("--cookie-key={}", key());
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        &k,
        "--user",
        "alice:alice-pw:admin",
        "--user",
        "bob:bob-pw",
    ];
    args.extend_from_slice(extra);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sessiond-demo"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    Demo {
        child,
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

fn set_cookies(h: &HeaderMap) -> Vec<String> {
    h.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

/// The `name=value` pairs a browser would send back.
fn jar(set: &[String]) -> String {
    set.iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

impl Demo {
    async fn post_form(
        &self, path: &str, form: &[(&str, &str)], cookies: &str,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", cookies)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str, cookies: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", cookies)
            .send()
            .await
            .unwrap()
    }

    async fn login(&self, user: &str, pw: &str) -> String {
        let r = self.post_form("/login", &[("user", user), ("password", pw)], "").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        jar(&set_cookies(r.headers()))
    }

    async fn me(&self, cookies: &str) -> (StatusCode, Value) {
        let r = self.get("/api/me", cookies).await;
        (r.status(), r.json().await.unwrap())
    }
}

#[tokio::test]
async fn login_sets_a_host_prefixed_cookie_and_the_dashboard_shows_the_user() {
    let d = start(&[]);
    let r = d.post_form("/login", &[("user", "alice"), ("password", "alice-pw")], "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/dashboard");
    let set = set_cookies(r.headers());
    assert_eq!(set.len(), 1);
    let c = &set[0];
    assert!(c.starts_with("__Host-user_session=ey"), "{c}");
    for attr in ["; Path=/", "; HttpOnly", "; Secure", "; SameSite=Lax", "; Max-Age=604800"] {
        assert!(c.contains(attr), "{attr} in {c}");
    }
    let cookies = jar(&set);
    let page = d.get("/dashboard", &cookies).await.text().await.unwrap();
    assert!(page.contains("<b id=\"user\">alice</b>"), "{page}");
    let (status, me) = d.me(&cookies).await;
    assert_eq!(status, 200);
    assert_eq!(
        me["payload"],
        json!({"userId": "alice", "role": "admin", "prefs": {"theme": "light", "lang": "en"}})
    );
    assert_eq!(me["expired"], false);
    assert_eq!(me["error"], Value::Null);
    assert_eq!(me["exp"].as_i64().unwrap() - me["iat"].as_i64().unwrap(), 1800);

    let r = d.post_form("/login", &[("user", "alice"), ("password", "wrong")], "").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookies(r.headers()).is_empty());
    let r = d.post_form("/login", &[("user", "nobody"), ("password", "x")], "").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = d.get("/dashboard", "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/login");
    let (status, me) = d.me("").await;
    assert_eq!(status, 401);
    assert_eq!(me["error"], "SESSION_MISSING");
}

#[tokio::test]
async fn prefs_merge_clear_and_logout() {
    let d = start(&[]);
    let mut cookies = d.login("bob", "bob-pw").await;
    for body in [json!({"theme": "dark"}), json!({"prefs": {"font": "mono"}})] {
        let r = d
            .http
            .post(format!("{}/api/prefs", d.base))
            .header("cookie", &cookies)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        cookies = jar(&set_cookies(r.headers()));
    }
    let (_, me) = d.me(&cookies).await;
    assert_eq!(me["payload"]["prefs"], json!({"theme": "dark", "lang": "en", "font": "mono"}));
    assert_eq!(me["payload"]["userId"], "bob");

    let r = d.post_form("/api/clear", &[], &cookies).await;
    assert_eq!(r.status(), 200);
    let cleared = jar(&set_cookies(r.headers()));
    assert!(cleared.starts_with("__Host-user_session="), "the cookie stays");
    let (status, me) = d.me(&cleared).await;
    assert_eq!((status.as_u16(), me["payload"].clone()), (200, json!({})));

    let r = d.post_form("/logout", &[], &cookies).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/");
    assert_eq!(
        set_cookies(r.headers()),
        [
            "__Host-user_session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax"
        ]
    );
}

#[tokio::test]
async fn cross_origin_posts_and_tampered_cookies_change_nothing() {
    let d = start(&[]);
    let cookies = d.login("bob", "bob-pw").await;
    let r = d
        .http
        .post(format!("{}/logout", d.base))
        .header("cookie", &cookies)
        .header("origin", "http://127.0.0.1:1")
        .header("sec-fetch-site", "same-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(set_cookies(r.headers()).is_empty());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "CROSS_ORIGIN_REQUEST");
    assert_eq!(d.me(&cookies).await.0, 200);

    let (name, token) = cookies.split_once('=').unwrap();
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() - 30;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{name}={}", String::from_utf8(bytes).unwrap());
    let (status, me) = d.me(&tampered).await;
    assert_eq!(status, 401);
    assert_eq!(me["error"], "TOKEN_TAMPERED");
    assert_eq!(d.get("/dashboard", &tampered).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn refresh_by_the_callback_stops_at_the_absolute_lifetime_and_for_disabled_users() {
    // Tokens live 2 s; sessions at most 8 s. (Times in tokens are whole seconds.)
    let d = start(&["--expires-in", "2", "--absolute-lifetime", "8"]);
    let bob = d.login("bob", "bob-pw").await;
    let alice = d.login("alice", "alice-pw").await;
    let r = d.post_form("/admin/login", &[("user", "alice"), ("password", "alice-pw")], "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let admin = jar(&set_cookies(r.headers()));
    assert!(admin.starts_with("__Host-admin_session="));
    // Both named sessions in one jar.
    let both = format!("{alice}; {admin}");
    assert_eq!(d.get("/admin", &both).await.status(), 200);
    assert_eq!(d.get("/dashboard", &both).await.status(), 200);

    tokio::time::sleep(Duration::from_millis(2300)).await;
    // Expired: /api/me does not refresh, the dashboard does (through the callback).
    let (status, me) = d.me(&bob).await;
    assert_eq!((status.as_u16(), me["expired"].clone()), (401, json!(true)));
    let r = d.get("/dashboard", &bob).await;
    assert_eq!(r.status(), 200);
    let bob2 = jar(&set_cookies(r.headers()));
    assert!(bob2.starts_with("__Host-user_session="), "refreshed");
    assert_eq!(d.me(&bob2).await.0, 200);

    // Disabled: still valid until the token expires, then not refreshed.
    let r = d
        .http
        .post(format!("{}/admin/users/bob/disable", d.base))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let anonymous =
        d.http.post(format!("{}/admin/users/bob/disable", d.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401, "needs the admin session");
    assert_eq!(d.get("/dashboard", &bob2).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = d.get("/dashboard", &bob2).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "disabled: not refreshed");

    // alice refreshes within the absolute lifetime...
    let r = d.get("/dashboard", &alice).await;
    assert_eq!(r.status(), 200);
    let alice2 = jar(&set_cookies(r.headers()));
    assert!(!alice2.is_empty());
    // ...and not after it.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let r = d.get("/dashboard", &alice2).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/login");
    assert!(set_cookies(r.headers()).is_empty());
}
