//! The claims inside a cookie token: the app's payload at the top level, as `jwt.sign(data)`
//! writes it, plus three registered claims the crate owns.
//!
//! - `iat`: when this token was issued (seconds since the epoch);
//! - `exp`: when it stops being valid without a refresh;
//! - `auth_time` (OpenID Connect's name for it): when the session started, i.e. the last
//!   [`set`](crate::NamedSession::set). Refreshes and updates keep it, so no refresh can carry a
//!   session past `auth_time + absolute_lifetime`.

use serde_json::{Map, Value};

use crate::error::Error;

/// A JSON object.
pub type JsonObject = Map<String, Value>;

/// Claim names the crate writes itself; a payload may not use them.
pub const RESERVED_CLAIMS: [&str; 4] = ["iat", "exp", "nbf", "auth_time"];

/// A token's claims, split into the app's payload and the crate's times.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Claims {
    pub(crate) payload: JsonObject,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    pub(crate) auth_time: i64,
}

/// Checks that `data` is a JSON object without reserved claim names.
pub(crate) fn payload_object(data: Value) -> Result<JsonObject, Error> {
    let Value::Object(map) = data else {
        return Err(Error::NotAnObject);
    };
    if let Some(k) = RESERVED_CLAIMS.iter().find(|k| map.contains_key(**k)) {
        return Err(Error::ReservedClaim(k));
    }
    Ok(map)
}

impl Claims {
    /// The claims as JSON bytes: the payload object with the three times appended.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        // Serialising a map of JSON values cannot fail.
        let mut out = serde_json::to_vec(&self.payload).unwrap_or_else(|_| b"{}".to_vec());
        out.pop(); // the closing brace
        if self.payload.is_empty() {
            out.truncate(1);
        } else {
            out.push(b',');
        }
        out.extend_from_slice(
            format!("\"iat\":{},\"exp\":{},\"auth_time\":{}}}", self.iat, self.exp, self.auth_time)
                .as_bytes(),
        );
        out
    }

    /// Parses claims: a JSON object with integer `iat <= exp` and `auth_time <= iat`, and no
    /// `nbf` (the crate never writes one).
    pub(crate) fn parse(json: &[u8]) -> Option<Self> {
        let Ok(Value::Object(mut payload)) = serde_json::from_slice::<Value>(json) else {
            return None;
        };
        let mut int = |name: &str| payload.remove(name).and_then(|v| v.as_i64());
        let (iat, exp, auth_time) = (int("iat")?, int("exp")?, int("auth_time")?);
        if payload.contains_key("nbf") || iat > exp || auth_time > iat || auth_time < 0 {
            return None;
        }
        Some(Self { payload, iat, exp, auth_time })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_round_trip_with_and_without_payload() {
        for payload in [json!({}), json!({"userId": 1, "prefs": {"theme": "dark"}})] {
            let c = Claims {
                payload: payload_object(payload).unwrap(),
                iat: 100,
                exp: 160,
                auth_time: 90,
            };
            let bytes = c.to_json();
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(v["exp"], 160);
            assert_eq!(Claims::parse(&bytes), Some(c));
        }
    }

    #[test]
    fn reserved_names_and_non_objects_are_refused() {
        assert!(matches!(payload_object(json!({"exp": 1})), Err(Error::ReservedClaim("exp"))));
        assert!(matches!(payload_object(json!([1])), Err(Error::NotAnObject)));
        assert!(matches!(payload_object(json!("x")), Err(Error::NotAnObject)));
    }

    #[test]
    fn incoherent_times_do_not_parse() {
        for bad in [
            json!({"iat": 10, "exp": 5, "auth_time": 1}),
            json!({"iat": 10, "exp": 20, "auth_time": 11}),
            json!({"iat": 10, "exp": 20}),
            json!({"iat": "10", "exp": 20, "auth_time": 1}),
            json!({"iat": 10, "exp": 20, "auth_time": 1, "nbf": 1}),
            json!([1, 2]),
        ] {
            assert_eq!(Claims::parse(bad.to_string().as_bytes()), None, "{bad}");
        }
    }
}
