//! A real server on 127.0.0.1:0 over a temporary SQLite file, and a tiny JSON HTTP helper.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use reqwest::StatusCode;
use serde_json::Value;
use sessiond_server::{Server, Settings};

pub struct TestServer {
    pub server: Server,
    pub base: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub api_key: Option<String>,
}

pub async fn start(adjust: impl FnOnce(&mut Settings)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        store: format!("sqlite://{}/sessiond.db", dir.path().display()),
        ..Settings::default()
    };
    adjust(&mut s);
    let api_key = s.api_keys.first().cloned();
    let server = sessiond_server::start(&s, std::future::pending()).await.unwrap();
    TestServer {
        base: format!("http://{}", server.addr),
        server,
        http: reqwest::Client::new(),
        dir,
        api_key,
    }
}

impl TestServer {
    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(k) => rb.header("api-key", k),
            None => rb,
        }
    }

    async fn finish(rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if body.is_object() {
            assert!(ct.starts_with("application/json"), "JSON body with content-type {ct:?}");
        }
        (status, body)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Self::finish(self.auth(self.http.post(format!("{}{path}", self.base)).json(&body))).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Self::finish(self.auth(self.http.put(format!("{}{path}", self.base)).json(&body))).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        Self::finish(self.auth(self.http.get(format!("{}{path}", self.base)))).await
    }

    pub async fn raw(
        &self, method: reqwest::Method, path: &str, body: Vec<u8>,
    ) -> (StatusCode, Value) {
        Self::finish(
            self.auth(self.http.request(method, format!("{}{path}", self.base)).body(body)),
        )
        .await
    }

    /// POST that must be 200 with status OK.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (code, v) = self.post(path, body).await;
        assert_eq!(code, StatusCode::OK, "{path}: {v}");
        assert_eq!(v["status"], "OK", "{path}: {v}");
        v
    }

    pub async fn create(&self, user: &str) -> Value {
        self.ok(
            "/public/recipe/session",
            serde_json::json!({
                "userId": user,
                "userDataInJWT": {"role": "user"},
                "userDataInDatabase": {"cart": 1},
                "enableAntiCsrf": false,
                "useDynamicSigningKey": true
            }),
        )
        .await
    }

    pub async fn verify(&self, access: &str, check_db: bool) -> Value {
        let (code, v) = self
            .post(
                "/recipe/session/verify",
                serde_json::json!({"accessToken": access, "doAntiCsrfCheck": false, "enableAntiCsrf": false, "checkDatabase": check_db}),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{v}");
        v
    }

    pub async fn refresh(&self, refresh: &str) -> Value {
        let (code, v) = self
            .post(
                "/recipe/session/refresh",
                serde_json::json!({"refreshToken": refresh, "enableAntiCsrf": false, "useDynamicSigningKey": true}),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{v}");
        v
    }
}

pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}
