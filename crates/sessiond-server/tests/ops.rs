//! API keys, OpenAPI, metrics and readiness over real HTTP.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use common::{s, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

const KEY_A: &str = "key-a-0123456789abcdefghij";
const KEY_B: &str = "key-b-0123456789abcdefghij";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_guard_everything_but_the_open_paths() {
    let t = start(|s| s.api_keys = vec![KEY_A.into(), KEY_B.into()]).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", t.base);
    let create = json!({"userId": "u"});

    // Missing and wrong keys: 401 with a stable code, on CDI and sessiond endpoints alike.
    for (path, method) in [
        ("/apiversion", "GET"),
        ("/public/recipe/session", "POST"),
        ("/recipe/session/verify", "POST"),
        ("/sessiond/v1/keys", "GET"),
        ("/metrics", "GET"),
        ("/readyz", "GET"),
        ("/openapi.json", "GET"),
    ] {
        for key in
            [None, Some("wrong-key-0123456789abcdef"), Some(""), Some(&KEY_A[..KEY_A.len() - 1])]
        {
            let mut rb = if method == "GET" {
                http.get(url(path))
            } else {
                http.post(url(path)).json(&create)
            };
            if let Some(k) = key {
                rb = rb.header("api-key", k);
            }
            let r = rb.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path} with {key:?}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["code"], "INVALID_API_KEY");
        }
    }
    // Either key, as api-key or as a bearer token, works (rotation without downtime).
    for k in [KEY_A, KEY_B] {
        let r = http
            .post(url("/public/recipe/session"))
            .header("api-key", k)
            .json(&create)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = http.get(url("/apiversion")).bearer_auth(k).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = http
        .get(url("/apiversion"))
        .header("authorization", format!("Basic {KEY_A}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The open paths need no key (the SDKs fetch the JWKS without headers).
    for path in ["/hello", "/healthz", "/.well-known/jwks.json", "/appid-x/.well-known/jwks.json"] {
        let r = http.get(url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_route() {
    let t = start(|_| {}).await;
    let (code, doc) = t.get("/openapi.json").await;
    assert_eq!(code, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    // Every route the router has is documented, and nothing else is (`/{tenant}` is an optional
    // prefix the router never sees).
    let documented: std::collections::BTreeSet<&str> =
        paths.keys().map(|p| p.strip_prefix("/{tenant}").unwrap_or(p)).collect();
    let routed: std::collections::BTreeSet<&str> =
        sessiond_server::route_paths().into_iter().collect();
    assert_eq!(documented, routed, "documented paths = routed paths");
    // Each documented operation exists on the router (no 404 / 405 from routing).
    for (path, ops) in paths {
        let concrete = path.replace("{tenant}", "public").replace("{user_id}", "someone");
        for method in ops.as_object().unwrap().keys() {
            if path == "/sessiond/v1/revocations" {
                // A stream that never ends: check that it opens, without reading it to the end.
                let resp = t.http.get(format!("{}{path}", t.base)).send().await.unwrap();
                assert_eq!(resp.status(), StatusCode::OK);
                assert_eq!(resp.headers()["content-type"], "text/event-stream");
                continue;
            }
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (code, body) = t.raw(m, &concrete, b"{}".to_vec()).await;
            assert!(
                code != StatusCode::NOT_FOUND && code != StatusCode::METHOD_NOT_ALLOWED
                    || body
                        .get("code")
                        .is_some_and(|c| c != "NOT_FOUND" && c != "METHOD_NOT_ALLOWED"),
                "{method} {concrete} is documented but not routed: {code} {body}"
            );
        }
    }
    let ids: Vec<&str> = paths
        .values()
        .flat_map(|ops| ops.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "operation ids are unique");
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split([' ', '{']).next() == Some(name))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_and_session_events() {
    let t = start(|s| s.refresh_grace = 1).await;
    let (_, before) = t.get("/metrics").await;
    let before = before.as_str().unwrap().to_owned();
    let c = t.create("mia").await;
    let rt0 = s(&c["refreshToken"]["token"]).to_owned();
    let r1 = t.refresh(&rt0).await;
    let r2 = t.refresh(s(&r1["refreshToken"]["token"])).await;
    assert_eq!(r2["status"], "OK");
    // A replay after the 1 s grace window is theft.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(t.refresh(&rt0).await["status"], "TOKEN_THEFT_DETECTED");
    let (_, after) = t.get("/metrics").await;
    let after = after.as_str().unwrap();
    // Metrics are process-wide and tests share the process: compare deltas.
    let delta = |n: &str| metric(after, n) - metric(&before, n);
    assert!(delta("sessiond_sessions_created_total") >= 1.0, "{after}");
    assert!(delta("sessiond_refreshes_total") >= 2.0);
    assert!(delta("sessiond_thefts_detected_total") >= 1.0);
    assert!(delta("sessiond_http_requests_total") >= 5.0);
    assert!(after.contains("route=\"/recipe/session/refresh\""));
    assert!(after.contains("sessiond_http_request_duration_seconds_bucket"));
    assert!(!after.contains(&rt0), "no token in metrics");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_reports_the_store() {
    let t = start(|_| {}).await;
    let (code, v) = t.get("/readyz").await;
    assert_eq!((code, v["store"].as_str()), (StatusCode::OK, Some("sqlite")));
    let (code, _) = t.get("/healthz").await;
    assert_eq!(code, StatusCode::OK);
}
