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
    /// The session handle: what revoke, get and the data updates take.
    pub handle: String,
    /// The (primary) user the session is for.
    pub user_id: String,
    /// The login method's user id (equal to `userId` without account linking).
    pub recipe_user_id: String,
    /// The access token's custom claims.
    #[serde(rename = "userDataInJWT")]
    #[schema(value_type = Object)]
    pub user_data_in_jwt: JsonObject,
    /// The tenant the session belongs to.
    pub tenant_id: String,
}

/// A token and its validity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// The token itself, to hand to the client.
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
    #[serde(rename = "userDataInJWT", default, skip_serializing_if = "Option::is_none")]
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
    /// The created or refreshed session.
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
    /// The session exists; here are its tokens.
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
    /// The token is valid.
    #[serde(rename = "OK", rename_all = "camelCase")]
    Ok {
        /// The session the token belongs to.
        session: Session,
        /// A re-issued access token (its public data was stale).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        access_token: Option<TokenInfo>,
    },
    /// Not valid; refreshing will not help.
    #[serde(rename = "UNAUTHORISED")]
    Unauthorised {
        /// What was wrong with the token or its session, for logs.
        message: String,
    },
    /// Not valid now; refresh.
    #[serde(rename = "TRY_REFRESH_TOKEN")]
    TryRefreshToken {
        /// What was wrong with the token (expired, unknown key, anti-CSRF), for logs.
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
    /// The handle of the revoked session.
    pub handle: String,
    /// The user whose session it was.
    pub user_id: String,
    /// The login method's user id of that session.
    pub recipe_user_id: String,
}

/// Response of refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status")]
pub enum RefreshSessionResponse {
    /// The refresh token was rotated (or, within the grace window, its successor re-issued).
    #[serde(rename = "OK")]
    Ok(IssuedSession),
    /// Not valid: malformed or forged token, session gone, anti-CSRF mismatch.
    #[serde(rename = "UNAUTHORISED")]
    Unauthorised {
        /// Which of those it was, for logs.
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
    /// The session is live.
    #[serde(rename = "OK", rename_all = "camelCase")]
    Ok {
        /// The handle asked about.
        session_handle: String,
        /// The (primary) user the session is for.
        user_id: String,
        /// The login method's user id.
        recipe_user_id: String,
        /// The private data (server only).
        #[schema(value_type = Object)]
        user_data_in_database: JsonObject,
        /// The public data (in every access token).
        #[serde(rename = "userDataInJWT")]
        #[schema(value_type = Object)]
        user_data_in_jwt: JsonObject,
        /// Session expiry (ms).
        expiry: i64,
        /// Creation time (ms).
        time_created: i64,
        /// The tenant the session belongs to.
        tenant_id: String,
    },
    /// No such live session.
    #[serde(rename = "UNAUTHORISED")]
    Unauthorised {
        /// The reason, for logs.
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
    /// The sessions asked for are gone.
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
        /// The session handles.
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
    #[serde(rename = "userDataInJWT", default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub user_data_in_jwt: Option<JsonObject>,
}

/// Response of regenerate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status")]
pub enum RegenerateResponse {
    /// The public data is replaced.
    #[serde(rename = "OK", rename_all = "camelCase")]
    Ok {
        /// The session with its new payload.
        session: Session,
        /// The new access token (absent when the presented one had expired).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        access_token: Option<TokenInfo>,
    },
    /// The session is gone or the token is not valid.
    #[serde(rename = "UNAUTHORISED")]
    Unauthorised {
        /// Which of the two, for logs.
        message: String,
    },
}

/// `PUT /recipe/session/data`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSessionDataRequest {
    /// The session to update.
    pub session_handle: String,
    /// The new private data (replaces the old).
    #[schema(value_type = Object)]
    pub user_data_in_database: JsonObject,
}

/// `PUT /recipe/jwt/data`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateJwtDataRequest {
    /// The session to update.
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
    /// The data is replaced.
    #[serde(rename = "OK")]
    Ok,
    /// No such live session.
    #[serde(rename = "UNAUTHORISED")]
    Unauthorised {
        /// The reason, for logs.
        message: String,
    },
}

/// `POST /recipe/jwt`: an id token (seed 000).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateJwtRequest {
    /// The claims to sign; `iat` and `exp` are set by the server.
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
    /// The id token is signed.
    #[serde(rename = "OK")]
    Ok {
        /// The signed id token, verifiable from the JWKS.
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
