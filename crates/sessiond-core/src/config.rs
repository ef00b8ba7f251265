//! Session and key policy of a [`SessionManager`](crate::SessionManager).

use std::time::Duration;

use crate::error::Error;
use crate::jose::Algorithm;
use crate::keys::MasterKey;

/// The access-token format a manager issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenFormat {
    /// SuperTokens v5 JWTs, verifiable without the store (the default).
    #[default]
    Jwt,
    /// Seed 000's opaque tokens, `base64url(handle;random;v0)`: every check hits the store.
    Opaque,
}

const DAY: u64 = 24 * 3600;

/// Session and key policy. `Default` mirrors SuperTokens' defaults where it has them.
#[derive(Debug)]
pub struct ManagerConfig {
    /// Lifetime of an access token (default 1 hour).
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token from its issue; each refresh issues a new one (default 100 days).
    pub refresh_token_ttl: Duration,
    /// A session with no activity (create, refresh, database-checked verify) for this long ends
    /// (default 100 days, like the refresh lifetime).
    pub idle_timeout: Duration,
    /// A session ends this long after creation whatever its activity (default 365 days).
    pub absolute_lifetime: Duration,
    /// Retries and concurrent refreshes of the same refresh token within this window get the
    /// same successor instead of tripping theft detection (default 10 s).
    pub refresh_grace: Duration,
    /// Access-token signing algorithm (default RS256, what the SuperTokens SDKs expect).
    pub algorithm: Algorithm,
    /// A new dynamic signing key replaces the current one this often (default 7 days).
    pub key_rotation_interval: Duration,
    /// How often each process reloads keys from the store and does scheduled rotation. This is
    /// the bound on how long other processes take to start signing with a rotated key or to stop
    /// accepting reset keys (default 2 s).
    pub key_sync_interval: Duration,
    /// Access-token format (default JWT).
    pub token_format: TokenFormat,
    /// Seals private key material at rest when set.
    pub master_key: Option<MasterKey>,
    /// A database-checked verify records activity at most this often per session (default 60 s).
    pub touch_interval: Duration,
    /// How often expired sessions are swept from the store (default 60 s).
    pub sweep_interval: Duration,
    /// How many expired sessions one sweep statement deletes (default 1000).
    pub sweep_batch: usize,
    /// Follow the store's revocation log so stateless verification refuses revoked sessions
    /// too (default on; see [`crate::revocation`]).
    pub revocation_feed: bool,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(100 * DAY),
            idle_timeout: Duration::from_secs(100 * DAY),
            absolute_lifetime: Duration::from_secs(365 * DAY),
            refresh_grace: Duration::from_secs(10),
            algorithm: Algorithm::RS256,
            key_rotation_interval: Duration::from_secs(7 * DAY),
            key_sync_interval: Duration::from_secs(2),
            token_format: TokenFormat::Jwt,
            master_key: None,
            touch_interval: Duration::from_secs(60),
            sweep_interval: Duration::from_secs(60),
            sweep_batch: 1000,
            revocation_feed: true,
        }
    }
}

pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl ManagerConfig {
    /// Checks the policy is coherent.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first offending setting.
    pub fn validate(&self) -> Result<(), Error> {
        let positive = [
            ("access_token_ttl", self.access_token_ttl),
            ("refresh_token_ttl", self.refresh_token_ttl),
            ("idle_timeout", self.idle_timeout),
            ("absolute_lifetime", self.absolute_lifetime),
            ("key_rotation_interval", self.key_rotation_interval),
            ("key_sync_interval", self.key_sync_interval),
            ("sweep_interval", self.sweep_interval),
        ];
        for (name, d) in positive {
            if d.is_zero() {
                return Err(Error::Config(format!("{name} must be greater than zero")));
            }
        }
        if self.refresh_grace >= self.refresh_token_ttl {
            return Err(Error::Config(
                "refresh_grace must be shorter than refresh_token_ttl".to_owned(),
            ));
        }
        if self.sweep_batch == 0 {
            return Err(Error::Config("sweep_batch must be at least 1".to_owned()));
        }
        Ok(())
    }
}
