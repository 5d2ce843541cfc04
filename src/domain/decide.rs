//! `decide(views, command) -> events | rejection`: every business rule of a write, and nothing else.
//!
//! Pure: no clock, no I/O of its own. It reads the current state through [`Views`], which the store
//! implements over the trees of the running transaction (so a batch sees its own earlier writes).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::scim::error::ScimError;
use crate::scim::patch::{self, MemberOp};
use crate::scim::resource::{check_required, Document, Meta, Parsed};
use crate::scim::schema::{Registry, ResourceKind};

use super::command::{Command, IfMatch};
use super::error::Rejection;
use super::event::{Change, Event, GroupSnapshot, UserSnapshot};
use super::ids::{GroupId, GroupName, TokenId, UserId, UserName};

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
    pub name: crate::domain::ids::ClientName,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// Read access to the current views. `Error` is the store's, passed through untouched.
pub trait Views {
    /// Storage failure.
    type Error;
    /// The user `id`.
    fn user(&self, id: UserId) -> Result<Option<UserState>, Self::Error>;
    /// The user holding this userName key (lowercase).
    fn user_by_name(&self, key: &str) -> Result<Option<UserId>, Self::Error>;
    /// The group `id`.
    fn group(&self, id: GroupId) -> Result<Option<GroupState>, Self::Error>;
    /// The group holding this displayName key (lowercase).
    fn group_by_name(&self, key: &str) -> Result<Option<GroupId>, Self::Error>;
    /// Whether `user` is a member of `group`.
    fn is_member(&self, group: GroupId, user: UserId) -> Result<bool, Self::Error>;
    /// Every group of `user` (a scan: only for commands with `needs_scan`).
    fn groups_of(&self, user: UserId) -> Result<Vec<GroupId>, Self::Error>;
    /// Every member of `group` (a scan: only for commands with `needs_scan`).
    fn members_of(&self, group: GroupId) -> Result<Vec<UserId>, Self::Error>;
    /// The token `id`.
    fn token(&self, id: TokenId) -> Result<Option<TokenState>, Self::Error>;
}

/// The outcome of deciding: events to append (possibly none), or the refusal.
pub type Decision = Result<Vec<Event>, Rejection>;

/// Decide one command against the current views.
pub fn decide<V: Views>(views: &V, reg: &Registry, cmd: &Command) -> Result<Decision, V::Error> {
    match cmd {
        Command::CreateUser { id, input } => create_user(views, *id, input),
        Command::ReplaceUser {
            id,
            input,
            if_match,
        } => with_user(views, *id, if_match.as_ref(), |old| {
            Ok(input.doc.clone()).map(|doc| (old, doc))
        })
        .and_then(|r| match r {
            Ok((old, doc)) => update_user(views, reg, *id, &old.doc, doc),
            Err(e) => Ok(Err(e)),
        }),
        Command::PatchUser { id, ops, if_match } => {
            with_user(views, *id, if_match.as_ref(), |old| {
                let mut doc = old.doc.clone();
                patch::apply(reg, ResourceKind::User, &mut doc, ops)?;
                Ok((old, doc))
            })
            .and_then(|r| match r {
                Ok((old, doc)) => update_user(views, reg, *id, &old.doc, doc),
                Err(e) => Ok(Err(e)),
            })
        }
        Command::DeleteUser { id, if_match } => {
            let Some(old) = views.user(*id)? else {
                return Ok(Err(not_found(ResourceKind::User, *id)));
            };
            if let Err(e) = precondition(if_match.as_ref(), &old.meta) {
                return Ok(Err(e));
            }
            let (user_name, external_id) = match user_names(&old.doc) {
                Ok(n) => n,
                Err(e) => return Ok(Err(e)),
            };
            Ok(Ok(vec![Event::UserDeleted {
                id: *id,
                user_name,
                external_id,
                groups: views.groups_of(*id)?,
            }]))
        }
        Command::CreateGroup { id, input } => create_group(views, *id, input),
        Command::ReplaceGroup {
            id,
            input,
            if_match,
        } => {
            let ops: Vec<MemberOp> = input
                .members
                .clone()
                .map(MemberOp::Replace)
                .into_iter()
                .collect();
            update_group(views, reg, *id, if_match.as_ref(), |_| Ok(input.doc.clone()), &ops)
        }
        Command::PatchGroup {
            id,
            ops,
            members,
            if_match,
        } => update_group(
            views,
            reg,
            *id,
            if_match.as_ref(),
            |old| {
                let mut doc = old.clone();
                patch::apply(reg, ResourceKind::Group, &mut doc, ops)?;
                Ok(doc)
            },
            members,
        ),
        Command::DeleteGroup { id, if_match } => {
            let Some(old) = views.group(*id)? else {
                return Ok(Err(not_found(ResourceKind::Group, *id)));
            };
            if let Err(e) = precondition(if_match.as_ref(), &old.meta) {
                return Ok(Err(e));
            }
            let (display_name, external_id) = match group_names(&old.doc) {
                Ok(n) => n,
                Err(e) => return Ok(Err(e)),
            };
            Ok(Ok(vec![Event::GroupDeleted {
                id: *id,
                display_name,
                external_id,
                members: views.members_of(*id)?,
            }]))
        }
        Command::IssueToken {
            id,
            name,
            secret_sha256,
        } => Ok(Ok(vec![Event::TokenIssued {
            id: *id,
            name: name.clone(),
            secret_sha256: *secret_sha256,
        }])),
        Command::RevokeToken { id } => match views.token(*id)? {
            None => Ok(Err(Rejection::TokenNotFound(id.to_string()))),
            Some(t) if t.revoked => Ok(Ok(Vec::new())),
            Some(t) => Ok(Ok(vec![Event::TokenRevoked {
                id: *id,
                name: t.name,
            }])),
        },
    }
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

/// Load a user, check the precondition, then build its new document with `f`.
fn with_user<V: Views>(
    views: &V,
    id: UserId,
    if_match: Option<&IfMatch>,
    f: impl FnOnce(UserState) -> Result<(UserState, Document), ScimError>,
) -> Result<Result<(UserState, Document), Rejection>, V::Error> {
    let Some(old) = views.user(id)? else {
        return Ok(Err(not_found(ResourceKind::User, id)));
    };
    if let Err(e) = precondition(if_match, &old.meta) {
        return Ok(Err(e));
    }
    Ok(f(old).map_err(Rejection::from))
}

fn str_attr(doc: &Document, name: &str) -> Option<String> {
    doc.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn user_names(doc: &Document) -> Result<(UserName, Option<String>), Rejection> {
    let name = str_attr(doc, "userName").unwrap_or_default();
    let user_name = UserName::try_from(name.as_str())
        .map_err(|e| Rejection::Invalid(ScimError::InvalidValue(e.0)))?;
    Ok((user_name, str_attr(doc, "externalId")))
}

fn group_names(doc: &Document) -> Result<(GroupName, Option<String>), Rejection> {
    let name = str_attr(doc, "displayName").unwrap_or_default();
    let display_name = GroupName::try_from(name.as_str())
        .map_err(|e| Rejection::Invalid(ScimError::InvalidValue(e.0)))?;
    Ok((display_name, str_attr(doc, "externalId")))
}

fn create_user<V: Views>(views: &V, id: UserId, input: &Parsed) -> Result<Decision, V::Error> {
    let (user_name, external_id) = match user_names(&input.doc) {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    if views.user_by_name(&user_name.key())?.is_some() {
        return Ok(Err(Rejection::Uniqueness(format!(
            "userName '{user_name}' is already in use"
        ))));
    }
    Ok(Ok(vec![Event::UserCreated(UserSnapshot {
        id,
        user_name,
        external_id,
        doc: Value::Object(input.doc.clone()).to_string(),
    })]))
}

fn update_user<V: Views>(
    views: &V,
    reg: &Registry,
    id: UserId,
    old: &Document,
    new: Document,
) -> Result<Decision, V::Error> {
    if let Err(e) = check_required(reg, ResourceKind::User, &new) {
        return Ok(Err(e.into()));
    }
    let (user_name, external_id) = match user_names(&new) {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    if let Some(holder) = views.user_by_name(&user_name.key())? {
        if holder != id {
            return Ok(Err(Rejection::Uniqueness(format!(
                "userName '{user_name}' is already in use"
            ))));
        }
    }
    let changes = diff(old, &new);
    if changes.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let user = UserSnapshot {
        id,
        user_name,
        external_id,
        doc: Value::Object(new.clone()).to_string(),
    };
    let was_active = old.get("active").and_then(Value::as_bool);
    let is_active = new.get("active").and_then(Value::as_bool);
    let event = match (was_active, is_active) {
        (Some(true) | None, Some(false)) => Event::UserDeactivated { user, changes },
        (Some(false), Some(true)) => Event::UserReactivated { user, changes },
        _ => Event::UserUpdated { user, changes },
    };
    Ok(Ok(vec![event]))
}

/// Resolve member `value`s to existing users, naming the first that is not one.
fn resolve_members<V: Views>(
    views: &V,
    values: &[String],
) -> Result<Result<Vec<UserId>, Rejection>, V::Error> {
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let invalid = |why: &str| {
            Rejection::Invalid(ScimError::InvalidValue(format!(
                "member '{v}' {why}"
            )))
        };
        let Ok(uid) = UserId::try_from(v.as_str()) else {
            return Ok(Err(invalid("is not the id of a user")));
        };
        if views.user(uid)?.is_none() {
            if views.group(GroupId::from_bytes(*uid.as_bytes()))?.is_some() {
                return Ok(Err(invalid("is a group: nested groups are not supported")));
            }
            return Ok(Err(invalid("is not the id of a user")));
        }
        out.push(uid);
    }
    Ok(Ok(out))
}

fn create_group<V: Views>(views: &V, id: GroupId, input: &Parsed) -> Result<Decision, V::Error> {
    let (display_name, external_id) = match group_names(&input.doc) {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    if views.group_by_name(&display_name.key())?.is_some() {
        return Ok(Err(Rejection::Uniqueness(format!(
            "displayName '{display_name}' is already in use"
        ))));
    }
    let members = match resolve_members(views, input.members.as_deref().unwrap_or(&[]))? {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let members: Vec<UserId> = members
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut events = vec![Event::GroupCreated(GroupSnapshot {
        id,
        display_name: display_name.clone(),
        external_id,
        doc: Value::Object(input.doc.clone()).to_string(),
    })];
    if !members.is_empty() {
        events.push(Event::MembersAdded {
            group: id,
            display_name,
            users: members,
        });
    }
    Ok(Ok(events))
}

fn update_group<V: Views>(
    views: &V,
    reg: &Registry,
    id: GroupId,
    if_match: Option<&IfMatch>,
    new_doc: impl FnOnce(&Document) -> Result<Document, ScimError>,
    member_ops: &[MemberOp],
) -> Result<Decision, V::Error> {
    let Some(old) = views.group(id)? else {
        return Ok(Err(not_found(ResourceKind::Group, id)));
    };
    if let Err(e) = precondition(if_match, &old.meta) {
        return Ok(Err(e));
    }
    let new = match new_doc(&old.doc) {
        Ok(d) => d,
        Err(e) => return Ok(Err(e.into())),
    };
    if let Err(e) = check_required(reg, ResourceKind::Group, &new) {
        return Ok(Err(e.into()));
    }
    let (display_name, external_id) = match group_names(&new) {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    if let Some(holder) = views.group_by_name(&display_name.key())? {
        if holder != id {
            return Ok(Err(Rejection::Uniqueness(format!(
                "displayName '{display_name}' is already in use"
            ))));
        }
    }
    // Membership changes in request order: `state` records what each op leaves behind, and only
    // differences from the stored membership become events (re-adding a member is a no-op).
    let mut state: BTreeMap<UserId, bool> = BTreeMap::new();
    let mut current: Option<BTreeSet<UserId>> = None;
    for op in member_ops {
        if op.needs_scan() && current.is_none() {
            current = Some(views.members_of(id)?.into_iter().collect());
        }
        match op {
            MemberOp::Add(values) => match resolve_members(views, values)? {
                Ok(ids) => ids.into_iter().for_each(|u| {
                    state.insert(u, true);
                }),
                Err(e) => return Ok(Err(e)),
            },
            MemberOp::Remove(values) => {
                for v in values {
                    if let Ok(u) = UserId::try_from(v.as_str()) {
                        state.insert(u, false);
                    }
                }
            }
            MemberOp::Replace(values) => {
                let ids = match resolve_members(views, values)? {
                    Ok(ids) => ids,
                    Err(e) => return Ok(Err(e)),
                };
                let members = effective(current.as_ref(), &state);
                for u in members {
                    state.insert(u, false);
                }
                for u in ids {
                    state.insert(u, true);
                }
            }
            MemberOp::RemoveAll => {
                for u in effective(current.as_ref(), &state) {
                    state.insert(u, false);
                }
            }
            MemberOp::RemoveWhere(filter) => {
                for u in effective(current.as_ref(), &state) {
                    let element = serde_json::json!({"value": u.to_string(), "type": "User"});
                    if patch::member_matches(reg, filter, &element) {
                        state.insert(u, false);
                    }
                }
            }
        }
    }
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for (u, member) in state {
        let was = match &current {
            Some(c) => c.contains(&u),
            None => views.is_member(id, u)?,
        };
        match (was, member) {
            (false, true) => added.push(u),
            (true, false) => removed.push(u),
            _ => {}
        }
    }
    let changes = diff(&old.doc, &new);
    let mut events = Vec::new();
    if !changes.is_empty() {
        let renamed = changes.iter().any(|c| c.path == "displayName");
        let group = GroupSnapshot {
            id,
            display_name: display_name.clone(),
            external_id,
            doc: Value::Object(new).to_string(),
        };
        events.push(if renamed {
            Event::GroupRenamed { group, changes }
        } else {
            Event::GroupUpdated { group, changes }
        });
    }
    if !removed.is_empty() {
        events.push(Event::MembersRemoved {
            group: id,
            display_name: display_name.clone(),
            users: removed,
        });
    }
    if !added.is_empty() {
        events.push(Event::MembersAdded {
            group: id,
            display_name,
            users: added,
        });
    }
    Ok(Ok(events))
}

/// Members after the ops so far, given the scanned membership.
fn effective(current: Option<&BTreeSet<UserId>>, state: &BTreeMap<UserId, bool>) -> Vec<UserId> {
    let mut set: BTreeSet<UserId> = current.cloned().unwrap_or_default();
    for (u, m) in state {
        if *m {
            set.insert(*u);
        } else {
            set.remove(u);
        }
    }
    set.into_iter().collect()
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
        let sep = if crate::scim::resource::is_urn(prefix) { ":" } else { "." };
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
