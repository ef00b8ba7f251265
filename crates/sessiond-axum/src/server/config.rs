//! How the server-backed session layer talks to browsers: the SuperTokens frontend protocol's
//! settings (base path, cookies, anti-CSRF mode, CORS origins, seed 000's id token).

use std::time::Duration;

use sessiond_cookie::SameSite;

/// Anti-CSRF protection of cookie-authenticated, non-`GET` requests (SuperTokens' `antiCsrf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AntiCsrf {
    /// No check (rely on `SameSite`).
    None,
    /// The request must carry a `rid` header (any value). A cross-site form cannot add a
    /// header, and a cross-origin `fetch` that adds one needs a CORS preflight, which only the
    /// configured website origins pass. `supertokens-web-js` sends it on every request. The
    /// default.
    #[default]
    ViaCustomHeader,
    /// Each session gets an anti-CSRF token (the `anti-csrf` response header, and the
    /// `antiCsrfToken` claim); the request must echo it in an `anti-csrf` header.
    ViaToken,
}

impl AntiCsrf {
    /// Parses `none`, `via-custom-header` or `via-token` (also the SDKs' `NONE`,
    /// `VIA_CUSTOM_HEADER`, `VIA_TOKEN`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "none" => Some(AntiCsrf::None),
            "via-custom-header" => Some(AntiCsrf::ViaCustomHeader),
            "via-token" => Some(AntiCsrf::ViaToken),
            _ => None,
        }
    }
}

/// The cookie names, header names and paths of the SuperTokens frontend protocol.
pub mod names {
    /// The access-token cookie (`Path=/`).
    pub const ACCESS_COOKIE: &str = "sAccessToken";
    /// The refresh-token cookie (`Path={base}/session/refresh`).
    pub const REFRESH_COOKIE: &str = "sRefreshToken";
    /// The access token in header mode (response).
    pub const ACCESS_HEADER: &str = "st-access-token";
    /// The refresh token in header mode (response).
    pub const REFRESH_HEADER: &str = "st-refresh-token";
    /// Base64 of `{uid, ate, up}` for the frontend, or `remove`.
    pub const FRONT_TOKEN: &str = "front-token";
    /// The anti-CSRF token (both directions).
    pub const ANTI_CSRF: &str = "anti-csrf";
    /// `cookie` or `header`: how the client wants a new session's tokens.
    pub const AUTH_MODE: &str = "st-auth-mode";
    /// The recipe id header (its presence is the `VIA_CUSTOM_HEADER` check).
    pub const RID: &str = "rid";
    /// The frontend protocol version header.
    pub const FDI_VERSION: &str = "fdi-version";
    /// Seed 000's id token: `<jwt>;<public JWK, base64url>`.
    pub const ID_TOKEN: &str = "id-connect-token";
    /// Headers the frontend sends, for CORS `Access-Control-Allow-Headers`.
    pub const ALLOWED_REQUEST_HEADERS: [&str; 6] =
        ["content-type", RID, FDI_VERSION, ANTI_CSRF, "authorization", AUTH_MODE];
    /// Headers the frontend reads, for CORS `Access-Control-Expose-Headers`.
    pub const EXPOSED_RESPONSE_HEADERS: [&str; 5] =
        [FRONT_TOKEN, ANTI_CSRF, ACCESS_HEADER, REFRESH_HEADER, ID_TOKEN];
}

/// The protocol settings of a [`Sessions`](crate::Sessions).
#[derive(Debug, Clone)]
pub(crate) struct Protocol {
    /// `{base}/session/refresh` and `{base}/signout` (default `/auth`).
    pub(crate) base_path: String,
    pub(crate) anti_csrf: AntiCsrf,
    /// Drops `Secure` (plain-HTTP development on a host other than localhost).
    pub(crate) dev_mode: bool,
    /// `Domain` of the two cookies (default none: host-only).
    pub(crate) cookie_domain: Option<String>,
    /// Fixed `SameSite`, or `None` to choose per request: `None` when a website origin is
    /// cross-site to the API, `Lax` otherwise.
    pub(crate) same_site: Option<SameSite>,
    /// Origins of the website(s) calling the API with credentials (CORS, and the `SameSite`
    /// choice).
    pub(crate) website_origins: Vec<String>,
    /// Issue seed 000's id token header on new sessions, valid this long.
    pub(crate) id_token: Option<Duration>,
    /// Verify against the store by default (instant revocation) in the `Session` extractor.
    pub(crate) check_database: bool,
}

impl Default for Protocol {
    fn default() -> Self {
        Self {
            base_path: "/auth".to_owned(),
            anti_csrf: AntiCsrf::default(),
            dev_mode: false,
            cookie_domain: None,
            same_site: None,
            website_origins: Vec::new(),
            id_token: None,
            check_database: false,
        }
    }
}

impl Protocol {
    pub(crate) fn refresh_path(&self) -> String {
        format!("{}/session/refresh", self.base_path)
    }

    pub(crate) fn signout_path(&self) -> String {
        format!("{}/signout", self.base_path)
    }

    /// `SameSite` for a response to a request with this `Host`.
    pub(crate) fn same_site_for(&self, host: Option<&str>) -> SameSite {
        if let Some(s) = self.same_site {
            return s;
        }
        let api = host.map(site_of_host);
        let cross = self.website_origins.iter().any(|o| {
            let (scheme, rest) = o.split_once("://").unwrap_or(("", o));
            let _ = scheme;
            Some(site_of_host(rest)) != api
        });
        if cross { SameSite::None } else { SameSite::Lax }
    }

    /// Whether cookies get `Secure` (`SameSite=None` always does: browsers require it).
    pub(crate) fn secure(&self, same_site: SameSite) -> bool {
        !self.dev_mode || same_site == SameSite::None
    }
}

/// The "site" of `host[:port]` for the `SameSite` choice: ports ignored; `localhost` and IP
/// addresses are one site; otherwise the last two labels (an approximation of the registrable
/// domain: set `SameSite` explicitly for public suffixes such as `co.uk`).
fn site_of_host(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    let name = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default().to_owned()
    } else {
        host.rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host.as_str(), |(h, _)| h)
            .to_owned()
    };
    if name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok()
    {
        return "localhost".to_owned();
    }
    let labels: Vec<&str> = name.split('.').collect();
    labels[labels.len().saturating_sub(2)..].join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_site_follows_the_website_origins() {
        let mut p = Protocol::default();
        assert_eq!(p.same_site_for(Some("api.example.com")), SameSite::Lax);
        p.website_origins = vec!["http://localhost:3000".to_owned()];
        assert_eq!(p.same_site_for(Some("localhost:3001")), SameSite::Lax);
        assert_eq!(p.same_site_for(Some("127.0.0.1:3001")), SameSite::Lax);
        p.website_origins = vec!["https://app.example.com".to_owned()];
        assert_eq!(p.same_site_for(Some("api.example.com")), SameSite::Lax);
        assert_eq!(p.same_site_for(Some("api.example.org")), SameSite::None);
        p.same_site = Some(SameSite::Strict);
        assert_eq!(p.same_site_for(Some("api.example.org")), SameSite::Strict);
        assert_eq!(site_of_host("[::1]:80"), "localhost");
    }

    #[test]
    fn anti_csrf_modes_parse() {
        assert_eq!(AntiCsrf::parse("via-token"), Some(AntiCsrf::ViaToken));
        assert_eq!(AntiCsrf::parse("VIA_CUSTOM_HEADER"), Some(AntiCsrf::ViaCustomHeader));
        assert_eq!(AntiCsrf::parse("none"), Some(AntiCsrf::None));
        assert_eq!(AntiCsrf::parse("x"), None);
    }
}
