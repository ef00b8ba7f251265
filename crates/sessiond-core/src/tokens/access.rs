//! Claims of SuperTokens v5 access tokens (header `{"alg","typ":"JWT","version":"5","kid"}`).
//!
//! The payload is the session's public data plus the protected claims below, which the public
//! data may not use. `exp` and `iat` are in seconds, as the SDKs expect.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// Claims sessiond sets itself; public data may not contain them.
pub const PROTECTED_CLAIMS: [&str; 9] = [
    "sub",
    "iat",
    "exp",
    "sessionHandle",
    "parentRefreshTokenHash1",
    "refreshTokenHash1",
    "antiCsrfToken",
    "rsub",
    "tId",
];

/// Whether `name` is a protected claim.
pub fn is_protected(name: &str) -> bool {
    PROTECTED_CLAIMS.contains(&name)
}

/// The claims of an access token being issued.
#[derive(Debug, Clone, Copy)]
pub struct IssueClaims<'a> {
    /// User id.
    pub sub: &'a str,
    /// Recipe user id.
    pub rsub: &'a str,
    /// Session handle.
    pub session_handle: &'a str,
    /// Tenant.
    pub tenant_id: &'a str,
    /// Issued at, seconds.
    pub iat: i64,
    /// Expires at, seconds.
    pub exp: i64,
    /// Hex SHA-256 of the refresh token issued with this access token.
    pub refresh_token_hash1: &'a str,
    /// Anti-CSRF token, when the session uses them.
    pub anti_csrf_token: Option<&'a str>,
    /// The session's public data (protected names are skipped).
    pub public_data: &'a Map<String, Value>,
}

impl Serialize for IssueClaims<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.public_data {
            if !is_protected(k) {
                m.serialize_entry(k, v)?;
            }
        }
        m.serialize_entry("sub", self.sub)?;
        m.serialize_entry("exp", &self.exp)?;
        m.serialize_entry("iat", &self.iat)?;
        m.serialize_entry("sessionHandle", self.session_handle)?;
        m.serialize_entry("refreshTokenHash1", self.refresh_token_hash1)?;
        // Always null: sessiond rotates refresh tokens eagerly, so there is never a parent to
        // promote, and the SDKs keep verifying locally right after a refresh.
        m.serialize_entry("parentRefreshTokenHash1", &Value::Null)?;
        m.serialize_entry("antiCsrfToken", &self.anti_csrf_token)?;
        m.serialize_entry("tId", self.tenant_id)?;
        m.serialize_entry("rsub", self.rsub)?;
        m.end()
    }
}

/// The claims of a verified access token.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedClaims {
    /// User id.
    pub sub: String,
    /// Recipe user id.
    pub rsub: String,
    /// Session handle.
    pub session_handle: String,
    /// Tenant.
    pub tenant_id: String,
    /// Issued at, seconds.
    pub iat: i64,
    /// Expires at, seconds.
    pub exp: i64,
    /// Hex SHA-256 of the refresh token issued with this token.
    pub refresh_token_hash1: String,
    /// Anti-CSRF token, if the session uses them.
    pub anti_csrf_token: Option<String>,
    /// Everything else: the session's public data.
    pub public_data: Map<String, Value>,
}

fn take_str(m: &mut Map<String, Value>, k: &str) -> Option<String> {
    match m.remove(k)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn take_opt_str(m: &mut Map<String, Value>, k: &str) -> Result<Option<String>, ()> {
    match m.remove(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(()),
    }
}

fn take_int(m: &mut Map<String, Value>, k: &str) -> Option<i64> {
    m.remove(k)?.as_i64()
}

impl VerifiedClaims {
    /// Parses a payload; `None` unless it is a JSON object with every required claim typed
    /// as sessiond writes it.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let Value::Object(mut m) = serde_json::from_slice(payload).ok()? else {
            return None;
        };
        let sub = take_str(&mut m, "sub")?;
        let rsub = take_str(&mut m, "rsub")?;
        let session_handle = take_str(&mut m, "sessionHandle")?;
        let tenant_id = take_str(&mut m, "tId")?;
        let iat = take_int(&mut m, "iat")?;
        let exp = take_int(&mut m, "exp")?;
        let refresh_token_hash1 = take_str(&mut m, "refreshTokenHash1")?;
        let anti_csrf_token = take_opt_str(&mut m, "antiCsrfToken").ok()?;
        take_opt_str(&mut m, "parentRefreshTokenHash1").ok()?;
        Some(Self {
            sub,
            rsub,
            session_handle,
            tenant_id,
            iat,
            exp,
            refresh_token_hash1,
            anti_csrf_token,
            public_data: m,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_protected_names_are_overridden() {
        let mut public = Map::new();
        public.insert("role".into(), Value::from("admin"));
        public.insert("sub".into(), Value::from("attacker"));
        let c = IssueClaims {
            sub: "u1",
            rsub: "u1",
            session_handle: "h",
            tenant_id: "public",
            iat: 10,
            exp: 20,
            refresh_token_hash1: "abcd",
            anti_csrf_token: Some("csrf"),
            public_data: &public,
        };
        let bytes = serde_json::to_vec(&c).unwrap();
        let v = VerifiedClaims::parse(&bytes).unwrap();
        assert_eq!(v.sub, "u1");
        assert_eq!(v.exp, 20);
        assert_eq!(v.anti_csrf_token.as_deref(), Some("csrf"));
        assert_eq!(v.public_data.get("role"), Some(&Value::from("admin")));
        assert!(!v.public_data.contains_key("sub"));
    }

    #[test]
    fn missing_or_mistyped_claims_are_rejected() {
        assert!(VerifiedClaims::parse(b"[]").is_none());
        assert!(VerifiedClaims::parse(br#"{"sub":"u"}"#).is_none());
        let ok = br#"{"sub":"u","rsub":"u","sessionHandle":"h","tId":"public","iat":1,"exp":2,"refreshTokenHash1":"x"}"#;
        assert!(VerifiedClaims::parse(ok).is_some());
        let bad_exp = br#"{"sub":"u","rsub":"u","sessionHandle":"h","tId":"public","iat":1,"exp":"2","refreshTokenHash1":"x"}"#;
        assert!(VerifiedClaims::parse(bad_exp).is_none());
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = VerifiedClaims::parse(&bytes);
        }
    }
}
