//! The append transaction: decide a batch of commands against the views, append their events (or
//! their rejections) to `log`, project the events, and read back what each command left behind —
//! all in one sled transaction, so the answer to a write is the state that write produced.
//!
//! sled cannot scan inside a transaction (and a tree iterator would wait on the transaction's own
//! lock), so the membership lists the batch reads ([`Command::reads`], and those an answer asks for)
//! are read before it, on the committed trees, and kept up to date inside it from the batch's own
//! membership events (`Overlay`). Every command of a batch can therefore read them, in any order.
//!
//! The closure may be re-run by sled, so it has no side effects: sequence numbers start from a value
//! passed in, ids and times were made before. Durability (`flush`) is the writer's job, once per batch.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

use crate::domain::command::Command;
use crate::domain::decide::{self, GroupState, Stop, TokenState, UserState, Views};
use crate::domain::error::Rejection;
use crate::domain::event::{Action, Event, Rejected};
use crate::domain::ids::{GroupId, TokenId, UserId};
use crate::domain::write::{Link, Outcome, RequestBody, Row, Submission, Written};
use crate::scim::mask::Secrets;
use crate::scim::resource::Document;
use crate::scim::schema::Registry;

use super::codec::{Entry, GroupRecord, LogRecord, TokenRecord, UserRecord};
use super::project::{TxError, TxViews};
use super::{keys, read, Result, Store, StoreError, Trees};

/// Decide and append `batch` in one transaction, numbering from `first_seq`, stamped `time_ms`.
/// Returns one outcome per command and the next free sequence number.
pub fn append_batch(
    store: &Store,
    reg: &Registry,
    batch: &[Submission],
    first_seq: u64,
    time_ms: i64,
) -> Result<(Vec<Outcome>, u64)> {
    let t = &store.trees;
    let lists = Lists::read(t, batch)?;
    // The registry's secret attribute names, worked out at the batch's first refusal.
    let secrets = std::cell::OnceCell::new();
    let trees: Vec<sled::Tree> = std::iter::once(&t.log).chain(t.views()).cloned().collect();
    let result = trees[..].transaction(|tx: &Vec<TransactionalTree>| {
        let views = TxViews::from_slice(&tx[1..]).ok_or_else(|| {
            abort(StoreError::Io(
                "internal: view trees out of step with VIEW_TREES".into(),
            ))
        })?;
        let log = &tx[0];
        let ctx = DecideViews {
            tx: &views,
            lists: &lists,
            overlay: RefCell::default(),
        };
        let mut seq = first_seq;
        let mut out = Vec::with_capacity(batch.len());
        let mut tokens_changed = false;
        for s in batch {
            let record = |entry: Entry, seq: u64| -> Result<(), TxError> {
                // Only a refusal keeps the request body: an accepted write's event holds what
                // was written. Masking runs here, so it costs nothing on the accepted path.
                let (answered, request_body) = match entry {
                    Entry::Event(_) => (s.answer.status, RequestBody::NotKept),
                    Entry::Rejected(_) => (
                        None,
                        s.sent.as_ref().map_or(RequestBody::NotKept, |b| {
                            b.keep(secrets.get_or_init(|| Secrets::of(reg)))
                        }),
                    ),
                };
                let rec = LogRecord {
                    seq,
                    time_ms,
                    actor: s.envelope.actor.clone(),
                    request_id: s.envelope.request_id.clone(),
                    client_addr: s.envelope.client_addr.clone(),
                    entry,
                    answered,
                    request_body,
                };
                let bytes = super::codec::encode_log(&rec).map_err(abort)?;
                views.record(&rec)?;
                // A new sequence number: nothing to read back first.
                log.set(&keys::seq(seq)[..], bytes);
                Ok(())
            };
            match decide::decide(&ctx, reg, &s.command) {
                Ok(events) => {
                    let mut last = None;
                    for event in events {
                        tokens_changed |= event.changes_tokens();
                        ctx.overlay.borrow_mut().note(&event);
                        record(Entry::Event(event), seq)?;
                        last = Some(seq);
                        seq += 1;
                    }
                    out.push(Outcome::Written(ctx.written(
                        &s.command,
                        last,
                        s.answer.memberships,
                    )?));
                }
                Err(Stop::Refused(rejection)) => {
                    let name = ctx.current_name(&s.command)?;
                    record(
                        Entry::Rejected(rejection_record(&s.command, &rejection, name)),
                        seq,
                    )?;
                    out.push(Outcome::Refused { seq, rejection });
                    seq += 1;
                }
                Err(Stop::Store(e)) => return Err(e),
            }
        }
        Ok((out, seq, tokens_changed))
    });
    let (out, seq, tokens_changed) = result.map_err(StoreError::from)?;
    if tokens_changed {
        store.token_memo.invalidate();
    }
    Ok((out, seq))
}

fn abort(e: StoreError) -> TxError {
    ConflictableTransactionError::Abort(e)
}

/// The log's copy of a rejection; `current_name` is the target's name as the views hold it.
fn rejection_record(
    command: &Command,
    rejection: &Rejection,
    current_name: Option<String>,
) -> Rejected {
    Rejected {
        action: command.action(),
        target_id: command.target_id(),
        target_name: current_name.or_else(|| sent_name(command)),
        status: rejection.status(),
        scim_type: rejection.scim_type().map(str::to_owned),
        detail: rejection.to_string(),
    }
}

/// The name a command's body carries (creates and replaces).
fn sent_name(command: &Command) -> Option<String> {
    let doc = match command {
        Command::CreateUser { input, .. } | Command::ReplaceUser { input, .. } => &input.doc,
        Command::CreateGroup { input, .. } | Command::ReplaceGroup { input, .. } => &input.doc,
        Command::IssueToken { name, .. } => return Some(name.to_string()),
        _ => return None,
    };
    doc.get("userName")
        .or_else(|| doc.get("displayName"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// What a command is about.
#[derive(Debug, Clone, Copy)]
enum Target {
    User(UserId),
    Group(GroupId),
    Token(TokenId),
}

impl Target {
    fn of(command: &Command) -> Option<Self> {
        let raw = command
            .target_id()
            .and_then(|t| uuid::Uuid::parse_str(&t).ok())
            .map(uuid::Uuid::into_bytes)?;
        Some(match command.action() {
            Action::CreateUser | Action::ReplaceUser | Action::PatchUser | Action::DeleteUser => {
                Self::User(UserId::from_bytes(raw))
            }
            Action::CreateGroup
            | Action::ReplaceGroup
            | Action::PatchGroup
            | Action::DeleteGroup => Self::Group(GroupId::from_bytes(raw)),
            Action::IssueToken | Action::RevokeToken => Self::Token(TokenId::from_bytes(raw)),
            Action::SignIn | Action::RateLimited | Action::Unauthorized | Action::ReadFailed => {
                return None
            }
        })
    }

    fn bytes(self) -> [u8; 16] {
        match self {
            Self::User(u) => *u.as_bytes(),
            Self::Group(g) => *g.as_bytes(),
            Self::Token(t) => *t.as_bytes(),
        }
    }
}

/// Membership lists as committed before the batch's transaction.
#[derive(Debug, Default)]
struct Lists {
    groups_of: HashMap<UserId, Vec<GroupId>>,
    members_of: HashMap<GroupId, Vec<UserId>>,
}

impl Lists {
    /// Everything `batch` reads beyond point reads: what its decisions declare, and the
    /// memberships the answers to an existing target's write ask for.
    fn read(t: &Trees, batch: &[Submission]) -> Result<Self> {
        let mut users = BTreeSet::new();
        let mut groups = BTreeSet::new();
        for s in batch {
            let reads = s.command.reads();
            users.extend(reads.groups_of);
            groups.extend(reads.members_of);
            if s.answer.memberships {
                match (&s.command, Target::of(&s.command)) {
                    (
                        Command::ReplaceUser { .. } | Command::PatchUser { .. },
                        Some(Target::User(u)),
                    ) => {
                        users.insert(u);
                    }
                    (
                        Command::ReplaceGroup { .. } | Command::PatchGroup { .. },
                        Some(Target::Group(g)),
                    ) => {
                        groups.insert(g);
                    }
                    _ => {}
                }
            }
        }
        let mut out = Self::default();
        for u in users {
            out.groups_of.insert(u, read::groups_of(t, u)?);
        }
        for g in groups {
            let members = read::members_of(t, g).collect::<Result<Vec<_>>>()?;
            out.members_of.insert(g, members);
        }
        Ok(out)
    }
}

/// Membership changes made by the batch so far: (group, user) → member afterwards.
#[derive(Debug, Default)]
struct Overlay {
    by_group: HashMap<GroupId, BTreeMap<UserId, bool>>,
    by_user: HashMap<UserId, BTreeMap<GroupId, bool>>,
}

impl Overlay {
    fn set(&mut self, group: GroupId, user: UserId, member: bool) {
        self.by_group.entry(group).or_default().insert(user, member);
        self.by_user.entry(user).or_default().insert(group, member);
    }

    /// Keep up with an event about to be projected.
    fn note(&mut self, event: &Event) {
        match event {
            Event::MembersAdded { group, users, .. } => {
                users.iter().for_each(|u| self.set(*group, *u, true));
            }
            Event::MembersRemoved { group, users, .. } => {
                users.iter().for_each(|u| self.set(*group, *u, false));
            }
            Event::UserDeleted { id, groups, .. } => {
                groups.iter().for_each(|g| self.set(*g, *id, false));
            }
            Event::MembersAddedAsSent { group, members, .. } => {
                members.iter().for_each(|m| self.set(*group, m.id, true));
            }
            Event::GroupDeleted { id, members, .. } => {
                members.iter().for_each(|u| self.set(*id, *u, false));
            }
            // No memberships change. Listed one by one so a new event must say whether it
            // changes memberships (a missed one would make answers disagree with the views).
            Event::UserCreated(_)
            | Event::UserUpdated { .. }
            | Event::UserDeactivated { .. }
            | Event::UserReactivated { .. }
            | Event::UserPasswordSet { .. }
            | Event::GroupCreated(_)
            | Event::GroupUpdated { .. }
            | Event::GroupRenamed { .. }
            | Event::TokenIssued { .. }
            | Event::TokenRevoked { .. }
            | Event::TokenExpirySet { .. }
            | Event::TokenScopesSet { .. } => {}
        }
    }

    /// `committed` with this batch's changes of `key`'s memberships applied, in id order.
    fn merged<K: Ord + Copy>(committed: &[K], changes: Option<&BTreeMap<K, bool>>) -> Vec<K> {
        let Some(changes) = changes else {
            return committed.to_vec();
        };
        let mut set: BTreeSet<K> = committed.iter().copied().collect();
        for (k, member) in changes {
            if *member {
                set.insert(*k);
            } else {
                set.remove(k);
            }
        }
        set.into_iter().collect()
    }
}

/// Decode a stored document.
fn parse_doc(doc: &str) -> Result<Document> {
    serde_json::from_str(doc).map_err(|e| StoreError::Decode {
        what: "stored document",
        detail: e.to_string(),
    })
}

/// A user row as `decide` and answers see it.
pub(super) fn user_state(rec: UserRecord) -> Result<UserState> {
    Ok(UserState {
        meta: rec.meta(),
        doc: parse_doc(&rec.doc)?,
    })
}

/// A group row as `decide` and answers see it.
pub(super) fn group_state(rec: GroupRecord) -> Result<GroupState> {
    Ok(GroupState {
        meta: rec.meta(),
        doc: parse_doc(&rec.doc)?,
        member_count: rec.member_count,
    })
}

fn unread() -> TxError {
    // A bug, not a client error: `Command::reads` and `decide` disagree about what is read.
    abort(StoreError::Io(
        "internal: a membership list was read that the command does not declare".into(),
    ))
}

/// [`Views`] for `decide` inside the transaction: point reads through it, membership lists from
/// [`Lists`] plus the batch's own changes.
struct DecideViews<'a> {
    tx: &'a TxViews<'a>,
    lists: &'a Lists,
    overlay: RefCell<Overlay>,
}

impl DecideViews<'_> {
    fn group_display(&self, id: GroupId) -> Result<Option<String>, TxError> {
        Ok(self.tx.group_record(id)?.and_then(|r| r.shown_name()))
    }

    /// What `command` left behind, read inside the transaction right after its events.
    fn written(
        &self,
        command: &Command,
        seq: Option<u64>,
        memberships: bool,
    ) -> Result<Written, TxError> {
        let target = Target::of(command);
        let row = match target {
            Some(Target::User(id)) => match self.tx.user_record(id)? {
                None => Row::None,
                Some(rec) => Row::User {
                    state: user_state(rec).map_err(abort)?,
                    groups: if memberships {
                        let committed =
                            self.lists.groups_of.get(&id).map_or(&[][..], Vec::as_slice);
                        let ids =
                            Overlay::merged(committed, self.overlay.borrow().by_user.get(&id));
                        let mut links = Vec::with_capacity(ids.len());
                        for g in ids {
                            links.push(Link {
                                id: *g.as_bytes(),
                                display: self.group_display(g)?,
                            });
                        }
                        Some(links)
                    } else {
                        None
                    },
                },
            },
            Some(Target::Group(id)) => match self.tx.group_record(id)? {
                None => Row::None,
                Some(rec) => Row::Group {
                    state: group_state(rec).map_err(abort)?,
                    members: if memberships {
                        let committed = self
                            .lists
                            .members_of
                            .get(&id)
                            .map_or(&[][..], Vec::as_slice);
                        let ids =
                            Overlay::merged(committed, self.overlay.borrow().by_group.get(&id));
                        let mut links = Vec::with_capacity(ids.len());
                        for u in ids {
                            links.push(Link {
                                id: *u.as_bytes(),
                                display: self.member(id, u)?.flatten(),
                            });
                        }
                        Some(links)
                    } else {
                        None
                    },
                },
            },
            Some(Target::Token(_)) | None => Row::None,
        };
        Ok(Written {
            id: target.map_or([0; 16], Target::bytes),
            seq,
            row,
        })
    }

    /// The target's name as the views hold it now (for the record of a refusal).
    fn current_name(&self, command: &Command) -> Result<Option<String>, TxError> {
        Ok(match Target::of(command) {
            Some(Target::User(id)) => self
                .tx
                .user_record(id)?
                .and_then(|r| super::codec::DocNames::of(&r.doc).user_name),
            Some(Target::Group(id)) => self.group_display(id)?,
            Some(Target::Token(id)) => self.token(id)?.map(|t| t.name.to_string()),
            None => None,
        })
    }
}

impl Views for DecideViews<'_> {
    type Error = TxError;

    fn user(&self, id: UserId) -> Result<Option<UserState>, TxError> {
        self.tx
            .user_record(id)?
            .map(|r| user_state(r).map_err(abort))
            .transpose()
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
        self.tx
            .group_record(id)?
            .map(|r| group_state(r).map_err(abort))
            .transpose()
    }

    fn group_by_name(&self, key: &str) -> Result<Option<GroupId>, TxError> {
        Ok(self
            .tx
            .idx_group_name
            .get(key.as_bytes())?
            .and_then(|v| GroupId::from_slice(&v)))
    }

    fn member(&self, group: GroupId, user: UserId) -> Result<Option<Option<String>>, TxError> {
        Ok(self
            .tx
            .members
            .get(keys::membership(group, user))?
            .map(|v| keys::member_display(&v)))
    }

    fn groups_of(&self, user: UserId) -> Result<Vec<GroupId>, TxError> {
        let committed = self.lists.groups_of.get(&user).ok_or_else(unread)?;
        Ok(Overlay::merged(
            committed,
            self.overlay.borrow().by_user.get(&user),
        ))
    }

    fn members_of(&self, group: GroupId) -> Result<Vec<UserId>, TxError> {
        let committed = self.lists.members_of.get(&group).ok_or_else(unread)?;
        Ok(Overlay::merged(
            committed,
            self.overlay.borrow().by_group.get(&group),
        ))
    }

    fn token(&self, id: TokenId) -> Result<Option<TokenState>, TxError> {
        match self.tx.tokens.get(id.as_bytes())? {
            None => Ok(None),
            Some(v) => {
                let rec: TokenRecord = super::project::tx_decode_token(&v)?;
                Ok(Some(TokenState {
                    name: rec.name,
                    revoked: rec.revoked_ms.is_some(),
                }))
            }
        }
    }
}
