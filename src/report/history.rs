//! One resource's history: every log record about it (oldest first, from the `log_by_resource`
//! index, which lists every event that changes a resource — a membership cascade of a deletion
//! included) and its state as of any past sequence number.
//!
//! The state comes from the one projection: the resource's records up to that point are replayed
//! through `store::project` into in-memory trees ([`MemViews`]), the very code that maintains the
//! live views, so "state after entry N" is what the views held after N. The events carry whole
//! documents, so no replay of the full log is needed.

use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::ids::{GroupId, UserId};
use crate::scim::resource::render;
use crate::scim::schema::{Registry, ResourceKind};
use crate::store::codec::LogRecord;
use crate::store::memory::MemViews;
use crate::store::{read, Result, Trees};

use super::activity::Item;

/// A resource's history and its state at a point.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// The id asked for.
    pub id: String,
    /// `User`, `Group`, `Token`, or `None` when nothing is recorded.
    pub resource_type: Option<&'static str>,
    /// Its latest known name.
    pub name: Option<String>,
    /// Every record about it, oldest first.
    pub items: Vec<Item>,
    /// The SCIM resource as of `as_of` (`None`: did not exist then, or not a user/group).
    pub state: Option<Value>,
    /// The sequence number the state is as of.
    pub as_of: u64,
}

/// Build the history of `id`; `at` limits the state to records up to that sequence number.
pub fn history(
    t: &Trees,
    reg: &Registry,
    id: [u8; 16],
    at: Option<u64>,
    base_url: &str,
) -> Result<History> {
    let mut records: Vec<LogRecord> = Vec::new();
    for seq in read::resource_seqs(t, &id, 0, u64::MAX) {
        if let Some(rec) = read::log_record(t, seq?)? {
            records.push(rec);
        }
    }
    let items: Vec<Item> = records.iter().map(Item::from_record).collect();
    let id_text = uuid::Uuid::from_bytes(id).to_string();
    let own = |i: &&Item| i.resource_id.as_deref() == Some(id_text.as_str());
    let resource_type = items.iter().filter(own).find_map(|i| i.resource_type);
    let name = items
        .iter()
        .rev()
        .filter(own)
        .find_map(|i| i.resource_name.clone());
    let as_of = at.unwrap_or(u64::MAX);
    let state = state_at(reg, &records, id, as_of, base_url)?;
    let as_of = records
        .iter()
        .map(|r| r.seq)
        .filter(|s| *s <= as_of)
        .max()
        .unwrap_or(0);
    Ok(History {
        id: id_text,
        resource_type,
        name,
        items,
        state,
        as_of,
    })
}

/// The resource as the views held it after the last of `records` at or before `at`.
fn state_at(
    reg: &Registry,
    records: &[LogRecord],
    id: [u8; 16],
    at: u64,
    base_url: &str,
) -> Result<Option<Value>> {
    let views = MemViews::default();
    for rec in records.iter().filter(|r| r.seq <= at) {
        views.record(rec)?;
    }
    let id_text = uuid::Uuid::from_bytes(id).to_string();
    let link = |kind: &str, other: String| json!({"value": other, "$ref": format!("{base_url}/{kind}/{other}"), "type": if kind == "Users" { "User" } else { "direct" }});
    if let Some(user) = views.user(UserId::from_bytes(id))? {
        let mut body = render(
            reg,
            ResourceKind::User,
            &id_text,
            user.doc,
            &user.meta,
            base_url,
        );
        let groups: Vec<Value> = views
            .groups_of(UserId::from_bytes(id))
            .into_iter()
            .map(|g| link("Groups", g.to_string()))
            .collect();
        if !groups.is_empty() {
            body.insert("groups".into(), Value::Array(groups));
        }
        return Ok(Some(Value::Object(body)));
    }
    if let Some(group) = views.group(GroupId::from_bytes(id))? {
        let mut body = render(
            reg,
            ResourceKind::Group,
            &id_text,
            group.doc,
            &group.meta,
            base_url,
        );
        let members: Vec<Value> = views
            .members_of(GroupId::from_bytes(id))
            .into_iter()
            .map(|u| link("Users", u.to_string()))
            .collect();
        body.insert("members".into(), Value::Array(members));
        return Ok(Some(Value::Object(body)));
    }
    Ok(None)
}
