//! The snapshot a consumer starts from: every user and group as of one cursor, so that "snapshot,
//! then follow the feed from its cursor" loses and repeats nothing.
//!
//! sled has no read snapshots and the writer never waits for a reader, so the snapshot is made
//! consistent after the fact: the cursor is the durable end of the log when the snapshot begins;
//! a view row whose version (the sequence number of its last change) is at or before the cursor is
//! as it was then; a row changed since is replayed from its own log records to its state at the
//! cursor (the history's "state as of", through the one projection), and a resource created since
//! is left out; resources deleted while the snapshot ran are found in the log and replayed too.
//!
//! Lines (NDJSON): first `{"cursor": C}`, then one SCIM resource per line (users first, then
//! groups with their `members`; users carry no `groups`, their memberships are the groups'
//! members), last `{"end": true, "cursor": C, "users": n, "groups": m}`. A stream that lacks the
//! last line was cut short and must be retried.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use crate::domain::event::Event;
use crate::domain::ids::{GroupId, UserId};
use crate::report::history;
use crate::scim::resource::render_shown;
use crate::scim::schema::{Registry, ResourceKind};
use crate::store::codec::Entry;
use crate::store::{read, Trees};

use super::cursor::Cursor;
use super::Result;

/// Write the snapshot as of the durable `head` through `emit`, which returns false when the
/// consumer went away (the snapshot then stops).
pub fn snapshot(
    t: &Trees,
    reg: &Registry,
    base_url: &str,
    head: u64,
    emit: &mut dyn FnMut(Value) -> bool,
) -> Result<()> {
    let cursor = Cursor(head).encode();
    if !emit(json!({ "cursor": cursor })) {
        return Ok(());
    }
    let mut seen: HashSet<[u8; 16]> = HashSet::new();
    let (mut users, mut groups) = (0u64, 0u64);
    for id in read::ids_after(t, true, None) {
        let id = id?;
        let state = match read::user(t, UserId::from_bytes(id))? {
            Some(rec) if rec.version <= head => Some(Value::Object(render_shown(
                reg,
                ResourceKind::User,
                &uuid::Uuid::from_bytes(id).to_string(),
                serde_json::from_str(&rec.doc).unwrap_or_default(),
                &rec.meta(),
                base_url,
            ))),
            Some(_) => replayed(t, reg, id, head, base_url)?,
            None => None,
        };
        // Only what was emitted counts as seen: a row deleted between the key scan and its read
        // is found with the deletions below.
        if let Some(s) = state {
            seen.insert(id);
            users += 1;
            if !emit(s) {
                return Ok(());
            }
        }
    }
    for id in read::ids_after(t, false, None) {
        let id = id?;
        if let Some(s) = group_at(t, reg, id, head, base_url)? {
            seen.insert(id);
            groups += 1;
            if !emit(s) {
                return Ok(());
            }
        }
    }
    // Deleted while the scan ran: absent from the views, but they existed at the cursor.
    let mut gone: Vec<([u8; 16], bool)> = Vec::new();
    for rec in read::log_from(t, head + 1) {
        match rec?.entry {
            Entry::Event(Event::UserDeleted { id, .. }) => gone.push((*id.as_bytes(), true)),
            Entry::Event(Event::GroupDeleted { id, .. }) => gone.push((*id.as_bytes(), false)),
            _ => {}
        }
    }
    // Users before groups, as in the scan.
    gone.sort_by_key(|(_, user)| !*user);
    for (id, user) in gone {
        if !seen.insert(id) {
            continue;
        }
        if let Some(s) = replayed(t, reg, id, head, base_url)? {
            if user {
                users += 1;
            } else {
                groups += 1;
            }
            if !emit(s) {
                return Ok(());
            }
        }
    }
    emit(json!({"end": true, "cursor": cursor, "users": users, "groups": groups}));
    Ok(())
}

/// A group as of `head`: from the views when neither it nor its members changed since (its version
/// covers membership changes), else replayed.
fn group_at(
    t: &Trees,
    reg: &Registry,
    id: [u8; 16],
    head: u64,
    base_url: &str,
) -> Result<Option<Value>> {
    let gid = GroupId::from_bytes(id);
    let Some(rec) = read::group(t, gid)? else {
        return Ok(None);
    };
    if rec.version > head {
        return replayed(t, reg, id, head, base_url);
    }
    let mut members = Vec::new();
    for m in read::member_entries(t, gid) {
        let (u, display) = m?;
        members.push(match display {
            Some(d) => json!({"value": u.to_string(), "display": d}),
            None => json!({"value": u.to_string()}),
        });
    }
    // The members are read apart from the row: if a change landed in between, replay instead.
    if read::group(t, gid)?.is_none_or(|again| again.version != rec.version) {
        return replayed(t, reg, id, head, base_url);
    }
    let mut body = render_shown(
        reg,
        ResourceKind::Group,
        &gid.to_string(),
        serde_json::from_str(&rec.doc).unwrap_or_default(),
        &rec.meta(),
        base_url,
    );
    body.insert("members".into(), Value::Array(members));
    Ok(Some(Value::Object(body)))
}

/// The resource `id` as of `head`, replayed from its log records (`None`: it did not exist then).
fn replayed(
    t: &Trees,
    reg: &Registry,
    id: [u8; 16],
    head: u64,
    base_url: &str,
) -> Result<Option<Value>> {
    let h = history::history(t, reg, id, Some(head), base_url)?;
    Ok(h.state.map(|s| match s {
        Value::Object(mut m) => {
            m.remove("groups");
            if let Some(Value::Array(members)) = m.get_mut("members") {
                for entry in members.iter_mut() {
                    let mut keep = Map::new();
                    if let Some(v) = entry.get("value") {
                        keep.insert("value".into(), v.clone());
                    }
                    *entry = Value::Object(keep);
                }
            }
            Value::Object(m)
        }
        other => other,
    }))
}
