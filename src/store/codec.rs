//! The stored-bytes contract. Every value scimd writes to sled is `format (u16, big-endian) ++
//! bincode(body)`. The format number says which body type follows; an older format is upcast on read,
//! a newer one is refused with a clear error. bincode is used only here, so it can be replaced.
//!
//! Golden-bytes tests below pin the encoding: if one fails, stored data would no longer read back.
//! Do not "fix" such a test; add a new format and an upcaster instead.

use bincode::Options;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::domain::event::{Event, Rejected};
use crate::domain::ids::ClientName;
#[cfg(test)]
use crate::domain::ids::TokenId;

use super::error::{Result, StoreError};

/// Format of every record type this binary writes.
pub const FORMAT: u16 = 1;

/// Biggest record we agree to decode; guards against a corrupt length prefix allocating gigabytes.
const MAX_RECORD: u64 = 256 * 1024 * 1024;

pub use crate::domain::write::Actor;

/// One entry of the log: an accepted event or a rejected write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// Projected into the views.
    Event(Event),
    /// Kept for the report only; the views ignore it.
    Rejected(Rejected),
}

/// A record of the `log` tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Sequence number (also the key).
    pub seq: u64,
    /// When the writer took the request, ms since the Unix epoch.
    pub time_ms: i64,
    /// Who.
    pub actor: Actor,
    /// The request id (also in the response header `X-Request-Id` and the access log).
    pub request_id: String,
    /// The client's address, if known.
    pub client_addr: Option<String>,
    /// What happened.
    pub entry: Entry,
}

/// A record of the `users` tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The stored document, JSON text.
    pub doc: String,
    /// Creation time, ms.
    pub created_ms: i64,
    /// Last change, ms.
    pub last_modified_ms: i64,
    /// Sequence number of the last change.
    pub version: u64,
}

/// A record of the `groups` tree (members live in `members`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The stored document without members, JSON text.
    pub doc: String,
    /// Creation time, ms.
    pub created_ms: i64,
    /// Last change (attributes or membership), ms.
    pub last_modified_ms: i64,
    /// Sequence number of the last change.
    pub version: u64,
    /// Number of members.
    pub member_count: u64,
}

/// A record of the `tokens` tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The client.
    pub name: ClientName,
    /// SHA-256 of the secret half of the token.
    pub secret_sha256: [u8; 32],
    /// When it was issued, ms.
    pub created_ms: i64,
    /// When it was revoked, ms.
    pub revoked_ms: Option<i64>,
    /// When it stops working, ms (`None`: never).
    pub expires_ms: Option<i64>,
}

/// The ids (users, groups, tokens) a log entry is about, for the per-resource history index:
/// every resource whose view the entry changes. A membership change is part of the group's history
/// and of each member's; so is the membership cascade of a deletion.
pub fn resources_of(entry: &Entry) -> Vec<[u8; 16]> {
    match entry {
        Entry::Event(e) => match e {
            Event::UserCreated(u) => vec![*u.id.as_bytes()],
            Event::UserUpdated { user, .. }
            | Event::UserDeactivated { user, .. }
            | Event::UserReactivated { user, .. } => vec![*user.id.as_bytes()],
            // A deletion also changes every group the user was in (and every member of a
            // deleted group): it belongs to their histories too.
            Event::UserDeleted { id, groups, .. } => std::iter::once(*id.as_bytes())
                .chain(groups.iter().map(|g| *g.as_bytes()))
                .collect(),
            Event::UserPasswordSet { id, .. } => vec![*id.as_bytes()],
            Event::GroupCreated(g) => vec![*g.id.as_bytes()],
            Event::GroupUpdated { group, .. } | Event::GroupRenamed { group, .. } => {
                vec![*group.id.as_bytes()]
            }
            Event::MembersAdded { group, users, .. }
            | Event::MembersRemoved { group, users, .. } => std::iter::once(*group.as_bytes())
                .chain(users.iter().map(|u| *u.as_bytes()))
                .collect(),
            Event::GroupDeleted { id, members, .. } => std::iter::once(*id.as_bytes())
                .chain(members.iter().map(|u| *u.as_bytes()))
                .collect(),
            Event::TokenIssued { id, .. }
            | Event::TokenRevoked { id, .. }
            | Event::TokenExpirySet { id, .. } => vec![*id.as_bytes()],
        },
        Entry::Rejected(r) => r
            .target_id
            .as_deref()
            .and_then(|t| uuid::Uuid::parse_str(t).ok())
            .map(|u| vec![*u.as_bytes()])
            .unwrap_or_default(),
    }
}

/// A record of the `admins` tree (console accounts; bookkeeping, not a view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRecord {
    /// argon2id hash of the password (PHC string).
    pub hash: String,
    /// When the account was created, ms.
    pub created_ms: i64,
    /// When the password was last set, ms.
    pub updated_ms: i64,
}

fn options() -> impl Options {
    bincode::DefaultOptions::new().with_limit(MAX_RECORD)
}

/// Encode `value` with the current format number in front.
pub fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>> {
    let body = options().serialize(value).map_err(|e| StoreError::Encode {
        what,
        detail: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(2 + body.len());
    out.extend_from_slice(&FORMAT.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decode a value written by [`encode`] under any format this binary knows.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T> {
    let (format, body) = match bytes {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
        _ => {
            return Err(StoreError::Decode {
                what,
                detail: "record shorter than its format number".into(),
            })
        }
    };
    match format {
        // Format 1 is current. An older format gets an arm here that decodes its own body type
        // and converts it (the upcaster); stored bytes are never rewritten in place.
        FORMAT => options().deserialize(body).map_err(|e| StoreError::Decode {
            what,
            detail: e.to_string(),
        }),
        found if found > FORMAT => Err(StoreError::NewerFormat {
            what,
            found,
            supported: FORMAT,
        }),
        found => Err(StoreError::Decode {
            what,
            detail: format!("unknown format {found}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{Action, Change, UserSnapshot};
    use crate::domain::ids::{UserId, UserName};

    fn sample() -> LogRecord {
        LogRecord {
            seq: 7,
            time_ms: 1_767_225_600_000,
            actor: Actor {
                token_id: Some(TokenId::from_bytes([1; 16])),
                client: "Entra ID".into(),
            },
            request_id: "r1".into(),
            client_addr: Some("10.0.0.1".into()),
            entry: Entry::Event(Event::UserUpdated {
                user: UserSnapshot {
                    id: UserId::from_bytes([2; 16]),
                    user_name: UserName::try_from("a@b").unwrap(),
                    external_id: None,
                    doc: "{}".into(),
                },
                changes: vec![Change {
                    path: "title".into(),
                    old: None,
                    new: Some("\"x\"".into()),
                }],
            }),
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Pins format 1 of a log record. A change here means existing logs no longer decode.
    #[test]
    fn golden_bytes_of_a_log_record() {
        let bytes = encode("log record", &sample()).unwrap();
        let golden = [
            "0001",               // format 1 (big-endian u16)
            "07",                 // seq 7 (varint)
            "fd0050b5ed36030000", // time_ms (zigzag varint, 8-byte form)
            "01",
            "01010101010101010101010101010101", // Some(token id), 16 raw bytes
            "08",
            "456e747261204944", // client "Entra ID"
            "02",
            "7231", // request id "r1"
            "01",
            "08",
            "31302e302e302e31",                 // Some("10.0.0.1")
            "00",                               // Entry::Event
            "01",                               // Event::UserUpdated
            "02020202020202020202020202020202", // user id
            "03",
            "614062", // userName "a@b"
            "00",     // externalId None
            "02",
            "7b7d", // doc "{}"
            "01",   // one change
            "05",
            "7469746c65", // path "title"
            "00",         // old None
            "01",
            "03",
            "227822", // new Some("\"x\"")
        ]
        .concat();
        assert_eq!(hex(&bytes), golden);
        let back: LogRecord = decode("log record", &bytes).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn rejections_and_records_round_trip() {
        let rec = LogRecord {
            entry: Entry::Rejected(Rejected {
                action: Action::CreateUser,
                target_id: None,
                target_name: Some("a".into()),
                status: 409,
                scim_type: Some("uniqueness".into()),
                detail: "taken".into(),
            }),
            ..sample()
        };
        let back: LogRecord = decode("log", &encode("log", &rec).unwrap()).unwrap();
        assert_eq!(back, rec);
    }

    #[test]
    fn newer_and_garbled_formats_are_refused_clearly() {
        let mut bytes = encode("log", &sample()).unwrap();
        bytes[1] = 9;
        let e = decode::<LogRecord>("log", &bytes).unwrap_err();
        assert!(e.to_string().contains("upgrade scimd"), "{e}");
        assert!(decode::<LogRecord>("log", &[0]).is_err());
        assert!(decode::<LogRecord>("log", &[0, 1, 0xff, 0xff]).is_err());
    }
}
