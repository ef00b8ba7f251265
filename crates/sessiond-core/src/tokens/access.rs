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
    /// `sub`: the (primary) user the token is for.
    pub sub: &'a str,
    /// `rsub`: the login method's user id.
    pub rsub: &'a str,
    /// `sessionHandle`: the session the token belongs to.
    pub session_handle: &'a str,
    /// `tId`: the session's tenant.
    pub tenant_id: &'a str,
    /// `iat`: issued at, seconds since the epoch.
    pub iat: i64,
    /// `exp`: expires at, seconds since the epoch.
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
#[non_exhaustive]
pub struct VerifiedClaims {
    /// `sub`: the (primary) user the token is for.
    pub sub: String,
    /// `rsub`: the login method's user id.
    pub rsub: String,
    /// `sessionHandle`: the session the token belongs to.
    pub session_handle: String,
    /// `tId`: the session's tenant.
    pub tenant_id: String,
    /// `iat`: issued at, seconds since the epoch.
    pub iat: i64,
    /// `exp`: expires at, seconds since the epoch.
    pub exp: i64,
    /// Hex SHA-256 of the refresh token issued with this token.
    pub refresh_token_hash1: String,
    /// Anti-CSRF token, if the session uses them.
    pub anti_csrf_token: Option<String>,
    /// Everything else: the session's public data.
    pub public_data: Map<String, Value>,
}

impl VerifiedClaims {
    /// Parses a payload in one pass; `None` unless it is a JSON object with every required
    /// claim typed as sessiond writes it and no name twice (two `sub` claims would let two
    /// parsers disagree about who the token is for).
    pub fn parse(payload: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Parsed>(payload).ok().map(|p| p.0)
    }
}

struct Parsed(VerifiedClaims);

impl<'de> serde::Deserialize<'de> for Parsed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ClaimsVisitor)
    }
}

struct ClaimsVisitor;

/// A string claim that may be `null` (the anti-CSRF token, the parent hash).
#[derive(serde::Deserialize)]
struct NullableString(Option<String>);

impl<'de> serde::de::Visitor<'de> for ClaimsVisitor {
    type Value = Parsed;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object of access-token claims")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        use serde::de::Error as _;
        let (mut sub, mut rsub, mut handle, mut tenant) = (None, None, None, None);
        let (mut iat, mut exp, mut hash1) = (None, None, None);
        let (mut csrf, mut parent): (Option<Option<String>>, Option<Option<String>>) = (None, None);
        let mut public = Map::new();
        fn set<T, E: serde::de::Error>(slot: &mut Option<T>, v: T, name: &str) -> Result<(), E> {
            if slot.replace(v).is_some() {
                return Err(E::custom(format!("duplicate claim {name}")));
            }
            Ok(())
        }
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "sub" => set(&mut sub, map.next_value::<String>()?, "sub")?,
                "rsub" => set(&mut rsub, map.next_value::<String>()?, "rsub")?,
                "sessionHandle" => set(&mut handle, map.next_value::<String>()?, "sessionHandle")?,
                "tId" => set(&mut tenant, map.next_value::<String>()?, "tId")?,
                "iat" => set(&mut iat, map.next_value::<i64>()?, "iat")?,
                "exp" => set(&mut exp, map.next_value::<i64>()?, "exp")?,
                "refreshTokenHash1" => {
                    set(&mut hash1, map.next_value::<String>()?, "refreshTokenHash1")?;
                }
                "antiCsrfToken" => {
                    set(&mut csrf, map.next_value::<NullableString>()?.0, "antiCsrfToken")?;
                }
                "parentRefreshTokenHash1" => set(
                    &mut parent,
                    map.next_value::<NullableString>()?.0,
                    "parentRefreshTokenHash1",
                )?,
                _ => {
                    let v = map.next_value::<Value>()?;
                    if public.insert(key, v).is_some() {
                        return Err(A::Error::custom("duplicate claim"));
                    }
                }
            }
        }
        let missing = |n: &str| A::Error::custom(format!("missing claim {n}"));
        Ok(Parsed(VerifiedClaims {
            sub: sub.ok_or_else(|| missing("sub"))?,
            rsub: rsub.ok_or_else(|| missing("rsub"))?,
            session_handle: handle.ok_or_else(|| missing("sessionHandle"))?,
            tenant_id: tenant.ok_or_else(|| missing("tId"))?,
            iat: iat.ok_or_else(|| missing("iat"))?,
            exp: exp.ok_or_else(|| missing("exp"))?,
            refresh_token_hash1: hash1.ok_or_else(|| missing("refreshTokenHash1"))?,
            anti_csrf_token: csrf.flatten(),
            public_data: public,
        }))
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
        let float_exp = br#"{"sub":"u","rsub":"u","sessionHandle":"h","tId":"public","iat":1,"exp":2.5,"refreshTokenHash1":"x"}"#;
        assert!(VerifiedClaims::parse(float_exp).is_none());
        let csrf_number = br#"{"sub":"u","rsub":"u","sessionHandle":"h","tId":"public","iat":1,"exp":2,"refreshTokenHash1":"x","antiCsrfToken":5}"#;
        assert!(VerifiedClaims::parse(csrf_number).is_none());
    }

    #[test]
    fn duplicate_claims_are_rejected() {
        let two_subs = br#"{"sub":"alice","rsub":"u","sessionHandle":"h","tId":"public","iat":1,"exp":2,"refreshTokenHash1":"x","sub":"admin"}"#;
        assert!(VerifiedClaims::parse(two_subs).is_none());
        let two_roles = br#"{"sub":"u","rsub":"u","sessionHandle":"h","tId":"public","iat":1,"exp":2,"refreshTokenHash1":"x","role":"user","role":"admin"}"#;
        assert!(VerifiedClaims::parse(two_roles).is_none());
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = VerifiedClaims::parse(&bytes);
        }
    }
}
