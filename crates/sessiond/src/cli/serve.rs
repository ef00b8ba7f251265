//! `sessiond serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use sessiond_server::Settings;
use sessiond_server::settings::LogFormat;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

/// Flags of `sessiond serve`; each also reads `SESSIOND_<NAME>` and overrides the config file.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// TOML config file.
    #[arg(long, env = "SESSIOND_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address [default: 127.0.0.1:3567].
    #[arg(long, env = "SESSIOND_LISTEN")]
    listen: Option<SocketAddr>,
    /// Store URL: sqlite://PATH, memory://, postgres://…, redis://…, redis+cluster://h:p,h:p
    /// [default: sqlite://sessiond-data/sessiond.db].
    #[arg(long, env = "SESSIOND_STORE", hide_env_values = true)]
    store: Option<String>,
    /// API key (repeat, or comma-separate in SESSIOND_API_KEYS, for several during rotation;
    /// SESSIOND_API_KEY, which the client commands read, is taken too).
    #[arg(
        long = "api-key",
        env = "SESSIOND_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    api_keys: Vec<String>,
    /// File holding an API key (trimmed; must not be readable by other users). Repeat, or
    /// comma-separate in SESSIOND_API_KEY_FILE, for several; combines with --api-key.
    #[arg(
        long = "api-key-file",
        env = "SESSIOND_API_KEY_FILE",
        value_delimiter = ',',
        value_name = "PATH"
    )]
    api_key_file: Vec<PathBuf>,
    /// Access-token lifetime, seconds [default: 3600].
    #[arg(long, env = "SESSIOND_ACCESS_TOKEN_TTL", value_name = "SECS")]
    access_token_ttl: Option<u64>,
    /// Refresh-token lifetime, seconds [default: 8640000 (100 days)].
    #[arg(long, env = "SESSIOND_REFRESH_TOKEN_TTL", value_name = "SECS")]
    refresh_token_ttl: Option<u64>,
    /// Idle timeout, seconds [default: 8640000].
    #[arg(long, env = "SESSIOND_IDLE_TIMEOUT", value_name = "SECS")]
    idle_timeout: Option<u64>,
    /// Absolute session lifetime, seconds [default: 31536000 (365 days)].
    #[arg(long, env = "SESSIOND_ABSOLUTE_LIFETIME", value_name = "SECS")]
    absolute_lifetime: Option<u64>,
    /// Refresh grace window, seconds [default: 10].
    #[arg(long, env = "SESSIOND_REFRESH_GRACE", value_name = "SECS")]
    refresh_grace: Option<u64>,
    /// Signing-key rotation interval, seconds [default: 604800 (7 days)].
    #[arg(long, env = "SESSIOND_KEY_ROTATION_INTERVAL", value_name = "SECS")]
    key_rotation_interval: Option<u64>,
    /// Key re-read interval, seconds [default: 2].
    #[arg(long, env = "SESSIOND_KEY_SYNC_INTERVAL", value_name = "SECS")]
    key_sync_interval: Option<u64>,
    /// Access-token algorithm: RS256, EdDSA, ES256, HS256 [default: RS256].
    #[arg(long, env = "SESSIOND_ALGORITHM")]
    algorithm: Option<String>,
    /// Access-token format: jwt or opaque [default: jwt].
    #[arg(long, env = "SESSIOND_TOKEN_FORMAT")]
    token_format: Option<String>,
    /// Issue anti-CSRF tokens when a create request does not say [default: false].
    #[arg(long, env = "SESSIOND_ANTI_CSRF")]
    anti_csrf: Option<bool>,
    /// Largest request body, bytes [default: 1048576].
    #[arg(long, env = "SESSIOND_BODY_LIMIT", value_name = "BYTES")]
    body_limit: Option<usize>,
    /// Log format [default: text].
    #[arg(long, env = "SESSIOND_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormatArg>,
    /// Log filter, e.g. info or debug [default: info].
    #[arg(long, env = "SESSIOND_LOG_LEVEL")]
    log_level: Option<String>,
    /// Master key sealing private signing keys at rest (32 bytes, hex or base64url).
    #[arg(long, env = "SESSIOND_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// Expired-session sweep interval, seconds [default: 60].
    #[arg(long, env = "SESSIOND_SWEEP_INTERVAL", value_name = "SECS")]
    sweep_interval: Option<u64>,
    /// Time a client has to send a request's line and headers (and that an idle keep-alive
    /// connection stays open), seconds [default: 10].
    #[arg(long, env = "SESSIOND_HEADER_READ_TIMEOUT", value_name = "SECS")]
    header_read_timeout: Option<u64>,
    /// Time a client has to send a request's body once its headers are in, seconds
    /// [default: 30].
    #[arg(long, env = "SESSIOND_BODY_READ_TIMEOUT", value_name = "SECS")]
    body_read_timeout: Option<u64>,
    /// Most connections open at once; more wait until one closes [default: 10000].
    #[arg(long, env = "SESSIOND_MAX_CONNECTIONS", value_name = "N")]
    max_connections: Option<usize>,
    /// On SIGTERM, how long in-flight requests get before open connections are closed,
    /// seconds [default: 30].
    #[arg(long, env = "SESSIOND_SHUTDOWN_TIMEOUT", value_name = "SECS")]
    shutdown_timeout: Option<u64>,
}

macro_rules! overlay {
    ($settings:ident, $args:ident; $($field:ident),* $(,)?) => {
        $( if let Some(v) = $args.$field { $settings.$field = v; } )*
    };
}

impl ServeArgs {
    /// Defaults, then the config file, then environment and flags.
    fn settings(self) -> Result<Settings, String> {
        let mut s = match &self.config {
            Some(path) => Settings::from_file(path).map_err(|e| e.to_string())?,
            None => Settings::default(),
        };
        let args = self;
        overlay!(s, args; listen, store, access_token_ttl, refresh_token_ttl, idle_timeout,
            absolute_lifetime, refresh_grace, key_rotation_interval, key_sync_interval,
            algorithm, token_format, anti_csrf, body_limit, log_level, sweep_interval,
            header_read_timeout, body_read_timeout, max_connections, shutdown_timeout);
        if let Some(f) = args.log_format {
            s.log_format = match f {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            };
        }
        if args.master_key.is_some() {
            s.master_key = args.master_key;
        }
        let mut keys: Vec<String> = args.api_keys.into_iter().filter(|k| !k.is_empty()).collect();
        if keys.is_empty() {
            // The client commands read SESSIOND_API_KEY; an operator who exports it for both
            // must not get a server that silently requires no key.
            if let Ok(v) = std::env::var("SESSIOND_API_KEY") {
                keys = v
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
        }
        if !keys.is_empty() {
            s.api_keys = keys;
        }
        let files: Vec<PathBuf> =
            args.api_key_file.into_iter().filter(|p| !p.as_os_str().is_empty()).collect();
        if !files.is_empty() {
            s.api_key_file = files;
        }
        Ok(s)
    }
}

fn init_logging(s: &Settings) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&s.log_level)
        .map_err(|e| format!("invalid value for setting `log_level`: {e}"))?;
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let res = match s.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    res.map_err(|e| format!("cannot initialise logging: {e}"))
}

pub(crate) async fn run(args: ServeArgs) -> Result<(), String> {
    let settings = args.settings()?;
    init_logging(&settings)?;
    let server = sessiond_server::start(&settings, sessiond_server::termination_signal())
        .await
        .map_err(|e| sessiond_server::error_chain(&e))?;
    server.wait().await.map_err(|e| sessiond_server::error_chain(&e))
}
