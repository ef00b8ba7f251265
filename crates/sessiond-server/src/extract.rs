//! Request extractors that turn every malformed input into an [`ApiError`] with a stable code.
//!
//! Bodies are parsed as JSON whatever the `Content-Type` says (like the SuperTokens core), up to
//! the configured limit; over it, 413. Syntax errors are `INVALID_JSON`, shape errors
//! (missing field, wrong type) `INVALID_FIELD` with serde's description of the field.

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use sessiond_core::Code;

use crate::connections::BodyDeadline;
use crate::error::ApiError;
use crate::scope::Scope;

/// A JSON body of type `T`.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let limit = req.extensions().get::<BodyLimit>().map_or(DEFAULT_LIMIT, |l| l.0);
        let bytes = read_limited(req, limit).await?;
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        match first {
            None => {
                return Err(ApiError::new(
                    Code::InvalidJson,
                    "the request body is empty; expected a JSON object",
                ));
            }
            Some(b'{') => {}
            Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err() => {
                return Err(ApiError::new(Code::InvalidJson, "malformed JSON"));
            }
            Some(_) => {
                return Err(ApiError::new(
                    Code::InvalidField,
                    "the request body must be a JSON object",
                ));
            }
        }
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => ApiError::new(Code::InvalidField, e.to_string()),
                Category::Syntax | Category::Eof | Category::Io => {
                    ApiError::new(Code::InvalidJson, format!("malformed JSON: {e}"))
                }
            }
        })
    }
}

/// Limit used when the router did not set one.
const DEFAULT_LIMIT: usize = 1024 * 1024;
/// An oversized body is read and dropped up to this multiple of the limit before the 413 goes
/// out, so the client gets to read the answer instead of a reset connection.
const DRAIN_FACTOR: usize = 16;

async fn read_limited(req: Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    match req.extensions().get::<BodyDeadline>().copied() {
        Some(d) => tokio::time::timeout_at(d.at, read_body(req, limit)).await.map_err(|_| {
            ApiError::new(
                Code::RequestTimeout,
                format!("the request body did not arrive within {} s", d.secs),
            )
        })?,
        None => read_body(req, limit).await,
    }
}

async fn read_body(req: Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut body = req.into_body();
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|_| ApiError::new(Code::InvalidBody, "the request body could not be read"))?;
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen <= limit {
                buf.extend_from_slice(&data);
            } else if seen > limit.saturating_mul(DRAIN_FACTOR) {
                break;
            }
        }
    }
    if seen > limit {
        return Err(ApiError::new(
            Code::PayloadTooLarge,
            format!("request body exceeds {limit} bytes"),
        ));
    }
    Ok(buf)
}

/// The configured body limit, made visible to [`JsonBody`] for its error message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit(pub(crate) usize);

/// Query parameters of type `T`.
#[derive(Debug)]
pub(crate) struct QueryParams<T>(pub(crate) T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| QueryParams(v))
            .map_err(|e| ApiError::new(Code::InvalidQuery, e.body_text()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Scope {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Scope>().cloned().unwrap_or_default())
    }
}

/// The CDI version a request was made with: SDKs send the one they negotiated through
/// `/apiversion` in a `cdi-version` header. `None` when absent or unreadable (the latest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CdiVersion(pub(crate) Option<(u32, u32)>);

impl CdiVersion {
    /// Whether the request speaks a CDI before 4.0, whose access tokens have no `rsub` claim:
    /// SDKs of that time treat an `rsub` they find in a token as user data.
    pub(crate) fn before_account_linking(self) -> bool {
        self.0.is_some_and(|(major, _)| major < 4)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CdiVersion {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let v = parts
            .headers
            .get("cdi-version")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once('.'))
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
        Ok(CdiVersion(v))
    }
}
