//! What travels with a command through the write path, and what comes back: who is writing (the
//! [`Envelope`]), what the answer must carry ([`Answer`]), and what the write produced
//! ([`Outcome`], [`Written`]) — the row the append transaction itself wrote, so a response never
//! describes a state its request did not produce.
//!
//! Plain data: the store fills these in, the service and the HTTP layer read them.

use serde::{Deserialize, Serialize};

use super::command::Command;
use super::decide::{GroupState, UserState};
use super::error::Rejection;
use super::ids::TokenId;

/// Who made a change: the token and its client name (or the local operator).
///
/// Stored inside every log record (its bincode encoding is pinned by the codec's golden bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The token, or `None` for the local CLI / admin socket / console.
    pub token_id: Option<TokenId>,
    /// The client name ("Entra ID"), or "cli".
    pub client: String,
}

/// The facts about a request that the log records with its events or its rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Who asked.
    pub actor: Actor,
    /// The request id (also in `X-Request-Id` and the access log).
    pub request_id: String,
    /// The client's address, if known.
    pub client_addr: Option<String>,
}

/// What the answer to a write must carry besides the resource's own row, and how it is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Answer {
    /// The memberships as they stand after the write: a user's groups, a group's members.
    pub memberships: bool,
    /// The HTTP status the client gets when the write is accepted, recorded with its events so
    /// the report shows what the client saw (`None`: not answered over HTTP).
    pub status: Option<u16>,
}

/// A command on its way to the writer.
#[derive(Debug, Clone)]
pub struct Submission {
    /// What to do.
    pub command: Command,
    /// Who asked.
    pub envelope: Envelope,
    /// What the answer needs.
    pub answer: Answer,
}

/// A member of a group or a group of a user, as an answer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The other resource's id.
    pub id: [u8; 16],
    /// Its name (a user's displayName or userName, a group's displayName).
    pub display: Option<String>,
}

/// The target's row as the append transaction left it.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// A user, and its groups when the answer asked for memberships.
    User {
        /// The stored document and meta.
        state: UserState,
        /// Its groups, in id order.
        groups: Option<Vec<Link>>,
    },
    /// A group, and its members when the answer asked for memberships.
    Group {
        /// The stored document, meta and member count.
        state: GroupState,
        /// Its members, in id order.
        members: Option<Vec<Link>>,
    },
    /// The target does not exist after the write (it was deleted), or it is not a user or group.
    None,
}

/// What an accepted command wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The target's id.
    pub id: [u8; 16],
    /// Sequence number of its last event; `None` when nothing changed (no event appended).
    pub seq: Option<u64>,
    /// The target's row after the write, read inside the transaction that appended it.
    pub row: Row,
}

/// What became of one submitted command.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Accepted and appended.
    Written(Written),
    /// Refused; the rejection was appended at `seq`.
    Refused {
        /// Where the rejection record sits.
        seq: u64,
        /// Why.
        rejection: Rejection,
    },
}
