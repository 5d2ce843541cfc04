//! One resource's history: every log record about it (oldest first, from the `log_by_resource`
//! index) and its state as of any past sequence number, rebuilt from those records alone — the
//! events carry whole documents, so no replay of the full log is needed.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::event::Event;
use crate::scim::resource::{render, Document, Meta};
use crate::scim::schema::{Registry, ResourceKind};
use crate::store::codec::{Entry, LogRecord};
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
    let state = state_at(reg, &records, id, as_of, base_url);
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

fn state_at(
    reg: &Registry,
    records: &[LogRecord],
    id: [u8; 16],
    at: u64,
    base_url: &str,
) -> Option<Value> {
    let mut doc: Option<(ResourceKind, String)> = None;
    let mut created = 0i64;
    let mut meta = Meta {
        created_ms: 0,
        last_modified_ms: 0,
        version: 0,
    };
    let mut members: BTreeSet<String> = BTreeSet::new();
    let mut groups: BTreeSet<String> = BTreeSet::new();
    for rec in records.iter().filter(|r| r.seq <= at) {
        let Entry::Event(e) = &rec.entry else {
            continue;
        };
        let mut touched = true;
        match e {
            Event::UserCreated(u) => {
                doc = Some((ResourceKind::User, u.doc.clone()));
                created = rec.time_ms;
            }
            Event::UserUpdated { user, .. }
            | Event::UserDeactivated { user, .. }
            | Event::UserReactivated { user, .. } => {
                doc = Some((ResourceKind::User, user.doc.clone()));
            }
            Event::GroupCreated(g) => {
                doc = Some((ResourceKind::Group, g.doc.clone()));
                created = rec.time_ms;
                members.clear();
            }
            Event::GroupUpdated { group, .. } | Event::GroupRenamed { group, .. } => {
                doc = Some((ResourceKind::Group, group.doc.clone()));
            }
            Event::UserDeleted { .. } | Event::GroupDeleted { .. } => {
                doc = None;
            }
            Event::MembersAdded { group, users, .. } => {
                if *group.as_bytes() == id {
                    members.extend(users.iter().map(ToString::to_string));
                } else {
                    groups.insert(group.to_string());
                    touched = false;
                }
            }
            Event::MembersRemoved { group, users, .. } => {
                if *group.as_bytes() == id {
                    for u in users {
                        members.remove(&u.to_string());
                    }
                } else {
                    groups.remove(&group.to_string());
                    touched = false;
                }
            }
            Event::UserPasswordSet { .. }
            | Event::TokenIssued { .. }
            | Event::TokenRevoked { .. }
            | Event::TokenExpirySet { .. } => {}
        }
        if touched {
            meta = Meta {
                created_ms: created,
                last_modified_ms: rec.time_ms,
                version: rec.seq,
            };
        }
    }
    let (kind, doc) = doc?;
    let parsed: Document = serde_json::from_str(&doc).ok()?;
    let id_text = uuid::Uuid::from_bytes(id).to_string();
    let mut body = render(reg, kind, &id_text, &parsed, &meta, base_url);
    match kind {
        ResourceKind::Group => {
            body.insert(
                "members".into(),
                Value::Array(members.iter().map(|m| json!({"value": m})).collect()),
            );
        }
        ResourceKind::User if !groups.is_empty() => {
            body.insert(
                "groups".into(),
                Value::Array(groups.iter().map(|g| json!({"value": g})).collect()),
            );
        }
        ResourceKind::User => {}
    }
    Some(Value::Object(body))
}
