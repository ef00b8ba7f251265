//! The optional `/appid-<app>` and `/<tenant>` path prefixes of the CDI.
//!
//! SuperTokens SDKs put `/appid-<app>` in the connection URI and add `/<tenant>` to a few calls
//! (always to session creation, e.g. `/public/recipe/session`). Before routing, the prefix is
//! taken off the path and kept as a [`Scope`] in the request's extensions.
//!
//! # Security
//! A first segment that starts with `appid-` is an app id or an error: `/appid-/…`,
//! `/appid-UPPER/…` or `/appid-a%20b/…` are refused (400 `INVALID_APP_ID`), never routed as
//! the public app (where `appid-` would have passed for a tenant id).

use axum::extract::Request;
use axum::http::Uri;
use sessiond_core::model::{DEFAULT_APP, DEFAULT_TENANT};

/// First path segments that are routes, never tenant ids.
const ROOTS: &[&str] = &[
    "recipe",
    "apiversion",
    "hello",
    ".well-known",
    "user",
    "users",
    "config",
    "sessiond",
    "healthz",
    "readyz",
    "metrics",
    "openapi.json",
];

/// App and tenant of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    /// App id (`public` unless `/appid-<app>` was given).
    pub(crate) app_id: String,
    /// Tenant id from the path, if one was given.
    pub(crate) tenant_id: Option<String>,
}

impl Default for Scope {
    fn default() -> Self {
        Self { app_id: DEFAULT_APP.to_owned(), tenant_id: None }
    }
}

impl Scope {
    /// The path's tenant, or `public`.
    pub(crate) fn tenant(&self) -> String {
        self.tenant_id.clone().unwrap_or_else(|| DEFAULT_TENANT.to_owned())
    }
}

fn is_scope_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A path whose `/appid-…` segment is not a valid app id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid app id in the path: after /appid- give 1 to 64 characters from [a-z0-9-]")]
pub(crate) struct InvalidAppId;

/// The prefix that marks an app id.
const APP_PREFIX: &str = "appid-";

/// Splits `path` into its scope and the path to route.
///
/// # Errors
/// [`InvalidAppId`] when a scope segment starts with `appid-` but is not a valid app id (or
/// names a second app).
pub(crate) fn split(path: &str) -> Result<(Scope, String), InvalidAppId> {
    let mut scope = Scope::default();
    let mut rest = path;
    let first_segment = |p: &str| -> (String, usize) {
        let p = p.strip_prefix('/').unwrap_or(p);
        let end = p.find('/').unwrap_or(p.len());
        (p[..end].to_owned(), end + 1)
    };
    let (seg, len) = first_segment(rest);
    if let Some(app) = seg.strip_prefix(APP_PREFIX) {
        if !is_scope_id(app) {
            return Err(InvalidAppId);
        }
        scope.app_id = app.to_owned();
        rest = &rest[len.min(rest.len())..];
    }
    let (seg, len) = first_segment(rest);
    if seg.starts_with(APP_PREFIX) {
        // `/appid-a/appid-b/…`, or an app id where a tenant goes: never a tenant id.
        return Err(InvalidAppId);
    }
    let remainder = &rest[len.min(rest.len())..];
    if is_scope_id(&seg) && !ROOTS.contains(&seg.as_str()) && !remainder.is_empty() {
        scope.tenant_id = Some(seg);
        rest = remainder;
    }
    let routed = if rest.is_empty() { "/".to_owned() } else { rest.to_owned() };
    Ok((scope, routed))
}

/// Rewrites a request: strips the prefix, records the [`Scope`] (or, for a malformed app id,
/// [`InvalidAppId`], which the router answers with 400 `INVALID_APP_ID`).
pub(crate) fn rewrite(mut req: Request) -> Request {
    let (scope, path) = match split(req.uri().path()) {
        Ok(split) => split,
        Err(e) => {
            req.extensions_mut().insert(e);
            return req;
        }
    };
    if path != req.uri().path() {
        let pq = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req.extensions_mut().insert(scope);
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(app: &str, tenant: Option<&str>) -> Scope {
        Scope { app_id: app.into(), tenant_id: tenant.map(Into::into) }
    }

    fn split(path: &str) -> (Scope, String) {
        super::split(path).unwrap()
    }

    #[test]
    fn malformed_app_ids_are_refused() {
        for path in [
            "/appid-/recipe/session",
            "/appid-",
            "/appid-/public/recipe/session",
            "/appid-UPPER/recipe/session",
            "/appid-a%20b/recipe/session",
            "/appid-a_b/recipe/session",
            "/appid-a.b/recipe/session/verify",
            &format!("/appid-{}/recipe/session", "a".repeat(65)),
            "/appid-a/appid-b/recipe/session",
            "/appid-/appid-b/recipe/session",
            "/appid-x/appid-/recipe/session",
        ] {
            assert_eq!(super::split(path), Err(InvalidAppId), "{path}");
        }
        // Not an app segment: a tenant id like any other.
        assert_eq!(
            split("/appidx/recipe/session"),
            (s("public", Some("appidx")), "/recipe/session".into())
        );
    }

    #[test]
    fn prefixes_are_split() {
        // (path, app, tenant, path routed)
        for (path, app, tenant, routed) in [
            ("/recipe/session", "public", None, "/recipe/session"),
            ("/public/recipe/session", "public", Some("public"), "/recipe/session"),
            ("/t1/recipe/session/user", "public", Some("t1"), "/recipe/session/user"),
            ("/appid-app1/recipe/session/verify", "app1", None, "/recipe/session/verify"),
            ("/appid-app1/t2/recipe/session", "app1", Some("t2"), "/recipe/session"),
            ("/appid-a/.well-known/jwks.json", "a", None, "/.well-known/jwks.json"),
            ("/appid-a/apiversion", "a", None, "/apiversion"),
            ("/apiversion", "public", None, "/apiversion"),
            ("/sessiond/v1/keys", "public", None, "/sessiond/v1/keys"),
            ("/healthz", "public", None, "/healthz"),
            // A lone segment is a route, not a tenant.
            ("/nothing", "public", None, "/nothing"),
            // Upper case is not a tenant id.
            ("/T1/recipe/session", "public", None, "/T1/recipe/session"),
            ("/", "public", None, "/"),
        ] {
            assert_eq!(split(path), (s(app, tenant), routed.into()), "{path}");
        }
    }
}
