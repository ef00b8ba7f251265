//! The revocation log every store keeps beside its sessions: what every stateless verifier
//! applies to its deny-set (see [`crate::revocation`]).

use crate::clock::Millis;

/// What a revocation-log entry tells every verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A session was revoked (signed out, revoked by handle or with all of its user's
    /// sessions, or ended by theft detection): its access tokens must stop verifying.
    Revoked {
        /// The handle of the revoked session.
        handle: String,
    },
    /// The signing keys were reset: every verifier reloads its keys now.
    KeysReset,
}

impl EventKind {
    /// A stable name for stores that keep the kind as text.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Revoked { .. } => "revoked",
            EventKind::KeysReset => "keys-reset",
        }
    }

    /// The subject of the event (the handle; empty for a key reset).
    pub fn subject(&self) -> &str {
        match self {
            EventKind::Revoked { handle } => handle,
            EventKind::KeysReset => "",
        }
    }

    /// Rebuilds an event from [`EventKind::name`] and [`EventKind::subject`].
    pub fn from_parts(name: &str, subject: &str) -> Option<Self> {
        match name {
            "revoked" => Some(EventKind::Revoked { handle: subject.to_owned() }),
            "keys-reset" => Some(EventKind::KeysReset),
            _ => None,
        }
    }
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its position: strictly increasing in the order the events became visible, so a reader
    /// that has seen up to `cursor` never misses a later event by reading after it.
    pub cursor: u64,
    /// When it was appended.
    pub at: Millis,
    /// The revocation or key reset it records.
    pub kind: EventKind,
}

/// A page of the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPage {
    /// Events after the requested cursor, oldest first.
    pub events: Vec<Event>,
    /// `false` when events after the requested cursor have been trimmed away: the reader missed
    /// some and cannot know which.
    pub continuous: bool,
}
