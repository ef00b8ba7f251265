//! Settings of `sessiond serve`: defaults, then a TOML file, then `SESSIOND_*` environment
//! variables, then command-line flags (each later source wins).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use sessiond_core::jose::Algorithm;
use sessiond_core::{ManagerConfig, MasterKey, TokenFormat};

/// The default store: an SQLite file under `./sessiond-data/`.
pub const DEFAULT_STORE: &str = "sqlite://sessiond-data/sessiond.db";
/// The default listen address (loopback only).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3567";

/// Default [`Settings::header_read_timeout`], seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT: u64 = 10;
/// Default [`Settings::body_read_timeout`], seconds.
pub const DEFAULT_BODY_READ_TIMEOUT: u64 = 30;
/// Default [`Settings::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default [`Settings::shutdown_timeout`], seconds.
pub const DEFAULT_SHUTDOWN_TIMEOUT: u64 = 30;

/// A setting that cannot be used; the message names it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The path given for the config file.
        path: String,
        /// The I/O error (not found, permission denied…).
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML for these settings.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The path of the config file.
        path: String,
        /// The TOML error, naming the key and the line.
        #[source]
        source: toml::de::Error,
    },
    /// An API key file cannot be used.
    #[error("API key file {path}: {message}")]
    ApiKeyFile {
        /// The path of the API key file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or unknown.
    #[error("invalid value for setting `{setting}`: {message}")]
    Invalid {
        /// The setting's name (TOML key).
        setting: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn invalid(setting: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid { setting, message: message.into() }
}

/// How log lines are written: for people (`text`) or for a log pipeline (`json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Every setting of the server. Field names are the TOML keys; the environment variable is
/// `SESSIOND_` + the key in upper case; the flag is `--` + the key with `-` for `_`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Store URL: `sqlite://PATH`, `memory://`, `postgres://…`, `redis://…`,
    /// `redis+cluster://h:p,h:p`.
    pub store: String,
    /// API keys; any one is accepted. Empty (and no [`Settings::api_key_file`]): no key needed,
    /// loopback only.
    pub api_keys: Vec<String>,
    /// Files holding one API key each (content trimmed), accepted besides `api_keys`. A file
    /// that other users can read or write is refused. TOML: a path or a list of paths.
    #[serde(deserialize_with = "one_or_many")]
    pub api_key_file: Vec<PathBuf>,
    /// Access-token lifetime, seconds.
    pub access_token_ttl: u64,
    /// Refresh-token lifetime, seconds.
    pub refresh_token_ttl: u64,
    /// Idle timeout, seconds.
    pub idle_timeout: u64,
    /// Absolute session lifetime, seconds.
    pub absolute_lifetime: u64,
    /// Refresh grace window, seconds.
    pub refresh_grace: u64,
    /// Dynamic signing-key rotation interval, seconds.
    pub key_rotation_interval: u64,
    /// How often keys are re-read from the store, seconds.
    pub key_sync_interval: u64,
    /// Access-token signing algorithm: RS256, EdDSA, ES256, HS256.
    pub algorithm: String,
    /// Access-token format: `jwt` or `opaque`.
    pub token_format: String,
    /// Issue anti-CSRF tokens when a create request does not say.
    pub anti_csrf: bool,
    /// Largest accepted request body, bytes.
    pub body_limit: usize,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Log filter (`info`, `debug`, `sessiond_server=debug,info`, …).
    pub log_level: String,
    /// Master key (32 bytes, hex or base64url) sealing private keys at rest.
    pub master_key: Option<String>,
    /// Expired-session sweep interval, seconds.
    pub sweep_interval: u64,
    /// How long a client has to send a request's line and headers, seconds; also how long an
    /// idle keep-alive connection stays open.
    pub header_read_timeout: u64,
    /// How long a client has to send a request's whole body once its headers are in, seconds
    /// (then 408 `REQUEST_TIMEOUT`).
    pub body_read_timeout: u64,
    /// Most connections open at once; more wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// On SIGTERM / Ctrl-C, how long in-flight requests get to finish before the connections
    /// still open are closed, seconds.
    pub shutdown_timeout: u64,
}

/// A TOML value that is one item or a list of items.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(v) => v,
    })
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("store", &redact_url(&self.store))
            .field("api_keys", &format_args!("<{} redacted>", self.api_keys.len()))
            .field("api_key_file", &self.api_key_file)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_lifetime", &self.absolute_lifetime)
            .field("refresh_grace", &self.refresh_grace)
            .field("key_rotation_interval", &self.key_rotation_interval)
            .field("key_sync_interval", &self.key_sync_interval)
            .field("algorithm", &self.algorithm)
            .field("token_format", &self.token_format)
            .field("anti_csrf", &self.anti_csrf)
            .field("body_limit", &self.body_limit)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("master_key", &self.master_key.as_ref().map(|_| "<redacted>"))
            .field("sweep_interval", &self.sweep_interval)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish()
    }
}

pub use crate::redact::redact_url;

impl Default for Settings {
    fn default() -> Self {
        let m = ManagerConfig::default();
        Self {
            listen: DEFAULT_LISTEN.parse().unwrap_or_else(|_| ([127, 0, 0, 1], 3567).into()),
            store: DEFAULT_STORE.to_owned(),
            api_keys: Vec::new(),
            api_key_file: Vec::new(),
            access_token_ttl: m.access_token_ttl.as_secs(),
            refresh_token_ttl: m.refresh_token_ttl.as_secs(),
            idle_timeout: m.idle_timeout.as_secs(),
            absolute_lifetime: m.absolute_lifetime.as_secs(),
            refresh_grace: m.refresh_grace.as_secs(),
            key_rotation_interval: m.key_rotation_interval.as_secs(),
            key_sync_interval: m.key_sync_interval.as_secs(),
            algorithm: "RS256".to_owned(),
            token_format: "jwt".to_owned(),
            anti_csrf: false,
            body_limit: 1024 * 1024,
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
            master_key: None,
            sweep_interval: m.sweep_interval.as_secs(),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

impl Settings {
    /// Defaults overlaid with the TOML file at `path`.
    ///
    /// # Errors
    /// [`SettingsError::Read`] / [`SettingsError::Parse`] naming the file and key.
    pub fn from_file(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SettingsError::Read { path: path.display().to_string(), source })?;
        toml::from_str(&text)
            .map_err(|source| SettingsError::Parse { path: path.display().to_string(), source })
    }

    /// Checks every value and builds the manager's policy.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the first bad setting.
    pub fn manager_config(&self) -> Result<ManagerConfig, SettingsError> {
        let secs = |name: &'static str, v: u64| {
            if v == 0 {
                Err(invalid(name, "must be at least 1 second"))
            } else {
                Ok(Duration::from_secs(v))
            }
        };
        let algorithm = Algorithm::parse(&self.algorithm).ok_or_else(|| {
            invalid(
                "algorithm",
                format!("`{}` is not one of RS256, EdDSA, ES256, HS256", self.algorithm),
            )
        })?;
        let token_format = match self.token_format.as_str() {
            "jwt" => TokenFormat::Jwt,
            "opaque" => TokenFormat::Opaque,
            other => {
                return Err(invalid("token_format", format!("`{other}` is not `jwt` or `opaque`")));
            }
        };
        let master_key = self
            .master_key
            .as_deref()
            .map(MasterKey::parse)
            .transpose()
            .map_err(|e| invalid("master_key", e.to_string()))?;
        if self.body_limit < 1024 {
            return Err(invalid("body_limit", "must be at least 1024 bytes"));
        }
        for (i, k) in self.api_keys.iter().enumerate() {
            if !valid_api_key(k) {
                return Err(invalid(
                    "api_keys",
                    format!(
                        "key #{} must be at least 20 printable characters without spaces",
                        i + 1
                    ),
                ));
            }
        }
        secs("header_read_timeout", self.header_read_timeout)?;
        secs("body_read_timeout", self.body_read_timeout)?;
        secs("shutdown_timeout", self.shutdown_timeout)?;
        if self.max_connections == 0 {
            return Err(invalid("max_connections", "must be at least 1"));
        }
        // Tokio's semaphore holds at most this many permits.
        if self.max_connections > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(invalid(
                "max_connections",
                format!("must be at most {}", tokio::sync::Semaphore::MAX_PERMITS),
            ));
        }
        let cfg = ManagerConfig {
            access_token_ttl: secs("access_token_ttl", self.access_token_ttl)?,
            refresh_token_ttl: secs("refresh_token_ttl", self.refresh_token_ttl)?,
            idle_timeout: secs("idle_timeout", self.idle_timeout)?,
            absolute_lifetime: secs("absolute_lifetime", self.absolute_lifetime)?,
            refresh_grace: Duration::from_secs(self.refresh_grace),
            algorithm,
            key_rotation_interval: secs("key_rotation_interval", self.key_rotation_interval)?,
            key_sync_interval: secs("key_sync_interval", self.key_sync_interval)?,
            token_format,
            master_key,
            sweep_interval: secs("sweep_interval", self.sweep_interval)?,
            ..ManagerConfig::default()
        };
        cfg.validate().map_err(|e| invalid("refresh_grace", e.to_string()))?;
        Ok(cfg)
    }
}

fn valid_api_key(k: &str) -> bool {
    k.len() >= 20 && !k.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Settings {
    /// Every accepted API key: `api_keys`, then one from each `api_key_file`.
    ///
    /// # Errors
    /// [`SettingsError::ApiKeyFile`] naming a file that cannot be read, that other users can
    /// read or write (mode `& 0o077 != 0`), or whose key is too short or holds spaces.
    ///
    /// # Security
    /// The key in a file is as secret as a password: a file readable by other accounts is
    /// refused rather than trusted, as the client's token file is.
    pub fn all_api_keys(&self) -> Result<Vec<String>, SettingsError> {
        let mut keys = self.api_keys.clone();
        for path in &self.api_key_file {
            keys.push(read_api_key_file(path)?);
        }
        Ok(keys)
    }

    /// The header-read timeout.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout.max(1))
    }

    /// The body-read timeout.
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout.max(1))
    }

    /// The shutdown deadline.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout.max(1))
    }
}

fn read_api_key_file(path: &Path) -> Result<String, SettingsError> {
    let shown = path.display().to_string();
    let err = |message: String| SettingsError::ApiKeyFile { path: shown.clone(), message };
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    if !meta.is_file() {
        return Err(err("not a regular file".to_owned()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "refusing it: other users can access it (mode {mode:o}), and it holds an API key: run `chmod 600 {shown}`"
            )));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    let key = text.trim();
    if key.is_empty() {
        return Err(err("it is empty".to_owned()));
    }
    if !valid_api_key(key) {
        return Err(err(
            "its key must be at least 20 printable characters without spaces (one key per file)"
                .to_owned(),
        ));
    }
    Ok(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = Settings::default();
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(s.store, DEFAULT_STORE);
        s.manager_config().unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_types_name_the_key() {
        let e = toml::from_str::<Settings>("acces_token_ttl = 5").unwrap_err().to_string();
        assert!(e.contains("acces_token_ttl"), "{e}");
        let e = toml::from_str::<Settings>("access_token_ttl = \"soon\"").unwrap_err().to_string();
        assert!(e.contains("access_token_ttl"), "{e}");
    }

    /// A setting's name and a change that makes it invalid.
    type BadValue = (&'static str, fn(&mut Settings));

    /// Asserts that each `(name, change)` makes [`Settings::manager_config`] fail naming it.
    fn refused_naming_the_setting(cases: &[BadValue]) {
        for (name, change) in cases {
            let mut s = Settings::default();
            change(&mut s);
            let e = s.manager_config().unwrap_err().to_string();
            assert!(e.contains(&format!("`{name}`")), "{name}: {e}");
        }
    }

    #[test]
    fn bad_values_name_the_setting() {
        refused_naming_the_setting(&[
            ("algorithm", |s| s.algorithm = "none".into()),
            ("access_token_ttl", |s| s.access_token_ttl = 0),
            ("master_key", |s| s.master_key = Some("short".into())),
            ("api_keys", |s| s.api_keys = vec!["short".into()]),
        ]);
    }

    #[test]
    fn connection_limits_and_key_files_come_from_toml() {
        let s: Settings = toml::from_str(
            "header_read_timeout = 5\nbody_read_timeout = 6\nmax_connections = 7\n\
             shutdown_timeout = 8\napi_key_file = \"/run/secrets/k\"\n",
        )
        .unwrap();
        assert_eq!(
            (
                s.header_read_timeout(),
                s.body_read_timeout(),
                s.max_connections,
                s.shutdown_timeout()
            ),
            (Duration::from_secs(5), Duration::from_secs(6), 7, Duration::from_secs(8))
        );
        assert_eq!(s.api_key_file, vec![PathBuf::from("/run/secrets/k")]);
        let s: Settings = toml::from_str("api_key_file = [\"/a\", \"/b\"]").unwrap();
        assert_eq!(s.api_key_file.len(), 2);
        let d = Settings::default();
        assert_eq!(
            (d.header_read_timeout, d.body_read_timeout, d.max_connections, d.shutdown_timeout),
            (10, 30, 10_000, 30)
        );
        refused_naming_the_setting(&[
            ("header_read_timeout", |s| s.header_read_timeout = 0),
            ("body_read_timeout", |s| s.body_read_timeout = 0),
            ("max_connections", |s| s.max_connections = 0),
            ("shutdown_timeout", |s| s.shutdown_timeout = 0),
        ]);
    }

    #[test]
    fn debug_redacts_secrets() {
        let s = Settings {
            api_keys: vec!["super-secret-api-key-123456".into()],
            master_key: Some("ab".repeat(32)),
            store: "postgres://u:hunter2@db/x".into(),
            ..Settings::default()
        };
        let d = format!("{s:?}");
        assert!(
            !d.contains("super-secret") && !d.contains("abab") && !d.contains("hunter2"),
            "{d}"
        );
        for store in
            ["postgres://u:p@ss@host/db", "postgres://u:p%40ss@host/db", "redis://:p@ss@host:6379"]
        {
            let s = Settings { store: store.into(), ..Settings::default() };
            let d = format!("{s:?}");
            assert!(!d.contains("p@ss") && !d.contains("p%40ss") && !d.contains("ss@"), "{d}");
            assert!(d.contains("***@host"), "{d}");
        }
    }
}
