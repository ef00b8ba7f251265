//! `sessiond login | whoami | logout`: a CLI session kept in a token file (seed 001 `Session`).

use std::path::PathBuf;

use clap::Args;
use sessiond_client::api::cdi::{
    CreateSessionRequest, IssuedSession, RefreshSessionRequest, RefreshSessionResponse,
    RemoveSessionsRequest, VerifySessionRequest, VerifySessionResponse,
};
use sessiond_client::{Client, StoredSession, TokenFile};
use sessiond_core::error_chain;

use super::Conn;
use super::output::time;

/// Where the token file is.
#[derive(Debug, Args)]
pub(crate) struct TokenFileArg {
    /// Token file [default: $XDG_STATE_HOME/sessiond/session.json].
    #[arg(long, env = "SESSIOND_TOKEN_FILE", global = true)]
    token_file: Option<PathBuf>,
}

impl TokenFileArg {
    fn file(&self) -> TokenFile {
        TokenFile::new(self.token_file.clone().unwrap_or_else(TokenFile::default_path))
    }
}

fn stored(url: &str, s: &IssuedSession) -> StoredSession {
    StoredSession {
        version: 1,
        url: url.to_owned(),
        session_handle: s.session.handle.clone(),
        user_id: s.session.user_id.clone(),
        access_token: s.access_token.token.clone(),
        access_token_expiry: s.access_token.expiry,
        refresh_token: s.refresh_token.token.clone(),
        anti_csrf_token: s.anti_csrf_token.clone(),
    }
}

fn lines(s: &StoredSession) -> Vec<(&'static str, String)> {
    vec![
        ("user", s.user_id.clone()),
        ("session", s.session_handle.clone()),
        ("server", s.url.clone()),
        ("access expires", time(s.access_token_expiry)),
    ]
}

pub(crate) async fn login(conn: &Conn, user: String, tf: &TokenFileArg) -> Result<(), String> {
    let file = tf.file();
    let client = conn.client()?;
    let _lock = file.lock().map_err(|e| e.to_string())?;
    let req = CreateSessionRequest {
        user_id: user,
        enable_anti_csrf: Some(false),
        ..CreateSessionRequest::default()
    };
    let s = client.create_session(None, &req).await.map_err(|e| error_chain(&e))?;
    let st = stored(client.base_url(), &s);
    file.write(&st).map_err(|e| e.to_string())?;
    conn.out().print(&st.clone().redacted(), &{
        let mut l = lines(&st);
        l.push(("token file", file.path().display().to_string()));
        l
    });
    Ok(())
}

pub(crate) async fn whoami(conn: &Conn, tf: &TokenFileArg) -> Result<(), String> {
    let file = tf.file();
    // Held across read, verify, refresh and write: concurrent processes take turns, so none
    // refreshes a token another has already rotated.
    let _lock = file.lock().map_err(|e| e.to_string())?;
    let mut st = file.read().map_err(|e| e.to_string())?.ok_or_else(|| {
        format!(
            "not logged in (no token file at {}); run `sessiond login --user USER`",
            file.path().display()
        )
    })?;
    // The tokens belong to the server that issued them.
    let client = Client::new(&st.url, conn.api_key.as_deref()).map_err(|e| e.to_string())?;
    let req = VerifySessionRequest {
        access_token: st.access_token.clone(),
        anti_csrf_token: None,
        do_anti_csrf_check: false,
        enable_anti_csrf: None,
        check_database: true,
    };
    match client.verify_session(&req).await.map_err(|e| error_chain(&e))? {
        VerifySessionResponse::Ok { access_token, .. } => {
            if let Some(t) = access_token {
                st.access_token = t.token;
                st.access_token_expiry = t.expiry;
                file.write(&st).map_err(|e| e.to_string())?;
            }
        }
        VerifySessionResponse::TryRefreshToken { .. } => {
            let req = RefreshSessionRequest {
                refresh_token: st.refresh_token.clone(),
                anti_csrf_token: st.anti_csrf_token.clone(),
                enable_anti_csrf: None,
                use_dynamic_signing_key: None,
            };
            match client.refresh_session(&req).await.map_err(|e| error_chain(&e))? {
                RefreshSessionResponse::Ok(s) => {
                    st = stored(&st.url, &s);
                    file.write(&st).map_err(|e| e.to_string())?;
                }
                RefreshSessionResponse::Unauthorised { message } => {
                    return Err(format!("the session has ended ({message}); log in again"));
                }
                RefreshSessionResponse::TokenTheftDetected { .. } => {
                    return Err(
                        "the session was revoked: its refresh token was used twice (possible theft); log in again"
                            .to_owned(),
                    );
                }
            }
        }
        VerifySessionResponse::Unauthorised { message } => {
            return Err(format!("the session has ended ({message}); log in again"));
        }
    }
    conn.out().print(&st.clone().redacted(), &lines(&st));
    Ok(())
}

pub(crate) async fn logout(conn: &Conn, tf: &TokenFileArg) -> Result<(), String> {
    let file = tf.file();
    let _lock = file.lock().map_err(|e| e.to_string())?;
    let st = file
        .read()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("not logged in (no token file at {})", file.path().display()))?;
    let client = Client::new(&st.url, conn.api_key.as_deref()).map_err(|e| e.to_string())?;
    let req = RemoveSessionsRequest {
        session_handles: Some(vec![st.session_handle.clone()]),
        ..RemoveSessionsRequest::default()
    };
    // Revoke first: if the server cannot be reached the file stays, so logout can be retried.
    let revoked = client.remove_sessions(None, &req).await.map_err(|e| error_chain(&e))?;
    file.destroy().map_err(|e| e.to_string())?;
    let body = serde_json::json!({
        "status": "OK",
        "sessionHandlesRevoked": revoked,
        "tokenFile": file.path().display().to_string(),
    });
    let note = if revoked.is_empty() {
        "session had already ended; token file removed".to_owned()
    } else {
        "session revoked; token file removed".to_owned()
    };
    conn.out().print(&body, &[("logged out", st.user_id), ("", note)]);
    Ok(())
}

/// What `--json` prints of a stored session: everything but the tokens.
trait Redacted {
    fn redacted(self) -> serde_json::Value;
}

impl Redacted for StoredSession {
    fn redacted(self) -> serde_json::Value {
        serde_json::json!({
            "userId": self.user_id,
            "sessionHandle": self.session_handle,
            "url": self.url,
            "accessTokenExpiry": self.access_token_expiry,
        })
    }
}
