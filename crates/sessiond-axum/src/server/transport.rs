//! Tokens in and out of HTTP messages, as supertokens-node 24 moves them: the `sAccessToken` /
//! `sRefreshToken` cookies or `Authorization: Bearer` with `st-access-token` /
//! `st-refresh-token` response headers, the `front-token` header and `anti-csrf`.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine;
use serde_json::Value;
use sessiond_cookie::cookie::pairs;

use super::backend::Tokens;
use super::config::{Protocol, names};

/// How a token travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// `sAccessToken` / `sRefreshToken` cookies.
    Cookie,
    /// `Authorization: Bearer` in, `st-access-token` / `st-refresh-token` out.
    Header,
}

/// What a request carries.
#[derive(Debug, Default)]
pub(crate) struct Incoming {
    /// A structurally valid access token and how it came (the header beats the cookie). Shared,
    /// not copied, with the request's `Session`.
    pub(crate) access: Option<(Arc<str>, Transfer)>,
    /// The request carried two `sAccessToken` cookies.
    pub(crate) duplicate_access_cookie: bool,
    /// The refresh token from `Authorization: Bearer` (only looked at on the refresh route).
    pub(crate) bearer: Option<String>,
    /// The `sRefreshToken` cookie.
    pub(crate) refresh_cookie: Option<String>,
    /// `st-auth-mode`.
    pub(crate) auth_mode: Option<Transfer>,
    /// A `rid` header is present.
    pub(crate) rid: bool,
    /// The `anti-csrf` header.
    anti_csrf: Option<HeaderValue>,
}

fn header(h: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

// Header names as constants: a lookup by `&str` parses and validates the name every time.
const AUTH_MODE: HeaderName = HeaderName::from_static(names::AUTH_MODE);
const RID: HeaderName = HeaderName::from_static(names::RID);
const ANTI_CSRF: HeaderName = HeaderName::from_static(names::ANTI_CSRF);

/// Percent-decodes a cookie value (supertokens-node URL-encodes them; sessiond's tokens never
/// need it).
fn cookie_value(v: &str) -> String {
    if !v.contains('%') {
        return v.to_owned();
    }
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(x) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(x);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `t` looks like a JWT: three base64url segments and a header naming a `kid` (a
/// foreign `Bearer` value, such as an API key, is ignored as the SDKs ignore it).
pub(crate) fn looks_like_jwt(t: &str) -> bool {
    let mut parts = t.split('.');
    let (Some(h), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(json) = sessiond_core::b64::decode(h) else {
        return false;
    };
    matches!(serde_json::from_slice::<Value>(&json), Ok(Value::Object(m)) if m.contains_key("kid"))
}

impl Incoming {
    pub(crate) fn read(headers: &HeaderMap) -> Self {
        let mut me = Incoming {
            bearer: header(headers, AUTHORIZATION)
                .and_then(|a| a.strip_prefix("Bearer "))
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
            auth_mode: match header(headers, AUTH_MODE) {
                Some(m) if m.eq_ignore_ascii_case("cookie") => Some(Transfer::Cookie),
                Some(m) if m.eq_ignore_ascii_case("header") => Some(Transfer::Header),
                _ => None,
            },
            rid: headers.contains_key(RID),
            anti_csrf: headers.get(ANTI_CSRF).cloned(),
            ..Incoming::default()
        };
        let mut access_cookies = 0;
        let mut access_cookie = None;
        for v in headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()) {
            for (name, value) in pairs(v) {
                if name == names::ACCESS_COOKIE {
                    access_cookies += 1;
                    access_cookie.get_or_insert_with(|| cookie_value(value));
                } else if name == names::REFRESH_COOKIE && me.refresh_cookie.is_none() {
                    me.refresh_cookie = Some(cookie_value(value));
                }
            }
        }
        me.duplicate_access_cookie = access_cookies > 1;
        me.access = match &me.bearer {
            Some(b) if looks_like_jwt(b) => Some((Arc::from(b.as_str()), Transfer::Header)),
            _ => access_cookie.filter(|c| !c.is_empty()).map(|c| (c.into(), Transfer::Cookie)),
        };
        me
    }

    /// The `anti-csrf` header.
    pub(crate) fn anti_csrf(&self) -> Option<&str> {
        self.anti_csrf.as_ref().and_then(|v| v.to_str().ok())
    }

    /// The refresh token (header first, as the SDKs send it in header mode) and how it came.
    pub(crate) fn refresh_token(&self) -> Option<(String, Transfer)> {
        if let Some(b) = &self.bearer {
            return Some((b.clone(), Transfer::Header));
        }
        self.refresh_cookie.clone().filter(|c| !c.is_empty()).map(|c| (c, Transfer::Cookie))
    }
}

/// Response headers a request has accumulated; the layer writes them when the response leaves.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// `Set-Cookie` values by cookie name (a later write of a name replaces the earlier one).
    cookies: Vec<(&'static str, String)>,
    /// Headers set (a later write replaces the earlier one).
    headers: Vec<(&'static str, String)>,
    remove_anti_csrf: bool,
    expose: Vec<&'static str>,
}

/// `Expires` for a time in seconds since the epoch (RFC 7231 IMF-fixdate).
pub(crate) fn http_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let wd = WEEKDAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let mon = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!("{wd}, {d:02} {mon} {year} {h:02}:{m:02}:{s:02} GMT")
}

/// The `front-token` value: standard (padded) base64 of `{"uid","ate","up"}`, `ate` in ms.
pub(crate) fn front_token(user_id: &str, access_exp_ms: i64, payload_json: &[u8]) -> String {
    let mut json = Vec::with_capacity(payload_json.len() + user_id.len() + 40);
    json.extend_from_slice(b"{\"uid\":");
    // A string always serialises.
    let _ = serde_json::to_writer(&mut json, user_id);
    let _ = std::io::Write::write_fmt(&mut json, format_args!(",\"ate\":{access_exp_ms},\"up\":"));
    json.extend_from_slice(payload_json);
    json.push(b'}');
    base64::engine::general_purpose::STANDARD.encode(json)
}

const ONE_YEAR_S: i64 = 365 * 24 * 3600;

impl Changes {
    fn set_cookie(&mut self, name: &'static str, value: String) {
        match self.cookies.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.cookies.push((name, value)),
        }
    }

    fn set_header(&mut self, name: &'static str, value: String) {
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name, value)),
        }
        if !self.expose.contains(&name) {
            self.expose.push(name);
        }
    }

    fn cookie(
        p: &Protocol, host: Option<&str>, name: &str, value: &str, path: &str, expires_s: i64,
    ) -> String {
        let same_site = p.same_site_for(host);
        let mut c = String::with_capacity(name.len() + value.len() + 120);
        let _ = write!(c, "{name}={value}");
        if let Some(d) = &p.cookie_domain {
            let _ = write!(c, "; Domain={d}");
        }
        let _ = write!(c, "; Path={path}; Expires={}; HttpOnly", http_date(expires_s));
        if p.secure(same_site) {
            c.push_str("; Secure");
        }
        let _ = write!(c, "; SameSite={}", same_site.as_str());
        c
    }

    /// Sends a new or re-issued access token (and, with `tokens.refresh`, the refresh token and
    /// the anti-CSRF token) in `transfer`, with its `front-token`.
    pub(crate) fn attach(
        &mut self, p: &Protocol, host: Option<&str>, transfer: Transfer, tokens: &Tokens,
        now_s: i64,
    ) {
        self.set_header(names::FRONT_TOKEN, tokens.front_token.clone());
        match transfer {
            Transfer::Cookie => {
                let c = Self::cookie(
                    p,
                    host,
                    names::ACCESS_COOKIE,
                    &tokens.access,
                    "/",
                    now_s + ONE_YEAR_S,
                );
                self.set_cookie(names::ACCESS_COOKIE, c);
            }
            Transfer::Header => self.set_header(names::ACCESS_HEADER, tokens.access.clone()),
        }
        if let Some((refresh, exp_ms)) = &tokens.refresh {
            match transfer {
                Transfer::Cookie => {
                    let c = Self::cookie(
                        p,
                        host,
                        names::REFRESH_COOKIE,
                        refresh,
                        &p.refresh_path(),
                        exp_ms.div_euclid(1000),
                    );
                    self.set_cookie(names::REFRESH_COOKIE, c);
                }
                Transfer::Header => self.set_header(names::REFRESH_HEADER, refresh.clone()),
            }
            match (&tokens.anti_csrf, transfer) {
                (Some(a), Transfer::Cookie) => {
                    self.remove_anti_csrf = false;
                    self.set_header(names::ANTI_CSRF, a.clone());
                }
                _ => self.drop_anti_csrf(),
            }
        }
    }

    fn drop_anti_csrf(&mut self) {
        self.headers.retain(|(n, _)| *n != names::ANTI_CSRF);
        self.remove_anti_csrf = true;
    }

    /// Seed 000's id token header.
    pub(crate) fn id_token(&mut self, value: String) {
        self.set_header(names::ID_TOKEN, value);
    }

    /// Clears the session's tokens of one transfer method, and tells the frontend (`front-token:
    /// remove`).
    pub(crate) fn clear(&mut self, p: &Protocol, host: Option<&str>, transfer: Transfer) {
        match transfer {
            Transfer::Cookie => {
                let a = Self::cookie(p, host, names::ACCESS_COOKIE, "", "/", 0);
                self.set_cookie(names::ACCESS_COOKIE, a);
                let r = Self::cookie(p, host, names::REFRESH_COOKIE, "", &p.refresh_path(), 0);
                self.set_cookie(names::REFRESH_COOKIE, r);
            }
            Transfer::Header => {
                self.set_header(names::ACCESS_HEADER, String::new());
                self.set_header(names::REFRESH_HEADER, String::new());
            }
        }
        self.drop_anti_csrf();
        self.set_header(names::FRONT_TOKEN, "remove".to_owned());
    }

    /// Clears both transfer methods.
    pub(crate) fn clear_all(&mut self, p: &Protocol, host: Option<&str>) {
        self.clear(p, host, Transfer::Cookie);
        self.clear(p, host, Transfer::Header);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.cookies.is_empty() && self.headers.is_empty() && !self.remove_anti_csrf
    }

    /// Writes the accumulated changes into `headers`.
    pub(crate) fn apply(self, headers: &mut HeaderMap) {
        if self.remove_anti_csrf {
            headers.remove(names::ANTI_CSRF);
        }
        for (_, c) in self.cookies {
            if let Ok(v) = HeaderValue::try_from(c) {
                headers.append(SET_COOKIE, v);
            }
        }
        for (n, v) in self.headers {
            if let Ok(v) = HeaderValue::try_from(v) {
                headers.insert(HeaderName::from_static(n), v);
            }
        }
        if !self.expose.is_empty() {
            let name = HeaderName::from_static("access-control-expose-headers");
            let mut current: Vec<String> = headers
                .get_all(&name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
            for e in self.expose {
                if !current.iter().any(|c| c == e) {
                    current.push(e.to_owned());
                }
            }
            if let Ok(v) = HeaderValue::try_from(current.join(", ")) {
                headers.insert(name, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_796_161_024), "Tue, 01 Dec 2026 21:37:04 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn front_tokens_are_padded_base64_the_sdk_decodes() {
        let t = front_token("u\"", 1000, br#"{"iat": 1}"#);
        let decoded = base64::engine::general_purpose::STANDARD.decode(&t).unwrap();
        let v: Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(v, json!({"uid": "u\"", "ate": 1000, "up": {"iat": 1}}));
    }

    #[test]
    fn incoming_tokens_follow_the_sdk_precedence() {
        let mut h = HeaderMap::new();
        let jwt =
            format!("{}.e30.sig", sessiond_core::b64::encode(r#"{"kid":"d-1","alg":"RS256"}"#));
        h.insert(
            COOKIE,
            HeaderValue::from_static("sAccessToken=cookie.tok.en; sRefreshToken=R%2B1"),
        );
        h.insert(AUTHORIZATION, HeaderValue::try_from(format!("Bearer {jwt}")).unwrap());
        let i = Incoming::read(&h);
        assert_eq!(i.access, Some((Arc::from(jwt.as_str()), Transfer::Header)));
        assert_eq!(i.refresh_cookie.as_deref(), Some("R+1"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer some-api-key"));
        let i = Incoming::read(&h);
        assert_eq!(i.access, Some((Arc::from("cookie.tok.en"), Transfer::Cookie)));
        assert_eq!(i.refresh_token(), Some(("some-api-key".to_owned(), Transfer::Header)));
        h.insert(COOKIE, HeaderValue::from_static("sAccessToken=a; sAccessToken=b"));
        assert!(Incoming::read(&h).duplicate_access_cookie);
    }
}
