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
        let (status, v) = t.raw(Method::PUT, path, b"{\"sessionHandle\":1}".to_vec()).await;
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
    let (status, _) = t.get("/recipe/session/user?userId=x&fetchAcrossAllTenants=maybe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Unknown fields on sessiond's own strict endpoints.
    let (status, v) =
        t.post("/sessiond/v1/service-tokens", json!({"expiresIn": 5, "admin": true})).await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_FIELD")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413() {
    let t = start(|_| {}).await;
    let big = format!(
        "{{\"userId\":\"u\",\"userDataInDatabase\":{{\"blob\":\"{}\"}}}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let (status, v) = t.raw(Method::POST, "/public/recipe/session", big.into_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["code"], "PAYLOAD_TOO_LARGE");
    // Just under the limit is fine.
    let ok = format!(
        "{{\"userId\":\"u\",\"userDataInDatabase\":{{\"blob\":\"{}\"}}}}",
        "x".repeat(900 * 1024)
    );
    let (status, v) = t.raw(Method::POST, "/public/recipe/session", ok.into_bytes()).await;
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
        assert!(matches!(v["status"].as_str(), Some("UNAUTHORISED" | "TRY_REFRESH_TOKEN")), "{v}");
        // Refresh, regenerate and a read by handle: a CDI UNAUTHORISED in a 200.
        for (method, path, body) in [
            (
                Method::POST,
                "/recipe/session/refresh".to_owned(),
                json!({"refreshToken": g, "enableAntiCsrf": false}).to_string(),
            ),
            (
                Method::POST,
                "/recipe/session/regenerate".to_owned(),
                json!({"accessToken": g}).to_string(),
            ),
            (Method::GET, format!("/recipe/session?sessionHandle={}", urlencode(g)), String::new()),
        ] {
            let (code, v) = t.raw(method, &path, body.into_bytes()).await;
            assert_eq!(
                (code, v["status"].as_str()),
                (StatusCode::OK, Some("UNAUTHORISED")),
                "{path}: {v}"
            );
        }
        let (code, v) = t.post("/sessiond/v1/service-tokens/verify", json!({"token": g})).await;
        assert_eq!((code, v["valid"].as_bool()), (StatusCode::OK, Some(false)));
    }
    let (code, v) = t.post("/public/recipe/session", json!({"userId": ""})).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_INPUT")));
    let (code, _) =
        t.post("/public/recipe/session", json!({"userId": "u", "userDataInJWT": {"exp": 1}})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_are_json_errors() {
    let t = start(|_| {}).await;
    let (code, v) = t.get("/no/such/thing").await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")));
    let (code, v) = t.raw(Method::DELETE, "/recipe/session/verify", vec![]).await;
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
        assert!(code.is_success() || code.is_client_error(), "{path} gave {code}: {v}");
    }
    // Still serving, and the earlier session is intact.
    let (code, _) = t.get("/healthz").await;
    assert_eq!(code, StatusCode::OK);
    let v = t.verify(common::s(&c["accessToken"]["token"]), true).await;
    assert_eq!(v["status"], "OK");
}

/// An empty or malformed app id is refused with 400 `INVALID_APP_ID`, on create and verify
/// alike, and is never taken as the public app (where `appid-` would pass for a tenant id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_app_ids_are_refused_never_mapped_to_the_public_app() {
    let t = start(|_| {}).await;
    let c = t.create("app-id-victim").await;
    let access = c["accessToken"]["token"].clone();
    let long = format!("/appid-{}", "a".repeat(65));
    for prefix in [
        "/appid-",
        "/appid-UPPER",
        "/appid-a%20b",
        "/appid-a_b",
        "/appid-a.b",
        "/appid-%61pp",
        long.as_str(),
        "/appid-ok/appid-again",
    ] {
        for tenant in ["", "/public", "/t1"] {
            let path = format!("{prefix}{tenant}/recipe/session");
            let (status, v) =
                t.post(&path, json!({"userId": "app-id-intruder", "enableAntiCsrf": false})).await;
            assert_eq!(
                (status, v["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("INVALID_APP_ID")),
                "create at {path}: {v}"
            );
        }
        let path = format!("{prefix}/recipe/session/verify");
        let (status, v) = t
            .post(
                &path,
                json!({"accessToken": access, "doAntiCsrfCheck": false, "checkDatabase": true}),
            )
            .await;
        assert_eq!(
            (status, v["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("INVALID_APP_ID")),
            "verify at {path}: {v}"
        );
        assert!(v["message"].as_str().unwrap().contains("app id"), "{v}");
    }
    // Nothing was created anywhere, in the public app or any tenant of it.
    let (_, list) = t.get("/recipe/session/user?userId=app-id-intruder").await;
    assert_eq!(list["sessionHandles"], json!([]), "{list}");
    // Valid prefixes still work.
    let v = t
        .ok("/appid-shop-2/t1/recipe/session", json!({"userId": "fine", "enableAntiCsrf": false}))
        .await;
    assert_eq!(v["session"]["tenantId"], "t1");
}

/// `ip` (64 bytes) and `userAgent` (512 bytes) have documented limits; over them is 400
/// `INVALID_INPUT`, and the OpenAPI document says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_and_user_agent_have_size_limits() {
    let t = start(|_| {}).await;
    let create = |ip: String, ua: String| json!({"userId": "device", "ip": ip, "userAgent": ua});
    let (status, v) =
        t.post("/public/recipe/session", create("i".repeat(64), "u".repeat(512))).await;
    assert_eq!(status, StatusCode::OK, "at the limits: {v}");
    for (ip, ua, field) in [
        ("i".repeat(65), "u".to_owned(), "ip"),
        ("1.2.3.4".to_owned(), "u".repeat(513), "userAgent"),
        ("é".repeat(33), "u".to_owned(), "ip"), // 66 bytes in 33 characters
    ] {
        let (status, v) = t.post("/public/recipe/session", create(ip, ua)).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("INVALID_INPUT")),
            "{field}: {v}"
        );
        assert!(v["message"].as_str().unwrap().contains(field), "{v}");
    }
    let (_, doc) = t.get("/openapi.json").await;
    let props = &doc["components"]["schemas"]["CreateSessionRequest"]["properties"];
    assert_eq!(props["ip"]["maxLength"], 64, "{props}");
    assert_eq!(props["userAgent"]["maxLength"], 512, "{props}");
    assert!(props["ip"]["description"].as_str().unwrap().contains("INVALID_INPUT"));
}

/// `POST /recipe/jwt`: `validity` is 1 s to 100 years (what the SDKs ask for by default); 0 and
/// more are 400 `INVALID_INPUT`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_token_validity_is_capped_at_a_hundred_years() {
    let t = start(|_| {}).await;
    let jwt = |validity: u64| json!({"payload": {"a": 1}, "validity": validity, "algorithm": "RS256", "useStaticSigningKey": true});
    let cap: u64 = 100 * 365 * 24 * 3600;
    for ok in [1, 3600, cap] {
        let (status, v) = t.post("/recipe/jwt", jwt(ok)).await;
        assert_eq!((status, v["status"].as_str()), (StatusCode::OK, Some("OK")), "{ok}: {v}");
    }
    for bad in [0, cap + 1, u64::from(u32::MAX) * 10, u64::MAX] {
        let (status, v) = t.post("/recipe/jwt", jwt(bad)).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("INVALID_INPUT")),
            "{bad}: {v}"
        );
    }
    let (_, doc) = t.get("/openapi.json").await;
    let validity = &doc["components"]["schemas"]["CreateJwtRequest"]["properties"]["validity"];
    assert_eq!(validity["maximum"], cap, "{validity}");
}
