//! The wire types of sessiond's HTTP API: CDI request/response bodies and `/sessiond/v1` types,
//! shared by the server and the client.
//!
//! [`cdi`] holds the SuperTokens Core Driver Interface 5.4 shapes (statuses travel in the body
//! with HTTP 200, as the SDKs expect); [`v1`] holds sessiond's own `/sessiond/v1` shapes;
//! [`ErrorBody`] is the body of every 4xx/5xx. Because the server and the typed client both
//! (de)serialise these types, they cannot disagree on the wire format; `tests/wire_format.rs`
//! pins the JSON byte for byte.

pub mod cdi;
pub mod v1;

use serde::{Deserialize, Serialize};

/// A JSON object.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// The CDI versions this server speaks (`GET /apiversion`).
pub const CDI_VERSIONS: &[&str] = &["3.0", "3.1", "4.0", "5.0", "5.1", "5.2", "5.3", "5.4"];

/// The body of every HTTP error (4xx, 5xx): a stable machine-readable code and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable error code, e.g. `INVALID_JSON`, `PAYLOAD_TOO_LARGE`, `STORE_UNAVAILABLE`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}
