//! Request extractors that turn every malformed input into an [`ApiError`] with a stable code.
//!
//! Bodies are parsed as JSON whatever the `Content-Type` says (like the SuperTokens core), up to
//! the configured limit; over it, 413. Syntax errors are `INVALID_JSON`, shape errors
//! (missing field, wrong type) `INVALID_FIELD` with serde's description of the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::scope::Scope;

/// A JSON body of type `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map_or(usize::MAX, |l| l.0);
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::bad_request("INVALID_BODY", "the request body could not be read")
            }
        })?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request(
                "INVALID_JSON",
                "the request body is empty; expected a JSON object",
            ));
        }
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => ApiError::bad_request("INVALID_FIELD", e.to_string()),
                Category::Syntax | Category::Eof | Category::Io => {
                    ApiError::bad_request("INVALID_JSON", format!("malformed JSON: {e}"))
                }
            }
        })
    }
}

/// The configured body limit, made visible to [`JsonBody`] for its error message.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Query parameters of type `T`.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

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
            .map_err(|e| ApiError::bad_request("INVALID_QUERY", e.body_text()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Scope {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Scope>().cloned().unwrap_or_default())
    }
}
