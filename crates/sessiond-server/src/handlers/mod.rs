//! Request handlers, grouped by API: [`cdi`] (SuperTokens Core Driver Interface),
//! [`v1`] (`/sessiond/v1`), [`events`] (the revocation stream), [`ops`] (health, readiness).

pub(crate) mod cdi;
pub(crate) mod events;
pub(crate) mod ops;
pub(crate) mod v1;

use sessiond_api::cdi as wire;
use sessiond_core::{IssuedSession, IssuedToken, SessionSummary};

pub(crate) fn session(s: SessionSummary) -> wire::Session {
    wire::Session {
        handle: s.handle,
        user_id: s.user_id,
        recipe_user_id: s.recipe_user_id,
        user_data_in_jwt: s.public_data,
        tenant_id: s.tenant_id,
    }
}

pub(crate) fn token(t: IssuedToken) -> wire::TokenInfo {
    wire::TokenInfo {
        token: t.token.into_inner(),
        expiry: t.expires_at,
        created_time: t.created_at,
    }
}

pub(crate) fn issued(s: IssuedSession) -> wire::IssuedSession {
    wire::IssuedSession {
        session: session(s.session),
        access_token: token(s.tokens.access),
        refresh_token: token(s.tokens.refresh),
        anti_csrf_token: s.tokens.anti_csrf.map(|t| t.into_inner()),
    }
}
