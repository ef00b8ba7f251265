//! Client commands: `session …`, `keys …`, `token …`.

use clap::Subcommand;
use sessiond_client::ClientError;
use sessiond_client::api::JsonObject;
use sessiond_client::api::cdi::{
    CreateSessionRequest, IssuedSession, RefreshSessionRequest, RefreshSessionResponse,
    RemoveSessionsRequest, SessionInfoResponse, VerifySessionRequest, VerifySessionResponse,
};
use sessiond_client::api::v1::Key;
use sessiond_core::Code;

use super::Conn;
use super::output::time;

#[derive(Debug, Subcommand)]
pub(crate) enum SessionCmd {
    /// Create a session for a user.
    Create {
        /// The user.
        #[arg(long)]
        user: String,
        /// Public data (a JSON object; goes into the access token).
        #[arg(long, value_name = "JSON")]
        public: Option<String>,
        /// Private data (a JSON object; stays on the server).
        #[arg(long, value_name = "JSON")]
        private: Option<String>,
        /// Tenant [default: public].
        #[arg(long)]
        tenant: Option<String>,
        /// Issue an anti-CSRF token.
        #[arg(long)]
        anti_csrf: bool,
    },
    /// Verify an access token (exit 0 valid, 1 invalid).
    Verify {
        /// The access token.
        token: String,
        /// Also check the session in the store (instant revocation).
        #[arg(long)]
        check_database: bool,
        /// Check this anti-CSRF token too.
        #[arg(long, value_name = "TOKEN")]
        anti_csrf_token: Option<String>,
    },
    /// Rotate a refresh token: new access and refresh tokens.
    Refresh {
        /// The refresh token.
        token: String,
        /// The anti-CSRF token, for sessions created with one.
        #[arg(long, value_name = "TOKEN")]
        anti_csrf_token: Option<String>,
    },
    /// Show a session.
    Get {
        /// Session handle.
        handle: String,
    },
    /// Revoke a session (not found: exit 1).
    Delete {
        /// Session handle.
        handle: String,
    },
    /// List a user's sessions.
    List {
        /// The user.
        #[arg(long)]
        user: String,
    },
    /// Revoke every session of a user.
    RevokeAll {
        /// The user.
        #[arg(long)]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCmd {
    /// List the signing keys.
    List,
    /// Start signing with a new key; old tokens keep verifying until they expire.
    Rotate,
    /// Replace every key: all outstanding access, id and service tokens stop verifying.
    Reset,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCmd {
    /// Create a service token.
    Create {
        /// Lifetime in seconds [default: until the next key reset].
        #[arg(long, value_name = "SECS")]
        expires_in: Option<u64>,
    },
    /// Verify a service token (exit 0 valid, 1 invalid).
    Verify {
        /// The token.
        token: String,
    },
}

fn json_object(what: &str, text: Option<String>) -> Result<Option<JsonObject>, String> {
    text.map(|t| match serde_json::from_str::<serde_json::Value>(&t) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(format!("--{what} must be a JSON object")),
        Err(e) => Err(format!("--{what} is not valid JSON: {e}")),
    })
    .transpose()
}

fn err(e: ClientError) -> String {
    sessiond_core::error_chain(&e)
}

fn issued_lines(s: &IssuedSession) -> Vec<(&'static str, String)> {
    let mut lines = vec![
        ("session", s.session.handle.clone()),
        ("user", s.session.user_id.clone()),
        ("tenant", s.session.tenant_id.clone()),
        ("access token", s.access_token.token.clone()),
        ("access expires", time(s.access_token.expiry)),
        ("refresh token", s.refresh_token.token.clone()),
        ("refresh expires", time(s.refresh_token.expiry)),
    ];
    if let Some(c) = &s.anti_csrf_token {
        lines.push(("anti-csrf token", c.clone()));
    }
    lines
}

pub(crate) async fn run(conn: &Conn, cmd: SessionCmd) -> Result<(), String> {
    let client = conn.client()?;
    let out = conn.out();
    match cmd {
        SessionCmd::Create { user, public, private, tenant, anti_csrf } => {
            let req = CreateSessionRequest {
                user_id: user,
                user_data_in_jwt: json_object("public", public)?,
                user_data_in_database: json_object("private", private)?,
                enable_anti_csrf: Some(anti_csrf),
                ..CreateSessionRequest::default()
            };
            let s = client.create_session(tenant.as_deref(), &req).await.map_err(err)?;
            out.print(&s, &issued_lines(&s));
        }
        SessionCmd::Verify { token, check_database, anti_csrf_token } => {
            let req = VerifySessionRequest {
                access_token: token,
                do_anti_csrf_check: anti_csrf_token.is_some(),
                anti_csrf_token,
                enable_anti_csrf: None,
                check_database,
            };
            let resp = client.verify_session(&req).await.map_err(err)?;
            match &resp {
                VerifySessionResponse::Ok { session, .. } => out.print(
                    &resp,
                    &[
                        ("valid", "yes".to_owned()),
                        ("session", session.handle.clone()),
                        ("user", session.user_id.clone()),
                        (
                            "public data",
                            serde_json::Value::Object(session.user_data_in_jwt.clone()).to_string(),
                        ),
                    ],
                ),
                VerifySessionResponse::Unauthorised { message } => {
                    return invalid(out, &resp, Code::Unauthorised.as_str(), message);
                }
                VerifySessionResponse::TryRefreshToken { message } => {
                    return invalid(out, &resp, Code::TryRefreshToken.as_str(), message);
                }
            }
        }
        SessionCmd::Refresh { token, anti_csrf_token } => {
            let req = RefreshSessionRequest {
                refresh_token: token,
                anti_csrf_token,
                enable_anti_csrf: None,
                use_dynamic_signing_key: None,
            };
            let resp = client.refresh_session(&req).await.map_err(err)?;
            match &resp {
                RefreshSessionResponse::Ok(s) => out.print(&resp, &issued_lines(s)),
                RefreshSessionResponse::Unauthorised { message } => {
                    return invalid(out, &resp, Code::Unauthorised.as_str(), message);
                }
                RefreshSessionResponse::TokenTheftDetected { session } => {
                    let msg = format!(
                        "refresh token reuse detected: session {} of user {} has been revoked",
                        session.handle, session.user_id
                    );
                    return invalid(out, &resp, Code::TokenTheftDetected.as_str(), &msg);
                }
            }
        }
        SessionCmd::Get { handle } => {
            let resp = client.session_info(&handle).await.map_err(err)?;
            match &resp {
                SessionInfoResponse::Ok {
                    user_id,
                    tenant_id,
                    time_created,
                    expiry,
                    user_data_in_jwt,
                    user_data_in_database,
                    ..
                } => out.print(
                    &resp,
                    &[
                        ("session", handle.clone()),
                        ("user", user_id.clone()),
                        ("tenant", tenant_id.clone()),
                        ("created", time(*time_created)),
                        ("expires", time(*expiry)),
                        (
                            "public data",
                            serde_json::Value::Object(user_data_in_jwt.clone()).to_string(),
                        ),
                        (
                            "private data",
                            serde_json::Value::Object(user_data_in_database.clone()).to_string(),
                        ),
                    ],
                ),
                SessionInfoResponse::Unauthorised { .. } => {
                    if out.json {
                        out.print(&resp, &[]);
                    }
                    return Err(format!("session {handle} not found"));
                }
            }
        }
        SessionCmd::Delete { handle } => {
            let req = RemoveSessionsRequest {
                session_handles: Some(vec![handle.clone()]),
                ..RemoveSessionsRequest::default()
            };
            let revoked = client.remove_sessions(None, &req).await.map_err(err)?;
            let body = serde_json::json!({ "status": "OK", "sessionHandlesRevoked": revoked });
            if revoked.is_empty() {
                if out.json {
                    out.print(&body, &[]);
                }
                return Err(format!("session {handle} not found"));
            }
            out.print(&body, &[("revoked", handle)]);
        }
        SessionCmd::List { user } => {
            let list = client.user_sessions(&user).await.map_err(err)?;
            if out.json {
                out.print(&list, &[]);
            } else if list.sessions.is_empty() {
                println!("no sessions for user {user}");
            } else {
                println!(
                    "{:<38}  {:<8}  {:<20}  {:<20}  {:<20}  client",
                    "SESSION", "TENANT", "CREATED", "LAST ACTIVE", "EXPIRES"
                );
                for s in &list.sessions {
                    let client = match (&s.ip, &s.user_agent) {
                        (None, None) => "-".to_owned(),
                        (ip, ua) => format!(
                            "{} {}",
                            ip.as_deref().unwrap_or("-"),
                            ua.as_deref().unwrap_or("")
                        ),
                    };
                    println!(
                        "{:<38}  {:<8}  {:<20}  {:<20}  {:<20}  {client}",
                        s.handle,
                        s.tenant_id,
                        time(s.created_at),
                        time(s.last_active_at),
                        time(s.expires_at)
                    );
                }
            }
        }
        SessionCmd::RevokeAll { user } => {
            let req = RemoveSessionsRequest {
                user_id: Some(user.clone()),
                ..RemoveSessionsRequest::default()
            };
            let revoked = client.remove_sessions(None, &req).await.map_err(err)?;
            let body = serde_json::json!({ "status": "OK", "sessionHandlesRevoked": revoked });
            out.print(&body, &[("user", user), ("revoked", revoked.len().to_string())]);
        }
    }
    Ok(())
}

/// Prints the response (for `--json`) and fails with the status and message.
fn invalid<T: serde::Serialize>(
    out: super::Out, resp: &T, status: &str, message: &str,
) -> Result<(), String> {
    if out.json {
        out.print(resp, &[]);
    }
    Err(format!("{status}: {message}"))
}

fn key_lines(keys: &[Key]) {
    println!("{:<40}  {:<8}  {:<6}  {:<20}  current", "KID", "KIND", "ALG", "CREATED");
    for k in keys {
        println!(
            "{:<40}  {:<8}  {:<6}  {:<20}  {}",
            k.kid,
            k.kind,
            k.alg,
            time(k.created_at),
            if k.current { "yes" } else { "" }
        );
    }
}

pub(crate) async fn run_keys(conn: &Conn, cmd: KeysCmd) -> Result<(), String> {
    let client = conn.client()?;
    let out = conn.out();
    match cmd {
        KeysCmd::List => {
            let list = client.keys().await.map_err(err)?;
            if out.json { out.print(&list, &[]) } else { key_lines(&list.keys) }
        }
        KeysCmd::Rotate => {
            let r = client.rotate_keys().await.map_err(err)?;
            out.print(&r, &[("rotated", "yes".to_owned()), ("new key", r.key.kid.clone())]);
        }
        KeysCmd::Reset => {
            let list = client.reset_keys().await.map_err(err)?;
            if out.json {
                out.print(&list, &[]);
            } else {
                println!(
                    "every signing key replaced; outstanding access, id and service tokens no longer verify"
                );
                key_lines(&list.keys);
            }
        }
    }
    Ok(())
}

pub(crate) async fn run_token(conn: &Conn, cmd: TokenCmd) -> Result<(), String> {
    let client = conn.client()?;
    let out = conn.out();
    match cmd {
        TokenCmd::Create { expires_in } => {
            let t = client.create_service_token(expires_in).await.map_err(err)?;
            let expires = t.expires_at.map_or_else(|| "at the next key reset".to_owned(), time);
            out.print(&t, &[("token", t.token.clone()), ("expires", expires)]);
        }
        TokenCmd::Verify { token } => {
            let valid = client.verify_service_token(&token).await.map_err(err)?;
            let body = serde_json::json!({ "valid": valid });
            if valid {
                out.print(&body, &[("valid", "yes".to_owned())]);
            } else {
                if out.json {
                    out.print(&body, &[]);
                }
                return Err("invalid token".to_owned());
            }
        }
    }
    Ok(())
}
