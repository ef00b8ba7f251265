//! The demo's flags. Their names are a contract: tests outside the project drive them.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// Which sessions the demo uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SessionsMode {
    /// Stateless cookie sessions (seed 003): no store.
    Stateless,
    /// Server-backed sessions, kept by a SessionManager in this process over `--store`.
    Embedded,
    /// Server-backed sessions, kept by a running `sessiond serve` at `--sessiond-url`.
    Remote,
}

/// sessiond's demo web app: seed 003's SvelteKit example (login, dashboard, prefs, admin) on
/// stateless cookie sessions, or the SuperTokens frontend protocol on server-backed sessions
/// (`/app/` drives it with supertokens-web-js).
#[derive(Debug, Clone, Parser)]
#[command(name = "sessiond-demo", version)]
pub struct Args {
    /// Stateless cookie sessions, or server-backed ones (embedded or remote).
    #[arg(long, value_enum, default_value = "stateless")]
    pub sessions: SessionsMode,

    /// Embedded: the store URL (`memory://`, `sqlite://PATH`, `postgres://…`, `redis://…`,
    /// `redis+cluster://…`).
    #[arg(long, default_value = "sqlite://sessiond-data/demo.db")]
    pub store: String,

    /// Remote: the sessiond service's URL (with `/appid-<id>` for an app).
    #[arg(long)]
    pub sessiond_url: Option<String>,

    /// Remote: the sessiond service's API key.
    #[arg(long, env = "SESSIOND_DEMO_SESSIOND_API_KEY", hide_env_values = true)]
    pub sessiond_api_key: Option<String>,

    /// Embedded: access-token lifetime in seconds (remote: the service decides).
    #[arg(long, default_value_t = 3600)]
    pub access_token_ttl: u64,

    /// Embedded: the refresh grace window in seconds (a replay after it is theft).
    #[arg(long, default_value_t = 10)]
    pub refresh_grace: u64,

    /// Embedded: access-token signing algorithm (RS256, EdDSA, ES256, HS256).
    #[arg(long, default_value = "RS256")]
    pub algorithm: String,

    /// The website's origin when it is not this app's (CORS with credentials). Repeatable.
    #[arg(long = "website-origin")]
    pub website_origins: Vec<String>,

    /// Anti-CSRF mode of server-backed sessions.
    #[arg(long, default_value = "via-custom-header", value_parser = parse_anti_csrf)]
    pub anti_csrf: sessiond_axum::AntiCsrf,

    /// Server-backed: send seed 000's id token (`id-connect-token` header) with new sessions.
    #[arg(long)]
    pub id_token: bool,

    /// Where supertokens-web-js's `bundle/` scripts are (default: the npm package installed
    /// under crates/sessiond-demo/web).
    #[arg(long, env = "SESSIOND_DEMO_WEB_JS")]
    pub web_js_dir: Option<std::path::PathBuf>,

    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "SESSIOND_DEMO_LISTEN")]
    pub listen: SocketAddr,

    /// Cookie key: 32 random bytes as unpadded base64url (`sessiond cookie-key` prints one).
    /// Repeat to rotate: the first seals, all open. There is no default.
    #[arg(long = "cookie-key", env = "SESSIOND_DEMO_COOKIE_KEY", value_delimiter = ',')]
    pub cookie_keys: Vec<String>,

    /// Sign cookies (JWS HS256, readable by the client) instead of encrypting them (JWE).
    #[arg(long)]
    pub signed: bool,

    /// Lifetime of a `user_session` token before it needs a refresh (seconds, or 30s/30m/1h/7d).
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub expires_in: Duration,

    /// Lifetime of an `admin_session` token.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub admin_expires_in: Duration,

    /// No refresh carries a session past this long after its login.
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    pub absolute_lifetime: Duration,

    /// A user who may sign in: NAME:PASSWORD[:ROLE] (role `user` by default). Repeatable.
    #[arg(long = "user", value_parser = parse_user)]
    pub users: Vec<UserSpec>,

    /// Another origin (`scheme://host[:port]`) allowed to send POSTs with the cookies.
    /// Repeatable.
    #[arg(long = "trusted-origin")]
    pub trusted_origins: Vec<String>,

    /// Print a new cookie key and exit.
    #[arg(long)]
    pub new_cookie_key: bool,

    /// For plain-HTTP development on another host name than localhost: cookies lose `Secure`
    /// and the `__Host-` prefix. Never use it in production.
    #[arg(long = "insecure-dev-mode", alias = "dev")]
    pub insecure_dev_mode: bool,
}

/// One `--user` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// The name to sign in with.
    pub name: String,
    /// The password (kept only as its SHA-256, compared in constant time).
    pub password: String,
    /// Role (`user` unless given).
    pub role: String,
}

fn parse_user(s: &str) -> Result<UserSpec, String> {
    let mut parts = s.splitn(3, ':');
    let (Some(name), Some(password)) = (parts.next(), parts.next()) else {
        return Err("expected NAME:PASSWORD[:ROLE]".to_owned());
    };
    let role = parts.next().unwrap_or("user");
    if name.is_empty() || password.is_empty() || role.is_empty() {
        return Err("NAME, PASSWORD and ROLE may not be empty".to_owned());
    }
    if name.contains('/') || name.chars().any(char::is_control) {
        return Err("NAME may not contain '/' or control characters".to_owned());
    }
    Ok(UserSpec { name: name.to_owned(), password: password.to_owned(), role: role.to_owned() })
}

fn parse_anti_csrf(s: &str) -> Result<sessiond_axum::AntiCsrf, String> {
    sessiond_axum::AntiCsrf::parse(s)
        .ok_or_else(|| format!("{s:?}: expected none, via-custom-header or via-token"))
}

/// Parses `90`, `90s`, `30m`, `1h` or `7d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 =
        num.parse().map_err(|_| format!("{s:?} is not a duration (e.g. 90, 90s, 30m, 1h, 7d)"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?} (use s, m, h or d)")),
    };
    if n == 0 {
        return Err("a duration must be at least one second".to_owned());
    }
    Ok(Duration::from_secs(n.saturating_mul(mult)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_users_parse() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("").is_err());
        let u = parse_user("alice:pw:with:colons").unwrap();
        assert_eq!(
            (u.name.as_str(), u.password.as_str(), u.role.as_str()),
            ("alice", "pw", "with:colons")
        );
        assert_eq!(parse_user("bob:secret").unwrap().role, "user");
        assert!(parse_user("bob").is_err());
        assert!(parse_user(":x").is_err());
    }
}
