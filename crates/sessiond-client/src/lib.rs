//! # sessiond-client
//!
//! [`Client`]: a typed client for sessiond's HTTP API. Session outcomes (`UNAUTHORISED`,
//! `TRY_REFRESH_TOKEN`, `TOKEN_THEFT_DETECTED`) come back as the enum variants of
//! [`sessiond_api::cdi`]; transport and HTTP errors as [`ClientError`].
//!
//! [`TokenFile`]: a CLI session's tokens in a private file, written atomically under a lock.

mod client;
mod token_file;

pub use client::{Client, ClientError, RevocationStream};
pub use sessiond_api as api;
pub use token_file::{StoredSession, TokenFile, TokenFileError, TokenFileLock};
