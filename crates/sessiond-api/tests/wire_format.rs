//! The JSON of the wire types, byte for byte: field names, field order, omitted optionals and
//! status tags are what the SuperTokens SDKs and sessiond's client read, so a change to a serde
//! attribute must not move them.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use sessiond_api::cdi::{
    CreateSessionRequest, RefreshSessionResponse, RegenerateResponse, Session, SessionInfoResponse,
    TheftSession, TokenInfo, UpdateDataResponse, VerifySessionResponse,
};
use sessiond_api::v1::{DeviceSession, SessionDetails};
use sessiond_api::{ErrorBody, JsonObject};

/// Every `UNAUTHORISED` answer, with the message `"m"` the tests give it.
const UNAUTHORISED: &str = r#"{"status":"UNAUTHORISED","message":"m"}"#;

/// `value` serialises to exactly `text`, and `text` reads back as `value`.
fn pinned<T>(value: &T, text: &str)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    assert_eq!(serde_json::to_string(value).unwrap(), text);
    assert_eq!(&serde_json::from_str::<T>(text).unwrap(), value);
}

fn data() -> JsonObject {
    json!({"role": "admin"}).as_object().cloned().unwrap()
}

fn session() -> Session {
    Session {
        handle: "h".into(),
        user_id: "u".into(),
        recipe_user_id: "r".into(),
        user_data_in_jwt: data(),
        tenant_id: "public".into(),
    }
}

fn token() -> TokenInfo {
    TokenInfo { token: "t".into(), expiry: 2, created_time: 1 }
}

const SESSION: &str = r#"{"handle":"h","userId":"u","recipeUserId":"r","userDataInJWT":{"role":"admin"},"tenantId":"public"}"#;
const TOKEN: &str = r#"{"token":"t","expiry":2,"createdTime":1}"#;

#[test]
fn verify_and_regenerate_responses() {
    for token_out in [None, Some(token())] {
        let tail = match token_out {
            Some(_) => format!(r#","accessToken":{TOKEN}}}"#),
            None => "}".to_owned(),
        };
        pinned(
            &VerifySessionResponse::Ok { session: session(), access_token: token_out.clone() },
            &format!(r#"{{"status":"OK","session":{SESSION}{tail}"#),
        );
        pinned(
            &RegenerateResponse::Ok { session: session(), access_token: token_out },
            &format!(r#"{{"status":"OK","session":{SESSION}{tail}"#),
        );
    }
    pinned(&VerifySessionResponse::Unauthorised { message: "m".into() }, UNAUTHORISED);
    pinned(
        &VerifySessionResponse::TryRefreshToken { message: "m".into() },
        r#"{"status":"TRY_REFRESH_TOKEN","message":"m"}"#,
    );
    pinned(&RegenerateResponse::Unauthorised { message: "m".into() }, UNAUTHORISED);
}

#[test]
fn refresh_info_and_update_responses() {
    pinned(
        &RefreshSessionResponse::TokenTheftDetected {
            session: TheftSession {
                handle: "h".into(),
                user_id: "u".into(),
                recipe_user_id: "r".into(),
            },
        },
        r#"{"status":"TOKEN_THEFT_DETECTED","session":{"handle":"h","userId":"u","recipeUserId":"r"}}"#,
    );
    pinned(&RefreshSessionResponse::Unauthorised { message: "m".into() }, UNAUTHORISED);
    pinned(
        &SessionInfoResponse::Ok {
            session_handle: "h".into(),
            user_id: "u".into(),
            recipe_user_id: "r".into(),
            user_data_in_database: JsonObject::new(),
            user_data_in_jwt: data(),
            expiry: 2,
            time_created: 1,
            tenant_id: "public".into(),
        },
        r#"{"status":"OK","sessionHandle":"h","userId":"u","recipeUserId":"r","userDataInDatabase":{},"userDataInJWT":{"role":"admin"},"expiry":2,"timeCreated":1,"tenantId":"public"}"#,
    );
    pinned(&SessionInfoResponse::Unauthorised { message: "m".into() }, UNAUTHORISED);
    pinned(&UpdateDataResponse::Ok, r#"{"status":"OK"}"#);
    pinned(&UpdateDataResponse::Unauthorised { message: "m".into() }, UNAUTHORISED);
}

#[test]
fn create_request_omits_what_is_unset() {
    pinned(
        &CreateSessionRequest { user_id: "u".into(), ..CreateSessionRequest::default() },
        r#"{"userId":"u"}"#,
    );
    pinned(
        &CreateSessionRequest {
            user_id: "u".into(),
            user_data_in_jwt: Some(data()),
            user_data_in_database: Some(JsonObject::new()),
            enable_anti_csrf: Some(true),
            use_dynamic_signing_key: Some(false),
            ip: Some("::1".into()),
            user_agent: Some("ua".into()),
        },
        r#"{"userId":"u","userDataInJWT":{"role":"admin"},"userDataInDatabase":{},"enableAntiCsrf":true,"useDynamicSigningKey":false,"ip":"::1","userAgent":"ua"}"#,
    );
}

#[test]
fn device_lists_and_session_details() {
    pinned(
        &DeviceSession {
            handle: "h".into(),
            tenant_id: "public".into(),
            created_at: 1,
            last_active_at: 2,
            expires_at: 3,
            ip: None,
            user_agent: Some("ua".into()),
        },
        r#"{"handle":"h","tenantId":"public","createdAt":1,"lastActiveAt":2,"expiresAt":3,"userAgent":"ua"}"#,
    );
    pinned(
        &SessionDetails {
            handle: "h".into(),
            user_id: "u".into(),
            recipe_user_id: "r".into(),
            tenant_id: "public".into(),
            public_data: data(),
            private_data: JsonObject::new(),
            version: 4,
            created_at: 1,
            last_active_at: 2,
            expires_at: 3,
            ip: Some("::1".into()),
            user_agent: None,
        },
        r#"{"handle":"h","userId":"u","recipeUserId":"r","tenantId":"public","publicData":{"role":"admin"},"privateData":{},"version":4,"createdAt":1,"lastActiveAt":2,"expiresAt":3,"ip":"::1"}"#,
    );
    pinned(
        &ErrorBody { code: "NOT_FOUND".into(), message: "m".into() },
        r#"{"code":"NOT_FOUND","message":"m"}"#,
    );
}
