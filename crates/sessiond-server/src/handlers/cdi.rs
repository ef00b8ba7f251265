//! SuperTokens Core Driver Interface 5.4: session and JWT recipe endpoints.
//!
//! Session outcomes (`UNAUTHORISED`, `TRY_REFRESH_TOKEN`, `TOKEN_THEFT_DETECTED`) are HTTP 200
//! with a `status`, as the SDKs require; malformed requests are 4xx; store failures 503.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use sessiond_api::cdi::{
    ApiVersion, CreateJwtRequest, CreateJwtResponse, CreateSessionRequest, CreateSessionResponse,
    RefreshSessionRequest, RefreshSessionResponse, RegenerateRequest, RegenerateResponse,
    RemoveSessionsRequest, RemoveSessionsResponse, SessionInfoResponse, TheftSession,
    UpdateDataResponse, UpdateJwtDataRequest, UpdateSessionDataRequest, UserIdResponse,
    UserSessionsResponse, VerifySessionRequest, VerifySessionResponse,
};
use sessiond_api::{CDI_VERSIONS, ErrorBody};
use sessiond_core::{
    ClientInfo, Code, Error, JsonObject, NewSession, RefreshOptions, SessionRef, UserField,
    UserQuery, VerifyOptions,
};

use super::{issued, session, token};
use crate::error::ApiError;
use crate::extract::{CdiVersion, JsonBody, QueryParams};
use crate::scope::Scope;
use crate::state::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;

const SESSION_GONE: &str = "Session does not exist.";

/// Longest `ip` a create request may give, in bytes (an IPv6 address with a zone fits).
pub(crate) const MAX_IP_LEN: usize = 64;
/// Longest `userAgent` a create request may give, in bytes.
pub(crate) const MAX_USER_AGENT_LEN: usize = 512;
/// Longest validity of an id token from `POST /recipe/jwt`: 100 years, in seconds.
pub(crate) const MAX_JWT_VALIDITY_SECS: u64 = 100 * 365 * 24 * 3600;

/// Refuses a device-list field over its limit (it is stored with the session and shown in
/// device lists, so it must stay small).
fn check_len(field: &str, value: Option<&String>, max: usize) -> Result<(), ApiError> {
    match value {
        Some(v) if v.len() > max => Err(ApiError::new(
            Code::InvalidInput,
            format!("{field} is {} bytes; at most {max} are accepted", v.len()),
        )),
        _ => Ok(()),
    }
}

/// New public data from a client speaking CDI 3.x. Those SDKs predate the `rsub` claim: they
/// hand it to the application as user data and send it back when the payload is updated. It is
/// the token's own claim, so it is dropped here rather than refused as a protected name.
fn public_data_from(cdi: CdiVersion, mut data: JsonObject) -> JsonObject {
    if cdi.before_account_linking() {
        data.remove("rsub");
    }
    data
}

#[utoipa::path(get, path = "/apiversion", tag = "cdi", responses((status = 200, body = ApiVersion)))]
/// `GET /apiversion`: the CDI versions this server speaks; an SDK picks one and sends it as
/// `cdi-version`.
pub(crate) async fn api_version() -> Json<ApiVersion> {
    Json(ApiVersion { versions: CDI_VERSIONS.iter().map(|v| (*v).to_owned()).collect() })
}

#[utoipa::path(get, path = "/hello", tag = "cdi", responses((status = 200, description = "Hello", content_type = "text/plain")))]
/// `GET /hello`: `Hello`, the SDKs' probe that the core is up (open, no API key).
pub(crate) async fn hello() -> &'static str {
    "Hello\n"
}

#[utoipa::path(get, path = "/user/id", tag = "cdi", params(("userId" = String, Query, description = "user id")), responses((status = 200, body = UserIdResponse)))]
/// `GET /user/id`: sessiond keeps no user records.
pub(crate) async fn user_by_id() -> Json<UserIdResponse> {
    Json(UserIdResponse::UnknownUserId)
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "cdi", responses((status = 200, description = "JWK set of the access-token and id-token keys", body = Object)))]
/// `GET /.well-known/jwks.json`: the app's keys (each app has its own); open, no API key (the
/// SDKs fetch it without headers).
pub(crate) async fn jwks(State(s): State<AppState>, scope: Scope) -> impl IntoResponse {
    let jwks = s.manager.keys().jwks(&scope.app_id);
    ([(header::CACHE_CONTROL, "max-age=60, must-revalidate")], Json((*jwks).clone()))
}

#[utoipa::path(get, path = "/recipe/jwt/jwks", tag = "cdi", responses((status = 200, description = "`{\"status\":\"OK\",\"keys\":[…]}`: the JWKS in the shape older SDKs' JWT recipe reads", body = Object), (status = 401, description = "missing or invalid API key", body = ErrorBody)))]
/// `GET /recipe/jwt/jwks`: the JWKS with a `status`, for SDKs that still fetch it here.
pub(crate) async fn jwt_jwks(State(s): State<AppState>, scope: Scope) -> impl IntoResponse {
    let jwks = s.manager.keys().jwks(&scope.app_id);
    Json(serde_json::json!({ "status": "OK", "keys": jwks.keys }))
}

#[utoipa::path(post, path = "/{tenant}/recipe/session", tag = "cdi", params(("tenant" = String, Path, description = "tenant id, `public` by default; the segment may be omitted")), request_body = CreateSessionRequest, responses((status = 200, body = CreateSessionResponse), (status = 400, description = "malformed request; `INVALID_INPUT` for an `ip` over 64 bytes or a `userAgent` over 512 bytes", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `POST [/<tenant>]/recipe/session`: a new session for `userId`, with its access, refresh
/// and (optionally) anti-CSRF tokens.
pub(crate) async fn create_session(
    State(s): State<AppState>, scope: Scope, cdi: CdiVersion,
    JsonBody(req): JsonBody<CreateSessionRequest>,
) -> ApiResult<CreateSessionResponse> {
    check_len("ip", req.ip.as_ref(), MAX_IP_LEN)?;
    check_len("userAgent", req.user_agent.as_ref(), MAX_USER_AGENT_LEN)?;
    let mut new = NewSession::new(req.user_id);
    new.app_id = scope.app_id.clone();
    new.tenant_id = scope.tenant();
    new.public_data = public_data_from(cdi, req.user_data_in_jwt.unwrap_or_default());
    new.private_data = req.user_data_in_database.unwrap_or_default();
    new.anti_csrf = req.enable_anti_csrf.unwrap_or(s.anti_csrf_default);
    new.static_key = !req.use_dynamic_signing_key.unwrap_or(true);
    new.client = ClientInfo { ip: req.ip, user_agent: req.user_agent };
    let created = s.manager.create(new).await?;
    s.metrics.session_created();
    Ok(Json(CreateSessionResponse::Ok(issued(created))))
}

#[utoipa::path(post, path = "/recipe/session/verify", tag = "cdi", request_body = VerifySessionRequest, responses((status = 200, body = VerifySessionResponse), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `POST /recipe/session/verify`: checks an access token (with `checkDatabase`, also that its
/// session is still live); a token that refreshing can fix is `TRY_REFRESH_TOKEN`.
pub(crate) async fn verify_session(
    State(s): State<AppState>, scope: Scope, JsonBody(req): JsonBody<VerifySessionRequest>,
) -> ApiResult<VerifySessionResponse> {
    let opts = VerifyOptions {
        anti_csrf_token: req.anti_csrf_token.as_deref(),
        check_anti_csrf: req.do_anti_csrf_check && req.enable_anti_csrf.unwrap_or(true),
        check_database: req.check_database,
        app_id: Some(&scope.app_id),
    };
    let resp = match s.manager.verify(&req.access_token, opts).await {
        Ok(v) => VerifySessionResponse::Ok {
            session: session(v.session),
            access_token: v.new_access_token.map(token),
        },
        Err(Error::Unauthorised(m)) => {
            VerifySessionResponse::Unauthorised { message: m.to_owned() }
        }
        Err(Error::TryRefreshToken(m)) => {
            VerifySessionResponse::TryRefreshToken { message: m.to_owned() }
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Json(resp))
}

#[utoipa::path(post, path = "/recipe/session/refresh", tag = "cdi", request_body = RefreshSessionRequest, responses((status = 200, body = RefreshSessionResponse), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `POST /recipe/session/refresh`: only `OK`, `UNAUTHORISED` or `TOKEN_THEFT_DETECTED`.
pub(crate) async fn refresh_session(
    State(s): State<AppState>, scope: Scope, JsonBody(req): JsonBody<RefreshSessionRequest>,
) -> ApiResult<RefreshSessionResponse> {
    let opts = RefreshOptions {
        anti_csrf_token: req.anti_csrf_token.as_deref(),
        check_anti_csrf: req.enable_anti_csrf.unwrap_or(true),
        static_key: req.use_dynamic_signing_key.map(|d| !d),
        app_id: Some(&scope.app_id),
    };
    let resp = match s.manager.refresh(&req.refresh_token, opts).await {
        Ok(r) => {
            s.metrics.refreshed();
            RefreshSessionResponse::Ok(issued(r))
        }
        Err(Error::Unauthorised(m) | Error::TryRefreshToken(m)) => {
            RefreshSessionResponse::Unauthorised { message: m.to_owned() }
        }
        Err(Error::TokenTheftDetected { handle, user_id, recipe_user_id }) => {
            s.metrics.theft_detected();
            RefreshSessionResponse::TokenTheftDetected {
                session: TheftSession { handle, user_id, recipe_user_id },
            }
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Json(resp))
}

/// Query of `GET /recipe/session`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HandleQuery {
    session_handle: String,
}

#[utoipa::path(get, path = "/recipe/session", tag = "cdi", params(("sessionHandle" = String, Query, description = "session handle")), responses((status = 200, body = SessionInfoResponse), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `GET /recipe/session?sessionHandle=`: a live session's data and times; an unknown handle
/// is `UNAUTHORISED`, as the CDI answers it.
pub(crate) async fn session_info(
    State(s): State<AppState>, scope: Scope, QueryParams(q): QueryParams<HandleQuery>,
) -> ApiResult<SessionInfoResponse> {
    let resp = match s.manager.get(SessionRef::in_app(&q.session_handle, &scope.app_id)).await {
        Ok(i) => SessionInfoResponse::Ok {
            session_handle: i.summary.handle,
            user_id: i.summary.user_id,
            recipe_user_id: i.summary.recipe_user_id,
            user_data_in_database: i.private_data,
            user_data_in_jwt: i.summary.public_data,
            expiry: i.expires_at,
            time_created: i.created_at,
            tenant_id: i.summary.tenant_id,
        },
        Err(Error::SessionNotFound) => {
            SessionInfoResponse::Unauthorised { message: SESSION_GONE.to_owned() }
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Json(resp))
}

#[utoipa::path(post, path = "/recipe/session/remove", tag = "cdi", request_body = RemoveSessionsRequest, responses((status = 200, body = RemoveSessionsResponse), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `POST [/<tenant>]/recipe/session/remove`: by handles, or by user.
pub(crate) async fn remove_sessions(
    State(s): State<AppState>, scope: Scope, JsonBody(req): JsonBody<RemoveSessionsRequest>,
) -> ApiResult<RemoveSessionsResponse> {
    let revoked = match (req.session_handles, req.user_id) {
        (Some(handles), None) => {
            if req.revoke_across_all_tenants.is_some()
                || req.revoke_sessions_for_linked_accounts.is_some()
            {
                return Err(ApiError::new(
                    Code::InvalidInput,
                    "revokeAcrossAllTenants and revokeSessionsForLinkedAccounts go with userId",
                ));
            }
            s.manager.revoke_many(&handles, Some(&scope.app_id)).await?
        }
        (None, Some(user_id)) => {
            let query = UserQuery {
                app_id: scope.app_id.clone(),
                user_id,
                field: if req.revoke_sessions_for_linked_accounts.unwrap_or(true) {
                    UserField::User
                } else {
                    UserField::RecipeUser
                },
                tenant_id: if req.revoke_across_all_tenants.unwrap_or(true) {
                    None
                } else {
                    Some(scope.tenant())
                },
            };
            s.manager.revoke_all_for_user(&query).await?
        }
        _ => {
            return Err(ApiError::new(
                Code::InvalidInput,
                "give exactly one of sessionHandles and userId",
            ));
        }
    };
    Ok(Json(RemoveSessionsResponse::Ok { session_handles_revoked: revoked }))
}

/// Query of `GET /recipe/session/user`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserQueryParams {
    user_id: String,
    fetch_sessions_for_all_linked_accounts: Option<String>,
    fetch_across_all_tenants: Option<String>,
}

fn flag(v: Option<&str>, name: &str) -> Result<bool, ApiError> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(ApiError::new(Code::InvalidQuery, format!("{name} must be true or false"))),
    }
}

#[utoipa::path(get, path = "/recipe/session/user", tag = "cdi", params(("userId" = String, Query), ("fetchSessionsForAllLinkedAccounts" = Option<bool>, Query), ("fetchAcrossAllTenants" = Option<bool>, Query)), responses((status = 200, body = UserSessionsResponse), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `GET [/<tenant>]/recipe/session/user?userId=`: the handles of the user's live sessions.
pub(crate) async fn user_sessions(
    State(s): State<AppState>, scope: Scope, QueryParams(q): QueryParams<UserQueryParams>,
) -> ApiResult<UserSessionsResponse> {
    let linked = flag(
        q.fetch_sessions_for_all_linked_accounts.as_deref(),
        "fetchSessionsForAllLinkedAccounts",
    )?;
    let across = flag(q.fetch_across_all_tenants.as_deref(), "fetchAcrossAllTenants")?;
    let query = UserQuery {
        app_id: scope.app_id.clone(),
        user_id: q.user_id,
        field: if linked { UserField::User } else { UserField::RecipeUser },
        tenant_id: if across { None } else { Some(scope.tenant()) },
    };
    let handles = s.manager.list_handles(&query).await?;
    Ok(Json(UserSessionsResponse::Ok { session_handles: handles }))
}

#[utoipa::path(post, path = "/recipe/session/regenerate", tag = "cdi", request_body = RegenerateRequest, responses((status = 200, body = RegenerateResponse), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `POST /recipe/session/regenerate`: a new access token for the same session, with new
/// public data when given.
pub(crate) async fn regenerate(
    State(s): State<AppState>, scope: Scope, cdi: CdiVersion,
    JsonBody(req): JsonBody<RegenerateRequest>,
) -> ApiResult<RegenerateResponse> {
    let data = req.user_data_in_jwt.map(|d| public_data_from(cdi, d));
    let resp = match s.manager.regenerate(&req.access_token, data, Some(&scope.app_id)).await {
        Ok(r) => RegenerateResponse::Ok {
            session: session(r.session),
            access_token: r.access_token.map(token),
        },
        Err(Error::Unauthorised(m)) => RegenerateResponse::Unauthorised { message: m.to_owned() },
        Err(Error::SessionNotFound) => {
            RegenerateResponse::Unauthorised { message: SESSION_GONE.to_owned() }
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Json(resp))
}

fn data_result(r: Result<(), Error>) -> ApiResult<UpdateDataResponse> {
    match r {
        Ok(()) => Ok(Json(UpdateDataResponse::Ok)),
        Err(Error::SessionNotFound) => {
            Ok(Json(UpdateDataResponse::Unauthorised { message: SESSION_GONE.to_owned() }))
        }
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(put, path = "/recipe/session/data", tag = "cdi", request_body = UpdateSessionDataRequest, responses((status = 200, body = UpdateDataResponse), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `PUT /recipe/session/data`: replace private data.
pub(crate) async fn update_session_data(
    State(s): State<AppState>, scope: Scope, JsonBody(req): JsonBody<UpdateSessionDataRequest>,
) -> ApiResult<UpdateDataResponse> {
    data_result(
        s.manager
            .set_private_data(
                SessionRef::in_app(&req.session_handle, &scope.app_id),
                req.user_data_in_database,
            )
            .await,
    )
}

#[utoipa::path(put, path = "/recipe/jwt/data", tag = "cdi", request_body = UpdateJwtDataRequest, responses((status = 200, body = UpdateDataResponse), (status = 400, description = "malformed request", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `PUT /recipe/jwt/data`: replace public data (access-token claims from the next issue).
pub(crate) async fn update_jwt_data(
    State(s): State<AppState>, scope: Scope, cdi: CdiVersion,
    JsonBody(req): JsonBody<UpdateJwtDataRequest>,
) -> ApiResult<UpdateDataResponse> {
    data_result(
        s.manager
            .set_public_data(
                SessionRef::in_app(&req.session_handle, &scope.app_id),
                public_data_from(cdi, req.user_data_in_jwt),
            )
            .await,
    )
}

#[utoipa::path(post, path = "/recipe/jwt", tag = "cdi", request_body = CreateJwtRequest, responses((status = 200, body = CreateJwtResponse), (status = 400, description = "malformed request; `INVALID_INPUT` for a `validity` of 0 or over 3153600000 seconds (100 years, the SDKs' default)", body = ErrorBody), (status = 401, description = "missing or invalid API key", body = ErrorBody), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `POST /recipe/jwt`: an id token (seed 000) verifiable from the JWKS.
pub(crate) async fn create_jwt(
    State(s): State<AppState>, scope: Scope, JsonBody(req): JsonBody<CreateJwtRequest>,
) -> ApiResult<CreateJwtResponse> {
    if req.algorithm != s.manager.keys().algorithm().as_str() {
        return Ok(Json(CreateJwtResponse::UnsupportedAlgorithm));
    }
    if req.validity == 0 || req.validity > MAX_JWT_VALIDITY_SECS {
        return Err(ApiError::new(
            Code::InvalidInput,
            format!("validity must be 1 to {MAX_JWT_VALIDITY_SECS} seconds (100 years)"),
        ));
    }
    let jwt = s
        .manager
        .create_id_token(
            &scope.app_id,
            req.payload,
            Duration::from_secs(req.validity),
            req.use_static_signing_key.unwrap_or(true),
            req.jwks_domain.as_deref(),
        )
        .await?;
    Ok(Json(CreateJwtResponse::Ok { jwt: jwt.into_inner() }))
}
