//! The verified-token cache of cookie sessions: `sessiond_core::cache::VerifiedCache` holding
//! opened tokens (expiry in seconds).

use crate::claims::Claims;

pub(crate) use sessiond_core::cache::VerifiedCache;

/// A token that opened, with the key that opened it.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) claims: Claims,
    pub(crate) kid: String,
}

/// The cache of opened cookie tokens.
pub(crate) type OpenedCache = VerifiedCache<Opened>;
