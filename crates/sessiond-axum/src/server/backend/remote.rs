//! The remote backend: a running `sessiond serve` reached through `sessiond-client`, its
//! answers mapped to [`BackendError`], and its revocation stream followed into a local feed.

use std::sync::Arc;
use std::time::Duration;

use sessiond_api::cdi::{VerifySessionRequest, VerifySessionResponse};
use sessiond_client::{Client, ClientError};
use sessiond_core::Code;
use sessiond_core::cache::VerifiedCache;
use sessiond_core::revocation::RevocationFeed;

use super::tokens::{Cached, Payload, issued, tokens};
use super::{BackendError, CsrfCheck, Issued, SessionIdentity, Verified};
use crate::server::jwks::JwksCache;

/// What a failed call to the service means for the frontend protocol.
pub(super) fn from_client(e: ClientError) -> BackendError {
    match e {
        ClientError::Http { status: 400, message, .. } => BackendError::InvalidInput(message),
        ClientError::Http { status: 404, .. } => BackendError::Unauthorised { clear: true },
        ClientError::Http { status: 409, .. } => BackendError::Conflict,
        ClientError::Http { status, code, .. }
            if status >= 500 || code == Code::StoreUnavailable.as_str() =>
        {
            BackendError::Unavailable(format!("sessiond answered {status} {code}"))
        }
        ClientError::Connect { .. } => BackendError::Unavailable(e.to_string()),
        e => BackendError::Internal(e.to_string()),
    }
}

/// Sessions in a remote `sessiond serve`.
pub(crate) struct Remote {
    pub(super) client: Client,
    pub(super) jwks: Arc<JwksCache>,
    pub(super) cache: VerifiedCache<Cached>,
    /// The service's revocations, followed over its event stream.
    pub(super) revocations: Arc<RevocationFeed>,
    pub(super) following: std::sync::atomic::AtomicBool,
}

impl Remote {
    /// Starts following the service's revocation stream (once, on first use: it needs a
    /// runtime).
    pub(super) fn follow(self: &Arc<Self>) {
        if self.following.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        self.revocations.set_active(true);
        tokio::spawn(follow_remote(Arc::downgrade(self)));
    }
}

/// Reads the service's revocation stream into the feed, reconnecting from the last cursor with
/// backoff; while disconnected the feed is broken, so verification asks the service.
async fn follow_remote(remote: std::sync::Weak<Remote>) {
    use sessiond_api::v1::RevocationMessage;
    use sessiond_core::store::{Event, EventKind, EventPage};
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(r) = remote.upgrade() else { return };
        let (client, feed, jwks) =
            (r.client.clone(), Arc::clone(&r.revocations), Arc::clone(&r.jwks));
        drop(r);
        match client.revocations(feed.cursor()).await {
            Ok(mut stream) => {
                loop {
                    // Wake up now and then to stop when the sessions are gone.
                    let msg = tokio::select! {
                        m = stream.next() => m,
                        () = tokio::time::sleep(Duration::from_secs(30)) => {
                            if remote.strong_count() == 0 {
                                return;
                            }
                            continue;
                        }
                    };
                    let Some(msg) = msg else { break };
                    let from = feed.cursor();
                    let page = |kind, cursor, at| EventPage {
                        events: vec![Event { cursor, at, kind }],
                        continuous: true,
                    };
                    match msg {
                        Ok(RevocationMessage::Revoked { cursor, at, handle }) => {
                            feed.apply(&page(EventKind::Revoked { handle }, cursor, at), from);
                        }
                        Ok(RevocationMessage::KeysReset { cursor, at }) => {
                            feed.apply(&page(EventKind::KeysReset, cursor, at), from);
                            if let Err(e) = jwks.fetch().await {
                                tracing::warn!(error = %e, "refetching the JWKS after a key reset failed");
                            }
                        }
                        Ok(RevocationMessage::Gap) => {
                            feed.apply(
                                &EventPage { events: vec![], continuous: false },
                                from.max(1),
                            );
                        }
                        Ok(RevocationMessage::Current) => {
                            feed.mark_current();
                            backoff = Duration::from_millis(100);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "the revocation stream failed");
                            break;
                        }
                    }
                    if remote.strong_count() == 0 {
                        return;
                    }
                }
                feed.mark_broken();
            }
            Err(e) => {
                feed.mark_broken();
                tracing::warn!(error = %e, "cannot open the revocation stream; checking sessions against the service until it works");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

impl Remote {
    /// A database-checked verify by the service.
    pub(super) async fn verify_checked(
        &self, token: &str, csrf: CsrfCheck<'_>,
    ) -> Result<Verified, BackendError> {
        let req = VerifySessionRequest {
            access_token: token.to_owned(),
            anti_csrf_token: csrf.token.map(str::to_owned),
            do_anti_csrf_check: csrf.check,
            enable_anti_csrf: Some(csrf.check),
            check_database: true,
        };
        match self.client.verify_session(&req).await.map_err(from_client)? {
            VerifySessionResponse::Ok { session, access_token } => {
                let identity = Arc::new(identity_from_api(session));
                let reissued =
                    access_token.map(|t| tokens(&identity.user_id, t.token, t.expiry, None, None));
                let payload = match &reissued {
                    Some(t) => Arc::clone(&t.payload),
                    None => Payload::of_token(token),
                };
                Ok(Verified { identity, payload, reissued })
            }
            VerifySessionResponse::Unauthorised { .. } => {
                Err(BackendError::Unauthorised { clear: true })
            }
            VerifySessionResponse::TryRefreshToken { .. } => Err(BackendError::TryRefresh),
        }
    }
}

/// Who the service says a session is.
pub(super) fn identity_from_api(s: sessiond_api::cdi::Session) -> SessionIdentity {
    SessionIdentity {
        handle: s.handle,
        user_id: s.user_id,
        recipe_user_id: s.recipe_user_id,
        tenant_id: s.tenant_id,
    }
}

/// A session the service created or refreshed, as the layer sends it.
pub(super) fn issued_from_api(s: sessiond_api::cdi::IssuedSession) -> Issued {
    issued(
        identity_from_api(s.session),
        s.access_token.token,
        s.access_token.expiry,
        Some((s.refresh_token.token, s.refresh_token.expiry)),
        s.anti_csrf_token,
    )
}
