//! # sessiond-demo
//!
//! The demo web app. By default (`--sessions stateless`) seed 003's SvelteKit example as an
//! axum app on sessiond's stateless cookie sessions (`sessiond-cookie` + `sessiond-axum`); with
//! `--sessions embedded|remote`, server-backed sessions speaking the SuperTokens frontend
//! protocol, and `/app/`, a page that drives them with supertokens-web-js. The binary
//! `sessiond-demo` serves it; the browser suite in `e2e/browser` drives it.

pub mod args;
pub mod html;
pub mod server_backed;
pub mod stateless;
pub mod users;

use axum::Router;
use sessiond_cookie::{CookieKey, CookieSessions, Format, SessionConfig};

pub use args::Args;
use users::Users;

/// The cookie sessions the flags describe: `user_session` and `admin_session`.
///
/// # Errors
/// A message for a missing or weak key, or a bad trusted origin.
pub fn cookie_sessions(args: &Args) -> Result<CookieSessions, String> {
    if args.cookie_keys.is_empty() {
        return Err("no --cookie-key given, and there is no default key: create one with \
             `sessiond-demo --new-cookie-key` (or `sessiond cookie-key`)"
            .to_owned());
    }
    let keys = args
        .cookie_keys
        .iter()
        .map(|k| CookieKey::from_base64url(k).map_err(|e| format!("--cookie-key: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut b = CookieSessions::builder(keys)
        .format(if args.signed { Format::Signed } else { Format::Encrypted })
        .insecure_dev_mode(args.insecure_dev_mode)
        .session(
            SessionConfig::new(stateless::USER_SESSION)
                .expires_in(args.expires_in)
                .absolute_lifetime(args.absolute_lifetime.max(args.expires_in)),
        )
        .session(
            SessionConfig::new(stateless::ADMIN_SESSION)
                .expires_in(args.admin_expires_in)
                .absolute_lifetime(args.absolute_lifetime.max(args.admin_expires_in)),
        );
    for o in &args.trusted_origins {
        b = b.trusted_origin(o.clone());
    }
    b.build().map_err(|e| e.to_string())
}

/// The app the flags describe, and (embedded mode) the manager to stop on shutdown.
///
/// # Errors
/// A message naming the flag that is wrong, or the store that cannot be opened.
pub async fn app(args: &Args) -> Result<(Router, Option<sessiond_core::SessionManager>), String> {
    let users = Users::new(&args.users);
    match args.sessions {
        args::SessionsMode::Stateless => {
            let sessions = cookie_sessions(args)?;
            Ok((stateless::router(sessions, users), None))
        }
        _ => {
            let s = server_backed::build(args, users).await?;
            Ok((s.router, s.manager))
        }
    }
}
