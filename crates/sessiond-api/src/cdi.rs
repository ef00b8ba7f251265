//! SuperTokens Core Driver Interface 5.4: the session and JWT recipe bodies.
//!
//! Field names follow supertokens-node 24 and supertokens-python 0.31: camelCase, times in
//! milliseconds since the epoch, optional fields omitted rather than `null`.

use serde::{Deserialize, Serialize};

use crate::JsonObject;

/// `GET /apiversion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiVersion {
    /// Supported CDI versions.
    pub versions: Vec<String>,
}

/// The session part of most responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// Session handle.
    pub handle: String,
    /// (Primary) user id.
    pub user_id: String,
    /// Recipe user id.
    pub recipe_user_id: String,
    /// The access token's custom claims.
    #[serde(rename = "userDataInJWT")]
    #[schema(value_type = Object)]
    pub user_data_in_jwt: JsonObject,
    /// Tenant.
    pub tenant_id: String,
}

/// A token and its validity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// The token.
    pub token: String,
    /// Expiry, ms since the epoch.
    pub expiry: i64,
    /// Issue time, ms since the epoch.
    pub created_time: i64,
}

/// `POST [/<tenant>]/recipe/session`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateSessionRequest {
    /// The (recipe) user id.
    pub user_id: String,
    /// Custom access-token claims.
    #[serde(
        rename = "userDataInJWT",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Object>)]
    pub user_data_in_jwt: Option<JsonObject>,
    /// Server-side session data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub user_data_in_database: Option<JsonObject>,
    /// Issue an anti-CSRF token (default: the server's setting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_anti_csrf: Option<bool>,
    /// Sign with the rotating (`d-`) key rather than the static one (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_dynamic_signing_key: Option<bool>,
    /// sessiond extension: the client's IP address, for device lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// sessiond extension: the client's user agent, for device lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// The OK body of create and refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedSession {
    /// The session.
    pub session: Session,
    /// The access token.
    pub access_token: TokenInfo,
    /// The refresh token.
    pub refresh_token: TokenInfo,
    /// The anti-CSRF token, when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_csrf_token: Option<String>,
}

/// Response of create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status")]
pub enum CreateSessionResponse {
    /// Created.
    #[serde(rename = "OK")]
    Ok(IssuedSession),
}

/// `POST /recipe/session/verify`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifySessionRequest {
    /// The access token.
    pub access_token: String,
    /// The anti-CSRF token the client sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_csrf_token: Option<String>,
    /// Check the anti-CSRF token.
    #[serde(default)]
    pub do_anti_csrf_check: bool,
    /// The app uses anti-CSRF tokens (the check runs only when both flags are true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_anti_csrf: Option<bool>,
    /// Also check the session in the store.
    #[serde(default)]
    pub check_database: bool,
}

/// Response of verify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status")]
pub enum VerifySessionResponse {
    /// Valid.
    #[serde(rename = "OK")]
    Ok {
        /// The session.
        session: Session,
        /// A re-issued access token (its public data was stale).
        #[serde(
            rename = "accessToken",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        access_token: Option<TokenInfo>,
    },
    /// Not valid; refreshing will not help.
    #[serde(rename = "UNAUTHORISED")]
    Unauthorised {
        /// Why.
        message: String,
    },
    /// Not valid now; refresh.
    #[serde(rename = "TRY_REFRESH_TOKEN")]
    TryRefreshToken {
        /// Why.
        message: String,
    },
}

/// `POST /recipe/session/refresh`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshSessionRequest {
    /// The refresh token.
    pub refresh_token: String,
    /// The anti-CSRF token the client sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_csrf_token: Option<String>,
    /// Check the anti-CSRF token (sessions created with one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_anti_csrf: Option<bool>,
    /// Sign the new access token with the rotating key (default: as at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_dynamic_signing_key: Option<bool>,
}

/// The session named by a theft report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TheftSession {
    /// The revoked session.
    pub handle: String,
    /// Its user.
    pub user_id: String,
    /// Its recipe user.
    pub recipe_user_id: String,
}

/// Response of refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status")]
pub enum RefreshSessionResponse {
    /// Rotated.
    #[serde(rename = "OK")]
    Ok(IssuedSession),
    /// Not valid.
    #[serde(rename = "UNAUTHORISED")]
    Unauthorised {
        /// Why.
        message: String,
    },
    /// A superseded refresh token was replayed; the session is revoked.
    #[serde(rename = "TOKEN_THEFT_DETECTED")]
    TokenTheftDetected {
        /// The revoked session.
        session: TheftSession,
    },
}

/// Response of `GET /recipe/session?sessionHandle=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status")]
pub enum SessionInfoResponse {
    /// Found.
    #[serde(rename = "OK", rename_all = "camelCase")]
    Ok {
        /// Handle.
        session_handle: String,
        /// User.
        user_id: String,
        /// Recipe user.
        recipe_user_id: String,
        /// Private data.
        #[schema(value_type = Object)]
        user_data_in_database: JsonObject,
        /// Public data.
        #[serde(rename = "userDataInJWT")]
        #[schema(value_type = Object)]
        user_data_in_jwt: JsonObject,
        /// Session expiry (ms).
        expiry: i64,
        /// Creation time (ms).
        time_created: i64,
        /// Tenant.
        tenant_id: String,
    },
    /// No such live session.
    #[serde(rename = "UNAUTHORISED")]
    Unauthorised {
        /// Why.
        message: String,
    },
}

/// `POST [/<tenant>]/recipe/session/remove`: by handles, or by user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoveSessionsRequest {
    /// Revoke these sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_handles: Option<Vec<String>>,
    /// Revoke this user's sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// With `userId`: match every linked account (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_sessions_for_linked_accounts: Option<bool>,
    /// With `userId`: every tenant (default true), else the path's tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_across_all_tenants: Option<bool>,
}

/// Response of remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status")]
pub enum RemoveSessionsResponse {
    /// Done.
    #[serde(rename = "OK", rename_all = "camelCase")]
    Ok {
        /// The handles that existed and are now revoked.
        session_handles_revoked: Vec<String>,
    },
}

/// Response of `GET [/<tenant>]/recipe/session/user`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status")]
pub enum UserSessionsResponse {
    /// The handles of the user's live sessions, oldest first.
    #[serde(rename = "OK", rename_all = "camelCase")]
    Ok {
        /// Handles.
        session_handles: Vec<String>,
    },
}

/// `POST /recipe/session/regenerate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegenerateRequest {
    /// The current access token (may be expired).
    pub access_token: String,
    /// The complete new custom payload.
    #[serde(
        rename = "userDataInJWT",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Object>)]
    pub user_data_in_jwt: Option<JsonObject>,
}

/// Response of regenerate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status")]
pub enum RegenerateResponse {
    /// Updated.
    #[serde(rename = "OK")]
    Ok {
        /// The session with its new payload.
        session: Session,
        /// The new access token (absent when the presented one had expired).
        #[serde(
            rename = "accessToken",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        access_token: Option<TokenInfo>,
    },
    /// The session is gone or the token is not valid.
    #[serde(rename = "UNAUTHORISED")]
    Unauthorised {
        /// Why.
        message: String,
    },
}

/// `PUT /recipe/session/data`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSessionDataRequest {
    /// Session.
    pub session_handle: String,
    /// The new private data (replaces the old).
    #[schema(value_type = Object)]
    pub user_data_in_database: JsonObject,
}

/// `PUT /recipe/jwt/data`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateJwtDataRequest {
    /// Session.
    pub session_handle: String,
    /// The new public data (replaces the old).
    #[serde(rename = "userDataInJWT")]
    #[schema(value_type = Object)]
    pub user_data_in_jwt: JsonObject,
}

/// Response of the two data updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status")]
pub enum UpdateDataResponse {
    /// Updated.
    #[serde(rename = "OK")]
    Ok,
    /// No such live session.
    #[serde(rename = "UNAUTHORISED")]
    Unauthorised {
        /// Why.
        message: String,
    },
}

/// `POST /recipe/jwt`: an id token (seed 000).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateJwtRequest {
    /// Claims.
    #[schema(value_type = Object)]
    pub payload: JsonObject,
    /// Validity in seconds.
    pub validity: u64,
    /// Sign with the static key (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_static_signing_key: Option<bool>,
    /// Must be the server's access-token algorithm (`RS256` by default).
    pub algorithm: String,
    /// Becomes `iss` when the payload has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_domain: Option<String>,
}

/// Response of `POST /recipe/jwt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status")]
pub enum CreateJwtResponse {
    /// Signed.
    #[serde(rename = "OK")]
    Ok {
        /// The JWT.
        jwt: String,
    },
    /// The algorithm is not the server's.
    #[serde(rename = "UNSUPPORTED_ALGORITHM_ERROR")]
    UnsupportedAlgorithm,
}

/// Response of `GET /user/id` on a session-only core.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status")]
pub enum UserIdResponse {
    /// sessiond keeps no user records.
    #[serde(rename = "UNKNOWN_USER_ID_ERROR")]
    UnknownUserId,
}
