//! Rules for groups: a displayName is unique (case-insensitively), members must be existing users
//! (no nested groups), membership operations apply in request order and only differences from the
//! stored membership become events.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::domain::command::IfMatch;
use crate::domain::error::Rejection;
use crate::domain::event::{Event, GroupSnapshot, MemberSent};
use crate::domain::ids::{GroupId, GroupName, UserId};
use crate::scim::error::ScimError;
use crate::scim::patch::{self, MemberOp, PatchOperation};
use crate::scim::resource::{check_required, Document, MemberEntry, Parsed};
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

/// A member entry resolved to its user, with the `display` sent.
type Resolved = (UserId, Option<String>);

/// Resolve member entries to existing users (with the `display` sent), naming the first that is
/// not one.
fn resolve_members<V: Views>(
    views: &V,
    entries: &[MemberEntry],
) -> Result<Vec<Resolved>, Stop<V::Error>> {
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let v = &e.value;
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
        out.push((uid, e.display.clone()));
    }
    Ok(out)
}

/// The membership event for members that joined or whose entry changed: `MembersAdded` when no
/// entry carries a `display`, `MembersAddedAsSent` when one does.
fn members_added(
    group: GroupId,
    display_name: GroupName,
    members: BTreeMap<UserId, Option<String>>,
) -> Option<Event> {
    if members.is_empty() {
        return None;
    }
    Some(if members.values().all(Option::is_none) {
        Event::MembersAdded {
            group,
            display_name,
            users: members.into_keys().collect(),
        }
    } else {
        Event::MembersAddedAsSent {
            group,
            display_name,
            members: members
                .into_iter()
                .map(|(id, display)| MemberSent { id, display })
                .collect(),
        }
    })
}

pub(super) fn create<V: Views>(views: &V, id: GroupId, input: &Parsed) -> Decision<V::Error> {
    let (display_name, external_id) = names(&input.doc)?;
    if views.group_by_name(&display_name.key()).read()?.is_some() {
        return Err(Rejection::Uniqueness(format!(
            "displayName '{display_name}' is already in use"
        ))
        .into());
    }
    // A member listed twice keeps its last entry.
    let members: BTreeMap<UserId, Option<String>> =
        resolve_members(views, input.members.as_deref().unwrap_or(&[]))?
            .into_iter()
            .collect();
    let mut events = vec![Event::GroupCreated(GroupSnapshot {
        id,
        display_name: display_name.clone(),
        external_id,
        doc: Value::Object(input.doc.clone()).to_string(),
    })];
    events.extend(members_added(id, display_name, members));
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
    // As for users: a group keeping its displayName holds its own index entry.
    let kept = names(&old.doc).is_ok_and(|(was, _)| was.key() == display_name.key());
    let holder = if kept {
        None
    } else {
        views.group_by_name(&display_name.key()).read()?
    };
    if let Some(holder) = holder {
        if holder != id {
            return Err(Rejection::Uniqueness(format!(
                "displayName '{display_name}' is already in use"
            ))
            .into());
        }
    }
    // Membership changes in request order: `state` records what each op leaves behind (`None`:
    // not a member), and only differences from the stored membership become events (re-adding a
    // member as it is is a no-op).
    let mut state: BTreeMap<UserId, Option<Wanted>> = BTreeMap::new();
    let mut current: Option<BTreeSet<UserId>> = None;
    for op in member_ops {
        if reads_all_members(op) && current.is_none() {
            current = Some(views.members_of(id).read()?.into_iter().collect());
        }
        match op {
            MemberOp::Add(entries) => {
                for (u, display) in resolve_members(views, entries)? {
                    // An add without a display keeps what an earlier op of the request wanted.
                    if display.is_none() && matches!(state.get(&u), Some(Some(_))) {
                        continue;
                    }
                    state.insert(
                        u,
                        Some(Wanted {
                            display,
                            exact: false,
                        }),
                    );
                }
            }
            MemberOp::Remove(values) => {
                for v in values {
                    if let Ok(u) = UserId::try_from(v.as_str()) {
                        state.insert(u, None);
                    }
                }
            }
            MemberOp::Replace(entries) => {
                let wanted = resolve_members(views, entries)?;
                for u in effective(current.as_ref(), &state) {
                    state.insert(u, None);
                }
                for (u, display) in wanted {
                    state.insert(
                        u,
                        Some(Wanted {
                            display,
                            exact: true,
                        }),
                    );
                }
            }
            MemberOp::RemoveAll => {
                for u in effective(current.as_ref(), &state) {
                    state.insert(u, None);
                }
            }
            MemberOp::RemoveWhere(filter) => {
                for u in effective(current.as_ref(), &state) {
                    // The element as the group shows it: the display its client sent, else the
                    // member's name, so `members[display eq "…"]` finds members either way.
                    let sent = match state.get(&u) {
                        Some(Some(w)) => w.display.clone(),
                        _ => views.member(id, u).read()?.flatten(),
                    };
                    let display = match sent {
                        Some(d) => Some(Value::String(d)),
                        None => views.user(u).read()?.and_then(|s| {
                            s.doc
                                .get("displayName")
                                .or_else(|| s.doc.get("userName"))
                                .cloned()
                        }),
                    };
                    let element = serde_json::json!({
                        "value": u.to_string(),
                        "type": "User",
                        "display": display,
                    });
                    if patch::member_matches(reg, filter, &element) {
                        state.insert(u, None);
                    }
                }
            }
        }
    }
    let mut added: BTreeMap<UserId, Option<String>> = BTreeMap::new();
    let mut removed = Vec::new();
    for (u, wanted) in state {
        let stored = match &current {
            Some(c) if !c.contains(&u) => None,
            _ => views.member(id, u).read()?,
        };
        match (stored, wanted) {
            (Some(_), None) => removed.push(u),
            (None, Some(w)) => {
                added.insert(u, w.display);
            }
            (Some(had), Some(w)) => {
                let display = if w.exact {
                    w.display
                } else {
                    w.display.or(had.clone())
                };
                if display != had {
                    added.insert(u, display);
                }
            }
            (None, None) => {}
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
    events.extend(members_added(id, display_name, added));
    Ok(events)
}

/// What a membership operation wants for a member.
#[derive(Debug, Clone)]
struct Wanted {
    /// The `display` sent with it.
    display: Option<String>,
    /// Whether the entry is to be exactly as sent (a replace), or only to gain what was sent (an
    /// add keeps an existing member's display when none is sent).
    exact: bool,
}

/// Members after the ops so far, given the scanned membership.
fn effective(
    current: Option<&BTreeSet<UserId>>,
    state: &BTreeMap<UserId, Option<Wanted>>,
) -> Vec<UserId> {
    let mut set: BTreeSet<UserId> = current.cloned().unwrap_or_default();
    for (u, m) in state {
        if m.is_some() {
            set.insert(*u);
        } else {
            set.remove(u);
        }
    }
    set.into_iter().collect()
}
