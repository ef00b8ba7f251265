//! HTTP calls to a running server, each answered as (status, JSON body).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A client of one server.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    /// Sent in the `api-key` header of every request, when set.
    api_key: Option<String>,
}

impl Api {
    /// A client of the server at `base` (`http://host:port`).
    pub fn new(base: &str) -> Self {
        Self { http: reqwest::Client::new(), base: base.to_owned(), api_key: None }
    }

    /// A client whose every request gives up after `timeout` (then status 0).
    pub fn with_timeout(base: &str, timeout: Duration) -> Self {
        Self {
            http: reqwest::Client::builder().timeout(timeout).build().unwrap(),
            base: base.to_owned(),
            api_key: None,
        }
    }

    /// The same client, sending `key` in the `api-key` header.
    pub fn with_api_key(mut self, key: &str) -> Self {
        self.api_key = Some(key.to_owned());
        self
    }

    /// A request to `path` on this server, with the API key when there is one.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, format!("{}{path}", self.base));
        match &self.api_key {
            Some(key) => rb.header("api-key", key),
            None => rb,
        }
    }

    /// (status, body): the body as JSON, or as a JSON string when it is not JSON; a request
    /// that gets no answer at all is status 0 with the error as its body.
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        match rb.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
            }
            Err(e) => (0, Value::String(e.to_string())),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.request(reqwest::Method::POST, path).json(&body)).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    /// `GET /recipe/session?sessionHandle=<handle>`.
    pub async fn session(&self, handle: &str) -> (u16, Value) {
        self.send(
            self.request(reqwest::Method::GET, "/recipe/session")
                .query(&[("sessionHandle", handle)]),
        )
        .await
    }

    /// A session for `user`, without anti-CSRF.
    pub async fn create(&self, user: &str) -> (u16, Value) {
        let body = json!({"userId": user, "enableAntiCsrf": false});
        self.post("/public/recipe/session", body).await
    }

    /// Verifies the access token of `session` (a create's or a refresh's answer), with the
    /// store check or without.
    pub async fn verify(&self, session: &Value, check_db: bool) -> (u16, Value) {
        let token = &session["accessToken"]["token"];
        let body =
            json!({"accessToken": token, "doAntiCsrfCheck": false, "checkDatabase": check_db});
        self.post("/recipe/session/verify", body).await
    }

    /// Refreshes with `token`, without anti-CSRF.
    pub async fn refresh(&self, token: &str) -> (u16, Value) {
        let body = json!({"refreshToken": token, "enableAntiCsrf": false});
        self.post("/recipe/session/refresh", body).await
    }

    /// `POST /recipe/session/remove` of these handles.
    pub async fn revoke(&self, handles: &[&Value]) -> (u16, Value) {
        let body = json!({ "sessionHandles": handles });
        self.post("/recipe/session/remove", body).await
    }

    /// Polls `/readyz` until 200; returns how long it took.
    pub async fn until_ready(&self, within: Duration) -> Duration {
        let t0 = Instant::now();
        loop {
            let (st, v) = self.get("/readyz").await;
            if st == 200 {
                return t0.elapsed();
            }
            assert!(t0.elapsed() < within, "sessiond not ready within {within:?}: {st} {v}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// While the store is down or hung: `/readyz` is 503 `STORE_UNAVAILABLE` and `/healthz`
    /// 200 (the process is alive). `when` names the moment in a failure.
    pub async fn assert_alive_without_store(&self, when: &str) {
        let (st, v) = self.get("/readyz").await;
        assert!(store_down(st, &v), "/readyz {when}: {st} {v}");
        let (st, v) = self.get("/healthz").await;
        assert_eq!(st, 200, "/healthz {when}: {v}");
    }

    /// The value of the counter `sessiond_store_errors_total` in `/metrics` (0 when absent).
    pub async fn store_errors(&self) -> f64 {
        let (_, metrics) = self.get("/metrics").await;
        metrics
            .as_str()
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("sessiond_store_errors_total"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}

/// 503 `STORE_UNAVAILABLE`: the answer while the store is down or hung.
pub fn store_down(status: u16, body: &Value) -> bool {
    status == 503 && body["code"] == "STORE_UNAVAILABLE"
}

/// 200 with status `OK`.
pub fn ok(status: u16, body: &Value) -> bool {
    status == 200 && body["status"] == "OK"
}
