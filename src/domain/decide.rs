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
    /// Whether the user `id` exists (no decoding: member lists can name thousands).
    fn user_exists(&self, id: UserId) -> Result<bool, Self::Error>;
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
        Command::CreateUser {
            id,
            input,
            password_hash,
        } => Ok(create_user(views, *id, input)?
            .map(|events| with_password(events, *id, password_hash.as_ref()))),
        Command::ReplaceUser {
            id,
            input,
            if_match,
            password_hash,
        } => with_user(views, *id, if_match.as_ref(), |old| {
            Ok(input.doc.clone()).map(|doc| (old, doc))
        })
        .and_then(|r| match r {
            Ok((old, doc)) => update_user(views, reg, *id, &old.doc, doc),
            Err(e) => Ok(Err(e)),
        })
        .map(|d| d.map(|events| with_password(events, *id, password_hash.as_ref()))),
        Command::PatchUser {
            id,
            ops,
            if_match,
            password_hash,
        } => with_user(views, *id, if_match.as_ref(), |old| {
            let mut doc = old.doc.clone();
            patch::apply(reg, ResourceKind::User, &mut doc, ops)?;
            Ok((old, doc))
        })
        .and_then(|r| match r {
            Ok((old, doc)) => update_user(views, reg, *id, &old.doc, doc),
            Err(e) => Ok(Err(e)),
        })
        .map(|d| d.map(|events| with_password(events, *id, password_hash.as_ref()))),
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
            update_group(
                views,
                reg,
                *id,
                if_match.as_ref(),
                |_| Ok(input.doc.clone()),
                &ops,
            )
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
            expires_ms,
        } => {
            let mut events = vec![Event::TokenIssued {
                id: *id,
                name: name.clone(),
                secret_sha256: *secret_sha256,
            }];
            if let Some(expires_ms) = expires_ms {
                events.push(Event::TokenExpirySet {
                    id: *id,
                    expires_ms: *expires_ms,
                });
            }
            Ok(Ok(events))
        }
        Command::Refused { rejection, .. } => Ok(Err(rejection.clone())),
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

/// Append the password event when the command carried a (hashed) password.
fn with_password(mut events: Vec<Event>, id: UserId, hash: Option<&String>) -> Vec<Event> {
    if let Some(hash) = hash {
        events.push(Event::UserPasswordSet {
            id,
            hash: hash.clone(),
        });
    }
    events
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
    if let Err(e) = check_immutable(reg, ResourceKind::User, old, &new) {
        return Ok(Err(e));
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
        let invalid =
            |why: &str| Rejection::Invalid(ScimError::InvalidValue(format!("member '{v}' {why}")));
        let Ok(uid) = UserId::try_from(v.as_str()) else {
            return Ok(Err(invalid("is not the id of a user")));
        };
        if !views.user_exists(uid)? {
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
    if let Err(e) = check_immutable(reg, ResourceKind::Group, &old.doc, &new) {
        return Ok(Err(e));
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
                    // The element as a group read shows it, so `display` filters work too.
                    let display = views.user(u)?.and_then(|s| {
                        s.doc
                            .get("displayName")
                            .or_else(|| s.doc.get("userName"))
                            .cloned()
                    });
                    let element = serde_json::json!({
                        "value": u.to_string(),
                        "type": "User",
                        "display": display,
                    });
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

/// Given/when/then tests of `decide`: given these existing resources (an in-memory [`Views`]), when
/// this [`Command`], then exactly these events, or this [`Rejection`] with this status and `scimType`.
/// They prove the write rules on their own, without sled or HTTP.
#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use serde_json::json;

    use super::*;
    use crate::domain::ids::ClientName;
    use crate::scim::patch::{parse_patch, split_members};
    use crate::scim::resource::parse_resource;
    use crate::scim::schema::ENTERPRISE_USER_SCHEMA;

    /// The version every given resource is at.
    const VERSION: u64 = 7;

    /// The views as plain maps.
    #[derive(Default)]
    struct Given {
        users: BTreeMap<UserId, UserState>,
        names: BTreeMap<String, UserId>,
        groups: BTreeMap<GroupId, GroupState>,
        group_names: BTreeMap<String, GroupId>,
        memberships: BTreeSet<(GroupId, UserId)>,
        tokens: BTreeMap<TokenId, TokenState>,
    }

    impl Views for Given {
        type Error = Infallible;

        fn user(&self, id: UserId) -> Result<Option<UserState>, Infallible> {
            Ok(self.users.get(&id).cloned())
        }

        fn user_exists(&self, id: UserId) -> Result<bool, Infallible> {
            Ok(self.users.contains_key(&id))
        }

        fn user_by_name(&self, key: &str) -> Result<Option<UserId>, Infallible> {
            Ok(self.names.get(key).copied())
        }

        fn group(&self, id: GroupId) -> Result<Option<GroupState>, Infallible> {
            Ok(self.groups.get(&id).cloned())
        }

        fn group_by_name(&self, key: &str) -> Result<Option<GroupId>, Infallible> {
            Ok(self.group_names.get(key).copied())
        }

        fn is_member(&self, group: GroupId, user: UserId) -> Result<bool, Infallible> {
            Ok(self.memberships.contains(&(group, user)))
        }

        fn groups_of(&self, user: UserId) -> Result<Vec<GroupId>, Infallible> {
            Ok(self
                .memberships
                .iter()
                .filter(|(_, u)| *u == user)
                .map(|(g, _)| *g)
                .collect())
        }

        fn members_of(&self, group: GroupId) -> Result<Vec<UserId>, Infallible> {
            Ok(self
                .memberships
                .iter()
                .filter(|(g, _)| *g == group)
                .map(|(_, u)| *u)
                .collect())
        }

        fn token(&self, id: TokenId) -> Result<Option<TokenState>, Infallible> {
            Ok(self.tokens.get(&id).cloned())
        }
    }

    fn reg() -> Registry {
        Registry::core()
    }

    fn meta() -> Meta {
        Meta {
            created_ms: 1,
            last_modified_ms: 2,
            version: VERSION,
        }
    }

    fn user_input(body: Value) -> Parsed {
        parse_resource(&reg(), ResourceKind::User, &body).unwrap()
    }

    fn group_input(body: Value) -> Parsed {
        parse_resource(&reg(), ResourceKind::Group, &body).unwrap()
    }

    impl Given {
        /// An existing user with this body.
        fn with_user(&mut self, body: Value) -> UserId {
            let id = UserId::random();
            let doc = user_input(body).doc;
            let name = str_attr(&doc, "userName").unwrap();
            self.names.insert(name.to_lowercase(), id);
            self.users.insert(id, UserState { doc, meta: meta() });
            id
        }

        /// An existing group with this displayName and these members.
        fn with_group(&mut self, name: &str, members: &[UserId]) -> GroupId {
            let id = GroupId::random();
            let doc = group_input(json!({ "displayName": name })).doc;
            self.group_names.insert(name.to_lowercase(), id);
            for u in members {
                self.memberships.insert((id, *u));
            }
            let member_count = u64::try_from(members.len()).unwrap();
            self.groups.insert(
                id,
                GroupState {
                    doc,
                    meta: meta(),
                    member_count,
                },
            );
            id
        }

        /// An existing token.
        fn with_token(&mut self, revoked: bool) -> TokenId {
            let id = TokenId::random();
            let name = ClientName::try_from("Entra ID").unwrap();
            self.tokens.insert(id, TokenState { name, revoked });
            id
        }
    }

    /// Decide `cmd` against `given`.
    fn when(given: &Given, cmd: &Command) -> Decision {
        match decide(given, &reg(), cmd) {
            Ok(d) => d,
            Err(never) => match never {},
        }
    }

    fn patch_user(id: UserId, body: Value) -> Command {
        Command::PatchUser {
            id,
            ops: parse_patch(&body).unwrap(),
            if_match: None,
            password_hash: None,
        }
    }

    /// A group PATCH split the way the HTTP layer splits it.
    fn patch_group(id: GroupId, body: Value) -> Command {
        let (ops, members) = split_members(&reg(), parse_patch(&body).unwrap()).unwrap();
        Command::PatchGroup {
            id,
            ops,
            members,
            if_match: None,
        }
    }

    fn ops(list: Value) -> Value {
        json!({ "schemas": [crate::scim::patch::PATCH_OP_SCHEMA], "Operations": list })
    }

    fn rejected(decision: Decision) -> Rejection {
        match decision {
            Ok(events) => panic!("expected a rejection, got {events:?}"),
            Err(r) => r,
        }
    }

    fn accepted(decision: Decision) -> Vec<Event> {
        match decision {
            Ok(events) => events,
            Err(r) => panic!("expected events, got the rejection {r:?}"),
        }
    }

    fn change(path: &str, old: Option<&str>, new: Option<&str>) -> Change {
        Change {
            path: path.into(),
            old: old.map(str::to_owned),
            new: new.map(str::to_owned),
        }
    }

    fn sorted<T: Ord + Copy>(ids: &[T]) -> Vec<T> {
        ids.iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    // ---- users ----

    #[test]
    fn create_user_yields_user_created_with_names_and_document() {
        let given = Given::default();
        let id = UserId::random();
        let input = user_input(json!({"userName": "alice@x", "externalId": "a1", "active": true}));
        let events = accepted(when(
            &given,
            &Command::CreateUser {
                id,
                input: input.clone(),
                password_hash: None,
            },
        ));
        assert_eq!(
            events,
            vec![Event::UserCreated(UserSnapshot {
                id,
                user_name: UserName::try_from("alice@x").unwrap(),
                external_id: Some("a1".into()),
                doc: Value::Object(input.doc).to_string(),
            })]
        );
    }

    #[test]
    fn create_user_with_a_taken_user_name_in_another_letter_case_is_409_uniqueness() {
        let mut given = Given::default();
        given.with_user(json!({"userName": "alice@x"}));
        let r = rejected(when(
            &given,
            &Command::CreateUser {
                id: UserId::random(),
                input: user_input(json!({"userName": "ALICE@X"})),
                password_hash: None,
            },
        ));
        assert!(matches!(r, Rejection::Uniqueness(_)), "{r:?}");
        assert_eq!(r.status(), 409);
        assert_eq!(r.scim_type(), Some("uniqueness"));
        assert!(r.to_string().contains("ALICE@X"), "{r}");
    }

    #[test]
    fn patch_user_that_changes_nothing_yields_no_events() {
        let mut given = Given::default();
        let id = given.with_user(json!({"userName": "alice", "title": "Boss", "active": true}));
        let cmd = patch_user(
            id,
            ops(json!([
                {"op": "replace", "path": "title", "value": "Boss"},
                {"op": "Replace", "value": {"active": "True"}},
                {"op": "remove", "path": "nickName"}
            ])),
        );
        assert_eq!(accepted(when(&given, &cmd)), Vec::new());
    }

    #[test]
    fn patch_active_string_false_yields_user_deactivated_with_an_active_change() {
        let mut given = Given::default();
        let id = given.with_user(json!({"userName": "alice", "active": true}));
        let cmd = patch_user(
            id,
            ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        );
        let events = accepted(when(&given, &cmd));
        let [Event::UserDeactivated { user, changes }] = events.as_slice() else {
            panic!("expected one UserDeactivated, got {events:?}");
        };
        assert_eq!(user.id, id);
        assert_eq!(user.user_name.as_str(), "alice");
        assert_eq!(
            changes,
            &vec![change("active", Some("true"), Some("false"))]
        );
        let doc: Value = serde_json::from_str(&user.doc).unwrap();
        assert_eq!(doc["active"], json!(false));
    }

    #[test]
    fn patch_active_true_on_a_disabled_user_yields_user_reactivated() {
        let mut given = Given::default();
        let id = given.with_user(json!({"userName": "alice", "active": false}));
        let cmd = patch_user(
            id,
            ops(json!([{"op": "replace", "value": {"active": true, "title": "Back"}}])),
        );
        let events = accepted(when(&given, &cmd));
        let [Event::UserReactivated { changes, .. }] = events.as_slice() else {
            panic!("expected one UserReactivated, got {events:?}");
        };
        assert_eq!(
            changes,
            &vec![
                change("active", Some("false"), Some("true")),
                change("title", None, Some("\"Back\"")),
            ]
        );
    }

    #[test]
    fn renaming_a_user_onto_another_users_name_is_409_but_a_case_change_of_its_own_is_not() {
        let mut given = Given::default();
        let alice = given.with_user(json!({"userName": "alice"}));
        given.with_user(json!({"userName": "bob"}));
        let onto_bob = patch_user(
            alice,
            ops(json!([{"op": "replace", "path": "userName", "value": "Bob"}])),
        );
        let r = rejected(when(&given, &onto_bob));
        assert_eq!((r.status(), r.scim_type()), (409, Some("uniqueness")));

        let replace_onto_bob = Command::ReplaceUser {
            id: alice,
            input: user_input(json!({"userName": "BOB"})),
            if_match: None,
            password_hash: None,
        };
        assert_eq!(rejected(when(&given, &replace_onto_bob)).status(), 409);

        let own_case = patch_user(
            alice,
            ops(json!([{"op": "replace", "path": "userName", "value": "Alice"}])),
        );
        let events = accepted(when(&given, &own_case));
        let [Event::UserUpdated { user, changes }] = events.as_slice() else {
            panic!("expected one UserUpdated, got {events:?}");
        };
        assert_eq!(user.user_name.as_str(), "Alice");
        assert_eq!(
            changes,
            &vec![change("userName", Some("\"alice\""), Some("\"Alice\""))]
        );
    }

    #[test]
    fn if_match_mismatch_is_412_and_a_match_or_star_passes() {
        let mut given = Given::default();
        let id = given.with_user(json!({"userName": "alice"}));
        let g = given.with_group("Sales", &[]);
        let stale = Some(IfMatch::parse("W/\"6\""));
        let commands = [
            Command::PatchUser {
                id,
                ops: parse_patch(&ops(json!([{"op": "add", "path": "title", "value": "x"}])))
                    .unwrap(),
                if_match: stale.clone(),
                password_hash: None,
            },
            Command::ReplaceUser {
                id,
                input: user_input(json!({"userName": "alice", "title": "x"})),
                if_match: stale.clone(),
                password_hash: None,
            },
            Command::DeleteUser {
                id,
                if_match: stale.clone(),
            },
            Command::DeleteGroup {
                id: g,
                if_match: stale.clone(),
            },
            Command::ReplaceGroup {
                id: g,
                input: group_input(json!({"displayName": "Sales2"})),
                if_match: stale,
            },
        ];
        for cmd in &commands {
            let r = rejected(when(&given, cmd));
            assert!(matches!(r, Rejection::PreconditionFailed(_)), "{r:?}");
            assert_eq!((r.status(), r.scim_type()), (412, None));
            assert!(r.to_string().contains("W/\"7\""), "{r}");
        }
        for tag in ["W/\"7\"", "\"3\", \"7\"", "*"] {
            let cmd = Command::DeleteUser {
                id,
                if_match: Some(IfMatch::parse(tag)),
            };
            assert!(when(&given, &cmd).is_ok(), "{tag}");
        }
    }

    #[test]
    fn commands_on_unknown_resources_are_404() {
        let given = Given::default();
        let commands = [
            patch_user(
                UserId::random(),
                ops(json!([{"op": "add", "path": "title", "value": "x"}])),
            ),
            Command::DeleteUser {
                id: UserId::random(),
                if_match: None,
            },
            patch_group(
                GroupId::random(),
                ops(json!([{"op": "add", "path": "displayName", "value": "x"}])),
            ),
            Command::DeleteGroup {
                id: GroupId::random(),
                if_match: None,
            },
            Command::RevokeToken {
                id: TokenId::random(),
            },
        ];
        for cmd in &commands {
            let r = rejected(when(&given, cmd));
            assert_eq!((r.status(), r.scim_type()), (404, None), "{cmd:?}");
        }
    }

    #[test]
    fn delete_user_yields_user_deleted_carrying_its_groups() {
        let mut given = Given::default();
        let alice = given.with_user(json!({"userName": "alice", "externalId": "e-1"}));
        let bob = given.with_user(json!({"userName": "bob"}));
        let sales = given.with_group("Sales", &[alice, bob]);
        let eng = given.with_group("Eng", &[alice]);
        given.with_group("Ops", &[bob]);
        let events = accepted(when(
            &given,
            &Command::DeleteUser {
                id: alice,
                if_match: None,
            },
        ));
        assert_eq!(
            events,
            vec![Event::UserDeleted {
                id: alice,
                user_name: UserName::try_from("alice").unwrap(),
                external_id: Some("e-1".into()),
                groups: sorted(&[sales, eng]),
            }]
        );
    }

    #[test]
    fn patching_name_family_name_and_an_enterprise_attribute_reports_each_path() {
        let mut given = Given::default();
        let id = given.with_user(json!({
            "userName": "alice",
            "name": {"givenName": "Alice", "familyName": "Ng"},
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "1", "department": "R&D"}
        }));
        let cmd = patch_user(
            id,
            ops(json!([
                {"op": "replace", "path": "name.familyName", "value": "Wu"},
                {"op": "replace", "path": format!("{ENTERPRISE_USER_SCHEMA}:employeeNumber"), "value": "2"}
            ])),
        );
        let events = accepted(when(&given, &cmd));
        let [Event::UserUpdated { changes, .. }] = events.as_slice() else {
            panic!("expected one UserUpdated, got {events:?}");
        };
        assert_eq!(
            changes,
            &vec![
                change("name.familyName", Some("\"Ng\""), Some("\"Wu\"")),
                change(
                    &format!("{ENTERPRISE_USER_SCHEMA}:employeeNumber"),
                    Some("\"1\""),
                    Some("\"2\"")
                ),
            ]
        );
    }

    #[test]
    fn adding_the_first_enterprise_attribute_reports_it_from_absent() {
        let mut given = Given::default();
        let id = given.with_user(json!({"userName": "alice"}));
        let cmd = patch_user(
            id,
            ops(json!([{"op": "add", "value": {
                format!("{ENTERPRISE_USER_SCHEMA}:department"): "Sales"
            }}])),
        );
        let events = accepted(when(&given, &cmd));
        let [Event::UserUpdated { changes, .. }] = events.as_slice() else {
            panic!("expected one UserUpdated, got {events:?}");
        };
        assert_eq!(
            changes,
            &vec![change(
                &format!("{ENTERPRISE_USER_SCHEMA}:department"),
                None,
                Some("\"Sales\"")
            )]
        );
    }

    // ---- groups ----

    #[test]
    fn create_group_with_members_yields_group_created_then_members_added_deduplicated() {
        let mut given = Given::default();
        let alice = given.with_user(json!({"userName": "alice"}));
        let bob = given.with_user(json!({"userName": "bob"}));
        let id = GroupId::random();
        let input = group_input(json!({"displayName": "Sales", "members": [
            {"value": alice.to_string()}, {"value": bob.to_string()}, {"value": alice.to_string()}
        ]}));
        let events = accepted(when(
            &given,
            &Command::CreateGroup {
                id,
                input: input.clone(),
            },
        ));
        let name = GroupName::try_from("Sales").unwrap();
        assert_eq!(
            events,
            vec![
                Event::GroupCreated(GroupSnapshot {
                    id,
                    display_name: name.clone(),
                    external_id: None,
                    doc: Value::Object(input.doc).to_string(),
                }),
                Event::MembersAdded {
                    group: id,
                    display_name: name,
                    users: sorted(&[alice, bob]),
                },
            ]
        );
    }

    #[test]
    fn create_group_with_a_taken_display_name_is_409() {
        let mut given = Given::default();
        given.with_group("Sales", &[]);
        let r = rejected(when(
            &given,
            &Command::CreateGroup {
                id: GroupId::random(),
                input: group_input(json!({"displayName": "sALES"})),
            },
        ));
        assert_eq!((r.status(), r.scim_type()), (409, Some("uniqueness")));
    }

    #[test]
    fn adding_an_existing_member_again_yields_no_members_added() {
        let mut given = Given::default();
        let alice = given.with_user(json!({"userName": "alice"}));
        let g = given.with_group("Sales", &[alice]);
        let cmd = patch_group(
            g,
            ops(json!([{"op": "add", "path": "members", "value": [{"value": alice.to_string()}]}])),
        );
        assert_eq!(accepted(when(&given, &cmd)), Vec::new());
    }

    #[test]
    fn adding_an_unknown_member_is_400_invalid_value_naming_the_id() {
        let mut given = Given::default();
        let alice = given.with_user(json!({"userName": "alice"}));
        let g = given.with_group("Sales", &[]);
        let other = given.with_group("Other", &[]);
        let ghost = UserId::random().to_string();
        for bad in [ghost.as_str(), "not-a-uuid", &other.to_string()] {
            let cmd = patch_group(
                g,
                ops(json!([{"op": "add", "path": "members", "value": [
                    {"value": alice.to_string()}, {"value": bad}
                ]}])),
            );
            let r = rejected(when(&given, &cmd));
            assert!(
                matches!(r, Rejection::Invalid(ScimError::InvalidValue(_))),
                "{r:?}"
            );
            assert_eq!((r.status(), r.scim_type()), (400, Some("invalidValue")));
            assert!(r.to_string().contains(bad), "{r} does not name {bad}");
        }
        let create = Command::CreateGroup {
            id: GroupId::random(),
            input: group_input(json!({"displayName": "New", "members": [{"value": ghost}]})),
        };
        let r = rejected(when(&given, &create));
        assert_eq!((r.status(), r.scim_type()), (400, Some("invalidValue")));
        assert!(r.to_string().contains(&ghost), "{r}");
    }

    /// A group `Sales` with members alice, bob and carol.
    fn sales_with_three() -> (Given, GroupId, [UserId; 3]) {
        let mut given = Given::default();
        let a = given.with_user(json!({"userName": "alice"}));
        let b = given.with_user(json!({"userName": "bob"}));
        let c = given.with_user(json!({"userName": "carol"}));
        let g = given.with_group("Sales", &[a, b, c]);
        (given, g, [a, b, c])
    }

    fn members_removed(g: GroupId, users: &[UserId]) -> Event {
        Event::MembersRemoved {
            group: g,
            display_name: GroupName::try_from("Sales").unwrap(),
            users: sorted(users),
        }
    }

    fn members_added(g: GroupId, users: &[UserId]) -> Event {
        Event::MembersAdded {
            group: g,
            display_name: GroupName::try_from("Sales").unwrap(),
            users: sorted(users),
        }
    }

    #[test]
    fn remove_by_value_filter_removes_only_that_member() {
        let (given, g, [_, b, _]) = sales_with_three();
        let cmd = patch_group(
            g,
            ops(json!([{"op": "remove", "path": format!("members[value eq \"{b}\"]")}])),
        );
        assert_eq!(accepted(when(&given, &cmd)), vec![members_removed(g, &[b])]);
    }

    #[test]
    fn remove_by_a_general_filter_removes_only_the_matching_member() {
        let (given, g, [a, _, _]) = sales_with_three();
        let cmd = patch_group(
            g,
            ops(json!([{"op": "remove",
                "path": format!("members[value eq \"{a}\" and type eq \"User\"]")}])),
        );
        let Command::PatchGroup { members, .. } = &cmd else {
            unreachable!()
        };
        assert!(matches!(members.as_slice(), [MemberOp::RemoveWhere(_)]));
        assert_eq!(accepted(when(&given, &cmd)), vec![members_removed(g, &[a])]);
    }

    #[test]
    fn remove_by_display_filter_uses_the_members_names() {
        let (given, g, [_, b, _]) = sales_with_three();
        let cmd = patch_group(
            g,
            ops(json!([{"op": "remove", "path": "members[display eq \"BOB\"]"}])),
        );
        assert_eq!(accepted(when(&given, &cmd)), vec![members_removed(g, &[b])]);
    }

    #[test]
    fn legacy_remove_with_a_value_list_removes_only_the_listed_member() {
        let (given, g, [_, _, c]) = sales_with_three();
        let cmd = patch_group(
            g,
            ops(json!([{"op": "Remove", "path": "members", "value": [{"value": c.to_string()}]}])),
        );
        assert_eq!(accepted(when(&given, &cmd)), vec![members_removed(g, &[c])]);
    }

    #[test]
    fn remove_without_a_value_removes_every_member() {
        let (given, g, all) = sales_with_three();
        let cmd = patch_group(g, ops(json!([{"op": "remove", "path": "members"}])));
        assert_eq!(accepted(when(&given, &cmd)), vec![members_removed(g, &all)]);
    }

    #[test]
    fn replace_members_sets_exactly_the_list() {
        let (mut given, g, [a, b, c]) = sales_with_three();
        let d = given.with_user(json!({"userName": "dave"}));
        let cmd = patch_group(
            g,
            ops(json!([{"op": "replace", "path": "members", "value": [
                {"value": b.to_string()}, {"value": d.to_string()}
            ]}])),
        );
        let events = accepted(when(&given, &cmd));
        assert_eq!(
            events,
            vec![members_removed(g, &[a, c]), members_added(g, &[d])]
        );

        let put = Command::ReplaceGroup {
            id: g,
            input: group_input(
                json!({"displayName": "Sales", "members": [{"value": b.to_string()}, {"value": d.to_string()}]}),
            ),
            if_match: None,
        };
        assert_eq!(accepted(when(&given, &put)), events);
    }

    #[test]
    fn member_operations_apply_in_request_order() {
        let (given, g, [a, b, _]) = sales_with_three();
        let cmd = patch_group(
            g,
            ops(json!([
                {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
                {"op": "add", "path": "members", "value": [{"value": a.to_string()}]},
                {"op": "remove", "path": "members", "value": [{"value": b.to_string()}]},
                {"op": "add", "path": "members", "value": [{"value": b.to_string()}]},
                {"op": "remove", "path": "members", "value": [{"value": b.to_string()}]}
            ])),
        );
        assert_eq!(accepted(when(&given, &cmd)), vec![members_removed(g, &[b])]);
    }

    #[test]
    fn renaming_a_group_yields_group_renamed_and_members_carry_the_new_name() {
        let mut given = Given::default();
        let alice = given.with_user(json!({"userName": "alice"}));
        let g = given.with_group("Sales", &[]);
        given.with_group("Eng", &[]);
        let cmd = patch_group(
            g,
            ops(json!([
                {"op": "replace", "path": "displayName", "value": "Sales EMEA"},
                {"op": "add", "path": "members", "value": [{"value": alice.to_string()}]}
            ])),
        );
        let events = accepted(when(&given, &cmd));
        let [Event::GroupRenamed { group, changes }, Event::MembersAdded {
            display_name,
            users,
            ..
        }] = events.as_slice()
        else {
            panic!("expected GroupRenamed and MembersAdded, got {events:?}");
        };
        assert_eq!(group.display_name.as_str(), "Sales EMEA");
        assert_eq!(display_name.as_str(), "Sales EMEA");
        assert_eq!(users, &vec![alice]);
        assert_eq!(
            changes,
            &vec![change(
                "displayName",
                Some("\"Sales\""),
                Some("\"Sales EMEA\"")
            )]
        );

        let onto_eng = patch_group(
            g,
            ops(json!([{"op": "replace", "path": "displayName", "value": "ENG"}])),
        );
        let r = rejected(when(&given, &onto_eng));
        assert_eq!((r.status(), r.scim_type()), (409, Some("uniqueness")));
    }

    #[test]
    fn changing_a_group_attribute_other_than_its_name_yields_group_updated() {
        let mut given = Given::default();
        let g = given.with_group("Sales", &[]);
        let cmd = patch_group(
            g,
            ops(json!([{"op": "add", "path": "externalId", "value": "ext-9"}])),
        );
        let events = accepted(when(&given, &cmd));
        let [Event::GroupUpdated { group, changes }] = events.as_slice() else {
            panic!("expected one GroupUpdated, got {events:?}");
        };
        assert_eq!(group.external_id.as_deref(), Some("ext-9"));
        assert_eq!(
            changes,
            &vec![change("externalId", None, Some("\"ext-9\""))]
        );
    }

    #[test]
    fn delete_group_yields_group_deleted_carrying_its_members() {
        let (given, g, all) = sales_with_three();
        let events = accepted(when(
            &given,
            &Command::DeleteGroup {
                id: g,
                if_match: None,
            },
        ));
        assert_eq!(
            events,
            vec![Event::GroupDeleted {
                id: g,
                display_name: GroupName::try_from("Sales").unwrap(),
                external_id: None,
                members: sorted(&all),
            }]
        );
    }

    #[test]
    fn a_write_refused_at_the_boundary_yields_its_rejection_unchanged() {
        let given = Given::default();
        let rejection = Rejection::Invalid(ScimError::InvalidSyntax("not JSON".into()));
        let cmd = Command::Refused {
            action: crate::domain::event::Action::PatchUser,
            target_id: Some("nope".into()),
            rejection: rejection.clone(),
        };
        assert_eq!(when(&given, &cmd), Err(rejection));
    }

    // ---- tokens ----

    #[test]
    fn tokens_are_issued_and_revoked_once() {
        let mut given = Given::default();
        let live = given.with_token(false);
        let gone = given.with_token(true);
        let name = ClientName::try_from("Entra ID").unwrap();
        assert_eq!(
            accepted(when(&given, &Command::RevokeToken { id: live })),
            vec![Event::TokenRevoked {
                id: live,
                name: name.clone()
            }]
        );
        assert_eq!(
            accepted(when(&given, &Command::RevokeToken { id: gone })),
            Vec::new()
        );
        let id = TokenId::random();
        let issue = Command::IssueToken {
            id,
            name: name.clone(),
            secret_sha256: [9; 32],
            expires_ms: None,
        };
        assert_eq!(
            accepted(when(&given, &issue)),
            vec![Event::TokenIssued {
                id,
                name,
                secret_sha256: [9; 32]
            }]
        );
    }
}
