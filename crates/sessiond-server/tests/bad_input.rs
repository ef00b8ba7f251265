//! Bad input gets a 4xx with a stable code (or a CDI UNAUTHORISED), never a 5xx or a panic,
//! and the server keeps serving.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use common::start;
use reqwest::{Method, StatusCode};
use serde_json::json;

const POST_ENDPOINTS: &[&str] = &[
    "/public/recipe/session",
    "/recipe/session/verify",
    "/recipe/session/refresh",
    "/recipe/session/remove",
    "/recipe/session/regenerate",
    "/recipe/jwt",
    "/sessiond/v1/service-tokens",
    "/sessiond/v1/service-tokens/verify",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_400_with_stable_codes() {
    let t = start(|_| {}).await;
    for path in POST_ENDPOINTS {
        for (body, code) in [
            (&b"{not json"[..], "INVALID_JSON"),
            (b"", "INVALID_JSON"),
            (b"[1,2,3]", "INVALID_FIELD"),
            (b"\"a string\"", "INVALID_FIELD"),
            (b"{\"userId\": 5, \"accessToken\": 5, \"refreshToken\": [], \"token\": {}, \"payload\": 1, \"expiresIn\": \"x\"}", "INVALID_FIELD"),
        ] {
            let (status, v) = t.raw(Method::POST, path, body.to_vec()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body:?}: {v}");
            assert_eq!(v["code"], code, "{path} {body:?}: {v}");
            assert!(v["message"].is_string());
        }
    }
    // PUT endpoints too.
    for path in ["/recipe/session/data", "/recipe/jwt/data"] {
        let (status, v) = t
            .raw(Method::PUT, path, b"{\"sessionHandle\":1}".to_vec())
            .await;
        assert_eq!(
            (status, v["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("INVALID_FIELD")),
            "{v}"
        );
    }
    // Missing query parameters.
    let (status, v) = t.get("/recipe/session").await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_QUERY")),
        "{v}"
    );
    let (status, _) = t
        .get("/recipe/session/user?userId=x&fetchAcrossAllTenants=maybe")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Unknown fields on sessiond's own strict endpoints.
    let (status, v) = t
        .post(
            "/sessiond/v1/service-tokens",
            json!({"expiresIn": 5, "admin": true}),
        )
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_FIELD"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413() {
    let t = start(|_| {}).await;
    let big = format!(
        "{{\"userId\":\"u\",\"userDataInDatabase\":{{\"blob\":\"{}\"}}}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let (status, v) = t
        .raw(Method::POST, "/public/recipe/session", big.into_bytes())
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["code"], "PAYLOAD_TOO_LARGE");
    // Just under the limit is fine.
    let ok = format!(
        "{{\"userId\":\"u\",\"userDataInDatabase\":{{\"blob\":\"{}\"}}}}",
        "x".repeat(900 * 1024)
    );
    let (status, v) = t
        .raw(Method::POST, "/public/recipe/session", ok.into_bytes())
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_tokens_are_unauthorised_not_errors() {
    let t = start(|_| {}).await;
    let garbage = [
        "",
        "x",
        "a.b.c",
        "....",
        "eyJhbGciOiJub25lIn0.e30.",
        "eyJ.eyJ.eyJ",
        "\u{0}\u{1}",
        "🔐🔐🔐",
        &"A".repeat(20_000),
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImQtMSIsInZlcnNpb24iOiI1IiwiandrIjp7fX0.e30.c2ln",
    ];
    for g in garbage {
        let (code, v) = t
            .post(
                "/recipe/session/verify",
                json!({"accessToken": g, "doAntiCsrfCheck": false, "checkDatabase": true}),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{g:.20}: {v}");
        assert!(
            matches!(
                v["status"].as_str(),
                Some("UNAUTHORISED" | "TRY_REFRESH_TOKEN")
            ),
            "{v}"
        );
        let (code, v) = t
            .post(
                "/recipe/session/refresh",
                json!({"refreshToken": g, "enableAntiCsrf": false}),
            )
            .await;
        assert_eq!(
            (code, v["status"].as_str()),
            (StatusCode::OK, Some("UNAUTHORISED")),
            "{v}"
        );
        let (code, v) = t
            .post("/recipe/session/regenerate", json!({"accessToken": g}))
            .await;
        assert_eq!(
            (code, v["status"].as_str()),
            (StatusCode::OK, Some("UNAUTHORISED")),
            "{v}"
        );
        let (code, v) = t
            .post("/sessiond/v1/service-tokens/verify", json!({"token": g}))
            .await;
        assert_eq!((code, v["valid"].as_bool()), (StatusCode::OK, Some(false)));
        let (code, v) = t
            .get(&format!("/recipe/session?sessionHandle={}", urlencode(g)))
            .await;
        assert_eq!(
            (code, v["status"].as_str()),
            (StatusCode::OK, Some("UNAUTHORISED")),
            "{v}"
        );
    }
    let (code, v) = t
        .post("/public/recipe/session", json!({"userId": ""}))
        .await;
    assert_eq!(
        (code, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_INPUT"))
    );
    let (code, _) = t
        .post(
            "/public/recipe/session",
            json!({"userId": "u", "userDataInJWT": {"exp": 1}}),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_are_json_errors() {
    let t = start(|_| {}).await;
    let (code, v) = t.get("/no/such/thing").await;
    assert_eq!(
        (code, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
    let (code, v) = t
        .raw(Method::DELETE, "/recipe/session/verify", vec![])
        .await;
    assert_eq!(
        (code, v["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("METHOD_NOT_ALLOWED"))
    );
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn noise(seed: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed & 0xff) as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bodies_never_cause_a_5xx_and_the_server_keeps_serving() {
    let t = start(|_| {}).await;
    let c = t.create("victim").await;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let templates = [
        json!({"accessToken": "", "doAntiCsrfCheck": true, "checkDatabase": true}),
        json!({"refreshToken": "", "enableAntiCsrf": true}),
        json!({"userId": "", "userDataInJWT": {}}),
        json!({"sessionHandles": [""]}),
    ];
    for i in 0..400 {
        let path = POST_ENDPOINTS[i % POST_ENDPOINTS.len()];
        let body = if i % 2 == 0 {
            noise(&mut seed, (i * 7) % 300)
        } else {
            // Structurally plausible JSON with random string values.
            let mut v = templates[i % templates.len()].clone();
            let junk = String::from_utf8_lossy(&noise(&mut seed, i % 64)).into_owned();
            for (_, val) in v.as_object_mut().unwrap().iter_mut() {
                if val.is_string() {
                    *val = json!(junk);
                }
            }
            v.to_string().into_bytes()
        };
        let (code, v) = t.raw(Method::POST, path, body).await;
        assert!(
            code.is_success() || code.is_client_error(),
            "{path} gave {code}: {v}"
        );
    }
    // Still serving, and the earlier session is intact.
    let (code, _) = t.get("/healthz").await;
    assert_eq!(code, StatusCode::OK);
    let v = t.verify(common::s(&c["accessToken"]["token"]), true).await;
    assert_eq!(v["status"], "OK");
}
