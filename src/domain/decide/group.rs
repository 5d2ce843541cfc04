//! Rules for groups: a displayName is unique (case-insensitively), members must be existing users
//! (no nested groups), membership operations apply in request order and only differences from the
//! stored membership become events.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::domain::command::IfMatch;
use crate::domain::error::Rejection;
use crate::domain::event::{Event, GroupSnapshot};
use crate::domain::ids::{GroupId, GroupName, UserId};
use crate::scim::error::ScimError;
use crate::scim::patch::{self, MemberOp, PatchOperation};
use crate::scim::resource::{check_required, Document, Parsed};
use crate::scim::schema::{Registry, ResourceKind};

use super::{check_immutable, diff, not_found, precondition, str_attr, Decision, Read, Stop};
use super::{GroupState, Views};

/// The displayName and externalId of a document.
fn names(doc: &Document) -> Result<(GroupName, Option<String>), Rejection> {
    let name = str_attr(doc, "displayName").unwrap_or_default();
    let display_name = GroupName::try_from(name.as_str())
        .map_err(|e| Rejection::Invalid(ScimError::InvalidValue(e.0)))?;
    Ok((display_name, str_attr(doc, "externalId")))
}

/// Load the group and check the precondition.
fn existing<V: Views>(
    views: &V,
    id: GroupId,
    if_match: Option<&IfMatch>,
) -> Result<GroupState, Stop<V::Error>> {
    let old = views
        .group(id)
        .read()?
        .ok_or_else(|| not_found(ResourceKind::Group, id))?;
    precondition(if_match, &old.meta)?;
    Ok(old)
}

/// Resolve member `value`s to existing users, naming the first that is not one.
fn resolve_members<V: Views>(views: &V, values: &[String]) -> Result<Vec<UserId>, Stop<V::Error>> {
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let invalid =
            |why: &str| Rejection::Invalid(ScimError::InvalidValue(format!("member '{v}' {why}")));
        let Ok(uid) = UserId::try_from(v.as_str()) else {
            return Err(invalid("is not the id of a user").into());
        };
        if !views.user_exists(uid).read()? {
            if views
                .group(GroupId::from_bytes(*uid.as_bytes()))
                .read()?
                .is_some()
            {
                return Err(invalid("is a group: nested groups are not supported").into());
            }
            return Err(invalid("is not the id of a user").into());
        }
        out.push(uid);
    }
    Ok(out)
}

pub(super) fn create<V: Views>(views: &V, id: GroupId, input: &Parsed) -> Decision<V::Error> {
    let (display_name, external_id) = names(&input.doc)?;
    if views.group_by_name(&display_name.key()).read()?.is_some() {
        return Err(Rejection::Uniqueness(format!(
            "displayName '{display_name}' is already in use"
        ))
        .into());
    }
    let members: BTreeSet<UserId> =
        resolve_members(views, input.members.as_deref().unwrap_or(&[]))?
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
            users: members.into_iter().collect(),
        });
    }
    Ok(events)
}

pub(super) fn replace<V: Views>(
    views: &V,
    reg: &Registry,
    id: GroupId,
    input: &Parsed,
    if_match: Option<&IfMatch>,
) -> Decision<V::Error> {
    let old = existing(views, id, if_match)?;
    let ops: Vec<MemberOp> = input
        .members
        .clone()
        .map(MemberOp::Replace)
        .into_iter()
        .collect();
    update(views, reg, id, &old, input.doc.clone(), &ops)
}

pub(super) fn patch<V: Views>(
    views: &V,
    reg: &Registry,
    id: GroupId,
    ops: &[PatchOperation],
    members: &[MemberOp],
    if_match: Option<&IfMatch>,
) -> Decision<V::Error> {
    let old = existing(views, id, if_match)?;
    let mut doc = old.doc.clone();
    patch::apply(reg, ResourceKind::Group, &mut doc, ops)?;
    update(views, reg, id, &old, doc, members)
}

pub(super) fn delete<V: Views>(
    views: &V,
    id: GroupId,
    if_match: Option<&IfMatch>,
) -> Decision<V::Error> {
    let old = existing(views, id, if_match)?;
    let (display_name, external_id) = names(&old.doc)?;
    Ok(vec![Event::GroupDeleted {
        id,
        display_name,
        external_id,
        members: views.members_of(id).read()?,
    }])
}

/// Whether applying `op` reads the group's whole member list (see `Command::reads`).
pub fn reads_all_members(op: &MemberOp) -> bool {
    matches!(
        op,
        MemberOp::Replace(_) | MemberOp::RemoveAll | MemberOp::RemoveWhere(_)
    )
}

/// The events that turn `old` into `new` with these membership operations.
fn update<V: Views>(
    views: &V,
    reg: &Registry,
    id: GroupId,
    old: &GroupState,
    new: Document,
    member_ops: &[MemberOp],
) -> Decision<V::Error> {
    check_required(reg, ResourceKind::Group, &new)?;
    check_immutable(reg, ResourceKind::Group, &old.doc, &new)?;
    let (display_name, external_id) = names(&new)?;
    if let Some(holder) = views.group_by_name(&display_name.key()).read()? {
        if holder != id {
            return Err(Rejection::Uniqueness(format!(
                "displayName '{display_name}' is already in use"
            ))
            .into());
        }
    }
    // Membership changes in request order: `state` records what each op leaves behind, and only
    // differences from the stored membership become events (re-adding a member is a no-op).
    let mut state: BTreeMap<UserId, bool> = BTreeMap::new();
    let mut current: Option<BTreeSet<UserId>> = None;
    for op in member_ops {
        if reads_all_members(op) && current.is_none() {
            current = Some(views.members_of(id).read()?.into_iter().collect());
        }
        match op {
            MemberOp::Add(values) => {
                for u in resolve_members(views, values)? {
                    state.insert(u, true);
                }
            }
            MemberOp::Remove(values) => {
                for v in values {
                    if let Ok(u) = UserId::try_from(v.as_str()) {
                        state.insert(u, false);
                    }
                }
            }
            MemberOp::Replace(values) => {
                let ids = resolve_members(views, values)?;
                for u in effective(current.as_ref(), &state) {
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
                    let display = views.user(u).read()?.and_then(|s| {
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
            None => views.is_member(id, u).read()?,
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
    Ok(events)
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
