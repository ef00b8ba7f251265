//! The HTTP client.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sessiond_api::cdi::{
    ApiVersion, CreateJwtRequest, CreateJwtResponse, CreateSessionRequest, CreateSessionResponse,
    IssuedSession, RefreshSessionRequest, RefreshSessionResponse, RegenerateRequest,
    RegenerateResponse, RemoveSessionsRequest, RemoveSessionsResponse, SessionInfoResponse,
    UpdateDataResponse, UpdateJwtDataRequest, UpdateSessionDataRequest, UserSessionsResponse,
    VerifySessionRequest, VerifySessionResponse,
};
use sessiond_api::v1::{
    CreateServiceToken, DataVersion, KeyList, RevocationMessage, Rotated, ServiceToken,
    ServiceTokenValidity, SessionDetails, SetPrivateData, UserSessions, VerifyServiceToken,
};
use sessiond_api::{ErrorBody, JsonObject};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The base URL is not an `http://` or `https://` URL.
    #[error("invalid server URL `{0}`: expected http://host:port")]
    InvalidUrl(String),
    /// The server could not be reached or the connection failed.
    #[error("cannot reach sessiond at {url}")]
    Connect {
        /// The server.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an HTTP error.
    #[error("sessiond answered {status}: {code}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// Stable error code (`INVALID_API_KEY`, `STORE_UNAVAILABLE`, …).
        code: String,
        /// Message.
        message: String,
    },
    /// The response was not what the API promises.
    #[error("unexpected response from sessiond: {0}")]
    Decode(String),
    /// A stream sent nothing, not even its keep-alive, for this long: the connection is
    /// presumed dead.
    #[error("the stream from sessiond at {url} was silent for {seconds} s")]
    Stalled {
        /// The server.
        url: String,
        /// How long it was silent.
        seconds: u64,
    },
}

impl ClientError {
    /// The stable error code of an HTTP error, if this is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Http { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A client of one sessiond server.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

type Result<T> = std::result::Result<T, ClientError>;

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:3567`), sending `api_key`
    /// as `api-key` when given.
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`].
    pub fn new(base_url: &str, api_key: Option<&str>) -> Result<Self> {
        let base = base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::InvalidUrl(base_url.to_owned()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        Ok(Self { http, base, api_key: api_key.map(str::to_owned) })
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = &self.api_key {
            rb = rb.header("api-key", k);
        }
        rb.header("rid", "session")
    }

    async fn send<T: DeserializeOwned>(&self, rb: RequestBuilder) -> Result<T> {
        let resp = rb
            .send()
            .await
            .map_err(|source| ClientError::Connect { url: self.base.clone(), source })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Connect { url: self.base.clone(), source })?;
        if status != StatusCode::OK {
            return Err(http_error(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self, path: &str, body: &B,
    ) -> Result<T> {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self, path: &str, body: &B,
    ) -> Result<T> {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T> {
        self.send(self.request(Method::GET, path).query(query)).await
    }

    /// `GET /apiversion`.
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn api_version(&self) -> Result<ApiVersion> {
        self.get("/apiversion", &[]).await
    }

    /// Creates a session in `tenant` (default `public`).
    ///
    /// # Errors
    /// Transport and HTTP errors (`INVALID_INPUT` for a bad user id or protected claim).
    pub async fn create_session(
        &self, tenant: Option<&str>, req: &CreateSessionRequest,
    ) -> Result<IssuedSession> {
        let path = format!("/{}/recipe/session", tenant.unwrap_or("public"));
        let CreateSessionResponse::Ok(s) = self.post(&path, req).await?;
        Ok(s)
    }

    /// Verifies an access token.
    ///
    /// # Errors
    /// Transport and HTTP errors; an invalid token is a response variant, not an error.
    pub async fn verify_session(
        &self, req: &VerifySessionRequest,
    ) -> Result<VerifySessionResponse> {
        self.post("/recipe/session/verify", req).await
    }

    /// Refreshes a session.
    ///
    /// # Errors
    /// Transport and HTTP errors; refusal and theft are response variants.
    pub async fn refresh_session(
        &self, req: &RefreshSessionRequest,
    ) -> Result<RefreshSessionResponse> {
        self.post("/recipe/session/refresh", req).await
    }

    /// Everything about a session.
    ///
    /// # Errors
    /// Transport and HTTP errors; a missing session is a response variant.
    pub async fn session_info(&self, handle: &str) -> Result<SessionInfoResponse> {
        self.get("/recipe/session", &[("sessionHandle", handle)]).await
    }

    /// Revokes sessions by handle or by user; returns the revoked handles.
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn remove_sessions(
        &self, tenant: Option<&str>, req: &RemoveSessionsRequest,
    ) -> Result<Vec<String>> {
        let path = match tenant {
            Some(t) => format!("/{t}/recipe/session/remove"),
            None => "/recipe/session/remove".to_owned(),
        };
        let RemoveSessionsResponse::Ok { session_handles_revoked } = self.post(&path, req).await?;
        Ok(session_handles_revoked)
    }

    /// Handles of a user's live sessions (every tenant, every linked account).
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn user_session_handles(&self, user_id: &str) -> Result<Vec<String>> {
        let UserSessionsResponse::Ok { session_handles } =
            self.get("/recipe/session/user", &[("userId", user_id)]).await?;
        Ok(session_handles)
    }

    /// Replaces the public data of a token's session and re-issues the token.
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn regenerate(
        &self, access_token: &str, data: Option<JsonObject>,
    ) -> Result<RegenerateResponse> {
        let req =
            RegenerateRequest { access_token: access_token.to_owned(), user_data_in_jwt: data };
        self.post("/recipe/session/regenerate", &req).await
    }

    /// Replaces a session's private data.
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn update_session_data(
        &self, handle: &str, data: JsonObject,
    ) -> Result<UpdateDataResponse> {
        let req = UpdateSessionDataRequest {
            session_handle: handle.to_owned(),
            user_data_in_database: data,
        };
        self.put("/recipe/session/data", &req).await
    }

    /// Replaces a session's public data.
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn update_jwt_data(
        &self, handle: &str, data: JsonObject,
    ) -> Result<UpdateDataResponse> {
        let req =
            UpdateJwtDataRequest { session_handle: handle.to_owned(), user_data_in_jwt: data };
        self.put("/recipe/jwt/data", &req).await
    }

    /// Signs an id token.
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn create_jwt(&self, req: &CreateJwtRequest) -> Result<CreateJwtResponse> {
        self.post("/recipe/jwt", req).await
    }

    /// The JWKS.
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn jwks(&self) -> Result<serde_json::Value> {
        self.get("/.well-known/jwks.json", &[]).await
    }

    /// Signing keys (never their material).
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn keys(&self) -> Result<KeyList> {
        self.get("/sessiond/v1/keys", &[]).await
    }

    /// Rotates the dynamic signing key.
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn rotate_keys(&self) -> Result<Rotated> {
        self.post("/sessiond/v1/keys/rotate", &serde_json::json!({})).await
    }

    /// Replaces every signing key: all outstanding access, id and service tokens fail.
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn reset_keys(&self) -> Result<KeyList> {
        self.post("/sessiond/v1/keys/reset", &serde_json::json!({})).await
    }

    /// A user's live sessions with device details.
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn user_sessions(&self, user_id: &str) -> Result<UserSessions> {
        let path = format!("/sessiond/v1/users/{}/sessions", encode_segment(user_id));
        self.get(&path, &[]).await
    }

    /// Creates a service token.
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn create_service_token(&self, expires_in: Option<u64>) -> Result<ServiceToken> {
        self.post("/sessiond/v1/service-tokens", &CreateServiceToken { expires_in }).await
    }

    /// Verifies a service token.
    ///
    /// # Errors
    /// Transport and HTTP errors.
    pub async fn verify_service_token(&self, token: &str) -> Result<bool> {
        let r: ServiceTokenValidity = self
            .post(
                "/sessiond/v1/service-tokens/verify",
                &VerifyServiceToken { token: token.to_owned() },
            )
            .await?;
        Ok(r.valid)
    }

    /// Opens `GET /sessiond/v1/revocations?cursor=N`: the service's revocation log from after
    /// `cursor` (0: everything still kept), then each new event as it happens.
    ///
    /// # Errors
    /// Transport and HTTP errors opening the stream.
    pub async fn revocations(&self, cursor: u64) -> Result<RevocationStream> {
        let rb = self
            .request(Method::GET, "/sessiond/v1/revocations")
            .query(&[("cursor", cursor.to_string())])
            .header("accept", "text/event-stream")
            // The stream is long-lived: the client's 30 s request limit would cut it. A silent
            // connection is caught by `RevocationStream::next` instead; after a day the caller
            // reconnects from its cursor.
            .timeout(Duration::from_secs(24 * 3600));
        let resp = rb
            .send()
            .await
            .map_err(|source| ClientError::Connect { url: self.base.clone(), source })?;
        let status = resp.status();
        if status != StatusCode::OK {
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(http_error(status, &bytes));
        }
        Ok(RevocationStream { resp, buf: Vec::new(), url: self.base.clone() })
    }

    /// `GET /sessiond/v1/sessions/{handle}`: one session with its data and data version.
    ///
    /// # Errors
    /// Transport and HTTP errors (`SESSION_NOT_FOUND` when there is no such live session).
    pub async fn session_details(&self, handle: &str) -> Result<SessionDetails> {
        self.get(&format!("/sessiond/v1/sessions/{}", encode_segment(handle)), &[]).await
    }

    /// `PUT /sessiond/v1/sessions/{handle}/private-data`: replaces the private data if the data
    /// version is still `expected_version`. Returns the new version, or `None` when the version
    /// moved (read again and retry).
    ///
    /// # Errors
    /// Transport and HTTP errors (`SESSION_NOT_FOUND` when there is no such live session).
    pub async fn set_private_data(
        &self, handle: &str, data: &serde_json::Map<String, serde_json::Value>,
        expected_version: u64,
    ) -> Result<Option<u64>> {
        let req = SetPrivateData { private_data: data.clone(), expected_version };
        let path = format!("/sessiond/v1/sessions/{}/private-data", encode_segment(handle));
        match self.put::<_, DataVersion>(&path, &req).await {
            Ok(v) => Ok(Some(v.version)),
            Err(ClientError::Http { status: 409, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /readyz`.
    ///
    /// # Errors
    /// Transport errors; `STORE_UNAVAILABLE` when the store is down.
    pub async fn ready(&self) -> Result<serde_json::Value> {
        self.get("/readyz", &[]).await
    }
}

/// How long a stream may stay silent before it is presumed dead.
const STREAM_SILENCE: Duration = Duration::from_secs(45);

/// The revocation log as it streams in (see [`Client::revocations`]).
#[derive(Debug)]
pub struct RevocationStream {
    resp: reqwest::Response,
    buf: Vec<u8>,
    url: String,
}

impl RevocationStream {
    /// The next message; `None` when the service closed the stream.
    ///
    /// # Errors
    /// Transport errors, and a message that does not parse.
    pub async fn next(&mut self) -> Option<Result<RevocationMessage>> {
        loop {
            // One server-sent event ends with a blank line.
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = self.buf.drain(..end + 2).collect();
                let text = String::from_utf8_lossy(&frame);
                let data: String = text
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect::<Vec<_>>()
                    .join("\n");
                if data.is_empty() {
                    continue; // a comment (keep-alive) or an empty event
                }
                return Some(
                    serde_json::from_str(&data).map_err(|e| ClientError::Decode(e.to_string())),
                );
            }
            // The service sends a keep-alive every 15 s; three missed ones mean a dead link.
            let read = tokio::time::timeout(STREAM_SILENCE, self.resp.chunk()).await;
            match read {
                Err(_) => {
                    return Some(Err(ClientError::Stalled {
                        url: self.url.clone(),
                        seconds: STREAM_SILENCE.as_secs(),
                    }));
                }
                Ok(Ok(Some(chunk))) => self.buf.extend_from_slice(&chunk),
                Ok(Ok(None)) => return None,
                Ok(Err(source)) => {
                    return Some(Err(ClientError::Connect { url: self.url.clone(), source }));
                }
            }
        }
    }
}

/// Percent-encodes a path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The error for a non-200 answer: the server's `{code, message}` body, or `HTTP_ERROR` with
/// the body as text when it is not one.
fn http_error(status: StatusCode, body: &[u8]) -> ClientError {
    let (code, message) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => (b.code, b.message),
        Err(_) => ("HTTP_ERROR".to_owned(), String::from_utf8_lossy(body).trim().to_owned()),
    };
    ClientError::Http { status: status.as_u16(), code, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(encode_segment("ünï"), "%C3%BCn%C3%AF");
    }

    #[test]
    fn urls_must_be_http() {
        assert!(Client::new("localhost:3567", None).is_err());
        assert!(Client::new("http://127.0.0.1:3567/", None).is_ok());
    }
}
