//! The CDI session and JWT endpoints over real HTTP, as the SuperTokens SDKs call them.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::collections::HashSet;

use common::{s, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_verify_refresh_refresh_then_reuse_is_theft() {
    let t = start(|_| {}).await;
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

    // rt0 is a grandparent now: theft, and the session is gone.
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
    let t = std::sync::Arc::new(start(|_| {}).await);
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
    // The parent is now an ancestor: theft.
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
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    for field in ["kty", "kid", "n", "e", "alg", "use"] {
        assert!(jwk.get(field).is_some(), "JWK lacks {field}");
    }
    assert!(
        jwk.get("d").is_none() && jwk.get("k").is_none(),
        "no private material"
    );
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
    let (_, list) = t
        .get("/public/recipe/session/user?userId=dave&fetchAcrossAllTenants=false")
        .await;
    assert_eq!(list["sessionHandles"].as_array().unwrap().len(), 2);

    let v = t
        .put(
            "/recipe/session/data",
            json!({"sessionHandle": ha, "userDataInDatabase": {"cart": 2}}),
        )
        .await;
    assert_eq!(v.1["status"], "OK", "{:?}", v);
    let v = t
        .put(
            "/recipe/jwt/data",
            json!({"sessionHandle": ha, "userDataInJWT": {"role": "admin"}}),
        )
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
        .put(
            "/recipe/jwt/data",
            json!({"sessionHandle": ha, "userDataInJWT": {"sub": "x"}}),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");

    // Remove: present, then missing.
    let r = t
        .ok("/recipe/session/remove", json!({"sessionHandles": [ha]}))
        .await;
    assert_eq!(r["sessionHandlesRevoked"], json!([ha.clone()]));
    let r = t
        .ok("/recipe/session/remove", json!({"sessionHandles": [ha]}))
        .await;
    assert_eq!(r["sessionHandlesRevoked"], json!([]));
    let (_, info) = t.get(&format!("/recipe/session?sessionHandle={ha}")).await;
    assert_eq!(info["status"], "UNAUTHORISED");
    let v = t
        .put(
            "/recipe/session/data",
            json!({"sessionHandle": ha, "userDataInDatabase": {}}),
        )
        .await;
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
    assert_eq!(
        r["accessToken"]["expiry"], c["accessToken"]["expiry"],
        "same expiry"
    );
    let (_, v) = t
        .post(
            "/recipe/session/regenerate",
            json!({"accessToken": "garbage"}),
        )
        .await;
    assert_eq!(v["status"], "UNAUTHORISED");

    let j = t.ok("/recipe/jwt", json!({"payload": {"name": "erin"}, "validity": 3600, "useStaticSigningKey": true, "algorithm": "RS256", "jwksDomain": "https://api.example"})).await;
    let jwt = s(&j["jwt"]);
    let kid = jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap();
    assert!(kid.starts_with("s-"));
    let (_, jwks) = t.get("/.well-known/jwks.json").await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_components(s(&jwk["n"]), s(&jwk["e"])).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_issuer(&["https://api.example"]);
    let data = jsonwebtoken::decode::<Value>(jwt, &key, &validation).unwrap();
    assert_eq!(data.claims["name"], "erin");
    let (_, v) = t
        .post(
            "/recipe/jwt",
            json!({"payload": {}, "validity": 60, "algorithm": "HS512"}),
        )
        .await;
    assert_eq!(v["status"], "UNSUPPORTED_ALGORITHM_ERROR");

    let (code, v) = t.get("/user/id?userId=erin").await;
    assert_eq!(
        (code, v["status"].clone()),
        (StatusCode::OK, json!("UNKNOWN_USER_ID_ERROR"))
    );
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
    let (_, list) = t
        .get("/appid-shop/t2/recipe/session/user?userId=frank&fetchAcrossAllTenants=false")
        .await;
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
