//! sessiond's own endpoints under `/sessiond/v1`: device lists, keys, service tokens.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use sessiond_api::ErrorBody;
use sessiond_api::v1::{
    CreateServiceToken, DataVersion, DeviceSession, Key, KeyList, Rotated, ServiceToken,
    ServiceTokenValidity, SessionDetails, SetPrivateData, UserSessions, VerifyServiceToken,
};
use sessiond_core::{Code, KeyInfo, SessionRef, UserField, UserQuery};

use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::scope::Scope;
use crate::state::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;

fn key(k: KeyInfo) -> Key {
    Key {
        kid: k.kid,
        kind: k.kind.to_owned(),
        alg: k.alg.to_owned(),
        created_at: k.created_at,
        current: k.current,
        sealed: k.sealed,
    }
}

fn key_list(s: &AppState, app_id: &str) -> KeyList {
    KeyList { keys: s.manager.keys().list(Some(app_id)).into_iter().map(key).collect() }
}

#[utoipa::path(get, path = "/sessiond/v1/keys", tag = "sessiond", responses((status = 200, body = KeyList), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `GET /sessiond/v1/keys`: the app's keys.
pub(crate) async fn list_keys(State(s): State<AppState>, scope: Scope) -> ApiResult<KeyList> {
    s.manager.keys().reload().await?;
    Ok(Json(key_list(&s, &scope.app_id)))
}

#[utoipa::path(post, path = "/sessiond/v1/keys/rotate", tag = "sessiond", responses((status = 200, body = Rotated), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `POST /sessiond/v1/keys/rotate`: the app's dynamic key.
pub(crate) async fn rotate_keys(State(s): State<AppState>, scope: Scope) -> ApiResult<Rotated> {
    let k = s.manager.keys().rotate(&scope.app_id).await?;
    tracing::info!(kid = %k.kid, app = %scope.app_id, "signing key rotated");
    Ok(Json(Rotated { key: key(k) }))
}

#[utoipa::path(post, path = "/sessiond/v1/keys/reset", tag = "sessiond", responses((status = 200, body = KeyList), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `POST /sessiond/v1/keys/reset`: every outstanding access, id and service token of the app
/// fails.
pub(crate) async fn reset_keys(State(s): State<AppState>, scope: Scope) -> ApiResult<KeyList> {
    s.manager.keys().reset(&scope.app_id).await?;
    tracing::warn!(app = %scope.app_id, "all signing keys reset");
    Ok(Json(key_list(&s, &scope.app_id)))
}

#[utoipa::path(get, path = "/sessiond/v1/users/{user_id}/sessions", operation_id = "user_devices", tag = "sessiond", params(("user_id" = String, Path, description = "user id")), responses((status = 200, body = UserSessions), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `GET /sessiond/v1/users/{userId}/sessions`: the user's live sessions with details.
pub(crate) async fn user_sessions(
    State(s): State<AppState>, scope: Scope, Path(user_id): Path<String>,
) -> ApiResult<UserSessions> {
    let query = UserQuery {
        app_id: scope.app_id.clone(),
        user_id: user_id.clone(),
        field: UserField::User,
        tenant_id: scope.tenant_id.clone(),
    };
    let sessions = s
        .manager
        .list(&query)
        .await?
        .into_iter()
        .map(|i| DeviceSession {
            handle: i.summary.handle,
            tenant_id: i.summary.tenant_id,
            created_at: i.created_at,
            last_active_at: i.last_active_at,
            expires_at: i.expires_at,
            ip: i.client.ip,
            user_agent: i.client.user_agent,
        })
        .collect();
    Ok(Json(UserSessions { user_id, sessions }))
}

#[utoipa::path(post, path = "/sessiond/v1/service-tokens", tag = "sessiond", request_body = CreateServiceToken, responses((status = 200, body = ServiceToken), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `POST /sessiond/v1/service-tokens`: a service token for calls between services, expiring
/// after `expiresIn` seconds when given; a key reset ends it either way.
pub(crate) async fn create_service_token(
    State(s): State<AppState>, scope: Scope, JsonBody(req): JsonBody<CreateServiceToken>,
) -> ApiResult<ServiceToken> {
    let expires_in = req.expires_in.map(Duration::from_secs);
    if expires_in.is_some_and(|d| d.is_zero()) {
        return Err(ApiError::new(Code::InvalidInput, "expiresIn must be positive"));
    }
    let now = s.manager.now_ms();
    let token = s.manager.create_service_token(&scope.app_id, expires_in).await?;
    Ok(Json(ServiceToken {
        token: token.into_inner(),
        expires_at: req
            .expires_in
            .map(|e| now.saturating_add(i64::try_from(e).unwrap_or(i64::MAX).saturating_mul(1000))),
    }))
}

#[utoipa::path(post, path = "/sessiond/v1/service-tokens/verify", tag = "sessiond", request_body = VerifyServiceToken, responses((status = 200, body = ServiceTokenValidity), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `POST /sessiond/v1/service-tokens/verify`: whether a service token is valid for this app.
pub(crate) async fn verify_service_token(
    State(s): State<AppState>, scope: Scope, JsonBody(req): JsonBody<VerifyServiceToken>,
) -> ApiResult<ServiceTokenValidity> {
    Ok(Json(ServiceTokenValidity {
        valid: s.manager.verify_service_token(&scope.app_id, &req.token).await?,
    }))
}

#[utoipa::path(get, path = "/sessiond/v1/sessions/{handle}", tag = "sessiond", params(("handle" = String, Path, description = "session handle")), responses((status = 200, body = SessionDetails), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 404, description = "no such live session in this app (SESSION_NOT_FOUND)", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `GET /sessiond/v1/sessions/{handle}`: one session with its data and data version.
pub(crate) async fn session_details(
    State(s): State<AppState>, scope: Scope, Path(handle): Path<String>,
) -> ApiResult<SessionDetails> {
    let i = s.manager.get(SessionRef::in_app(&handle, &scope.app_id)).await?;
    Ok(Json(SessionDetails {
        handle: i.summary.handle,
        user_id: i.summary.user_id,
        recipe_user_id: i.summary.recipe_user_id,
        tenant_id: i.summary.tenant_id,
        public_data: i.summary.public_data,
        private_data: i.private_data,
        version: i.version,
        created_at: i.created_at,
        last_active_at: i.last_active_at,
        expires_at: i.expires_at,
        ip: i.client.ip,
        user_agent: i.client.user_agent,
    }))
}

#[utoipa::path(put, path = "/sessiond/v1/sessions/{handle}/private-data", tag = "sessiond", params(("handle" = String, Path, description = "session handle")), request_body = SetPrivateData, responses((status = 200, body = DataVersion), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 404, description = "no such live session in this app (SESSION_NOT_FOUND)", body = ErrorBody), (status = 409, description = "the data version moved: read again and retry", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `PUT /sessiond/v1/sessions/{handle}/private-data`: compare-and-swap of the private data.
pub(crate) async fn set_private_data(
    State(s): State<AppState>, scope: Scope, Path(handle): Path<String>,
    JsonBody(req): JsonBody<SetPrivateData>,
) -> ApiResult<DataVersion> {
    let outcome = s
        .manager
        .set_private_data_if_version(
            SessionRef::in_app(&handle, &scope.app_id),
            req.expected_version,
            &req.private_data,
        )
        .await?;
    match outcome {
        Some(version) => Ok(Json(DataVersion { version })),
        None => Err(ApiError::new(
            Code::Conflict,
            "the session's data version moved; read it again and retry",
        )),
    }
}
