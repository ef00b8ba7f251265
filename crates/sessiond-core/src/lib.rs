//! # sessiond-core
//!
//! Session management without HTTP and without SQL: the [`SessionManager`], the token formats
//! (strict JWS on `ring`, rotating refresh tokens, opaque access tokens), the signing-key
//! manager, and the [`Store`] trait with an in-memory implementation.
//!
//! One request through the core, e.g. a refresh:
//! `SessionManager::refresh` decodes the refresh token → loads the session from the [`Store`] →
//! decides (rotate / reissue within the grace window / theft / forged) → compare-and-swaps the
//! refresh hash in the store → signs a new access token with the current key from the
//! [`KeyManager`].
//!
//! ```
//! use std::sync::Arc;
//! use sessiond_core::{ManagerConfig, MemoryStore, NewSession, SessionManager, VerifyOptions};
//! use sessiond_core::jose::Algorithm;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sessiond_core::Error> {
//! let config = ManagerConfig { algorithm: Algorithm::EdDSA, ..ManagerConfig::default() };
//! let manager = SessionManager::new(Arc::new(MemoryStore::new()), config)?;
//! let created = manager.create(NewSession::new("alice")).await?;
//! let verified = manager
//!     .verify(created.tokens.access.token.expose(), VerifyOptions::default())
//!     .await?;
//! assert_eq!(verified.session.user_id, "alice");
//! # Ok(()) }
//! ```

pub mod b64;
pub mod cache;
pub mod clock;
pub mod config;
pub mod error;
pub mod jose;
pub mod keys;
pub mod manager;
pub mod model;
pub mod revocation;
pub mod secret;
pub mod store;
mod telemetry;
pub mod tokens;

pub use clock::{Clock, ManualClock, Millis, SystemClock};
pub use config::{ManagerConfig, TokenFormat};
pub use error::{Code, Error, error_chain};
pub use keys::{KeyInfo, KeyManager, MasterKey};
pub use manager::MAX_PUBLIC_DATA_LEN;
pub use manager::admin::Regenerated;
pub use manager::{
    IssuedSession, IssuedToken, IssuedTokens, JsonObject, NewSession, RefreshOptions, SessionInfo,
    SessionManager, SessionRef, SessionSummary, StartOptions, VerifiedSession, VerifyOptions,
};
pub use model::{ClientInfo, KeyKind, KeyRecord, SessionRecord, UserField, UserQuery};
pub use secret::SecretString;
pub use store::{MemoryStore, Store, StoreError};
