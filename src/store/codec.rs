//! The stored-bytes contract. Every value scimd writes to sled is `format (u16, big-endian) ++
//! bincode(body)`. The format number says which body type follows; an older format is upcast on read,
//! a newer one is refused with a clear error. bincode is used only here, so it can be replaced.
//!
//! Golden-bytes tests below pin the encoding: if one fails, stored data would no longer read back.
//! Do not "fix" such a test; add a new format and an upcaster instead.
//!
//! Formats: views and bookkeeping records are at format 1. Log records reached format 2 when it
//! added [`LogRecord::answered`], the status the client got; format-1 log records are upcast on read
//! ([`decode_log`]). A data directory records the newest format it holds ([`DATA_FORMAT`]), so an
//! older scimd refuses it instead of misreading it.
//!
//! Token records are at format 2 (it added [`TokenRecord::scopes`]); a format-1 token record is
//! upcast to `scim:write`, what every token could do before scopes existed ([`decode_token`]). The
//! data directory is at format 3 since then: a log may hold `TokenScopesSet`, which an older scimd
//! cannot decode.
//!
//! Log records are at format 3 since they keep a refused write's request body, secrets masked
//! ([`LogRecord::request_body`]); format-2 records are upcast on read (nothing kept,
//! [`RequestBody::NotKept`]; pinned by `tests/fixtures/store/log-record-format-2.hex`).
//!
//! Compression: a body of [`COMPRESS_FROM`] bytes or more is stored compressed when that saves
//! space, marked by the [`COMPRESSED`] bit of the format word: `(format | 0x8000) ++ u32 length of
//! the body (big-endian) ++ lz4 block of the body coded against [`DICTIONARY`]`. The dictionary is
//! SCIM's vocabulary (attribute names and schema URNs as identity providers send them), so even a
//! short user document compresses to a fraction; it is part of the stored format and never
//! changes (a new one would need a new marker). Every decoder accepts both forms, so records
//! written before compression read as they always did.
//!
//! The data directory is at format 4 since these two: an older scimd can decode neither a
//! format-3 log record nor a compressed one.

use std::borrow::Cow;

use bincode::Options;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::domain::event::{Event, Rejected};
use crate::domain::ids::ClientName;
#[cfg(test)]
use crate::domain::ids::TokenId;
use crate::domain::scope::{Scope, DEFAULT_SCOPES};
use crate::scim::resource::Meta;

use super::error::{Result, StoreError};

/// Format of every record type this binary writes, log records aside.
pub const FORMAT: u16 = 1;

/// Format of the log records this binary writes.
pub const LOG_FORMAT: u16 = 3;

/// Format of the token records this binary writes.
pub const TOKEN_FORMAT: u16 = 2;

/// Newest format in a data directory this binary writes to (the `meta` format number).
pub const DATA_FORMAT: u16 = 4;

/// Biggest record we agree to decode; guards against a corrupt length prefix allocating gigabytes.
const MAX_RECORD: u64 = 256 * 1024 * 1024;

/// Bit of the format word that marks a compressed body.
pub const COMPRESSED: u16 = 0x8000;

/// Bodies shorter than this are stored plain: lz4 gains next to nothing on them.
pub const COMPRESS_FROM: usize = 128;

/// The dictionary compressed bodies are coded against (see the module header). Never edit it.
pub const DICTIONARY: &[u8] = include_bytes!("dictionary-1.txt");

pub use crate::domain::write::{Actor, KeptBody, RequestBody};

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
    /// The HTTP status the client got for an accepted write (201, 200, 204); `None` for records
    /// from before format 2, for rejections (their status is in [`Rejected`]) and for writes
    /// not answered over HTTP.
    pub answered: Option<u16>,
    /// What the record keeps of the request body: a refused write's body, secrets masked and
    /// capped; [`RequestBody::NotKept`] for accepted writes and for records from before format 3.
    pub request_body: RequestBody,
}

/// A log record as format 2 stored it (no `request_body`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LogRecordV2 {
    seq: u64,
    time_ms: i64,
    actor: Actor,
    request_id: String,
    client_addr: Option<String>,
    entry: Entry,
    answered: Option<u16>,
}

impl From<LogRecordV2> for LogRecord {
    fn from(r: LogRecordV2) -> Self {
        Self {
            seq: r.seq,
            time_ms: r.time_ms,
            actor: r.actor,
            request_id: r.request_id,
            client_addr: r.client_addr,
            entry: r.entry,
            answered: r.answered,
            request_body: RequestBody::NotKept,
        }
    }
}

/// A log record as format 1 stored it (no `answered`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LogRecordV1 {
    seq: u64,
    time_ms: i64,
    actor: Actor,
    request_id: String,
    client_addr: Option<String>,
    entry: Entry,
}

/// Format 1 upcasts through format 2: nothing was answered then.
impl From<LogRecordV1> for LogRecordV2 {
    fn from(r: LogRecordV1) -> Self {
        Self {
            seq: r.seq,
            time_ms: r.time_ms,
            actor: r.actor,
            request_id: r.request_id,
            client_addr: r.client_addr,
            entry: r.entry,
            answered: None,
        }
    }
}

impl From<LogRecordV1> for LogRecord {
    fn from(r: LogRecordV1) -> Self {
        LogRecordV2::from(r).into()
    }
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

impl UserRecord {
    /// The `meta` a client sees of this row.
    pub fn meta(&self) -> Meta {
        Meta {
            created_ms: self.created_ms,
            last_modified_ms: self.last_modified_ms,
            version: self.version,
        }
    }

    /// The `display` of a link to this user: its displayName, else its userName.
    pub fn shown_name(&self) -> Option<String> {
        let n = DocNames::of(&self.doc);
        n.display_name.or(n.user_name)
    }
}

impl GroupRecord {
    /// The `meta` a client sees of this row.
    pub fn meta(&self) -> Meta {
        Meta {
            created_ms: self.created_ms,
            last_modified_ms: self.last_modified_ms,
            version: self.version,
        }
    }

    /// The `display` of a link to this group: its displayName.
    pub fn shown_name(&self) -> Option<String> {
        DocNames::of(&self.doc).display_name
    }
}

/// The names in a stored document (JSON text), read without building the rest of it (serde skips
/// the other attributes unparsed). Stored documents were validated when written, so a name of
/// another type than a string cannot occur.
#[derive(Deserialize, Default)]
pub struct DocNames {
    /// `userName`
    #[serde(rename = "userName")]
    pub user_name: Option<String>,
    /// `displayName`
    #[serde(rename = "displayName")]
    pub display_name: Option<String>,
    /// `externalId`
    #[serde(rename = "externalId")]
    pub external_id: Option<String>,
}

impl DocNames {
    /// The names of `doc`; none when it is not a JSON object.
    pub fn of(doc: &str) -> Self {
        serde_json::from_str(doc).unwrap_or_default()
    }
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
    /// What it may do, sorted, never empty.
    pub scopes: Vec<Scope>,
}

/// A token record as format 1 stored it (no scopes: every token could write).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TokenRecordV1 {
    name: ClientName,
    secret_sha256: [u8; 32],
    created_ms: i64,
    revoked_ms: Option<i64>,
    expires_ms: Option<i64>,
}

impl From<TokenRecordV1> for TokenRecord {
    fn from(r: TokenRecordV1) -> Self {
        Self {
            name: r.name,
            secret_sha256: r.secret_sha256,
            created_ms: r.created_ms,
            revoked_ms: r.revoked_ms,
            expires_ms: r.expires_ms,
            scopes: DEFAULT_SCOPES.to_vec(),
        }
    }
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
            Event::MembersAddedAsSent { group, members, .. } => std::iter::once(*group.as_bytes())
                .chain(members.iter().map(|m| *m.id.as_bytes()))
                .collect(),
            Event::GroupDeleted { id, members, .. } => std::iter::once(*id.as_bytes())
                .chain(members.iter().map(|u| *u.as_bytes()))
                .collect(),
            Event::TokenIssued { id, .. }
            | Event::TokenRevoked { id, .. }
            | Event::TokenExpirySet { id, .. }
            | Event::TokenScopesSet { id, .. } => vec![*id.as_bytes()],
        },
        Entry::Rejected(r) => r
            .target_id
            .as_deref()
            .and_then(|t| uuid::Uuid::parse_str(t).ok())
            .map(|u| vec![*u.as_bytes()])
            .unwrap_or_default(),
    }
}

/// Where a webhook subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookState {
    /// Delivering (or retrying).
    Active,
    /// Stopped by the admin; resumes where it stopped.
    Paused,
    /// Stopped after failing for longer than `webhook_dead_letter_after`; resumes where it stopped.
    DeadLetter,
}

/// A record of the `webhooks` tree: a subscription and its delivery state (bookkeeping, not a
/// view: it is not derived from the log; backups carry it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRecord {
    /// Where SETs are POSTed.
    pub url: String,
    /// The HMAC-SHA256 key of the signature header (kept in clear: it signs every delivery).
    pub secret: String,
    /// Event names wanted (`prov:create`, `prov:delete`, …; a prefix matches `:full`/`:notice`);
    /// empty: all.
    pub events: Vec<String>,
    /// Resource types wanted (`User`, `Group`); empty: both.
    pub resource_types: Vec<String>,
    /// Whether SETs carry the data (`false`: notice SETs).
    pub full: bool,
    /// When it was made, ms.
    pub created_ms: i64,
    /// Active, paused or dead-lettered.
    pub state: WebhookState,
    /// Sequence number of the last log record delivered or passed over (the next delivery is of
    /// the first wanted SET after it).
    pub cursor: u64,
    /// When a SET was last accepted by the receiver, ms.
    pub last_delivered_ms: Option<i64>,
    /// The last failure, as the admin should read it.
    pub last_error: Option<String>,
    /// Since when the SET at the head of the queue has failed, ms (`None`: not failing).
    pub failing_since_ms: Option<i64>,
    /// Failed attempts of that SET so far.
    pub attempts: u32,
    /// Deliveries accepted, in total.
    pub delivered: u64,
    /// Failed attempts, in total.
    pub failures: u64,
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
    encode_as(what, FORMAT, value)
}

fn encode_as<T: Serialize>(what: &'static str, format: u16, value: &T) -> Result<Vec<u8>> {
    let body = options().serialize(value).map_err(|e| StoreError::Encode {
        what,
        detail: e.to_string(),
    })?;
    if body.len() >= COMPRESS_FROM {
        let packed = lz4_flex::block::compress_with_dict(&body, DICTIONARY);
        if let (true, Ok(len)) = (packed.len() + 4 < body.len(), u32::try_from(body.len())) {
            let mut out = Vec::with_capacity(6 + packed.len());
            out.extend_from_slice(&(format | COMPRESSED).to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&packed);
            return Ok(out);
        }
    }
    let mut out = Vec::with_capacity(2 + body.len());
    out.extend_from_slice(&format.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Encode a log record (format [`LOG_FORMAT`]).
pub fn encode_log(rec: &LogRecord) -> Result<Vec<u8>> {
    encode_as("log record", LOG_FORMAT, rec)
}

/// Decode a log record of any format this binary knows, upcasting older ones.
pub fn decode_log(bytes: &[u8]) -> Result<LogRecord> {
    const WHAT: &str = "log record";
    let (format, body) = split_format(WHAT, bytes)?;
    match format {
        LOG_FORMAT => body_of(WHAT, &body),
        2 => body_of::<LogRecordV2>(WHAT, &body).map(LogRecord::from),
        1 => body_of::<LogRecordV1>(WHAT, &body).map(LogRecord::from),
        found => Err(unreadable(WHAT, found, LOG_FORMAT)),
    }
}

/// Encode a token record (format [`TOKEN_FORMAT`]).
pub fn encode_token(rec: &TokenRecord) -> Result<Vec<u8>> {
    encode_as("token record", TOKEN_FORMAT, rec)
}

/// Decode a token record of any format this binary knows; format 1 upcasts to `scim:write`.
pub fn decode_token(bytes: &[u8]) -> Result<TokenRecord> {
    const WHAT: &str = "token record";
    let (format, body) = split_format(WHAT, bytes)?;
    match format {
        TOKEN_FORMAT => body_of(WHAT, &body),
        1 => body_of::<TokenRecordV1>(WHAT, &body).map(TokenRecord::from),
        found => Err(unreadable(WHAT, found, TOKEN_FORMAT)),
    }
}

/// The bincode body of a record.
fn body_of<T: DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T> {
    options().deserialize(body).map_err(|e| StoreError::Decode {
        what,
        detail: e.to_string(),
    })
}

/// Why a record of format `found` cannot be read by a binary whose newest is `supported`: written
/// by a newer scimd, or not a format at all.
fn unreadable(what: &'static str, found: u16, supported: u16) -> StoreError {
    if found > supported {
        StoreError::NewerFormat {
            what,
            found,
            supported,
        }
    } else {
        StoreError::Decode {
            what,
            detail: format!("unknown format {found}"),
        }
    }
}

/// The format number and the body (decompressed if it was stored compressed).
fn split_format<'a>(what: &'static str, bytes: &'a [u8]) -> Result<(u16, Cow<'a, [u8]>)> {
    let garbled = |detail: String| StoreError::Decode { what, detail };
    let [a, b, rest @ ..] = bytes else {
        return Err(garbled("record shorter than its format number".into()));
    };
    let format = u16::from_be_bytes([*a, *b]);
    if format & COMPRESSED == 0 {
        return Ok((format, Cow::Borrowed(rest)));
    }
    let [l0, l1, l2, l3, packed @ ..] = rest else {
        return Err(garbled("compressed record shorter than its length".into()));
    };
    let len = u32::from_be_bytes([*l0, *l1, *l2, *l3]);
    let len = usize::try_from(len)
        .ok()
        .filter(|&n| n as u64 <= MAX_RECORD)
        .ok_or_else(|| garbled(format!("compressed record claims {len} bytes")))?;
    let body = lz4_flex::block::decompress_with_dict(packed, len, DICTIONARY)
        .map_err(|e| garbled(format!("compressed body: {e}")))?;
    if body.len() != len {
        return Err(garbled(format!(
            "compressed body is {} bytes, not {len}",
            body.len()
        )));
    }
    Ok((format & !COMPRESSED, Cow::Owned(body)))
}

/// Decode a value written by [`encode`] under any format this binary knows.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T> {
    let (format, body) = split_format(what, bytes)?;
    match format {
        // Format 1 is current. An older format gets an arm here that decodes its own body type
        // and converts it (the upcaster); stored bytes are never rewritten in place.
        FORMAT => body_of(what, &body),
        found => Err(unreadable(what, found, FORMAT)),
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
            answered: Some(200),
            request_body: RequestBody::NotKept,
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The bytes of `sample()` as format 1 stored it (before `answered`).
    fn golden_format_1() -> String {
        [
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
        .concat()
    }

    /// Format 1 of a log record still reads back, upcast (nothing was answered then).
    #[test]
    fn golden_bytes_of_a_format_1_log_record_upcast() {
        let bytes: Vec<u8> = (0..golden_format_1().len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&golden_format_1()[i..i + 2], 16).unwrap())
            .collect();
        let back = decode_log(&bytes).unwrap();
        assert_eq!(
            back,
            LogRecord {
                answered: None,
                ..sample()
            }
        );
    }

    /// Pins format 2 of a log record (written by scimd before request bodies were kept): the bytes
    /// below, also kept as a fixture file, still decode, upcast to "body not kept".
    #[test]
    fn golden_bytes_of_a_log_record() {
        let bytes = unhex(include_str!(
            "../../tests/fixtures/store/log-record-format-2.hex"
        ));
        let golden = [
            "0002",                  // format 2
            &golden_format_1()[4..], // the format-1 body, unchanged
            "01",                    // answered: Some
            "c8",                    // 200 (varint: below 251 it is one byte)
        ]
        .concat();
        assert_eq!(hex(&bytes), golden);
        assert_eq!(decode_log(&bytes).unwrap(), sample());
    }

    /// A refused write as format 3 stores it: its masked request body after `answered`.
    fn sample_refused() -> LogRecord {
        LogRecord {
            entry: Entry::Rejected(Rejected {
                action: Action::CreateUser,
                target_id: None,
                target_name: Some("a".into()),
                status: 400,
                scim_type: Some("invalidValue".into()),
                detail: "bad".into(),
            }),
            answered: None,
            request_body: RequestBody::Kept(KeptBody {
                text: "{\"p\":\"*\"}".into(),
                json: true,
                truncated: false,
                size: 9,
            }),
            ..sample()
        }
    }

    /// Pins format 3 of a log record. A change here means existing logs no longer decode.
    #[test]
    fn golden_bytes_of_a_format_3_log_record() {
        let prefix = &golden_format_1()[4..golden_format_1().find("00010202").unwrap()];
        let golden = [
            "0003", // format 3
            prefix, // seq .. client_addr, as in formats 1 and 2
            "01",   // Entry::Rejected
            "00",   // Action::CreateUser
            "00",   // target_id None
            "01",
            "01",
            "61",     // target_name Some("a")
            "fb9001", // status 400 (varint: u16 form)
            "01",
            "0c",
            "696e76616c696456616c7565", // scim_type Some("invalidValue")
            "03",
            "626164", // detail "bad"
            "00",     // answered None
            "02",     // RequestBody::Kept
            "09",
            "7b2270223a222a227d", // text {"p":"*"}
            "01",                 // json
            "00",                 // not truncated
            "09",                 // size 9
        ]
        .concat();
        let bytes = encode_log(&sample_refused()).unwrap();
        assert_eq!(hex(&bytes), golden);
        assert_eq!(decode_log(&bytes).unwrap(), sample_refused());
        // An accepted write keeps no body: one byte more than format 2.
        let accepted = encode_log(&sample()).unwrap();
        assert_eq!(&hex(&accepted)[..4], "0003");
        assert!(hex(&accepted).ends_with("01c800"), "{}", hex(&accepted));
    }

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn sample_token() -> TokenRecord {
        TokenRecord {
            name: ClientName::try_from("Entra ID").unwrap(),
            secret_sha256: [0xab; 32],
            created_ms: 1_767_225_600_000,
            revoked_ms: None,
            expires_ms: Some(1_798_761_600_000),
            scopes: vec![Scope::ScimRead, Scope::EventsRead],
        }
    }

    /// A token record as scimd stored it before scopes (a fixture file of the stored bytes, taken
    /// from a data directory of that version) reads back as `scim:write`.
    #[test]
    fn format_1_token_records_upcast_to_scim_write() {
        let bytes = unhex(include_str!(
            "../../tests/fixtures/store/token-record-format-1.hex"
        ));
        let back = decode_token(&bytes).unwrap();
        assert_eq!(
            back,
            TokenRecord {
                scopes: vec![Scope::ScimWrite],
                ..sample_token()
            }
        );
    }

    /// Pins format 2 of a token record: the format-1 body, then the scopes by variant index.
    #[test]
    fn golden_bytes_of_a_token_record() {
        let v1 = include_str!("../../tests/fixtures/store/token-record-format-1.hex");
        let v1: String = v1.split_whitespace().collect();
        let bytes = encode_token(&sample_token()).unwrap();
        let golden = ["0002", &v1[4..], "02", "01", "02"].concat();
        assert_eq!(hex(&bytes), golden);
        assert_eq!(decode_token(&bytes).unwrap(), sample_token());
        let mut newer = bytes.clone();
        newer[1] = 3;
        assert!(decode_token(&newer)
            .unwrap_err()
            .to_string()
            .contains("upgrade scimd"));
    }

    /// An Entra-shaped user document (RFC 7643's vocabulary, values of our own).
    const ALICE: &str = r#"{"externalId":"alice","userName":"alice@example.org","active":true,"displayName":"Alice Ng","emails":[{"primary":true,"type":"work","value":"alice@example.org"}],"name":{"formatted":"Alice Ng","familyName":"Ng","givenName":"Alice"},"title":"Engineer","phoneNumbers":[{"type":"work","value":"+1 555 0100"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"R&D"},"roles":[]}"#;

    #[test]
    fn shown_names_come_from_the_document_without_the_rest_of_it() {
        let user = |doc: &str| UserRecord {
            doc: doc.into(),
            ..alice_record()
        };
        let full = r#"{"userName":"a@x","displayName":"Alice","emails":[{"value":"a@x"}],"externalId":"e1"}"#;
        assert_eq!(user(full).shown_name().as_deref(), Some("Alice"));
        assert_eq!(
            user(r#"{"name":{"givenName":"A"},"userName":"a@x"}"#)
                .shown_name()
                .as_deref(),
            Some("a@x")
        );
        assert_eq!(user("[1]").shown_name(), None);
        let group = GroupRecord {
            doc: r#"{"displayName":"Sales","externalId":"g1","urn:x:ext":{"displayName":"no"}}"#
                .into(),
            created_ms: 0,
            last_modified_ms: 0,
            version: 1,
            member_count: 0,
        };
        assert_eq!(group.shown_name().as_deref(), Some("Sales"));
        let names = DocNames::of(full);
        assert_eq!(names.user_name.as_deref(), Some("a@x"));
        assert_eq!(names.external_id.as_deref(), Some("e1"));
    }

    fn alice_record() -> UserRecord {
        UserRecord {
            doc: ALICE.into(),
            created_ms: 1_767_225_600_000,
            last_modified_ms: 1_767_225_600_500,
            version: 42,
        }
    }

    /// The dictionary is part of the stored format: editing it would garble every compressed
    /// record already written.
    #[test]
    fn the_dictionary_never_changes() {
        use sha2::Digest;
        assert_eq!(
            hex(&sha2::Sha256::digest(DICTIONARY)),
            "21b33872b5f3fbfb0645cf934acc0886ce5b7f4c20b3f6a206e7aa71fcdee837"
        );
    }

    /// Pins the compressed form: these bytes (a user record as this version wrote it) must
    /// always read back. The encoder may produce other bytes for the same record one day (a
    /// newer lz4); what it writes must still read back to the record.
    #[test]
    fn golden_bytes_of_a_compressed_record() {
        let golden = unhex(include_str!(
            "../../tests/fixtures/store/user-record-compressed.hex"
        ));
        assert_eq!(u16::from_be_bytes([golden[0], golden[1]]), 0x8001);
        let back: UserRecord = decode("user record", &golden).unwrap();
        assert_eq!(back, alice_record());
        let bytes = encode("user record", &alice_record()).unwrap();
        assert_eq!(
            decode::<UserRecord>("user record", &bytes).unwrap(),
            alice_record()
        );
    }

    /// A user document compresses to well under half (the dictionary holds its vocabulary), a
    /// log record carrying one too; both read back unchanged.
    #[test]
    fn documents_are_stored_compressed() {
        let plain = options().serialize(&alice_record()).unwrap();
        let bytes = encode("user record", &alice_record()).unwrap();
        assert_ne!(u16::from_be_bytes([bytes[0], bytes[1]]) & COMPRESSED, 0);
        assert!(
            bytes.len() * 2 < plain.len(),
            "{} of {}",
            bytes.len(),
            plain.len()
        );

        let mut rec = sample();
        if let Entry::Event(Event::UserUpdated { user, .. }) = &mut rec.entry {
            user.doc = ALICE.into();
        }
        let bytes = encode_log(&rec).unwrap();
        assert_eq!(
            u16::from_be_bytes([bytes[0], bytes[1]]),
            LOG_FORMAT | COMPRESSED
        );
        assert_eq!(decode_log(&bytes).unwrap(), rec);
    }

    /// Bodies too short to gain are stored plain (the golden tests above pin those bytes).
    #[test]
    fn short_bodies_stay_plain() {
        let bytes = encode_log(&sample()).unwrap();
        assert_eq!(u16::from_be_bytes([bytes[0], bytes[1]]), LOG_FORMAT);
    }

    /// A damaged compressed record is an error, never a panic or a huge allocation.
    #[test]
    fn garbled_compressed_records_are_refused() {
        let good = encode("user record", &alice_record()).unwrap();
        let cases: Vec<Vec<u8>> = vec![
            vec![0x80, 0x01],
            vec![0x80, 0x01, 0, 0],
            // Claims 4 GiB.
            [&[0x80, 0x01, 0xff, 0xff, 0xff, 0xff][..], &good[6..]].concat(),
            // Claims one byte more than it holds.
            {
                let mut b = good.clone();
                b[5] = b[5].wrapping_add(1);
                b
            },
            good[..good.len() - 3].to_vec(),
            [&good[..6], &[0xff; 40][..]].concat(),
        ];
        for bytes in cases {
            assert!(decode::<UserRecord>("user record", &bytes).is_err());
            assert!(decode_log(&bytes).is_err());
        }
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
            request_body: RequestBody::Nothing,
            ..sample()
        };
        let back = decode_log(&encode_log(&rec).unwrap()).unwrap();
        assert_eq!(back, rec);
    }

    #[test]
    fn newer_and_garbled_formats_are_refused_clearly() {
        let mut bytes = encode_log(&sample()).unwrap();
        bytes[1] = 9;
        let e = decode_log(&bytes).unwrap_err();
        assert!(e.to_string().contains("upgrade scimd"), "{e}");
        assert!(decode_log(&[0]).is_err());
        assert!(decode_log(&[0, 1, 0xff, 0xff]).is_err());
        assert!(decode::<UserRecord>("user", &encode_log(&sample()).unwrap()).is_err());
    }
}
