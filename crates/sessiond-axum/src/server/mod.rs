//! Server-backed sessions: the SuperTokens frontend protocol (what `supertokens-web-js`
//! expects of a supertokens-node backend) over a [`SessionManager`](sessiond_core::SessionManager)
//! in this process or a remote `sessiond serve`.

mod backend;
mod claims;
mod config;
mod error;
mod jwks;
mod layer;
mod session;
mod transport;

pub use backend::{Device, SessionIdentity};
pub use claims::ClaimValidator;
pub use config::{AntiCsrf, names};
pub use error::SessionError;
pub use layer::{SessionLayer, SessionService, Sessions, SessionsBuilder};
pub use session::{MaybeSession, Session, SessionIssuer, VerifySession, VerifySessionService};
pub use transport::Transfer;
