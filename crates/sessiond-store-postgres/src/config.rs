//! The store URL: a PostgreSQL URL plus sessiond's own query parameters.

use std::fmt;

/// The schema used when the URL names none.
pub const DEFAULT_SCHEMA: &str = "sessiond";
/// The pool size used when the URL names none.
pub const DEFAULT_POOL_SIZE: u32 = 16;
/// The largest accepted `pool_size` (PostgreSQL's own default `max_connections` is 100).
pub const MAX_POOL_SIZE: u32 = 1000;
/// How long an operation waits for a connection by default (ms): a stopped server fails
/// requests with 503 this fast instead of holding them.
pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 2000;

/// Query parameters the PostgreSQL driver understands; anything else (a typo such as `shema=`)
/// is refused rather than silently ignored, so data never lands in an unintended schema.
const DRIVER_PARAMS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// Why a store URL was refused. It never contains the URL itself (which may hold a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl ConfigError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid PostgreSQL store URL: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// A store URL split into what the driver gets and sessiond's own settings, all checked.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Config {
    /// The URL for the driver, with sessiond's parameters removed.
    pub(crate) driver_url: String,
    /// The validated schema name.
    pub(crate) schema: String,
    /// Largest number of pooled connections.
    pub(crate) pool_size: u32,
    /// How long an operation waits for a pooled connection.
    pub(crate) timeout: std::time::Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The driver URL may carry a password.
        f.debug_struct("Config")
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

/// Whether `name` is a schema name sessiond accepts: `[a-z_][a-z0-9_]{0,62}`, not `pg_…`
/// (reserved by PostgreSQL). Such a name never needs quoting and cannot inject SQL.
pub(crate) fn valid_schema(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
        && !name.starts_with("pg_")
}

/// Splits sessiond's parameters (`schema`, `pool_size`) off `url` and validates them.
pub(crate) fn parse(url: &str) -> Result<Config, ConfigError> {
    let url = url.trim();
    let Some((scheme, _)) = url.split_once("://") else {
        return Err(ConfigError::new(
            "expected postgres://[user[:password]@]host[:port]/database[?schema=NAME&pool_size=N]",
        ));
    };
    if scheme != "postgres" && scheme != "postgresql" {
        return Err(ConfigError::new(format!(
            "scheme `{scheme}` is not postgres:// or postgresql://"
        )));
    }
    // As in any URL, the fragment starts at the first `#` and the query at the first `?`.
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    let (base, query) = match rest.split_once('?') {
        Some((b, q)) => (b, q),
        None => (rest, ""),
    };

    let mut schema: Option<String> = None;
    let mut pool_size: Option<u32> = None;
    let mut timeout_ms: Option<u64> = None;
    let mut kept: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "schema" => {
                if schema.is_some() {
                    return Err(ConfigError::new("`schema` is given more than once"));
                }
                if !valid_schema(value) {
                    return Err(ConfigError::new(format!(
                        "schema `{value}` is not a valid name: use 1 to 63 characters from \
                         [a-z0-9_], not starting with a digit or `pg_`"
                    )));
                }
                schema = Some(value.to_owned());
            }
            "pool_size" => {
                if pool_size.is_some() {
                    return Err(ConfigError::new("`pool_size` is given more than once"));
                }
                let n = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_POOL_SIZE).contains(n))
                    .ok_or_else(|| {
                        ConfigError::new(format!(
                            "pool_size `{value}` is not a whole number from 1 to {MAX_POOL_SIZE}"
                        ))
                    })?;
                pool_size = Some(n);
            }
            "timeout_ms" => {
                let n =
                    value.parse::<u64>().ok().filter(|n| (1..=600_000).contains(n)).ok_or_else(
                        || {
                            ConfigError::new(format!(
                                "timeout_ms `{value}` is not a whole number from 1 to 600000"
                            ))
                        },
                    )?;
                timeout_ms = Some(n);
            }
            k if DRIVER_PARAMS.contains(&k) || (k.starts_with("options[") && k.ends_with(']')) => {
                kept.push(pair);
            }
            k => {
                return Err(ConfigError::new(format!(
                    "unknown parameter `{k}` (sessiond's are `schema`, `pool_size` and `timeout_ms`; the \
                     driver's are {})",
                    DRIVER_PARAMS.join(", ")
                )));
            }
        }
    }

    let mut driver_url = base.to_owned();
    if !kept.is_empty() {
        driver_url.push('?');
        driver_url.push_str(&kept.join("&"));
    }
    if let Some(f) = fragment {
        driver_url.push('#');
        driver_url.push_str(f);
    }
    Ok(Config {
        driver_url,
        schema: schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_owned()),
        pool_size: pool_size.unwrap_or(DEFAULT_POOL_SIZE),
        timeout: std::time::Duration::from_millis(timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn defaults_and_stripping() {
        let c = parse("postgres://u:p@db:5432/app").unwrap();
        assert_eq!(c.driver_url, "postgres://u:p@db:5432/app");
        assert_eq!(c.schema, "sessiond");
        assert_eq!(c.pool_size, 16);

        let c = parse("postgresql://db/app?sslmode=require&schema=s_1&pool_size=4&options[x]=y")
            .unwrap();
        assert_eq!(c.driver_url, "postgresql://db/app?sslmode=require&options[x]=y");
        assert_eq!(c.schema, "s_1");
        assert_eq!(c.pool_size, 4);

        let c = parse("postgres://db/app?pool_size=1&schema=_x#frag").unwrap();
        assert_eq!(c.driver_url, "postgres://db/app#frag");
        assert_eq!((c.schema.as_str(), c.pool_size), ("_x", 1));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let err = |u: &str| parse(u).unwrap_err().to_string();
        assert!(err("mysql://db/app").contains("`mysql`"));
        assert!(err("db/app").contains("expected postgres://"));
        for bad in ["Bad", "1abc", "a-b", "", "pg_x", &"a".repeat(64), "a;drop"] {
            let e = err(&format!("postgres://db/app?schema={bad}"));
            assert!(e.contains("is not a valid name"), "{bad}: {e}");
        }
        for bad in ["0", "-1", "abc", "", "1001", "99999999999"] {
            let e = err(&format!("postgres://db/app?pool_size={bad}"));
            assert!(e.contains("pool_size"), "{bad}: {e}");
        }
        assert!(err("postgres://db/app?schema=a&schema=b").contains("more than once"));
        assert!(err("postgres://db/app?pool_size=1&pool_size=2").contains("more than once"));
        assert!(err("postgres://db/app?shema=a").contains("unknown parameter `shema`"));
    }

    #[test]
    fn errors_never_echo_the_password() {
        for u in [
            "postgres://u:hunter2@db/app?pool_size=0",
            "postgres://u:hunter2@db/app?schema=X",
            "postgres://u:hunter2@db/app?nope=1",
            "mysql://u:hunter2@db/app",
        ] {
            let e = parse(u).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{e}");
        }
        let c = parse("postgres://u:hunter2@db/app").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn schema_names() {
        assert!(valid_schema("sessiond"));
        assert!(valid_schema("_"));
        assert!(valid_schema(&format!("a{}", "b".repeat(62))));
        assert!(!valid_schema(&format!("a{}", "b".repeat(63))));
        assert!(!valid_schema("Sessiond"));
        assert!(!valid_schema("pg_catalog"));
    }
}
