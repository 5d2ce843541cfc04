//! Rules for users: a userName is unique (case-insensitively), immutable attributes stay, a change
//! of `active` is a deactivation or reactivation, a delete takes the user out of every group.

use serde_json::Value;

use crate::domain::command::IfMatch;
use crate::domain::error::Rejection;
use crate::domain::event::{Event, UserSnapshot};
use crate::domain::ids::{UserId, UserName};
use crate::scim::error::ScimError;
use crate::scim::patch::{self, PatchOperation};
use crate::scim::resource::{check_required, Document, Parsed};
use crate::scim::schema::{Registry, ResourceKind};

use super::{check_immutable, diff, not_found, precondition, str_attr, Decision, Read, Stop};
use super::{UserState, Views};

/// The userName and externalId of a document.
pub(super) fn names(doc: &Document) -> Result<(UserName, Option<String>), Rejection> {
    let name = str_attr(doc, "userName").unwrap_or_default();
    let user_name = UserName::try_from(name.as_str())
        .map_err(|e| Rejection::Invalid(ScimError::InvalidValue(e.0)))?;
    Ok((user_name, str_attr(doc, "externalId")))
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

/// Load the user and check the precondition.
fn existing<V: Views>(
    views: &V,
    id: UserId,
    if_match: Option<&IfMatch>,
) -> Result<UserState, Stop<V::Error>> {
    let old = views
        .user(id)
        .read()?
        .ok_or_else(|| not_found(ResourceKind::User, id))?;
    precondition(if_match, &old.meta)?;
    Ok(old)
}

pub(super) fn create<V: Views>(
    views: &V,
    id: UserId,
    input: &Parsed,
    password_hash: Option<&String>,
) -> Decision<V::Error> {
    let (user_name, external_id) = names(&input.doc)?;
    if views.user_by_name(&user_name.key()).read()?.is_some() {
        return Err(
            Rejection::Uniqueness(format!("userName '{user_name}' is already in use")).into(),
        );
    }
    let events = vec![Event::UserCreated(UserSnapshot {
        id,
        user_name,
        external_id,
        doc: Value::Object(input.doc.clone()).to_string(),
    })];
    Ok(with_password(events, id, password_hash))
}

pub(super) fn replace<V: Views>(
    views: &V,
    reg: &Registry,
    id: UserId,
    input: &Parsed,
    if_match: Option<&IfMatch>,
    password_hash: Option<&String>,
) -> Decision<V::Error> {
    let old = existing(views, id, if_match)?;
    let events = update(views, reg, id, &old.doc, input.doc.clone())?;
    Ok(with_password(events, id, password_hash))
}

pub(super) fn patch<V: Views>(
    views: &V,
    reg: &Registry,
    id: UserId,
    ops: &[PatchOperation],
    if_match: Option<&IfMatch>,
    password_hash: Option<&String>,
) -> Decision<V::Error> {
    let old = existing(views, id, if_match)?;
    let mut doc = old.doc.clone();
    patch::apply(reg, ResourceKind::User, &mut doc, ops)?;
    let events = update(views, reg, id, &old.doc, doc)?;
    Ok(with_password(events, id, password_hash))
}

pub(super) fn delete<V: Views>(
    views: &V,
    id: UserId,
    if_match: Option<&IfMatch>,
) -> Decision<V::Error> {
    let old = existing(views, id, if_match)?;
    let (user_name, external_id) = names(&old.doc)?;
    Ok(vec![Event::UserDeleted {
        id,
        user_name,
        external_id,
        groups: views.groups_of(id).read()?,
    }])
}

/// The event that turns `old` into `new`, if anything changed.
fn update<V: Views>(
    views: &V,
    reg: &Registry,
    id: UserId,
    old: &Document,
    new: Document,
) -> Decision<V::Error> {
    check_required(reg, ResourceKind::User, &new)?;
    check_immutable(reg, ResourceKind::User, old, &new)?;
    let (user_name, external_id) = names(&new)?;
    // A user keeping its userName holds its own index entry: only a new name needs the lookup
    // (a random index read per PATCH in a large directory).
    let kept = names(old).is_ok_and(|(was, _)| was.key() == user_name.key());
    let holder = if kept {
        None
    } else {
        views.user_by_name(&user_name.key()).read()?
    };
    if let Some(holder) = holder {
        if holder != id {
            return Err(
                Rejection::Uniqueness(format!("userName '{user_name}' is already in use")).into(),
            );
        }
    }
    let changes = diff(old, &new);
    if changes.is_empty() {
        return Ok(Vec::new());
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
    Ok(vec![event])
}
