//! `decide(views, command) -> events | stop`: every business rule of a write, and nothing else.
//!
//! Pure: no clock, no I/O of its own. It reads the current state through [`Views`], which the store
//! implements over the trees of the running transaction (so a batch sees its own earlier writes)
//! and, in tests, over views projected from given events. How the store serves a read (a point read
//! in the transaction, a membership list fetched before it) is the store's business.
//!
//! Layout: `user` (create, replace, patch, delete of users), `group` (groups and their members),
//! `token` (bearer tokens); this module holds the dispatch, the shared rules (preconditions,
//! immutability) and the attribute-level [`diff`] that events carry.

mod group;
mod token;
mod user;

pub use group::reads_all_members;

use serde_json::Value;

use crate::scim::error::ScimError;
use crate::scim::resource::{Document, Meta};
use crate::scim::schema::{Registry, ResourceKind};

use super::command::{Command, IfMatch};
use super::error::Rejection;
use super::event::{Change, Event};
use super::ids::{ClientName, GroupId, TokenId, UserId};

/// A user as the views hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserState {
    /// The stored document.
    pub doc: Document,
    /// Times and version.
    pub meta: Meta,
}

/// A group (without members) as the views hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupState {
    /// The stored document.
    pub doc: Document,
    /// Times and version.
    pub meta: Meta,
    /// Number of members.
    pub member_count: u64,
}

/// A token as the views hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenState {
    /// The client name.
    pub name: ClientName,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// Read access to the current views. `Error` is the store's, passed through untouched.
pub trait Views {
    /// Storage failure.
    type Error;
    /// The user `id`.
    fn user(&self, id: UserId) -> Result<Option<UserState>, Self::Error>;
    /// Whether the user `id` exists (no decoding: member lists can name thousands).
    fn user_exists(&self, id: UserId) -> Result<bool, Self::Error>;
    /// The user holding this userName key (lowercase).
    fn user_by_name(&self, key: &str) -> Result<Option<UserId>, Self::Error>;
    /// The group `id`.
    fn group(&self, id: GroupId) -> Result<Option<GroupState>, Self::Error>;
    /// The group holding this displayName key (lowercase).
    fn group_by_name(&self, key: &str) -> Result<Option<GroupId>, Self::Error>;
    /// `user`'s entry in `group`: `None` when it is not a member, else the `display` its client
    /// sent (if one did).
    fn member(&self, group: GroupId, user: UserId) -> Result<Option<Option<String>>, Self::Error>;
    /// Every group of `user`, in id order.
    fn groups_of(&self, user: UserId) -> Result<Vec<GroupId>, Self::Error>;
    /// Every member of `group`, in id order.
    fn members_of(&self, group: GroupId) -> Result<Vec<UserId>, Self::Error>;
    /// The token `id`.
    fn token(&self, id: TokenId) -> Result<Option<TokenState>, Self::Error>;
}

/// Why deciding stopped without events: the command was refused, or reading the views failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop<E> {
    /// The client's problem: recorded as a rejection and answered with its status.
    Refused(Rejection),
    /// The store's problem: the whole transaction fails.
    Store(E),
}

impl<E> From<Rejection> for Stop<E> {
    fn from(r: Rejection) -> Self {
        Self::Refused(r)
    }
}

impl<E> From<ScimError> for Stop<E> {
    fn from(e: ScimError) -> Self {
        Self::Refused(Rejection::Invalid(e))
    }
}

/// The outcome of deciding: events to append (possibly none), or why not.
pub type Decision<E> = Result<Vec<Event>, Stop<E>>;

/// Lifts a view read's error into [`Stop::Store`], so `?` works on both kinds of failure.
trait Read<T, E> {
    fn read(self) -> Result<T, Stop<E>>;
}

impl<T, E> Read<T, E> for Result<T, E> {
    fn read(self) -> Result<T, Stop<E>> {
        self.map_err(Stop::Store)
    }
}

/// Decide one command against the current views.
pub fn decide<V: Views>(views: &V, reg: &Registry, cmd: &Command) -> Decision<V::Error> {
    match cmd {
        Command::CreateUser {
            id,
            input,
            password_hash,
        } => user::create(views, *id, input, password_hash.as_ref()),
        Command::ReplaceUser {
            id,
            input,
            if_match,
            password_hash,
        } => user::replace(
            views,
            reg,
            *id,
            input,
            if_match.as_ref(),
            password_hash.as_ref(),
        ),
        Command::PatchUser {
            id,
            ops,
            if_match,
            password_hash,
        } => user::patch(
            views,
            reg,
            *id,
            ops,
            if_match.as_ref(),
            password_hash.as_ref(),
        ),
        Command::DeleteUser { id, if_match } => user::delete(views, *id, if_match.as_ref()),
        Command::CreateGroup { id, input } => group::create(views, *id, input),
        Command::ReplaceGroup {
            id,
            input,
            if_match,
        } => group::replace(views, reg, *id, input, if_match.as_ref()),
        Command::PatchGroup {
            id,
            ops,
            members,
            if_match,
        } => group::patch(views, reg, *id, ops, members, if_match.as_ref()),
        Command::DeleteGroup { id, if_match } => group::delete(views, *id, if_match.as_ref()),
        Command::IssueToken {
            id,
            name,
            secret_sha256,
            expires_ms,
            scopes,
        } => Ok(token::issue(*id, name, *secret_sha256, *expires_ms, scopes)),
        Command::RevokeToken { id } => token::revoke(views, *id),
        Command::Refused { rejection, .. } => Err(Stop::Refused(rejection.clone())),
    }
}

/// Reject a change to an immutable attribute that already has a value (RFC 7643 §2.2).
fn check_immutable(
    reg: &Registry,
    kind: ResourceKind,
    old: &Document,
    new: &Document,
) -> Result<(), Rejection> {
    let mut scopes: Vec<(Option<&str>, &[crate::scim::schema::Attribute])> = Vec::new();
    if let Some(core) = reg.core_schema(kind) {
        scopes.push((None, &core.attributes));
    }
    for (urn, _) in &reg.resource_type(kind).extensions {
        if let Some(schema) = reg.schema(urn) {
            scopes.push((Some(urn.as_str()), &schema.attributes));
        }
    }
    for (container, attrs) in scopes {
        let pick = |doc: &Document, name: &str| -> Option<Value> {
            match container {
                None => doc.get(name).cloned(),
                Some(urn) => doc.get(urn).and_then(|e| e.get(name)).cloned(),
            }
        };
        for a in attrs
            .iter()
            .filter(|a| a.mutability == crate::scim::schema::Mutability::Immutable)
        {
            let (before, after) = (pick(old, &a.name), pick(new, &a.name));
            if before.is_some() && before != after {
                return Err(Rejection::Invalid(ScimError::Mutability(format!(
                    "'{}' is immutable and already set",
                    a.name
                ))));
            }
        }
    }
    Ok(())
}

fn not_found(kind: ResourceKind, id: impl ToString) -> Rejection {
    Rejection::NotFound {
        kind,
        id: id.to_string(),
    }
}

fn precondition(if_match: Option<&IfMatch>, meta: &Meta) -> Result<(), Rejection> {
    match if_match {
        Some(m) if !m.matches(meta.version) => Err(Rejection::PreconditionFailed(format!(
            "If-Match does not match the current version {}",
            meta.etag()
        ))),
        _ => Ok(()),
    }
}

fn str_attr(doc: &Document, name: &str) -> Option<String> {
    doc.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// Attribute-level differences: extension attributes and sub-attributes of single-valued complex
/// attributes each get their own path; multi-valued attributes are compared whole.
pub fn diff(old: &Document, new: &Document) -> Vec<Change> {
    let mut out = Vec::new();
    diff_into(&mut out, "", old, new, true);
    out
}

fn diff_into(out: &mut Vec<Change>, prefix: &str, old: &Document, new: &Document, top: bool) {
    let keys: Vec<&String> = old
        .keys()
        .chain(new.keys().filter(|k| !old.contains_key(*k)))
        .collect();
    for k in keys {
        let (a, b) = (old.get(k), new.get(k));
        if a == b {
            continue;
        }
        let sep = if crate::scim::resource::is_urn(prefix) {
            ":"
        } else {
            "."
        };
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}{sep}{k}")
        };
        match (a, b) {
            (Some(Value::Object(x)), Some(Value::Object(y))) if top => {
                diff_into(out, &path, x, y, false);
            }
            (Some(Value::Object(x)), None) if top => {
                diff_into(out, &path, x, &Document::new(), false);
            }
            (None, Some(Value::Object(y))) if top => {
                diff_into(out, &path, &Document::new(), y, false);
            }
            _ => out.push(Change {
                path,
                old: a.map(Value::to_string),
                new: b.map(Value::to_string),
            }),
        }
    }
}
