//! sessiond's own endpoints under `/sessiond/v1`.

use serde::{Deserialize, Serialize};

/// A signing key as the API shows it (never its material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Key {
    /// The key id (`kid`), as in the token headers and the JWKS.
    pub kid: String,
    /// `dynamic`, `static`, `service` or `chain`.
    pub kind: String,
    /// The JOSE algorithm the key is fixed to (`RS256`, `EdDSA`, `ES256`, `HS256`).
    pub alg: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// Signs new tokens of its kind.
    pub current: bool,
    /// Sealed with the master key at rest.
    pub sealed: bool,
}

/// `GET /sessiond/v1/keys`, and the response of reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyList {
    /// Keys, newest first.
    pub keys: Vec<Key>,
}

/// Response of `POST /sessiond/v1/keys/rotate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rotated {
    /// The new current dynamic key.
    pub key: Key,
}

/// One session in a "signed-in devices" list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceSession {
    /// The session handle, to revoke this device.
    pub handle: String,
    /// The tenant the session belongs to.
    pub tenant_id: String,
    /// Created (ms).
    pub created_at: i64,
    /// Last active (ms).
    pub last_active_at: i64,
    /// Ends unless refreshed (ms).
    pub expires_at: i64,
    /// Client IP, when the creator passed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// User agent, when the creator passed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// `GET /sessiond/v1/users/{userId}/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSessions {
    /// The user asked about.
    pub user_id: String,
    /// Live sessions, oldest first.
    pub sessions: Vec<DeviceSession>,
}

/// `POST /sessiond/v1/service-tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateServiceToken {
    /// Lifetime in seconds; absent: valid until the next key reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

/// Response of service-token creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceToken {
    /// The token, to send to `…/service-tokens/verify`.
    pub token: String,
    /// Expiry (ms), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// `POST /sessiond/v1/service-tokens/verify`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyServiceToken {
    /// The token to check.
    pub token: String,
}

/// Response of service-token verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceTokenValidity {
    /// Whether the token is valid.
    pub valid: bool,
}

/// `GET /sessiond/v1/sessions/{handle}`: one session with its data and data version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionDetails {
    /// The session handle.
    pub handle: String,
    /// The (primary) user the session is for.
    pub user_id: String,
    /// The login method's user id.
    pub recipe_user_id: String,
    /// The tenant the session belongs to.
    pub tenant_id: String,
    /// Public data (in every access token).
    #[schema(value_type = Object)]
    pub public_data: serde_json::Map<String, serde_json::Value>,
    /// Private data (server only).
    #[schema(value_type = Object)]
    pub private_data: serde_json::Map<String, serde_json::Value>,
    /// Data version, for `PUT …/private-data`.
    pub version: u64,
    /// Created (ms).
    pub created_at: i64,
    /// Last active (ms).
    pub last_active_at: i64,
    /// Ends unless refreshed (ms).
    pub expires_at: i64,
    /// Client IP, when the creator passed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// User agent, when the creator passed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// `PUT /sessiond/v1/sessions/{handle}/private-data`: replace the private data if the data
/// version is still `expectedVersion` (409 `CONFLICT` otherwise: read again and retry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetPrivateData {
    /// The new private data.
    #[schema(value_type = Object)]
    pub private_data: serde_json::Map<String, serde_json::Value>,
    /// The version the caller read.
    pub expected_version: u64,
}

/// Response of `PUT /sessiond/v1/sessions/{handle}/private-data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DataVersion {
    /// The new data version.
    pub version: u64,
}

/// One message of `GET /sessiond/v1/revocations?cursor=N` (server-sent events: each `data:` line
/// is one of these as JSON; `id:` is the cursor of an event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RevocationMessage {
    /// A session was revoked: refuse its access tokens.
    Revoked {
        /// Position in the log; resume after it.
        cursor: u64,
        /// When (ms since the epoch).
        at: i64,
        /// The session handle.
        handle: String,
    },
    /// The signing keys were reset: refetch the JWKS.
    KeysReset {
        /// Position in the log; resume after it.
        cursor: u64,
        /// When (ms since the epoch).
        at: i64,
    },
    /// Events after the requested cursor were trimmed before they could be sent: the client
    /// missed some and must check sessions against the service until their tokens have expired.
    Gap,
    /// Everything up to now has been sent; later events follow as they happen.
    Current,
}
