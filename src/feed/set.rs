//! One log record as a Security Event Token (RFC 8417) in the SCIM profile (RFC 9967).
//!
//! Event URIs are the IANA-registered ones of RFC 9967 §7 (`urn:ietf:params:scim:event:prov:…`).
//! Claims: `iss` (the SCIM base URL), `jti` (derived from the record, so a SET delivered twice
//! carries the same `jti` and receivers can drop the repeat), `iat` and `toe` (the time the writer
//! took the request, seconds), `txn` (the request id: the SETs of one request share it), `sub_id`
//! (`{"format": "scim", "uri": "/Users/{id}", "externalId"?}`) and `events`.
//!
//! Which events (scimd's choices where RFC 9967 leaves them to the service provider):
//! - a user or group created: `prov:create:full` (the resource) or `prov:create:notice` (its
//!   attribute names). A group's members follow in `prov:patch` SETs of the same `txn`.
//! - a user's attributes changed (by PUT or PATCH alike): `prov:put:full` with the whole user
//!   after the change (a whole resource is idempotent to apply, which at-least-once delivery
//!   needs), or `prov:put:notice` naming the changed attributes; with `prov:deactivate` or
//!   `prov:activate` in the same SET when `active` went to false or back to true.
//! - a group's attributes or members changed: `prov:patch:full` with an RFC 7644 PatchOp message
//!   (members travel as `add`/`remove` operations, so a group of 100 000 members is never resent
//!   whole), or `prov:patch:notice` naming the attributes.
//! - a user's password was set: `prov:patch:notice` naming `password` (the value never leaves).
//! - deleted: `prov:delete`. A deleted user leaves every group and a deleted group's memberships
//!   end with it, as in RFC 7643; no separate membership SETs are sent for that cascade.
//!
//! Rejected writes and token bookkeeping are not provisioning changes: they make no SET (the
//! cursor still moves past them).

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::domain::event::{Change, Event, GroupSnapshot, UserSnapshot};
use crate::scim::resource::{render_shown, Meta};
use crate::scim::schema::{Registry, ResourceKind};
use crate::store::codec::{Entry, LogRecord};

/// URN prefix of every SCIM event (RFC 9967 §2.1).
pub const EVENT_PREFIX: &str = "urn:ietf:params:scim:event:";

/// The PatchOp message schema.
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Whether SETs carry the changed data (`full`) or only name what changed (`notice`).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Detail {
    /// Resources and PatchOp messages in `data`.
    #[default]
    Full,
    /// Attribute names in `attributes`; the receiver fetches what it needs.
    Notice,
}

/// What every SET of one feed reply shares.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Schemas, for rendering resources.
    pub reg: &'a Registry,
    /// The SCIM base URL: the `iss` claim and the base of `meta.location`.
    pub issuer: &'a str,
    /// Full or notice.
    pub detail: Detail,
}

/// The SET of `rec`, or `None` when the record is no provisioning change.
pub fn of_record(rec: &LogRecord, cx: &Context<'_>) -> Option<Value> {
    let Entry::Event(event) = &rec.entry else {
        return None;
    };
    let full = cx.detail == Detail::Full;
    let (kind, id, external_id, events) = match event {
        Event::UserCreated(u) => (
            ResourceKind::User,
            u.id.to_string(),
            u.external_id.clone(),
            create(cx, ResourceKind::User, &u.id.to_string(), &u.doc, rec),
        ),
        Event::UserUpdated { user, changes } => user_put(cx, user, changes, rec, None),
        Event::UserDeactivated { user, changes } => {
            user_put(cx, user, changes, rec, Some("prov:deactivate"))
        }
        Event::UserReactivated { user, changes } => {
            user_put(cx, user, changes, rec, Some("prov:activate"))
        }
        Event::UserDeleted {
            id, external_id, ..
        } => (
            ResourceKind::User,
            id.to_string(),
            external_id.clone(),
            one("prov:delete", json!({})),
        ),
        Event::UserPasswordSet { id, .. } => (
            ResourceKind::User,
            id.to_string(),
            None,
            one("prov:patch:notice", json!({"attributes": ["password"]})),
        ),
        Event::GroupCreated(g) => (
            ResourceKind::Group,
            g.id.to_string(),
            g.external_id.clone(),
            create(cx, ResourceKind::Group, &g.id.to_string(), &g.doc, rec),
        ),
        Event::GroupUpdated { group, changes } | Event::GroupRenamed { group, changes } => {
            group_patch(cx, group, changes)
        }
        Event::MembersAdded { group, users, .. } => {
            let value = users
                .iter()
                .map(|u| json!({"value": u.to_string()}))
                .collect();
            members_added(full, group.to_string(), value)
        }
        Event::MembersAddedAsSent { group, members, .. } => {
            let value = members
                .iter()
                .map(|m| match &m.display {
                    Some(d) => json!({"value": m.id.to_string(), "display": d}),
                    None => json!({"value": m.id.to_string()}),
                })
                .collect();
            members_added(full, group.to_string(), value)
        }
        Event::MembersRemoved { group, users, .. } => {
            let ops = users
                .iter()
                .map(|u| json!({"op": "remove", "path": format!("members[value eq \"{u}\"]")}))
                .collect();
            (
                ResourceKind::Group,
                group.to_string(),
                None,
                patch(full, ops, &["members"]),
            )
        }
        Event::GroupDeleted {
            id, external_id, ..
        } => (
            ResourceKind::Group,
            id.to_string(),
            external_id.clone(),
            one("prov:delete", json!({})),
        ),
        Event::TokenIssued { .. }
        | Event::TokenRevoked { .. }
        | Event::TokenExpirySet { .. }
        | Event::TokenScopesSet { .. } => return None,
    };
    let mut events = events;
    // RFC 9967 §2.2: `version`, the resource's ETag after the event, with create, patch and put
    // (the record's sequence number is the version it gave the resource).
    for (name, payload) in events.iter_mut() {
        if name.ends_with(":full") || name.ends_with(":notice") {
            if let Value::Object(p) = payload {
                p.insert(
                    "version".into(),
                    Value::String(format!("W/\"{}\"", rec.seq)),
                );
            }
        }
    }
    let mut sub = json!({"format": "scim", "uri": format!("{}/{id}", kind.endpoint())});
    if let Some(x) = external_id {
        sub["externalId"] = Value::String(x);
    }
    let secs = rec.time_ms.div_euclid(1000);
    Some(json!({
        "iss": cx.issuer,
        "jti": jti(rec),
        "iat": secs,
        "toe": secs,
        "txn": rec.request_id,
        "sub_id": sub,
        "events": events,
    }))
}

/// Stable per record: the same record always makes the same `jti` (receivers deduplicate on it),
/// and records of different data directories do not collide (the time and request id differ).
fn jti(rec: &LogRecord) -> String {
    let mut h = Sha256::new();
    h.update(b"scimd-set\0");
    h.update(rec.seq.to_be_bytes());
    h.update(rec.time_ms.to_be_bytes());
    h.update(rec.request_id.as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn one(name: &str, payload: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(format!("{EVENT_PREFIX}{name}"), payload);
    m
}

fn doc_of(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The resource as the SCIM API renders it. `meta.created` is only known for a create; other
/// SETs leave it out rather than guess.
fn resource(
    cx: &Context<'_>,
    kind: ResourceKind,
    id: &str,
    doc: &str,
    rec: &LogRecord,
    created: bool,
) -> Value {
    let meta = Meta {
        created_ms: rec.time_ms,
        last_modified_ms: rec.time_ms,
        version: rec.seq,
    };
    let mut body = render_shown(cx.reg, kind, id, doc_of(doc), &meta, cx.issuer);
    if !created {
        if let Some(Value::Object(m)) = body.get_mut("meta") {
            m.remove("created");
        }
    }
    Value::Object(body)
}

fn create(
    cx: &Context<'_>,
    kind: ResourceKind,
    id: &str,
    doc: &str,
    rec: &LogRecord,
) -> Map<String, Value> {
    match cx.detail {
        Detail::Full => one(
            "prov:create:full",
            json!({"data": resource(cx, kind, id, doc, rec, true)}),
        ),
        Detail::Notice => {
            let mut names: Vec<String> = vec!["id".into()];
            names.extend(doc_of(doc).keys().cloned());
            one("prov:create:notice", json!({"attributes": names}))
        }
    }
}

/// Top-level attribute names of a change set, in order, without repeats.
fn changed(changes: &[Change]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in changes {
        let top = top_level(&c.path);
        if !out.contains(&top) {
            out.push(top);
        }
    }
    out
}

/// `name.givenName` → `name`; an extension path `urn:…:User:department` stays whole.
fn top_level(path: &str) -> String {
    if path.starts_with("urn:") {
        return path.to_owned();
    }
    path.split(['.', '[']).next().unwrap_or(path).to_owned()
}

type Parts = (ResourceKind, String, Option<String>, Map<String, Value>);

fn user_put(
    cx: &Context<'_>,
    user: &UserSnapshot,
    changes: &[Change],
    rec: &LogRecord,
    also: Option<&str>,
) -> Parts {
    let id = user.id.to_string();
    let mut events = match cx.detail {
        Detail::Full => one(
            "prov:put:full",
            json!({"data": resource(cx, ResourceKind::User, &id, &user.doc, rec, false)}),
        ),
        Detail::Notice => one("prov:put:notice", json!({"attributes": changed(changes)})),
    };
    if let Some(name) = also {
        events.insert(format!("{EVENT_PREFIX}{name}"), json!({}));
    }
    (ResourceKind::User, id, user.external_id.clone(), events)
}

fn group_patch(cx: &Context<'_>, group: &GroupSnapshot, changes: &[Change]) -> Parts {
    let ops = changes
        .iter()
        .map(
            |c| match c.new.as_deref().map(serde_json::from_str::<Value>) {
                Some(Ok(v)) => json!({"op": "replace", "path": c.path, "value": v}),
                _ => json!({"op": "remove", "path": c.path}),
            },
        )
        .collect();
    let names = changed(changes);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    (
        ResourceKind::Group,
        group.id.to_string(),
        group.external_id.clone(),
        patch(cx.detail == Detail::Full, ops, &names),
    )
}

/// The SET parts of members added to `group` (`value`: the member entries, as sent).
fn members_added(
    full: bool,
    group: String,
    value: Vec<Value>,
) -> (ResourceKind, String, Option<String>, Map<String, Value>) {
    (
        ResourceKind::Group,
        group,
        None,
        patch(
            full,
            vec![json!({"op": "add", "path": "members", "value": value})],
            &["members"],
        ),
    )
}

fn patch(full: bool, ops: Vec<Value>, names: &[&str]) -> Map<String, Value> {
    if full {
        one(
            "prov:patch:full",
            json!({"data": {"schemas": [PATCH_OP], "Operations": ops}}),
        )
    } else {
        one("prov:patch:notice", json!({"attributes": names}))
    }
}

/// The resource type a SET is about (`User`, `Group`), from its `sub_id`.
pub fn resource_type(set: &Value) -> Option<&'static str> {
    let uri = set["sub_id"]["uri"].as_str()?;
    if uri.starts_with("/Users/") {
        Some("User")
    } else if uri.starts_with("/Groups/") {
        Some("Group")
    } else {
        None
    }
}

/// The short names of a SET's events (`prov:create:full`, `prov:delete`, …).
pub fn event_names(set: &Value) -> Vec<&str> {
    set["events"]
        .as_object()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.strip_prefix(EVENT_PREFIX))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{GroupId, GroupName, UserId, UserName};
    use crate::domain::write::Actor;

    fn rec(entry: Entry) -> LogRecord {
        LogRecord {
            seq: 9,
            time_ms: 1_767_225_600_500,
            actor: Actor {
                token_id: None,
                client: "Entra ID".into(),
            },
            request_id: "req-1".into(),
            client_addr: None,
            entry,
            answered: Some(201),
            request_body: crate::domain::write::RequestBody::NotKept,
        }
    }

    fn user() -> UserSnapshot {
        UserSnapshot {
            id: UserId::from_bytes([1; 16]),
            user_name: UserName::try_from("a@example.com").unwrap(),
            external_id: Some("A-1".into()),
            doc: r#"{"userName":"a@example.com","externalId":"A-1","active":false}"#.into(),
        }
    }

    fn cx(reg: &Registry, detail: Detail) -> Context<'_> {
        Context {
            reg,
            issuer: "https://scim.example.com/scim/v2",
            detail,
        }
    }

    #[test]
    fn a_create_is_a_full_or_notice_set_with_the_rfc_8417_claims() {
        let reg = Registry::core();
        let r = rec(Entry::Event(Event::UserCreated(user())));
        let set = of_record(&r, &cx(&reg, Detail::Full)).unwrap();
        assert_eq!(set["iss"], "https://scim.example.com/scim/v2");
        assert_eq!(set["iat"], 1_767_225_600);
        assert_eq!(set["txn"], "req-1");
        assert_eq!(set["jti"].as_str().unwrap().len(), 32);
        assert_eq!(
            set["jti"],
            of_record(&r, &cx(&reg, Detail::Full)).unwrap()["jti"]
        );
        let id = UserId::from_bytes([1; 16]).to_string();
        assert_eq!(
            set["sub_id"],
            json!({"format": "scim", "uri": format!("/Users/{id}"), "externalId": "A-1"})
        );
        let data = &set["events"]["urn:ietf:params:scim:event:prov:create:full"]["data"];
        assert_eq!(data["userName"], "a@example.com");
        assert_eq!(data["id"], id);
        assert_eq!(data["meta"]["version"], "W/\"9\"");
        assert_eq!(
            set["events"]["urn:ietf:params:scim:event:prov:create:full"]["version"],
            "W/\"9\""
        );
        assert_eq!(event_names(&set), ["prov:create:full"]);
        assert_eq!(resource_type(&set), Some("User"));
        let notice = of_record(&r, &cx(&reg, Detail::Notice)).unwrap();
        assert_eq!(
            notice["events"]["urn:ietf:params:scim:event:prov:create:notice"]["attributes"],
            json!(["id", "userName", "externalId", "active"])
        );
    }

    #[test]
    fn a_deactivation_is_a_put_with_deactivate_and_members_are_patches() {
        let reg = Registry::core();
        let change = Change {
            path: "active".into(),
            old: Some("true".into()),
            new: Some("false".into()),
        };
        let r = rec(Entry::Event(Event::UserDeactivated {
            user: user(),
            changes: vec![change],
        }));
        let set = of_record(&r, &cx(&reg, Detail::Full)).unwrap();
        assert_eq!(event_names(&set), ["prov:put:full", "prov:deactivate"]);
        assert!(
            set["events"]["urn:ietf:params:scim:event:prov:put:full"]["data"]["meta"]
                .get("created")
                .is_none()
        );
        let notice = of_record(&r, &cx(&reg, Detail::Notice)).unwrap();
        assert_eq!(
            notice["events"]["urn:ietf:params:scim:event:prov:put:notice"]["attributes"],
            json!(["active"])
        );
        let g = GroupId::from_bytes([2; 16]);
        let u = UserId::from_bytes([1; 16]);
        let removed = rec(Entry::Event(Event::MembersRemoved {
            group: g,
            display_name: GroupName::try_from("Sales").unwrap(),
            users: vec![u],
        }));
        let set = of_record(&removed, &cx(&reg, Detail::Full)).unwrap();
        assert_eq!(resource_type(&set), Some("Group"));
        assert_eq!(
            set["events"]["urn:ietf:params:scim:event:prov:patch:full"]["data"]["Operations"],
            json!([{"op": "remove", "path": format!("members[value eq \"{u}\"]")}])
        );
    }

    #[test]
    fn rejections_and_tokens_make_no_set() {
        let reg = Registry::core();
        let r = rec(Entry::Event(Event::TokenRevoked {
            id: crate::domain::ids::TokenId::from_bytes([3; 16]),
            name: crate::domain::ids::ClientName::try_from("x").unwrap(),
        }));
        assert!(of_record(&r, &cx(&reg, Detail::Full)).is_none());
    }
}
