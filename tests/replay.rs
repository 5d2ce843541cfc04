//! The log is the source of truth: random SCIM traffic driven through the real write path (the single
//! [`Writer`] over a temporary sled [`Store`], one command at a time and in bursts that the writer
//! decides as one batch) leaves views that equal views rebuilt from the log alone
//! (`rebuild::verify` finds no difference), memberships that match a plain in-test model, every
//! accept/reject the model predicts, and every rejection recorded in the log. Also: a fixed scenario
//! survives `rebuild_in_place` unchanged, and concurrent submitters get contiguous sequence numbers.

// Tests may unwrap: a panic is a failed test (clippy.toml allows it in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Value};

use scimd::domain::command::{Command, IfMatch};
use scimd::domain::error::Rejection;
use scimd::domain::event::Action;
use scimd::domain::ids::{ClientName, GroupId, TokenId, UserId};
use scimd::domain::write::{Answer, Envelope, Outcome, Submission, Written};
use scimd::scim::error::ScimError;
use scimd::scim::patch::{parse_patch, split_members};
use scimd::scim::resource::parse_resource;
use scimd::scim::schema::{Registry, ResourceKind};
use scimd::service::writer::Writer;
use scimd::store::codec::{Actor, Entry, GroupRecord, LogRecord, TokenRecord, UserRecord};
use scimd::store::{read, rebuild, Store};

/// userNames: a small pool with case variants, so duplicates (409) happen.
const USER_NAMES: [&str; 10] = [
    "alice", "Alice", "ALICE", "bob", "Bob", "carol", "dave", "erin", "frank", "grace",
];
/// displayNames: likewise.
const GROUP_NAMES: [&str; 5] = ["Sales", "sales", "Eng", "Ops", "HR"];
/// titles.
const TITLES: [&str; 3] = ["Engineer", "Manager", "Intern"];
/// externalIds: not unique, so two users may share one.
const EXTERNAL_IDS: [&str; 3] = ["e-1", "e-2", "E-1"];

/// Which resource a request targets.
#[derive(Debug, Clone, Copy)]
enum Ref {
    /// The i-th live one in id order (modulo their number); if there is none, as `Named`.
    Live(usize),
    /// The i-th id a create named, in creation order (modulo their number): live, deleted, or one
    /// whose create was rejected. A fresh unknown id if no create came yet.
    Named(usize),
}

/// A member reference: a user, a group (nested groups are refused), or not an id at all.
#[derive(Debug, Clone)]
enum Member {
    User(Ref),
    Group(Ref),
    Garbage,
}

/// One request, on purpose including ones that must be rejected (duplicate names, unknown or
/// deleted targets, unknown members, stale `If-Match`).
#[derive(Debug, Clone)]
enum Op {
    CreateUser {
        name: usize,
        active: bool,
    },
    SetActive {
        user: Ref,
        active: bool,
        as_text: bool,
    },
    SetTitle {
        user: Ref,
        title: Option<usize>,
    },
    /// PATCH `externalId` (replace, or remove with `None`).
    SetExternalId {
        user: Ref,
        external_id: Option<usize>,
    },
    RenameUser {
        user: Ref,
        name: usize,
    },
    ReplaceUser {
        user: Ref,
        name: usize,
        title: usize,
    },
    DeleteUser {
        user: Ref,
        stale: bool,
    },
    CreateGroup {
        name: usize,
        members: Vec<Member>,
    },
    AddMembers {
        group: Ref,
        members: Vec<Member>,
    },
    /// Entra's legacy form: `remove` on `members` with the ids in `value`.
    RemoveMembers {
        group: Ref,
        members: Vec<Member>,
    },
    /// `members[value eq "…"]`, or with `general` `members[value eq "…" and type eq "User"]`
    /// (which decide evaluates against a membership scan).
    RemoveMemberWhere {
        group: Ref,
        member: Member,
        general: bool,
    },
    ReplaceMembers {
        group: Ref,
        members: Vec<Member>,
    },
    RenameGroup {
        group: Ref,
        name: usize,
    },
    /// PUT /Groups/{id}; members are replaced only when given.
    ReplaceGroup {
        group: Ref,
        name: usize,
        members: Option<Vec<Member>>,
    },
    DeleteGroup {
        group: Ref,
    },
    IssueToken,
    RevokeToken {
        token: usize,
    },
    /// A write the HTTP layer refused before it became a command (bad body, unparseable id).
    Refused {
        not_found: bool,
    },
}

/// What the model expects: accepted, or rejected with this status.
type Expect = Result<(), u16>;

/// The state the traffic should leave behind.
#[derive(Debug, Default, Clone)]
struct Model {
    /// Live users and their userNames.
    users: BTreeMap<UserId, String>,
    /// externalIds of live users that have one.
    external_ids: BTreeMap<UserId, String>,
    /// Live groups: displayName and members.
    groups: BTreeMap<GroupId, (String, BTreeSet<UserId>)>,
    /// Issued tokens: revoked or not.
    tokens: BTreeMap<TokenId, bool>,
}

/// Builds commands from [`Op`]s, predicting each outcome with the model.
struct Harness {
    reg: Registry,
    model: Model,
    /// Every id a CreateUser named, accepted or not.
    user_ids: Vec<UserId>,
    /// Every id a CreateGroup named, accepted or not.
    group_ids: Vec<GroupId>,
    /// Every token issued.
    token_ids: Vec<TokenId>,
    requests: usize,
}

fn pick<T: Copy>(ids: &[T], i: usize) -> Option<T> {
    (!ids.is_empty()).then(|| ids[i % ids.len()])
}

fn members_json(values: &[String]) -> Value {
    Value::Array(values.iter().map(|v| json!({ "value": v })).collect())
}

/// One PATCH operation `op` on `members` with `values` as `{value}` objects.
fn members_op(op: &str, values: &[String]) -> Value {
    json!([{"op": op, "path": "members", "value": members_json(values)}])
}

fn patch_body(ops: Value) -> Value {
    json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops })
}

impl Harness {
    fn new() -> Self {
        Self {
            reg: Registry::core(),
            model: Model::default(),
            user_ids: Vec::new(),
            group_ids: Vec::new(),
            token_ids: Vec::new(),
            requests: 0,
        }
    }

    fn user_at(&self, r: Ref) -> UserId {
        let live: Vec<UserId> = self.model.users.keys().copied().collect();
        match r {
            Ref::Live(i) if !live.is_empty() => live[i % live.len()],
            Ref::Live(i) | Ref::Named(i) => pick(&self.user_ids, i).unwrap_or_else(UserId::random),
        }
    }

    fn group_at(&self, r: Ref) -> GroupId {
        let live: Vec<GroupId> = self.model.groups.keys().copied().collect();
        match r {
            Ref::Live(i) if !live.is_empty() => live[i % live.len()],
            Ref::Live(i) | Ref::Named(i) => {
                pick(&self.group_ids, i).unwrap_or_else(GroupId::random)
            }
        }
    }

    fn member_value(&self, m: &Member) -> String {
        match m {
            Member::User(i) => self.user_at(*i).to_string(),
            Member::Group(i) => self.group_at(*i).to_string(),
            Member::Garbage => "not-a-uuid".into(),
        }
    }

    fn member_values(&self, ms: &[Member]) -> Vec<String> {
        ms.iter().map(|m| self.member_value(m)).collect()
    }

    /// The users `values` name, or `None` when one is not a live user (a 400).
    fn resolve(&self, values: &[String]) -> Option<BTreeSet<UserId>> {
        values
            .iter()
            .map(|v| {
                UserId::try_from(v.as_str())
                    .ok()
                    .filter(|u| self.model.users.contains_key(u))
            })
            .collect()
    }

    /// The users `values` name, ignoring anything that is not an id (what a remove does).
    fn ids_in(values: &[String]) -> Vec<UserId> {
        values
            .iter()
            .filter_map(|v| UserId::try_from(v.as_str()).ok())
            .collect()
    }

    fn user_name_taken(&self, name: &str, except: UserId) -> bool {
        self.model
            .users
            .iter()
            .any(|(id, n)| *id != except && n.to_lowercase() == name.to_lowercase())
    }

    fn group_name_taken(&self, name: &str, except: GroupId) -> bool {
        self.model
            .groups
            .iter()
            .any(|(id, (n, _))| *id != except && n.to_lowercase() == name.to_lowercase())
    }

    fn user_input(&self, body: &Value) -> scimd::scim::resource::Parsed {
        parse_resource(&self.reg, ResourceKind::User, body).unwrap()
    }

    fn group_input(&self, body: &Value) -> scimd::scim::resource::Parsed {
        parse_resource(&self.reg, ResourceKind::Group, body).unwrap()
    }

    fn patch_user(&self, id: UserId, ops: Value) -> Command {
        Command::PatchUser {
            id,
            ops: parse_patch(&patch_body(ops)).unwrap(),
            if_match: None,
            password_hash: None,
        }
    }

    /// A group PATCH, split into attribute and member operations as the HTTP layer does.
    fn patch_group(&self, id: GroupId, ops: Value) -> Command {
        let (ops, members) =
            split_members(&self.reg, parse_patch(&patch_body(ops)).unwrap()).unwrap();
        Command::PatchGroup {
            id,
            ops,
            members,
            if_match: None,
        }
    }

    /// The model's members of the live group `id`.
    fn group_members(&mut self, id: GroupId) -> &mut BTreeSet<UserId> {
        &mut self.model.groups.get_mut(&id).unwrap().1
    }

    /// The command for `op` and the outcome the model predicts; the model moves on as predicted.
    fn step(&mut self, op: &Op) -> (Command, Expect) {
        match op {
            Op::CreateUser { name, active } => {
                let id = UserId::random();
                self.user_ids.push(id);
                let name = USER_NAMES[*name];
                let input = self.user_input(&json!({"userName": name, "active": active}));
                let expect = if self.user_name_taken(name, id) {
                    Err(409)
                } else {
                    self.model.users.insert(id, name.into());
                    Ok(())
                };
                (
                    Command::CreateUser {
                        id,
                        input,
                        password_hash: None,
                    },
                    expect,
                )
            }
            Op::SetActive {
                user,
                active,
                as_text,
            } => {
                let id = self.user_at(*user);
                let value = match (as_text, active) {
                    (true, true) => json!("True"),
                    (true, false) => json!("False"),
                    (false, a) => json!(a),
                };
                let cmd = self.patch_user(
                    id,
                    json!([{"op": "Replace", "path": "active", "value": value}]),
                );
                (cmd, self.user_exists(id))
            }
            Op::SetTitle { user, title } => {
                let id = self.user_at(*user);
                let ops = match title {
                    Some(t) => json!([{"op": "replace", "path": "title", "value": TITLES[*t]}]),
                    None => json!([{"op": "remove", "path": "title"}]),
                };
                let cmd = self.patch_user(id, ops);
                (cmd, self.user_exists(id))
            }
            Op::SetExternalId { user, external_id } => {
                let id = self.user_at(*user);
                let ops = match external_id {
                    Some(e) => {
                        json!([{"op": "replace", "path": "externalId", "value": EXTERNAL_IDS[*e]}])
                    }
                    None => json!([{"op": "remove", "path": "externalId"}]),
                };
                let cmd = self.patch_user(id, ops);
                let expect = self.user_exists(id);
                if expect.is_ok() {
                    match external_id {
                        Some(e) => self.model.external_ids.insert(id, EXTERNAL_IDS[*e].into()),
                        None => self.model.external_ids.remove(&id),
                    };
                }
                (cmd, expect)
            }
            Op::RenameUser { user, name } => {
                let id = self.user_at(*user);
                let name = USER_NAMES[*name];
                let cmd = self.patch_user(
                    id,
                    json!([{"op": "replace", "path": "userName", "value": name}]),
                );
                (cmd, self.rename_user(id, name))
            }
            Op::ReplaceUser { user, name, title } => {
                let id = self.user_at(*user);
                let name = USER_NAMES[*name];
                let input = self.user_input(&json!({"userName": name, "title": TITLES[*title]}));
                let cmd = Command::ReplaceUser {
                    id,
                    input,
                    if_match: None,
                    password_hash: None,
                };
                let expect = self.rename_user(id, name);
                if expect.is_ok() {
                    // The replacement carries no externalId: PUT clears it.
                    self.model.external_ids.remove(&id);
                }
                (cmd, expect)
            }
            Op::DeleteUser { user, stale } => {
                let id = self.user_at(*user);
                // Versions are sequence numbers, which start at 1: version 0 never matches.
                let if_match = stale.then(|| IfMatch::Versions(vec![0]));
                let expect = if !self.model.users.contains_key(&id) {
                    Err(404)
                } else if *stale {
                    Err(412)
                } else {
                    self.model.users.remove(&id);
                    self.model.external_ids.remove(&id);
                    for (_, members) in self.model.groups.values_mut() {
                        members.remove(&id);
                    }
                    Ok(())
                };
                (Command::DeleteUser { id, if_match }, expect)
            }
            Op::CreateGroup { name, members } => {
                let id = GroupId::random();
                self.group_ids.push(id);
                let name = GROUP_NAMES[*name];
                let values = self.member_values(members);
                let input = self
                    .group_input(&json!({"displayName": name, "members": members_json(&values)}));
                let expect = if self.group_name_taken(name, id) {
                    Err(409)
                } else {
                    match self.resolve(&values) {
                        None => Err(400),
                        Some(users) => {
                            self.model.groups.insert(id, (name.into(), users));
                            Ok(())
                        }
                    }
                };
                (Command::CreateGroup { id, input }, expect)
            }
            Op::AddMembers { group, members } => {
                let id = self.group_at(*group);
                let values = self.member_values(members);
                let cmd = self.patch_group(id, members_op("add", &values));
                (
                    cmd,
                    self.change_members(id, &values, |members, users| members.extend(users)),
                )
            }
            Op::RemoveMembers { group, members } => {
                let id = self.group_at(*group);
                let values = self.member_values(members);
                let cmd = self.patch_group(id, members_op("Remove", &values));
                (cmd, self.remove_members(id, &values))
            }
            Op::RemoveMemberWhere {
                group,
                member,
                general,
            } => {
                let id = self.group_at(*group);
                let value = self.member_value(member);
                let path = if *general {
                    format!("members[value eq \"{value}\" and type eq \"User\"]")
                } else {
                    format!("members[value eq \"{value}\"]")
                };
                let cmd = self.patch_group(id, json!([{"op": "remove", "path": path}]));
                (cmd, self.remove_members(id, &[value]))
            }
            Op::ReplaceMembers { group, members } => {
                let id = self.group_at(*group);
                let values = self.member_values(members);
                let cmd = self.patch_group(id, members_op("replace", &values));
                (
                    cmd,
                    self.change_members(id, &values, |members, users| *members = users),
                )
            }
            Op::RenameGroup { group, name } => {
                let id = self.group_at(*group);
                let name = GROUP_NAMES[*name];
                let cmd = self.patch_group(
                    id,
                    json!([{"op": "replace", "path": "displayName", "value": name}]),
                );
                let expect = if !self.model.groups.contains_key(&id) {
                    Err(404)
                } else if self.group_name_taken(name, id) {
                    Err(409)
                } else {
                    self.model.groups.get_mut(&id).unwrap().0 = name.into();
                    Ok(())
                };
                (cmd, expect)
            }
            Op::ReplaceGroup {
                group,
                name,
                members,
            } => {
                let id = self.group_at(*group);
                let name = GROUP_NAMES[*name];
                let values = members.as_ref().map(|m| self.member_values(m));
                let body = match &values {
                    Some(v) => json!({"displayName": name, "members": members_json(v)}),
                    None => json!({"displayName": name}),
                };
                let cmd = Command::ReplaceGroup {
                    id,
                    input: self.group_input(&body),
                    if_match: None,
                };
                let resolved = values.as_ref().map(|v| self.resolve(v));
                let expect = if !self.model.groups.contains_key(&id) {
                    Err(404)
                } else if self.group_name_taken(name, id) {
                    Err(409)
                } else {
                    match resolved {
                        Some(None) => Err(400),
                        Some(Some(users)) => {
                            *self.model.groups.get_mut(&id).unwrap() = (name.into(), users);
                            Ok(())
                        }
                        None => {
                            self.model.groups.get_mut(&id).unwrap().0 = name.into();
                            Ok(())
                        }
                    }
                };
                (cmd, expect)
            }
            Op::DeleteGroup { group } => {
                let id = self.group_at(*group);
                let expect = if self.model.groups.remove(&id).is_some() {
                    Ok(())
                } else {
                    Err(404)
                };
                (Command::DeleteGroup { id, if_match: None }, expect)
            }
            Op::IssueToken => {
                let id = TokenId::random();
                self.token_ids.push(id);
                self.model.tokens.insert(id, false);
                let cmd = Command::IssueToken {
                    id,
                    name: ClientName::try_from("replay client").unwrap(),
                    secret_sha256: [7; 32],
                    expires_ms: None,
                    // Every other token gets scopes of its own (a TokenScopesSet record), so
                    // the rebuild is checked to reproduce those too.
                    scopes: if self.token_ids.len() % 2 == 0 {
                        scimd::domain::scope::Scopes::parse(&["scim:read", "events:read"]).unwrap()
                    } else {
                        scimd::domain::scope::Scopes::default()
                    },
                };
                (cmd, Ok(()))
            }
            Op::Refused { not_found } => {
                let (action, target_id, rejection) = if *not_found {
                    let rejection = Rejection::NotFound {
                        kind: ResourceKind::Group,
                        id: "no-such-id".into(),
                    };
                    (Action::PatchGroup, Some("no-such-id".into()), rejection)
                } else {
                    let rejection = Rejection::Invalid(ScimError::InvalidSyntax("not JSON".into()));
                    (Action::CreateUser, None, rejection)
                };
                let status = rejection.status();
                let cmd = Command::Refused {
                    action,
                    target_id,
                    rejection,
                };
                (cmd, Err(status))
            }
            Op::RevokeToken { token } => {
                let id = pick(&self.token_ids, *token).unwrap_or_else(TokenId::random);
                let expect = match self.model.tokens.get_mut(&id) {
                    Some(revoked) => {
                        *revoked = true;
                        Ok(())
                    }
                    None => Err(404),
                };
                (Command::RevokeToken { id }, expect)
            }
        }
    }

    fn rename_user(&mut self, id: UserId, name: &str) -> Expect {
        if !self.model.users.contains_key(&id) {
            Err(404)
        } else if self.user_name_taken(name, id) {
            Err(409)
        } else {
            self.model.users.insert(id, name.into());
            Ok(())
        }
    }

    /// 404 unless the user `id` is live.
    fn user_exists(&self, id: UserId) -> Expect {
        if self.model.users.contains_key(&id) {
            Ok(())
        } else {
            Err(404)
        }
    }

    /// A member add or replace on group `id`: 404 unless it is live, 400 unless every value is a
    /// live user; otherwise `apply` the users to the model's members.
    fn change_members(
        &mut self,
        id: GroupId,
        values: &[String],
        apply: impl FnOnce(&mut BTreeSet<UserId>, BTreeSet<UserId>),
    ) -> Expect {
        if !self.model.groups.contains_key(&id) {
            return Err(404);
        }
        match self.resolve(values) {
            None => Err(400),
            Some(users) => {
                apply(self.group_members(id), users);
                Ok(())
            }
        }
    }

    fn remove_members(&mut self, id: GroupId, values: &[String]) -> Expect {
        if !self.model.groups.contains_key(&id) {
            return Err(404);
        }
        for u in Self::ids_in(values) {
            self.group_members(id).remove(&u);
        }
        Ok(())
    }

    fn pending(&mut self, command: Command) -> Submission {
        self.requests += 1;
        Submission {
            command,
            envelope: Envelope {
                actor: Actor {
                    token_id: None,
                    client: "replay".into(),
                },
                request_id: format!("req-{}", self.requests),
                client_addr: Some("127.0.0.1".into()),
            },
            answer: Answer::default(),
            sent: None,
        }
    }
}

/// A finished run: the store (writer stopped) and what was sent and answered.
struct Run {
    store: Store,
    harness: Harness,
    /// Sequence number → status of every rejection, as answered.
    rejected: BTreeMap<u64, u16>,
    /// `last_seq` of every accepted command that changed something.
    accepted: BTreeSet<u64>,
}

/// Send `bursts` through a fresh writer: a burst of one with `submit_blocking`, a longer one with
/// every command queued before any answer is awaited, so the writer decides it as a batch. Checks
/// each answer against the model, then stops the writer and checks log, views and model.
fn run(bursts: &[Vec<Op>]) -> Run {
    let store = Store::temporary().unwrap();
    let (writer, thread) = Writer::start(store.clone(), Arc::new(Registry::core())).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut h = Harness::new();
    let mut rejected = BTreeMap::new();
    let mut accepted = BTreeSet::new();
    // The model after each burst, with the last sequence number the burst made durable.
    let mut points: Vec<(u64, Model)> = Vec::new();
    for burst in bursts {
        let mut expects = Vec::new();
        let mut pendings = Vec::new();
        for op in burst {
            let (cmd, expect) = h.step(op);
            expects.push((format!("{op:?}"), expect));
            pendings.push(h.pending(cmd));
        }
        let answers: Vec<Outcome> = if pendings.len() == 1 {
            pendings
                .into_iter()
                .map(|p| writer.submit_blocking(p).unwrap())
                .collect()
        } else {
            rt.block_on(futures_util::future::join_all(
                pendings.into_iter().map(|p| writer.submit(p)),
            ))
            .into_iter()
            .map(Result::unwrap)
            .collect()
        };
        for ((op, expect), applied) in expects.into_iter().zip(answers) {
            match (expect, applied) {
                (Ok(()), Outcome::Written(Written { seq, .. })) => {
                    accepted.extend(seq);
                }
                (Err(status), Outcome::Refused { seq, rejection }) => {
                    assert_eq!(rejection.status(), status, "{op}: {rejection}");
                    rejected.insert(seq, status);
                }
                (expect, applied) => {
                    panic!("{op}: the model expected {expect:?}, the writer answered {applied:?}")
                }
            }
        }
        points.push((*writer.subscribe().borrow(), h.model.clone()));
    }
    thread.stop();
    check_log(&store, &rejected, &accepted);
    let differences = rebuild::verify(&store).unwrap();
    assert!(
        differences.is_empty(),
        "live views differ from a rebuild: {differences:#?}"
    );
    check_model(&store, &h);
    for (seq, model) in &points {
        check_history(&store, &h, model, *seq);
    }
    Run {
        store,
        harness: h,
        rejected,
        accepted,
    }
}

fn log(store: &Store) -> Vec<LogRecord> {
    read::log_from(store.trees(), 0)
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Sequence numbers run 1..=n without gaps; rejections in the log are exactly the answered ones;
/// every accepted `last_seq` is an event.
fn check_log(store: &Store, rejected: &BTreeMap<u64, u16>, accepted: &BTreeSet<u64>) {
    let records = log(store);
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    let n = u64::try_from(records.len()).unwrap();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "log sequence has gaps");
    let in_log: BTreeMap<u64, u16> = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Rejected(x) => Some((r.seq, x.status)),
            Entry::Event(_) => None,
        })
        .collect();
    assert_eq!(&in_log, rejected, "rejections in the log vs. answered");
    for seq in accepted {
        let rec = &records[usize::try_from(*seq - 1).unwrap()];
        assert!(matches!(rec.entry, Entry::Event(_)), "{rec:?}");
    }
}

/// The views agree with the model for every id the traffic named.
fn check_model(store: &Store, h: &Harness) {
    let t = store.trees();
    let m = &h.model;
    for g in &h.group_ids {
        let expected: Vec<UserId> = m
            .groups
            .get(g)
            .map(|(_, users)| users.iter().copied().collect())
            .unwrap_or_default();
        let members: Vec<UserId> = read::members_of(t, *g).collect::<Result<_, _>>().unwrap();
        assert_eq!(members, expected, "members of {g}");
        let rec = read::group(t, *g).unwrap();
        assert_eq!(rec.is_some(), m.groups.contains_key(g), "group {g}");
        if let (Some(rec), Some((name, _))) = (rec, m.groups.get(g)) {
            assert_eq!(rec.member_count, u64::try_from(expected.len()).unwrap());
            let doc: Value = serde_json::from_str(&rec.doc).unwrap();
            assert_eq!(doc["displayName"], json!(name));
            assert_eq!(read::group_by_name(t, name).unwrap(), Some(*g));
        }
    }
    for u in &h.user_ids {
        let expected: Vec<GroupId> = m
            .groups
            .iter()
            .filter(|(_, (_, users))| users.contains(u))
            .map(|(g, _)| *g)
            .collect();
        assert_eq!(read::groups_of(t, *u).unwrap(), expected, "groups of {u}");
        let rec = read::user(t, *u).unwrap();
        assert_eq!(rec.is_some(), m.users.contains_key(u), "user {u}");
        if let (Some(rec), Some(name)) = (rec, m.users.get(u)) {
            let doc: Value = serde_json::from_str(&rec.doc).unwrap();
            assert_eq!(doc["userName"], json!(name));
            assert_eq!(read::user_by_name(t, name).unwrap(), Some(*u));
        }
    }
    for ext in EXTERNAL_IDS {
        let mut holders = read::users_by_external(t, ext).unwrap();
        holders.sort();
        let expected: Vec<UserId> = m
            .external_ids
            .iter()
            .filter(|(_, e)| e.as_str() == ext)
            .map(|(u, _)| *u)
            .collect();
        assert_eq!(holders, expected, "users with externalId {ext}");
    }
    // The kept counts (what totals and /metrics answer from) equal the model and a full count.
    assert_eq!(read::counts(t).unwrap(), (m.users.len(), m.groups.len()));
    assert_eq!(read::counted(t), (m.users.len(), m.groups.len()));
    let tokens: BTreeMap<TokenId, bool> = read::tokens(t)
        .unwrap()
        .into_iter()
        .map(|(id, rec)| (id, rec.revoked_ms.is_some()))
        .collect();
    assert_eq!(tokens, m.tokens);
}

/// Every resource's history, as of `seq`, shows what the model held then: a user's userName,
/// externalId and groups, a group's displayName and members; nothing for what did not exist.
fn check_history(store: &Store, h: &Harness, m: &Model, seq: u64) {
    let history = |id: [u8; 16]| {
        scimd::report::history::history(store.trees(), &h.reg, id, Some(seq), "https://x")
            .unwrap()
            .state
    };
    let values =
        |v: &Value, key: &str| -> BTreeSet<String> { common::values(v, key).into_iter().collect() };
    for u in &h.user_ids {
        let state = history(*u.as_bytes());
        assert_eq!(
            state.is_some(),
            m.users.contains_key(u),
            "user {u} at {seq}"
        );
        if let (Some(state), Some(name)) = (state, m.users.get(u)) {
            assert_eq!(state["userName"], json!(name), "user {u} at {seq}");
            assert_eq!(
                state.get("externalId").and_then(Value::as_str),
                m.external_ids.get(u).map(String::as_str),
                "externalId of {u} at {seq}"
            );
            let groups: BTreeSet<String> = m
                .groups
                .iter()
                .filter(|(_, (_, users))| users.contains(u))
                .map(|(g, _)| g.to_string())
                .collect();
            assert_eq!(values(&state, "groups"), groups, "groups of {u} at {seq}");
        }
    }
    for g in &h.group_ids {
        let state = history(*g.as_bytes());
        assert_eq!(
            state.is_some(),
            m.groups.contains_key(g),
            "group {g} at {seq}"
        );
        if let (Some(state), Some((name, users))) = (state, m.groups.get(g)) {
            assert_eq!(state["displayName"], json!(name), "group {g} at {seq}");
            let members: BTreeSet<String> = users.iter().map(ToString::to_string).collect();
            assert_eq!(
                values(&state, "members"),
                members,
                "members of {g} at {seq}"
            );
        }
    }
}

/// Mostly a live resource, sometimes any id a create named.
fn target() -> impl Strategy<Value = Ref> + Clone {
    prop_oneof![
        5 => (0..8usize).prop_map(Ref::Live),
        1 => (0..16usize).prop_map(Ref::Named),
    ]
}

fn member() -> impl Strategy<Value = Member> {
    prop_oneof![
        12 => target().prop_map(Member::User),
        1 => target().prop_map(Member::Group),
        1 => Just(Member::Garbage),
    ]
}

fn members() -> impl Strategy<Value = Vec<Member>> {
    prop::collection::vec(member(), 0..4)
}

/// Members that are live users (when there are any).
fn live_members() -> impl Strategy<Value = Vec<Member>> {
    prop::collection::vec((0..8usize).prop_map(|i| Member::User(Ref::Live(i))), 0..4)
}

/// A start that gives the random traffic something to work on: a burst of 3–6 user creates (some
/// of them duplicates), then a burst of 1–3 group creates with live members.
fn setup() -> impl Strategy<Value = Vec<Vec<Op>>> {
    let users = prop::collection::vec((0..USER_NAMES.len(), any::<bool>()), 3..=6);
    let groups = prop::collection::vec((0..GROUP_NAMES.len(), live_members()), 1..=3);
    (users, groups).prop_map(|(users, groups)| {
        vec![
            users
                .into_iter()
                .map(|(name, active)| Op::CreateUser { name, active })
                .collect(),
            groups
                .into_iter()
                .map(|(name, members)| Op::CreateGroup { name, members })
                .collect(),
        ]
    })
}

/// The setup, then up to 50 random requests in bursts of up to 5.
fn traffic() -> impl Strategy<Value = Vec<Vec<Op>>> {
    let rest = prop::collection::vec(prop::collection::vec(op(), 1..=5), 4..=10);
    (setup(), rest).prop_map(|(mut start, rest)| {
        start.extend(rest);
        start
    })
}

fn op() -> impl Strategy<Value = Op> {
    let user = target();
    let group = target();
    let user_name = 0..USER_NAMES.len();
    let group_name = 0..GROUP_NAMES.len();
    let title = 0..TITLES.len();
    prop_oneof![
        6 => (user_name.clone(), any::<bool>())
            .prop_map(|(name, active)| Op::CreateUser { name, active }),
        3 => (user.clone(), any::<bool>(), any::<bool>())
            .prop_map(|(user, active, as_text)| Op::SetActive { user, active, as_text }),
        2 => (user.clone(), proptest::option::of(title.clone()))
            .prop_map(|(user, title)| Op::SetTitle { user, title }),
        2 => (user.clone(), proptest::option::of(0..EXTERNAL_IDS.len()))
            .prop_map(|(user, external_id)| Op::SetExternalId { user, external_id }),
        2 => (user.clone(), user_name.clone())
            .prop_map(|(user, name)| Op::RenameUser { user, name }),
        1 => (user.clone(), user_name, title)
            .prop_map(|(user, name, title)| Op::ReplaceUser { user, name, title }),
        2 => (user, prop::bool::weighted(0.2))
            .prop_map(|(user, stale)| Op::DeleteUser { user, stale }),
        2 => (group_name.clone(), live_members())
            .prop_map(|(name, members)| Op::CreateGroup { name, members }),
        1 => (group_name.clone(), members())
            .prop_map(|(name, members)| Op::CreateGroup { name, members }),
        4 => (group.clone(), members())
            .prop_map(|(group, members)| Op::AddMembers { group, members }),
        2 => (group.clone(), members())
            .prop_map(|(group, members)| Op::RemoveMembers { group, members }),
        2 => (group.clone(), member(), any::<bool>())
            .prop_map(|(group, member, general)| Op::RemoveMemberWhere { group, member, general }),
        2 => (group.clone(), members())
            .prop_map(|(group, members)| Op::ReplaceMembers { group, members }),
        1 => (group.clone(), group_name.clone())
            .prop_map(|(group, name)| Op::RenameGroup { group, name }),
        1 => (group.clone(), group_name, proptest::option::of(members()))
            .prop_map(|(group, name, members)| Op::ReplaceGroup { group, name, members }),
        1 => group.prop_map(|group| Op::DeleteGroup { group }),
        1 => Just(Op::IssueToken),
        1 => (0..4usize).prop_map(|token| Op::RevokeToken { token }),
        1 => any::<bool>().prop_map(|not_found| Op::Refused { not_found }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random traffic (up to 59 requests, in bursts of up to 6) keeps views == rebuild(log) and
    /// matches the model request by request.
    #[test]
    fn random_traffic_keeps_views_equal_to_a_rebuild_from_the_log(bursts in traffic()) {
        run(&bursts);
    }
}

/// Everything a rebuild must reproduce, read from the views.
#[derive(Debug, PartialEq)]
struct Snapshot {
    users: Vec<(UserId, Option<UserRecord>, Vec<GroupId>)>,
    groups: Vec<(GroupId, Option<GroupRecord>, Vec<UserId>)>,
    tokens: Vec<(TokenId, TokenRecord)>,
}

fn snapshot(store: &Store, h: &Harness) -> Snapshot {
    let t = store.trees();
    Snapshot {
        users: h
            .user_ids
            .iter()
            .map(|u| {
                (
                    *u,
                    read::user(t, *u).unwrap(),
                    read::groups_of(t, *u).unwrap(),
                )
            })
            .collect(),
        groups: h
            .group_ids
            .iter()
            .map(|g| {
                (
                    *g,
                    read::group(t, *g).unwrap(),
                    read::members_of(t, *g).collect::<Result<_, _>>().unwrap(),
                )
            })
            .collect(),
        tokens: read::tokens(t).unwrap(),
    }
}

/// A fixed scenario touching every command kind; indices are creation order (rejected creates
/// included). Users: u0 alice, u1 bob, u2 carol, u3 (rejected "ALICE"). Groups: g0 Sales,
/// g1 (rejected "sales"), g2 (rejected: unknown member), g3 Ops.
fn scenario() -> Vec<Vec<Op>> {
    use Member::{Garbage, Group, User};
    use Ref::Named;
    vec![
        vec![Op::CreateUser {
            name: 0,
            active: true,
        }],
        vec![
            Op::CreateUser {
                name: 3,
                active: true,
            },
            Op::CreateUser {
                name: 5,
                active: true,
            },
            Op::CreateUser {
                name: 2,
                active: true,
            }, // 409
        ],
        vec![Op::CreateGroup {
            name: 0,
            members: vec![User(Named(0)), User(Named(1))],
        }],
        vec![Op::CreateGroup {
            name: 1,
            members: vec![],
        }], // 409
        vec![Op::CreateGroup {
            name: 2,
            members: vec![User(Named(3))],
        }], // 400
        vec![
            Op::AddMembers {
                group: Named(0),
                members: vec![User(Named(2)), User(Named(0))],
            },
            Op::RemoveMemberWhere {
                group: Named(0),
                member: User(Named(1)),
                general: false,
            },
        ],
        vec![
            Op::SetActive {
                user: Named(0),
                active: false,
                as_text: true,
            },
            Op::SetTitle {
                user: Named(1),
                title: Some(0),
            },
            Op::RenameUser {
                user: Named(2),
                name: 4,
            }, // 409: "Bob" is bob's
        ],
        vec![Op::RemoveMembers {
            group: Named(0),
            members: vec![User(Named(0)), Garbage],
        }],
        vec![Op::CreateGroup {
            name: 3,
            members: vec![User(Named(0)), User(Named(1)), User(Named(2))],
        }],
        vec![Op::DeleteUser {
            user: Named(1),
            stale: true,
        }], // 412
        vec![Op::DeleteUser {
            user: Named(1),
            stale: false,
        }],
        vec![Op::ReplaceMembers {
            group: Named(3),
            members: vec![User(Named(2)), Group(Named(0))],
        }], // 400: nested
        vec![Op::ReplaceMembers {
            group: Named(3),
            members: vec![User(Named(2))],
        }],
        vec![
            Op::RenameGroup {
                group: Named(0),
                name: 4,
            },
            Op::ReplaceGroup {
                group: Named(3),
                name: 3,
                members: Some(vec![User(Named(0))]),
            },
            Op::RemoveMemberWhere {
                group: Named(0),
                member: User(Named(2)),
                general: true,
            },
            Op::AddMembers {
                group: Named(0),
                members: vec![User(Named(2)), User(Named(0))],
            },
        ],
        vec![
            Op::IssueToken,
            Op::IssueToken,
            Op::RevokeToken { token: 0 },
            Op::RevokeToken { token: 0 },
        ],
        vec![Op::DeleteGroup { group: Named(1) }], // 404
        vec![Op::Refused { not_found: false }],    // 400
        vec![Op::ReplaceUser {
            user: Named(0),
            name: 1,
            title: 1,
        }],
        vec![Op::SetActive {
            user: Named(0),
            active: true,
            as_text: false,
        }],
        vec![Op::RenameGroup {
            group: Named(3),
            name: 0,
        }],
    ]
}

#[test]
fn a_fixed_scenario_survives_rebuild_in_place_unchanged() {
    let run = run(&scenario());
    let (store, h) = (&run.store, &run.harness);
    assert_eq!(
        run.rejected.values().copied().collect::<Vec<_>>(),
        vec![409, 409, 400, 409, 412, 400, 404, 400]
    );
    assert!(!run.accepted.is_empty());
    let (u, g) = (&h.user_ids, &h.group_ids);
    let members = |gid: GroupId| -> Vec<UserId> {
        read::members_of(store.trees(), gid)
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let sorted = |ids: &[UserId]| ids.iter().copied().collect::<BTreeSet<_>>();
    assert_eq!(
        members(g[0]).into_iter().collect::<BTreeSet<_>>(),
        sorted(&[u[0], u[2]])
    );
    assert_eq!(members(g[3]), vec![u[0]]);
    assert_eq!(
        read::group_by_name(store.trees(), "hr").unwrap(),
        Some(g[0])
    );
    assert_eq!(
        read::group_by_name(store.trees(), "SALES").unwrap(),
        Some(g[3])
    );
    assert_eq!(
        read::user_by_name(store.trees(), "alice").unwrap(),
        Some(u[0])
    );
    assert!(read::user(store.trees(), u[1]).unwrap().is_none());

    let before = snapshot(store, h);
    let log_before = log(store);
    let mut run = run;
    let replayed = rebuild::rebuild_in_place(&mut run.store).unwrap();
    let (store, h) = (&run.store, &run.harness);
    let events = log_before
        .iter()
        .filter(|r| matches!(r.entry, Entry::Event(_)))
        .count();
    assert_eq!(replayed, u64::try_from(events).unwrap());
    assert!(!rebuild::rebuild_interrupted(store).unwrap());
    assert_eq!(rebuild::verify(store).unwrap(), Vec::new());
    assert_eq!(snapshot(store, h), before);
    assert_eq!(log(store), log_before, "a rebuild must not touch the log");
    check_model(store, h);
}

#[test]
fn concurrent_submitters_all_get_answers_and_a_contiguous_log() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 50;
    let store = Store::temporary().unwrap();
    let reg = Arc::new(Registry::core());
    let (writer, thread) = Writer::start(store.clone(), reg.clone()).unwrap();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let writer = writer.clone();
            let reg = reg.clone();
            std::thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|i| {
                        // Every fifth name is shared by all threads (in two letter cases), so
                        // exactly one of each such create must win.
                        let name = match (i % 5, t % 2) {
                            (0, 0) => format!("shared-{i}"),
                            (0, _) => format!("SHARED-{i}"),
                            _ => format!("t{t}-u{i}"),
                        };
                        let input =
                            parse_resource(&reg, ResourceKind::User, &json!({ "userName": name }))
                                .unwrap();
                        let answer = writer
                            .submit_blocking(Submission {
                                command: Command::CreateUser {
                                    id: UserId::random(),
                                    input,
                                    password_hash: None,
                                },
                                envelope: Envelope {
                                    actor: Actor {
                                        token_id: None,
                                        client: format!("thread {t}"),
                                    },
                                    request_id: format!("t{t}-r{i}"),
                                    client_addr: None,
                                },
                                answer: Answer::default(),
                                sent: None,
                            })
                            .unwrap();
                        (name.to_lowercase(), answer)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: Vec<(String, Outcome)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    thread.stop();

    assert_eq!(answers.len(), THREADS * PER_THREAD);
    let mut winners: BTreeMap<String, usize> = BTreeMap::new();
    let mut rejected = BTreeMap::new();
    let mut accepted = BTreeSet::new();
    for (name, applied) in &answers {
        match applied {
            Outcome::Written(Written { seq, .. }) => {
                *winners.entry(name.clone()).or_default() += 1;
                accepted.extend(*seq);
            }
            Outcome::Refused { seq, rejection } => {
                assert_eq!(rejection.status(), 409, "{name}: {rejection}");
                assert!(name.starts_with("shared-"), "{name} was rejected");
                rejected.insert(*seq, 409);
            }
        }
    }
    let shared = PER_THREAD / 5;
    assert!(winners.values().all(|n| *n == 1), "{winners:?}");
    assert_eq!(winners.len(), THREADS * (PER_THREAD - shared) + shared);
    assert_eq!(rejected.len(), (THREADS - 1) * shared);

    check_log(&store, &rejected, &accepted);
    assert_eq!(log(&store).len(), THREADS * PER_THREAD);
    assert_eq!(read::counts(store.trees()).unwrap().0, winners.len());
    assert_eq!(read::counted(store.trees()).0, winners.len());
    assert_eq!(rebuild::verify(&store).unwrap(), Vec::new());
}
