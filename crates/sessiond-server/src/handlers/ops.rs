//! Operations endpoints: liveness (`/healthz`), readiness (`/readyz`), metrics (`/metrics`).
//! (`/openapi.json` is served by [`crate::openapi`], which owns the document.)

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;
use sessiond_api::ErrorBody;
use sessiond_core::Code;

#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "the process is alive", body = Object)))]
/// `GET /healthz`: the process is alive.
pub(crate) async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "OK" }))
}

#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, description = "the store answers", body = Object), (status = 503, description = "store unavailable", body = ErrorBody)))]
/// `GET /readyz`: the store answers (503 otherwise).
pub(crate) async fn readyz(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    s.manager.store().ping().await.map_err(ApiError::StoreUnavailable)?;
    Ok(Json(json!({ "status": "OK", "store": s.manager.store().backend() })))
}

#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    match s.metrics.render() {
        Some(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            text,
        )
            .into_response(),
        None => {
            ApiError::new(Code::NotFound, "metrics are not enabled in this process").into_response()
        }
    }
}
