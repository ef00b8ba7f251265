//! Token formats: refresh tokens and their derivation chain, opaque access tokens, and the
//! claims of SuperTokens v5 access tokens.

pub mod access;
pub mod chain;
pub mod opaque;
pub mod refresh;
