//! What travels with a command through the write path, and what comes back: who is writing (the
//! [`Envelope`]), what the answer must carry ([`Answer`]), and what the write produced
//! ([`Outcome`], [`Written`]) — the row the append transaction itself wrote, so a response never
//! describes a state its request did not produce. A submission also carries the request body as
//! it came ([`Sent`]); a refusal's log record keeps it masked and capped ([`RequestBody`]).
//!
//! Plain data: the store fills these in, the service and the HTTP layer read them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scim::mask::{self, Secrets};

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
    /// The request body as the client sent it, for the log's record should the write be refused
    /// (`None`: the write did not come from a request, as the admin socket's). Kept unmasked only
    /// in memory; the record keeps it masked and capped ([`RequestBody`]).
    pub sent: Option<Sent>,
}

impl Submission {
    /// A submission that carries no request body (commands built by the server or the admin).
    pub fn new(command: Command, envelope: Envelope, answer: Answer) -> Self {
        Self {
            command,
            envelope,
            answer,
            sent: None,
        }
    }
}

/// How much of a request body a log record keeps, in bytes (then it says it was cut).
pub const BODY_CAP: usize = 8 * 1024;

/// A request body as it arrived, before masking.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// The request carried no body (a DELETE).
    Nothing,
    /// A JSON body (for `/Bulk`, the operation's own `data`).
    Json(Value),
    /// A body that is not JSON: its first bytes (up to [`BODY_CAP`]) and how many came.
    Unparsed {
        /// The first bytes.
        head: Vec<u8>,
        /// Bytes received (for a body over `max_body_bytes`, as far as it was read).
        size: u64,
    },
}

impl Sent {
    /// What the log keeps of this body: secrets masked ([`crate::scim::mask`]), cut at
    /// [`BODY_CAP`] bytes.
    pub fn keep(&self, secrets: &Secrets) -> RequestBody {
        // `partial`: only the first bytes of the body came this far (over max_body_bytes).
        let (text, json, size, partial) = match self {
            Self::Nothing => return RequestBody::Nothing,
            Self::Unparsed { head, size } if head.is_empty() && *size == 0 => {
                return RequestBody::Nothing
            }
            Self::Json(v) => {
                let mut v = v.clone();
                mask::mask_json(&mut v, secrets);
                let text = v.to_string();
                let size = text.len() as u64;
                (text, true, size, false)
            }
            Self::Unparsed { head, size } => {
                let text = mask::mask_text(&String::from_utf8_lossy(head), secrets);
                let partial = *size > head.len() as u64;
                (text, false, (*size).max(head.len() as u64), partial)
            }
        };
        let (text, cut) = mask::cap(text, BODY_CAP);
        RequestBody::Kept(KeptBody {
            truncated: cut || partial,
            text,
            json,
            size,
        })
    }
}

/// What a log record keeps of the request body.
///
/// Stored inside every log record since format 3 (its bincode encoding is pinned by the codec's
/// golden bytes; new variants go at the end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestBody {
    /// Not kept: an accepted write (its event holds what was written), a write that did not come
    /// from a request, or a record from before format 3.
    NotKept,
    /// The refused request carried no body.
    Nothing,
    /// The refused request's body, secrets masked.
    Kept(KeptBody),
}

/// A refused request's body as the log keeps it: secrets masked, at most [`BODY_CAP`] bytes.
/// The admin API shows it as is (`explanation.body`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptBody {
    /// The text: compact JSON when the body parsed, else the bytes as (lossy) UTF-8.
    pub text: String,
    /// Whether it parsed as JSON.
    pub json: bool,
    /// Whether `text` was cut at [`BODY_CAP`] bytes.
    pub truncated: bool,
    /// The body's size in bytes before the cut (JSON: re-serialised compactly, after masking).
    pub size: u64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::Registry;

    fn kept(sent: &Sent) -> KeptBody {
        match sent.keep(&Secrets::of(&Registry::core())) {
            RequestBody::Kept(b) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bodies_are_kept_masked_and_capped() {
        let big = "x".repeat(3 * BODY_CAP);
        let b = kept(&Sent::Json(
            serde_json::json!({"password": "Secr3t!", "displayName": big}),
        ));
        assert!(
            b.json && b.truncated && b.text.len() <= BODY_CAP,
            "{}",
            b.text.len()
        );
        assert!(b.size > 3 * BODY_CAP as u64);
        assert!(b.text.starts_with("{\"displayName\":\"xxx") || b.text.contains("********"));
        assert!(!b.text.contains("Secr3t!"));
        let small = kept(&Sent::Json(serde_json::json!({"password": "Secr3t!"})));
        assert_eq!(small.text, "{\"password\":\"********\"}");
        assert!(!small.truncated);
    }

    #[test]
    fn bodies_that_are_not_json_are_kept_as_lossy_text() {
        let b = kept(&Sent::Unparsed {
            head: b"\xff\xfe{\"password\": \"Secr3t!\"".to_vec(),
            size: 20_000,
        });
        assert!(!b.json && b.truncated, "{b:?}");
        assert_eq!(b.size, 20_000);
        assert!(
            b.text.starts_with('\u{fffd}') && !b.text.contains("Secr3t!"),
            "{}",
            b.text
        );
        assert_eq!(
            Sent::Unparsed {
                head: Vec::new(),
                size: 0
            }
            .keep(&Secrets::of(&Registry::core())),
            RequestBody::Nothing
        );
        assert_eq!(
            Sent::Nothing.keep(&Secrets::of(&Registry::core())),
            RequestBody::Nothing
        );
    }
}
