//! Reading the `Cookie` request header and writing `Set-Cookie` response headers (RFC 6265).

use std::fmt::Write as _;

use crate::error::Error;

/// Browsers keep cookies of at least 4,096 bytes counting the name, the value and the
/// attributes (RFC 6265 §6.1); a longer `Set-Cookie` may be dropped silently, so it is refused.
pub const MAX_COOKIE_BYTES: usize = 4096;

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent on same-site requests only.
    Strict,
    /// Sent on same-site requests and top-level cross-site navigations with safe methods (the
    /// default).
    #[default]
    Lax,
    /// Sent on every request; browsers require `Secure` with it.
    None,
}

impl SameSite {
    /// The attribute's value.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// The `name=value` pairs of `Cookie` header text, in order. Values in double quotes lose the
/// quotes; pairs without `=` are skipped. Never fails.
///
/// ```
/// let pairs: Vec<_> = sessiond_cookie::cookie::pairs("a=1; b=\"2\"; junk; c=").collect();
/// assert_eq!(pairs, [("a", "1"), ("b", "2"), ("c", "")]);
/// ```
pub fn pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        let value = value.trim();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        Some((name, value))
    })
}

/// Whether `name` is a valid cookie name (an RFC 7230 token).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `v` may appear as an attribute value (`Path`, `Domain`): printable ASCII without `;`.
pub(crate) fn valid_attribute(v: &str) -> bool {
    v.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b';')
}

/// The attributes of one `Set-Cookie`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// `Path`.
    pub path: String,
    /// `Domain`, or none (host-only).
    pub domain: Option<String>,
    /// `Max-Age` in seconds, or none (a browser-session cookie).
    pub max_age: Option<i64>,
    /// `HttpOnly`.
    pub http_only: bool,
    /// `Secure`.
    pub secure: bool,
    /// `SameSite`.
    pub same_site: SameSite,
}

impl Attributes {
    /// Checks the attribute values and their combinations browsers refuse.
    ///
    /// # Errors
    /// [`Error::Config`] naming the problem.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.path.starts_with('/') || !valid_attribute(&self.path) {
            return Err(Error::Config(format!(
                "cookie path {:?} must start with '/' and hold no ';', space or control character",
                self.path
            )));
        }
        if let Some(d) = &self.domain
            && (d.is_empty() || !valid_attribute(d))
        {
            return Err(Error::Config(format!("cookie domain {d:?} is not valid")));
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(Error::Config(
                "SameSite=None needs Secure: browsers drop such cookies".to_owned(),
            ));
        }
        Ok(())
    }

    /// Whether a cookie with these attributes may take the `__Host-` prefix: `Secure`, `Path=/`
    /// and no `Domain`.
    pub fn allows_host_prefix(&self) -> bool {
        self.secure && self.path == "/" && self.domain.is_none()
    }

    /// `name=value` with these attributes, as a `Set-Cookie` header value.
    pub fn set_cookie(&self, name: &str, value: &str) -> String {
        let mut out = String::with_capacity(name.len() + value.len() + 80);
        out.push_str(name);
        out.push('=');
        out.push_str(value);
        self.push_attributes(&mut out, self.max_age, false);
        out
    }

    /// A `Set-Cookie` header value that removes the cookie `name`: an empty value, `Max-Age=0`
    /// and an `Expires` in 1970, with the same `Path`, `Domain`, `Secure` and `SameSite` (a
    /// removal that differs in them, or a `__Host-` cookie without `Secure`, is ignored by
    /// browsers).
    pub fn removal(&self, name: &str) -> String {
        let mut out = String::with_capacity(name.len() + 120);
        out.push_str(name);
        out.push('=');
        self.push_attributes(&mut out, Some(0), true);
        out
    }

    fn push_attributes(&self, out: &mut String, max_age: Option<i64>, expired: bool) {
        out.push_str("; Path=");
        out.push_str(&self.path);
        if let Some(d) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(d);
        }
        if let Some(m) = max_age {
            let _ = write!(out, "; Max-Age={}", m.max(0));
        }
        if expired {
            out.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if self.secure {
            out.push_str("; Secure");
        }
        out.push_str("; SameSite=");
        out.push_str(self.same_site.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> Attributes {
        Attributes {
            path: "/".to_owned(),
            domain: None,
            max_age: Some(60),
            http_only: true,
            secure: true,
            same_site: SameSite::Lax,
        }
    }

    #[test]
    fn set_and_remove_carry_matching_attributes() {
        let a = attrs();
        assert_eq!(
            a.set_cookie("__Host-s", "v.1"),
            "__Host-s=v.1; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax"
        );
        assert_eq!(
            a.removal("__Host-s"),
            "__Host-s=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax"
        );
        assert!(a.allows_host_prefix());
        let sub = Attributes { path: "/admin".to_owned(), ..a };
        assert!(!sub.allows_host_prefix());
    }

    #[test]
    fn bad_attributes_are_config_errors() {
        for bad in [
            Attributes { path: "admin".to_owned(), ..attrs() },
            Attributes { path: "/a;b".to_owned(), ..attrs() },
            Attributes { same_site: SameSite::None, secure: false, ..attrs() },
            Attributes { domain: Some(String::new()), ..attrs() },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert!(attrs().validate().is_ok());
    }

    #[test]
    fn names_are_tokens() {
        assert!(valid_name("user_session"));
        assert!(valid_name("__Host-x"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name("a=b"));
        assert!(!valid_name("é"));
    }
}
