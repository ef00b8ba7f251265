//! Cross-origin protection for unsafe methods, on top of `SameSite=Lax`.
//!
//! `SameSite=Lax` keeps the cookie off cross-site POSTs, but "site" ignores ports and
//! subdomains: a page on `http://localhost:8081` or `evil.example.com` is *same-site* with
//! `localhost:8080` or `app.example.com`, so its forms carry the cookie. The check below refuses
//! such requests using what browsers send (the approach of Go's `CrossOriginProtection`):
//!
//! 1. `GET`, `HEAD` and `OPTIONS` pass.
//! 2. An `Origin` in the trusted list passes.
//! 3. `Sec-Fetch-Site: same-origin` or `none` (typed into the address bar) passes; any other
//!    value (`same-site`, `cross-site`) is refused.
//! 4. Without `Sec-Fetch-Site`: an `Origin` whose host is the request's `Host` passes, any
//!    other `Origin` (`null` included) is refused, and no `Origin` passes (not a browser, or a
//!    browser too old to send either header; `SameSite` still applies).

use crate::error::Error;

/// Which origins may send unsafe requests besides the request's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    trusted: Vec<String>,
}

/// Lower-cases an origin and drops a trailing `/`.
fn normalise(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl OriginPolicy {
    /// Only the request's own origin.
    pub fn same_origin() -> Self {
        Self::default()
    }

    /// Also trusts `origin` (`scheme://host[:port]`), e.g. a front end served elsewhere.
    ///
    /// # Errors
    /// [`Error::Config`] when `origin` is not `http(s)://host[:port]`.
    pub fn trust(mut self, origin: &str) -> Result<Self, Error> {
        let o = normalise(origin);
        let rest = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']) => {
                self.trusted.push(o);
                Ok(self)
            }
            _ => Err(Error::Config(format!(
                "trusted origin {origin:?} must look like https://host[:port]"
            ))),
        }
    }

    /// The trusted origins.
    pub fn trusted(&self) -> &[String] {
        &self.trusted
    }

    /// Whether `origin` is one of the trusted origins.
    pub fn is_trusted(&self, origin: &str) -> bool {
        let o = normalise(origin);
        self.trusted.contains(&o)
    }

    /// Checks one request.
    ///
    /// # Errors
    /// [`Error::CrossOrigin`] with the reason, for an unsafe request from another origin.
    pub fn check(
        &self, method: &str, host: Option<&str>, origin: Option<&str>, sec_fetch_site: Option<&str>,
    ) -> Result<(), Error> {
        if matches!(method, "GET" | "HEAD" | "OPTIONS") {
            return Ok(());
        }
        if origin.is_some_and(|o| self.is_trusted(o)) {
            return Ok(());
        }
        if let Some(site) = sec_fetch_site {
            return if site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none")
            {
                Ok(())
            } else {
                Err(Error::CrossOrigin("Sec-Fetch-Site says the request comes from another origin"))
            };
        }
        let Some(origin) = origin else {
            return Ok(());
        };
        let origin_host = normalise(origin).split_once("://").map(|(_, h)| h.to_owned());
        let same = match (origin_host, host) {
            (Some(o), Some(h)) => {
                let h = h.trim().to_ascii_lowercase();
                o == h
                    || o == h.strip_suffix(":80").unwrap_or(&h)
                    || o == h.strip_suffix(":443").unwrap_or(&h)
            }
            _ => false,
        };
        if same { Ok(()) } else { Err(Error::CrossOrigin("Origin is not this site's origin")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_table() {
        let p = OriginPolicy::same_origin().trust("http://localhost:3000/").unwrap();
        let h = Some("localhost:8080");
        let ok = |m, o, s| p.check(m, h, o, s).is_ok();
        assert!(ok("GET", Some("http://evil"), Some("cross-site")));
        assert!(ok("POST", None, None), "not a browser");
        assert!(ok("POST", Some("http://localhost:8080"), None));
        assert!(ok("POST", Some("http://localhost:8080"), Some("same-origin")));
        assert!(ok("POST", None, Some("none")));
        assert!(ok("POST", Some("http://LOCALHOST:3000"), Some("same-site")), "trusted");
        assert!(!ok("POST", Some("http://localhost:8081"), Some("same-site")));
        assert!(!ok("POST", Some("http://localhost:8081"), None));
        assert!(!ok("DELETE", Some("http://evil.example"), Some("cross-site")));
        assert!(!ok("POST", Some("null"), None));
        assert!(!ok("PUT", None, Some("cross-site")));
        assert!(!ok("POST", Some("http://localhost:8080"), Some("cross-site")));
        assert!(p.check("POST", None, Some("http://x"), None).is_err(), "no Host");
        let e = p.check("POST", h, Some("http://evil"), None).unwrap_err();
        assert_eq!(e.code(), "CROSS_ORIGIN_REQUEST");
    }

    #[test]
    fn trusted_origins_must_be_origins() {
        for bad in ["localhost:3000", "http://", "http://a/b", "ftp://x"] {
            assert!(OriginPolicy::same_origin().trust(bad).is_err(), "{bad}");
        }
    }
}
