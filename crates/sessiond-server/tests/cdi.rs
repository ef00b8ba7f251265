//! The CDI session and JWT endpoints over real HTTP, as the SuperTokens SDKs call them.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::collections::HashSet;

use common::{s, start};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_verify_refresh_refresh_then_reuse_is_theft() {
    // A 1 s grace window, so the replay below can come after it.
    let t = start(|s| s.refresh_grace = 1).await;
    let (code, v) = t.get("/apiversion").await;
    assert_eq!(code, StatusCode::OK);
    assert!(v["versions"].as_array().unwrap().contains(&json!("5.4")));

    let c = t.create("alice").await;
    assert_eq!(c["session"]["userId"], "alice");
    assert_eq!(c["session"]["recipeUserId"], "alice");
    assert_eq!(c["session"]["tenantId"], "public");
    assert_eq!(c["session"]["userDataInJWT"], json!({"role": "user"}));
    assert!(c.get("antiCsrfToken").is_none(), "omitted when disabled");
    let access = s(&c["accessToken"]["token"]).to_owned();
    let rt0 = s(&c["refreshToken"]["token"]).to_owned();

    for check_db in [false, true] {
        let v = t.verify(&access, check_db).await;
        assert_eq!(v["status"], "OK", "{v}");
        assert_eq!(v["session"]["handle"], c["session"]["handle"]);
        assert!(v.get("accessToken").is_none());
    }

    let r1 = t.refresh(&rt0).await;
    assert_eq!(r1["status"], "OK", "{r1}");
    let rt1 = s(&r1["refreshToken"]["token"]).to_owned();
    assert_ne!(rt0, rt1);
    let r2 = t.refresh(&rt1).await;
    assert_eq!(r2["status"], "OK", "{r2}");
    let access2 = s(&r2["accessToken"]["token"]).to_owned();
    assert_eq!(t.verify(&access2, true).await["status"], "OK");

    // Within the grace window, a superseded token (a stale tab's) gets the current one again.
    let again = t.refresh(&rt0).await;
    assert_eq!(again["status"], "OK", "{again}");
    assert_eq!(again["refreshToken"]["token"], r2["refreshToken"]["token"], "{again}");
    // After it, rt0 is a replayed ancestor: theft, and the session is gone.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let theft = t.refresh(&rt0).await;
    assert_eq!(theft["status"], "TOKEN_THEFT_DETECTED", "{theft}");
    assert_eq!(theft["session"]["handle"], c["session"]["handle"]);
    assert_eq!(theft["session"]["userId"], "alice");
    assert_eq!(theft["session"]["recipeUserId"], "alice");
    let v = t.verify(&access2, true).await;
    assert_eq!(v["status"], "UNAUTHORISED", "{v}");
    let r = t.refresh(s(&r2["refreshToken"]["token"])).await;
    assert_eq!(r["status"], "UNAUTHORISED", "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dozen_concurrent_refreshes_leave_one_child() {
    let t = std::sync::Arc::new(start(|s| s.refresh_grace = 2).await);
    let c = t.create("bob").await;
    let rt0 = s(&c["refreshToken"]["token"]).to_owned();
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let t = std::sync::Arc::clone(&t);
            let rt0 = rt0.clone();
            tokio::spawn(async move { t.refresh(&rt0).await })
        })
        .collect();
    let mut children = HashSet::new();
    for task in tasks {
        let r = task.await.unwrap();
        assert_eq!(r["status"], "OK", "{r}");
        children.insert(s(&r["refreshToken"]["token"]).to_owned());
    }
    assert_eq!(children.len(), 1, "one usable child");
    let child = children.into_iter().next().unwrap();
    let grandchild = t.refresh(&child).await;
    assert_eq!(grandchild["status"], "OK");
    // Once the 2 s grace window has passed, the parent is a replayed ancestor: theft.
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    assert_eq!(t.refresh(&rt0).await["status"], "TOKEN_THEFT_DETECTED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_verifies_access_tokens_with_an_independent_library() {
    let t = start(|_| {}).await;
    let c = t.create("carol").await;
    let token = s(&c["accessToken"]["token"]);
    let (code, jwks) = t.get("/.well-known/jwks.json").await;
    assert_eq!(code, StatusCode::OK);
    let header = jsonwebtoken::decode_header(token).unwrap();
    let kid = header.kid.unwrap();
    assert!(kid.starts_with("d-"));
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).unwrap();
    for field in ["kty", "kid", "n", "e", "alg", "use"] {
        assert!(jwk.get(field).is_some(), "JWK lacks {field}");
    }
    assert!(jwk.get("d").is_none() && jwk.get("k").is_none(), "no private material");
    let key = jsonwebtoken::DecodingKey::from_rsa_components(s(&jwk["n"]), s(&jwk["e"])).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap();
    assert_eq!(data.claims["sub"], "carol");
    assert_eq!(data.claims["sessionHandle"], c["session"]["handle"]);
    assert_eq!(
        data.claims["exp"].as_i64().unwrap() * 1000,
        c["accessToken"]["expiry"].as_i64().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_get_list_and_data_endpoints() {
    let t = start(|_| {}).await;
    let a = t.create("dave").await;
    let b = t.create("dave").await;
    let ha = s(&a["session"]["handle"]).to_owned();
    let hb = s(&b["session"]["handle"]).to_owned();

    let (_, info) = t.get(&format!("/recipe/session?sessionHandle={ha}")).await;
    assert_eq!(info["status"], "OK");
    assert_eq!(info["userId"], "dave");
    assert_eq!(info["userDataInDatabase"], json!({"cart": 1}));
    assert_eq!(info["userDataInJWT"], json!({"role": "user"}));
    assert!(info["expiry"].as_i64().unwrap() > info["timeCreated"].as_i64().unwrap());

    let (_, list) = t.get("/recipe/session/user?userId=dave&fetchSessionsForAllLinkedAccounts=true&fetchAcrossAllTenants=true").await;
    assert_eq!(list["sessionHandles"], json!([ha.clone(), hb.clone()]));
    let (_, list) =
        t.get("/public/recipe/session/user?userId=dave&fetchAcrossAllTenants=false").await;
    assert_eq!(list["sessionHandles"].as_array().unwrap().len(), 2);

    let v = t
        .put(
            "/recipe/session/data",
            json!({"sessionHandle": ha, "userDataInDatabase": {"cart": 2}}),
        )
        .await;
    assert_eq!(v.1["status"], "OK", "{:?}", v);
    let v = t
        .put("/recipe/jwt/data", json!({"sessionHandle": ha, "userDataInJWT": {"role": "admin"}}))
        .await;
    assert_eq!(v.1["status"], "OK");
    let (_, info) = t.get(&format!("/recipe/session?sessionHandle={ha}")).await;
    assert_eq!(info["userDataInDatabase"], json!({"cart": 2}));
    assert_eq!(info["userDataInJWT"], json!({"role": "admin"}));
    // A database-checked verify of the old token returns a token with the new payload.
    let v = t.verify(s(&a["accessToken"]["token"]), true).await;
    assert_eq!(v["session"]["userDataInJWT"], json!({"role": "admin"}));
    assert!(v["accessToken"]["token"].is_string(), "{v}");
    // Protected claims are refused with a 400.
    let (code, v) = t
        .put("/recipe/jwt/data", json!({"sessionHandle": ha, "userDataInJWT": {"sub": "x"}}))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");

    // Remove: present, then missing.
    let r = t.ok("/recipe/session/remove", json!({"sessionHandles": [ha]})).await;
    assert_eq!(r["sessionHandlesRevoked"], json!([ha.clone()]));
    let r = t.ok("/recipe/session/remove", json!({"sessionHandles": [ha]})).await;
    assert_eq!(r["sessionHandlesRevoked"], json!([]));
    let (_, info) = t.get(&format!("/recipe/session?sessionHandle={ha}")).await;
    assert_eq!(info["status"], "UNAUTHORISED");
    let v =
        t.put("/recipe/session/data", json!({"sessionHandle": ha, "userDataInDatabase": {}})).await;
    assert_eq!(v.1["status"], "UNAUTHORISED");

    // By user.
    let r = t.ok("/recipe/session/remove", json!({"userId": "dave", "revokeAcrossAllTenants": true, "revokeSessionsForLinkedAccounts": true})).await;
    assert_eq!(r["sessionHandlesRevoked"], json!([hb]));
    let (code, _) = t.post("/recipe/session/remove", json!({})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regenerate_and_id_tokens() {
    let t = start(|_| {}).await;
    let c = t.create("erin").await;
    let token = s(&c["accessToken"]["token"]);
    let r = t
        .ok(
            "/recipe/session/regenerate",
            json!({"accessToken": token, "userDataInJWT": {"role": "owner"}}),
        )
        .await;
    assert_eq!(r["session"]["userDataInJWT"], json!({"role": "owner"}));
    assert_eq!(r["accessToken"]["expiry"], c["accessToken"]["expiry"], "same expiry");
    let (_, v) = t.post("/recipe/session/regenerate", json!({"accessToken": "garbage"})).await;
    assert_eq!(v["status"], "UNAUTHORISED");

    let j = t.ok("/recipe/jwt", json!({"payload": {"name": "erin"}, "validity": 3600, "useStaticSigningKey": true, "algorithm": "RS256", "jwksDomain": "https://api.example"})).await;
    let jwt = s(&j["jwt"]);
    let kid = jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap();
    assert!(kid.starts_with("s-"));
    let (_, jwks) = t.get("/.well-known/jwks.json").await;
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_components(s(&jwk["n"]), s(&jwk["e"])).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_issuer(&["https://api.example"]);
    let data = jsonwebtoken::decode::<Value>(jwt, &key, &validation).unwrap();
    assert_eq!(data.claims["name"], "erin");
    let (_, v) =
        t.post("/recipe/jwt", json!({"payload": {}, "validity": 60, "algorithm": "HS512"})).await;
    assert_eq!(v["status"], "UNSUPPORTED_ALGORITHM_ERROR");

    let (code, v) = t.get("/user/id?userId=erin").await;
    assert_eq!((code, v["status"].clone()), (StatusCode::OK, json!("UNKNOWN_USER_ID_ERROR")));
    let (code, v) = t.get("/hello").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v, Value::String("Hello\n".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_and_tenant_prefixes() {
    let t = start(|_| {}).await;
    let c = t
        .ok("/appid-shop/t1/recipe/session", json!({"userId": "frank", "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false, "useDynamicSigningKey": true}))
        .await;
    assert_eq!(c["session"]["tenantId"], "t1");
    assert!(s(&c["session"]["handle"]).ends_with("_t1"));
    let v = t.ok("/appid-shop/recipe/session/verify", json!({"accessToken": c["accessToken"]["token"], "doAntiCsrfCheck": false, "checkDatabase": true})).await;
    assert_eq!(v["session"]["tenantId"], "t1");
    // Sessions are scoped to their app.
    let (_, list) = t.get("/appid-shop/recipe/session/user?userId=frank").await;
    assert_eq!(list["sessionHandles"].as_array().unwrap().len(), 1);
    let (_, list) = t.get("/recipe/session/user?userId=frank").await;
    assert_eq!(list["sessionHandles"].as_array().unwrap().len(), 0);
    let (_, list) =
        t.get("/appid-shop/t2/recipe/session/user?userId=frank&fetchAcrossAllTenants=false").await;
    assert_eq!(list["sessionHandles"].as_array().unwrap().len(), 0);
    let (code, jwks) = t.get("/appid-shop/.well-known/jwks.json").await;
    assert_eq!(code, StatusCode::OK);
    assert!(!jwks["keys"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anti_csrf_over_http() {
    let t = start(|_| {}).await;
    let c = t
        .ok("/public/recipe/session", json!({"userId": "gina", "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": true, "useDynamicSigningKey": true}))
        .await;
    let csrf = s(&c["antiCsrfToken"]).to_owned();
    let access = &c["accessToken"]["token"];
    let (_, v) = t.post("/recipe/session/verify", json!({"accessToken": access, "doAntiCsrfCheck": true, "enableAntiCsrf": true, "checkDatabase": false})).await;
    assert_eq!(v["status"], "TRY_REFRESH_TOKEN");
    let (_, v) = t.post("/recipe/session/verify", json!({"accessToken": access, "antiCsrfToken": "nope", "doAntiCsrfCheck": true, "enableAntiCsrf": true, "checkDatabase": false})).await;
    assert_eq!(v["status"], "TRY_REFRESH_TOKEN");
    let (_, v) = t.post("/recipe/session/verify", json!({"accessToken": access, "antiCsrfToken": csrf, "doAntiCsrfCheck": true, "enableAntiCsrf": true, "checkDatabase": false})).await;
    assert_eq!(v["status"], "OK");
    let (_, v) = t.post("/recipe/session/refresh", json!({"refreshToken": c["refreshToken"]["token"], "antiCsrfToken": "nope", "enableAntiCsrf": true})).await;
    assert_eq!(v["status"], "UNAUTHORISED");
    let (_, v) = t.post("/recipe/session/refresh", json!({"refreshToken": c["refreshToken"]["token"], "antiCsrfToken": csrf, "enableAntiCsrf": true})).await;
    assert_eq!(v["status"], "OK");
    assert!(v["antiCsrfToken"].is_string());
}

/// An access token refused: `UNAUTHORISED` or `TRY_REFRESH_TOKEN`, never `OK`.
fn refused(v: &serde_json::Value) -> bool {
    v["status"] == "UNAUTHORISED" || v["status"] == "TRY_REFRESH_TOKEN"
}

/// One app can neither see, change, refresh nor revoke another app's sessions through any
/// endpoint; the session is untouched afterwards and its own app still reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_cannot_reach_each_others_sessions() {
    let t = start(|_| {}).await;
    let c = t
        .ok("/appid-shop/public/recipe/session", json!({"userId": "hank", "userDataInJWT": {"r": 1}, "userDataInDatabase": {"d": 1}, "enableAntiCsrf": false, "useDynamicSigningKey": true}))
        .await;
    let h = s(&c["session"]["handle"]).to_owned();
    let access = c["accessToken"]["token"].clone();
    let refresh = c["refreshToken"]["token"].clone();
    for app in ["", "/appid-blog"] {
        // Each app has its own keys: to another app the token is signed by an unknown key
        // (TRY_REFRESH_TOKEN, and the refresh below fails); never OK.
        for check_db in [false, true] {
            let (_, v) = t
                .post(
                    &format!("{app}/recipe/session/verify"),
                    json!({"accessToken": access, "doAntiCsrfCheck": false, "checkDatabase": check_db}),
                )
                .await;
            assert!(refused(&v), "{app}: {v}");
        }
        // Refresh, read and both data updates: UNAUTHORISED, as for a session that is not there.
        for (method, path, body) in [
            (
                Method::POST,
                "/recipe/session/refresh".to_owned(),
                json!({"refreshToken": refresh, "enableAntiCsrf": false}).to_string(),
            ),
            (Method::GET, format!("/recipe/session?sessionHandle={h}"), String::new()),
            (
                Method::PUT,
                "/recipe/session/data".to_owned(),
                json!({"sessionHandle": h, "userDataInDatabase": {"d": 2}}).to_string(),
            ),
            (
                Method::PUT,
                "/recipe/jwt/data".to_owned(),
                json!({"sessionHandle": h, "userDataInJWT": {"r": 2}}).to_string(),
            ),
        ] {
            let (_, v) = t.raw(method, &format!("{app}{path}"), body.into_bytes()).await;
            assert_eq!(v["status"], "UNAUTHORISED", "{app}{path}: {v}");
        }
        let (_, v) = t
            .post(
                &format!("{app}/recipe/session/regenerate"),
                json!({"accessToken": access, "userDataInJWT": {"r": 3}}),
            )
            .await;
        assert!(refused(&v), "{app}: {v}");
        let v = t.ok(&format!("{app}/recipe/session/remove"), json!({"sessionHandles": [h]})).await;
        assert_eq!(v["sessionHandlesRevoked"], json!([]), "{app}: {v}");
    }
    let (_, info) = t.get(&format!("/appid-shop/recipe/session?sessionHandle={h}")).await;
    assert_eq!(info["status"], "OK", "{info}");
    assert_eq!(info["userDataInJWT"], json!({"r": 1}));
    assert_eq!(info["userDataInDatabase"], json!({"d": 1}));
    let r = t
        .ok(
            "/appid-shop/recipe/session/refresh",
            json!({"refreshToken": refresh, "enableAntiCsrf": false}),
        )
        .await;
    assert!(r["accessToken"]["token"].is_string());
    let v = t.ok("/appid-shop/recipe/session/remove", json!({"sessionHandles": [h]})).await;
    assert_eq!(v["sessionHandlesRevoked"], json!([h]));
}

/// A signed-in-devices page gets what the creator passed (IP, user agent) and when the session
/// was created, last active and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_list_reports_ip_user_agent_and_activity() {
    let t = start(|_| {}).await;
    let c = t
        .ok("/public/recipe/session", json!({"userId": "ivy", "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false, "useDynamicSigningKey": true, "ip": "198.51.100.7", "userAgent": "Firefox/140.0"}))
        .await;
    t.create("ivy").await;
    let (code, v) = t.get("/sessiond/v1/users/ivy/sessions").await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["userId"], "ivy");
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let first = &sessions[0];
    assert_eq!(first["handle"], c["session"]["handle"], "oldest first");
    assert_eq!(first["ip"], "198.51.100.7");
    assert_eq!(first["userAgent"], "Firefox/140.0");
    assert_eq!(first["tenantId"], "public");
    let created = first["createdAt"].as_i64().unwrap();
    assert!(first["lastActiveAt"].as_i64().unwrap() >= created);
    assert!(first["expiresAt"].as_i64().unwrap() > created);
    assert!(sessions[1]["ip"].is_null() && sessions[1]["userAgent"].is_null());
    // Another app's listing of the same user id is empty.
    let (_, v) = t.get("/appid-blog/sessiond/v1/users/ivy/sessions").await;
    assert_eq!(v["sessions"], json!([]));
}

/// Public data too large for an access token is a 400 on every path that sets it, not a token
/// that can never verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_public_data_is_refused() {
    let t = start(|_| {}).await;
    let big = json!({"blob": "x".repeat(sessiond_core::MAX_PUBLIC_DATA_LEN)});
    let (code, v) = t
        .post("/public/recipe/session", json!({"userId": "jay", "userDataInJWT": big, "userDataInDatabase": {}, "enableAntiCsrf": false}))
        .await;
    assert_eq!((code, v["code"].clone()), (StatusCode::BAD_REQUEST, json!("INVALID_INPUT")), "{v}");
    let c = t.create("jay").await;
    let (handle, token) = (&c["session"]["handle"], &c["accessToken"]["token"]);
    for (method, path, body) in [
        ("PUT", "/recipe/jwt/data", json!({"sessionHandle": handle, "userDataInJWT": big})),
        ("POST", "/recipe/session/regenerate", json!({"accessToken": token, "userDataInJWT": big})),
    ] {
        let (code, _) =
            if method == "PUT" { t.put(path, body).await } else { t.post(path, body).await };
        assert_eq!(code, StatusCode::BAD_REQUEST, "{method} {path}");
    }
    // Private data has no such limit (only the body limit).
    let v = t
        .put("/recipe/session/data", json!({"sessionHandle": handle, "userDataInDatabase": big}))
        .await;
    assert_eq!(v.1["status"], "OK");
}

/// The JWKS in the shape older SDKs' JWT recipe fetch from the core.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipe_jwt_jwks_has_a_status() {
    let t = start(|_| {}).await;
    let (code, v) = t.get("/recipe/jwt/jwks").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v["status"], "OK");
    let (_, jwks) = t.get("/.well-known/jwks.json").await;
    assert_eq!(v["keys"], jwks["keys"]);
}

/// The seed 000 opaque format over HTTP: every verify hits the store, a refresh supersedes,
/// revocation is instant without asking for a database check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_access_tokens_over_http() {
    let t = start(|s| s.token_format = "opaque".to_owned()).await;
    let c = t.create("kim").await;
    let access = s(&c["accessToken"]["token"]).to_owned();
    assert!(!access.contains('.'), "not a JWT");
    let v = t.verify(&access, false).await;
    assert_eq!(v["status"], "OK", "{v}");
    assert_eq!(v["session"]["userDataInJWT"], json!({"role": "user"}));
    let r = t.refresh(s(&c["refreshToken"]["token"])).await;
    assert_eq!(t.verify(&access, false).await["status"], "TRY_REFRESH_TOKEN");
    let access2 = s(&r["accessToken"]["token"]).to_owned();
    assert_eq!(t.verify(&access2, false).await["status"], "OK");
    let (code, _) = t.post("/sessiond/v1/keys/reset", json!({})).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(t.verify(&access2, false).await["status"], "TRY_REFRESH_TOKEN");
    let r = t.refresh(s(&r["refreshToken"]["token"])).await;
    let access3 = s(&r["accessToken"]["token"]).to_owned();
    assert_eq!(t.verify(&access3, false).await["status"], "OK");
    t.ok("/recipe/session/remove", json!({"sessionHandles": [c["session"]["handle"]]})).await;
    assert_eq!(t.verify(&access3, false).await["status"], "UNAUTHORISED");
}

/// SDKs speaking CDI 3.x (supertokens-node 15, say) predate the `rsub` claim and send it back as
/// user data when they update a payload; sessiond drops it for them. From CDI 4.0 on it is a
/// protected claim like the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdi_3_clients_may_echo_the_rsub_claim() {
    let t = start(|_| {}).await;
    let c = t.create("lena").await;
    let access = c["accessToken"]["token"].clone();
    let body =
        json!({"accessToken": access, "userDataInJWT": {"rsub": "someone-else", "role": "x"}});
    let r = t
        .http
        .post(format!("{}/recipe/session/regenerate", t.base))
        .header("cdi-version", "3.0")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r: Value = r.json().await.unwrap();
    assert_eq!(r["status"], "OK", "{r}");
    assert_eq!(r["session"]["userDataInJWT"], json!({"role": "x"}));
    let token = s(&r["accessToken"]["token"]);
    let claims: Value = serde_json::from_slice(
        &sessiond_core::b64::decode(token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["rsub"], "lena", "the token's own claim, not the echoed one");
    for v in ["4.0", "5.4"] {
        let r = t
            .http
            .post(format!("{}/recipe/session/regenerate", t.base))
            .header("cdi-version", v)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "CDI {v}");
    }
    let (code, _) = t.post("/recipe/session/regenerate", body).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "no header: the latest CDI");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_data_compare_and_swap_never_loses_an_update() {
    let t = common::start(|_| {}).await;
    let created = t.create("cas-user").await;
    let handle = s(&created["session"]["handle"]).to_owned();
    let path = format!("/sessiond/v1/sessions/{handle}");
    let (code, d) = t.get(&path).await;
    assert_eq!(code, StatusCode::OK, "{d}");
    assert_eq!(d["privateData"], json!({"cart": 1}));
    assert_eq!(d["publicData"], json!({"role": "user"}));
    let v0 = d["version"].as_u64().unwrap();
    let data_path = format!("{path}/private-data");
    let set_cart = |cart: i64, expected: u64| {
        t.put(&data_path, json!({"privateData": {"cart": cart}, "expectedVersion": expected}))
    };
    let (code, r) = set_cart(2, v0).await;
    assert_eq!(code, StatusCode::OK, "{r}");
    assert_eq!(r["version"].as_u64().unwrap(), v0 + 1);
    // The same expected version again: someone else wrote in between.
    let (code, r) = set_cart(3, v0).await;
    assert_eq!(code, StatusCode::CONFLICT, "{r}");
    assert_eq!(r["code"], "CONFLICT");
    assert_eq!(t.get(&path).await.1["privateData"], json!({"cart": 2}));
    // Eight writers racing read-modify-write increments: all land.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (base, http, path) = (t.base.clone(), t.http.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let d: Value =
                    http.get(format!("{base}{path}")).send().await.unwrap().json().await.unwrap();
                let n = d["privateData"]["cart"].as_i64().unwrap();
                let resp = http
                    .put(format!("{base}{path}/private-data"))
                    .json(&json!({"privateData": {"cart": n + 1}, "expectedVersion": d["version"]}))
                    .send()
                    .await
                    .unwrap();
                if resp.status() == StatusCode::OK {
                    return;
                }
                assert_eq!(resp.status(), StatusCode::CONFLICT);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(t.get(&path).await.1["privateData"]["cart"], 10);
    let (code, r) = t.get("/sessiond/v1/sessions/no-such-handle").await;
    assert_eq!((code, r["code"].clone()), (StatusCode::NOT_FOUND, json!("SESSION_NOT_FOUND")));
    let (code, _) = t
        .put(&format!("{path}/private-data"), json!({"privateData": [], "expectedVersion": 0}))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    // Another app cannot see it.
    let (code, _) = t.get(&format!("/appid-other{path}")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}
