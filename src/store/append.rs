//! The append transaction: decide a run of commands against the views, append their events (or
//! their rejections) to `log` and project the events, all in one sled transaction.
//!
//! The closure may be re-run by sled, so it has no side effects: sequence numbers start from a value
//! passed in, ids and times were made before. Durability (`flush`) is the writer's job, once per batch.

use sled::transaction::TransactionalTree;
use sled::Transactional;

use crate::domain::command::Command;
use crate::domain::decide::{self, GroupState, TokenState, UserState, Views};
use crate::domain::error::Rejection;
use crate::domain::event::Rejected;
use crate::domain::ids::{GroupId, TokenId, UserId};
use crate::scim::resource::{Document, Meta};
use crate::scim::schema::Registry;

use super::codec::{Actor, Entry, GroupRecord, LogRecord, TokenRecord, UserRecord};
use super::project::{tx_decode, TxError, TxViews};
use super::{keys, read, Result, Store, StoreError, Trees};

/// A command with the facts about its request that the log records.
#[derive(Debug, Clone)]
pub struct Pending {
    /// What to do.
    pub command: Command,
    /// Who asked.
    pub actor: Actor,
    /// Request id.
    pub request_id: String,
    /// Client address.
    pub client_addr: Option<String>,
}

/// What became of one command.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Accepted; `last_seq` is `None` when nothing changed (no event appended).
    Accepted {
        /// Sequence number of its last event.
        last_seq: Option<u64>,
    },
    /// Refused; the rejection was appended at `seq`.
    Rejected {
        /// Where the rejection record sits.
        seq: u64,
        /// Why.
        rejection: Rejection,
    },
}

/// Decide and append `batch` in one transaction, numbering from `first_seq`, stamped `time_ms`.
/// Returns one outcome per command and the next free sequence number.
///
/// Only `batch[0]` may need a membership scan (`Command::needs_scan`). sled cannot scan inside a
/// transaction (and a tree iterator would wait on the transaction's own lock), so that scan is done
/// here, before the transaction starts, on the committed trees, which then hold every earlier write.
pub fn append_batch(
    store: &Store,
    reg: &Registry,
    batch: &[Pending],
    first_seq: u64,
    time_ms: i64,
) -> Result<(Vec<Applied>, u64)> {
    let t = &store.trees;
    let scanned = match batch.first() {
        Some(p) if p.command.needs_scan() => Scanned::for_command(t, &p.command)?,
        _ => Scanned::default(),
    };
    let trees: Vec<sled::Tree> = std::iter::once(&t.log).chain(t.views()).cloned().collect();
    let result = trees[..].transaction(|tx: &Vec<TransactionalTree>| {
        let views = TxViews::from_slice(&tx[1..]).ok_or_else(|| {
            sled::transaction::ConflictableTransactionError::Abort(StoreError::Io(
                "internal: view trees out of step with VIEW_TREES".into(),
            ))
        })?;
        let log = &tx[0];
        let mut seq = first_seq;
        let mut out = Vec::with_capacity(batch.len());
        for (i, p) in batch.iter().enumerate() {
            let ctx = DecideViews {
                tx: &views,
                scanned: if i == 0 { Some(&scanned) } else { None },
            };
            let record = |entry: Entry, seq: u64| -> Result<(), TxError> {
                let rec = LogRecord {
                    seq,
                    time_ms,
                    actor: p.actor.clone(),
                    request_id: p.request_id.clone(),
                    client_addr: p.client_addr.clone(),
                    entry,
                };
                let bytes = super::codec::encode("log record", &rec)
                    .map_err(sled::transaction::ConflictableTransactionError::Abort)?;
                views.record(&rec)?;
                log.insert(&keys::seq(seq)[..], bytes)?;
                Ok(())
            };
            match decide::decide(&ctx, reg, &p.command)? {
                Ok(events) => {
                    let mut last = None;
                    for event in events {
                        record(Entry::Event(event), seq)?;
                        last = Some(seq);
                        seq += 1;
                    }
                    out.push(Applied::Accepted { last_seq: last });
                }
                Err(rejection) => {
                    record(
                        Entry::Rejected(rejection_record(&p.command, &rejection)),
                        seq,
                    )?;
                    out.push(Applied::Rejected { seq, rejection });
                    seq += 1;
                }
            }
        }
        Ok((out, seq))
    });
    result.map_err(StoreError::from)
}

/// The log's copy of a rejection.
pub fn rejection_record(command: &Command, rejection: &Rejection) -> Rejected {
    Rejected {
        action: command.action(),
        target_id: command.target_id(),
        target_name: target_name(command),
        status: rejection.status(),
        scim_type: rejection.scim_type().map(str::to_owned),
        detail: rejection.to_string(),
    }
}

fn target_name(command: &Command) -> Option<String> {
    let doc = match command {
        Command::CreateUser { input, .. } | Command::ReplaceUser { input, .. } => &input.doc,
        Command::CreateGroup { input, .. } | Command::ReplaceGroup { input, .. } => &input.doc,
        Command::IssueToken { name, .. } => return Some(name.to_string()),
        _ => return None,
    };
    doc.get("userName")
        .or_else(|| doc.get("displayName"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// Membership lists read before the transaction for the one command that needs them.
#[derive(Debug, Default)]
struct Scanned {
    groups_of: Option<(UserId, Vec<GroupId>)>,
    members_of: Option<(GroupId, Vec<UserId>)>,
}

impl Scanned {
    fn for_command(t: &Trees, command: &Command) -> Result<Self> {
        Ok(match command {
            Command::DeleteUser { id, .. } => Self {
                groups_of: Some((*id, read::groups_of(t, *id)?)),
                members_of: None,
            },
            Command::DeleteGroup { id, .. }
            | Command::ReplaceGroup { id, .. }
            | Command::PatchGroup { id, .. } => Self {
                groups_of: None,
                members_of: Some((*id, read::members_of(t, *id).collect::<Result<Vec<_>>>()?)),
            },
            _ => Self::default(),
        })
    }
}

/// [`Views`] for `decide`: point reads through the transaction, scans from [`Scanned`].
struct DecideViews<'a> {
    tx: &'a TxViews<'a>,
    scanned: Option<&'a Scanned>,
}

fn parse_doc(doc: &str) -> Result<Document, TxError> {
    serde_json::from_str(doc).map_err(|e| {
        sled::transaction::ConflictableTransactionError::Abort(StoreError::Decode {
            what: "stored document",
            detail: e.to_string(),
        })
    })
}

fn user_state(rec: UserRecord) -> Result<UserState, TxError> {
    Ok(UserState {
        doc: parse_doc(&rec.doc)?,
        meta: Meta {
            created_ms: rec.created_ms,
            last_modified_ms: rec.last_modified_ms,
            version: rec.version,
        },
    })
}

fn group_state(rec: GroupRecord) -> Result<GroupState, TxError> {
    Ok(GroupState {
        doc: parse_doc(&rec.doc)?,
        meta: Meta {
            created_ms: rec.created_ms,
            last_modified_ms: rec.last_modified_ms,
            version: rec.version,
        },
        member_count: rec.member_count,
    })
}

fn unscanned() -> TxError {
    // A bug, not a client error: `Command::needs_scan` and `Scanned::for_command` disagree.
    sled::transaction::ConflictableTransactionError::Abort(StoreError::Io(
        "internal: a membership scan was not prepared for this command".into(),
    ))
}

impl Views for DecideViews<'_> {
    type Error = TxError;

    fn user(&self, id: UserId) -> Result<Option<UserState>, TxError> {
        self.tx.user_record(id)?.map(user_state).transpose()
    }

    fn user_exists(&self, id: UserId) -> Result<bool, TxError> {
        Ok(self.tx.users.get(id.as_bytes())?.is_some())
    }

    fn user_by_name(&self, key: &str) -> Result<Option<UserId>, TxError> {
        Ok(self
            .tx
            .idx_user_name
            .get(key.as_bytes())?
            .and_then(|v| UserId::from_slice(&v)))
    }

    fn group(&self, id: GroupId) -> Result<Option<GroupState>, TxError> {
        self.tx.group_record(id)?.map(group_state).transpose()
    }

    fn group_by_name(&self, key: &str) -> Result<Option<GroupId>, TxError> {
        Ok(self
            .tx
            .idx_group_name
            .get(key.as_bytes())?
            .and_then(|v| GroupId::from_slice(&v)))
    }

    fn is_member(&self, group: GroupId, user: UserId) -> Result<bool, TxError> {
        Ok(self
            .tx
            .members
            .get(&keys::membership(group, user)[..])?
            .is_some())
    }

    fn groups_of(&self, user: UserId) -> Result<Vec<GroupId>, TxError> {
        match self.scanned.and_then(|s| s.groups_of.as_ref()) {
            Some((id, groups)) if *id == user => Ok(groups.clone()),
            _ => Err(unscanned()),
        }
    }

    fn members_of(&self, group: GroupId) -> Result<Vec<UserId>, TxError> {
        match self.scanned.and_then(|s| s.members_of.as_ref()) {
            Some((id, members)) if *id == group => Ok(members.clone()),
            _ => Err(unscanned()),
        }
    }

    fn token(&self, id: TokenId) -> Result<Option<TokenState>, TxError> {
        match self.tx.tokens.get(id.as_bytes())? {
            None => Ok(None),
            Some(v) => {
                let rec: TokenRecord = tx_decode("token record", &v)?;
                Ok(Some(TokenState {
                    name: rec.name,
                    revoked: rec.revoked_ms.is_some(),
                }))
            }
        }
    }
}
