//! Given/when/then tests of `domain::decide`: given these events (projected through the real
//! projection into in-memory views), when this [`Command`], then exactly these events, or this
//! [`Rejection`] with this status and `scimType`. They prove the write rules together with the
//! projection that builds the state the rules read, without sled or HTTP.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::domain::command::{Command, IfMatch};
use crate::domain::decide::{decide, Stop};
use crate::domain::error::Rejection;
use crate::domain::event::{Change, Event, GroupSnapshot, MemberSent, UserSnapshot};
use crate::domain::ids::{ClientName, GroupId, GroupName, TokenId, UserId, UserName};
use crate::domain::scope::{Scope, Scopes};
use crate::domain::write::Actor;
use crate::scim::error::ScimError;
use crate::scim::patch::{parse_patch, split_members, MemberOp};
use crate::scim::resource::{parse_resource, Parsed};
use crate::scim::schema::{Registry, ResourceKind, ENTERPRISE_USER_SCHEMA};

use super::codec::{Entry, LogRecord};
use super::memory::MemViews;

/// The sequence number every given event is recorded at, so every given resource is at this
/// version (the If-Match tests name it).
const VERSION: u64 = 7;

/// The state a command is decided against: the views that the given events project into.
#[derive(Default)]
struct Given {
    views: MemViews,
}

/// What `decide` answers, with storage failures (impossible in memory) turned into panics.
type Decision = Result<Vec<Event>, Rejection>;

fn reg() -> Registry {
    Registry::core()
}

fn user_input(body: Value) -> Parsed {
    parse_resource(&reg(), ResourceKind::User, &body).unwrap()
}

fn group_input(body: Value) -> Parsed {
    parse_resource(&reg(), ResourceKind::Group, &body).unwrap()
}

impl Given {
    /// Given this event: project it as the append transaction would.
    fn event(&mut self, event: Event) {
        let rec = LogRecord {
            seq: VERSION,
            time_ms: 1,
            actor: Actor {
                token_id: None,
                client: "given".into(),
            },
            request_id: "given".into(),
            client_addr: None,
            entry: Entry::Event(event),
            answered: None,
            request_body: crate::domain::write::RequestBody::NotKept,
        };
        self.views.record(&rec).unwrap();
    }

    /// Given a user created with this body.
    fn with_user(&mut self, body: Value) -> UserId {
        let id = UserId::random();
        let doc = user_input(body).doc;
        let name = doc["userName"].as_str().unwrap();
        self.event(Event::UserCreated(UserSnapshot {
            id,
            user_name: UserName::try_from(name).unwrap(),
            external_id: doc
                .get("externalId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            doc: Value::Object(doc.clone()).to_string(),
        }));
        id
    }

    /// Given a group created with this displayName, then these members added.
    fn with_group(&mut self, name: &str, members: &[UserId]) -> GroupId {
        let id = GroupId::random();
        let doc = group_input(json!({ "displayName": name })).doc;
        let display_name = GroupName::try_from(name).unwrap();
        self.event(Event::GroupCreated(GroupSnapshot {
            id,
            display_name: display_name.clone(),
            external_id: None,
            doc: Value::Object(doc).to_string(),
        }));
        if !members.is_empty() {
            self.event(Event::MembersAdded {
                group: id,
                display_name,
                users: sorted(members),
            });
        }
        id
    }

    /// Given a token issued (and revoked).
    fn with_token(&mut self, revoked: bool) -> TokenId {
        let id = TokenId::random();
        let name = ClientName::try_from("Entra ID").unwrap();
        self.event(Event::TokenIssued {
            id,
            name: name.clone(),
            secret_sha256: [0; 32],
        });
        if revoked {
            self.event(Event::TokenRevoked { id, name });
        }
        id
    }
}

/// Decide `cmd` against `given`.
fn when(given: &Given, cmd: &Command) -> Decision {
    when_counting(given, cmd).0
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
            ops: parse_patch(&ops(json!([{"op": "add", "path": "title", "value": "x"}]))).unwrap(),
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
        scopes: Scopes::default(),
    };
    assert_eq!(
        accepted(when(&given, &issue)),
        vec![Event::TokenIssued {
            id,
            name: name.clone(),
            secret_sha256: [9; 32]
        }]
    );
    // Other scopes than the default are an event of their own, after the issue.
    let scoped = Command::IssueToken {
        id,
        name: name.clone(),
        secret_sha256: [9; 32],
        expires_ms: None,
        scopes: Scopes::parse(&["events:read", "scim:read"]).unwrap(),
    };
    assert_eq!(
        accepted(when(&given, &scoped)),
        vec![
            Event::TokenIssued {
                id,
                name,
                secret_sha256: [9; 32]
            },
            Event::TokenScopesSet {
                id,
                scopes: vec![Scope::ScimRead, Scope::EventsRead]
            }
        ]
    );
}

#[test]
fn members_sent_with_a_display_keep_it_and_only_a_changed_entry_is_an_event() {
    let mut given = Given::default();
    let a = given.with_user(json!({"userName": "alice"}));
    let b = given.with_user(json!({"userName": "bob"}));
    let g = given.with_group("Sales", &[a]);
    let sales = GroupName::try_from("Sales").unwrap();
    let add = |value: Value| {
        patch_group(
            g,
            ops(json!([{"op": "add", "path": "members", "value": value}])),
        )
    };
    // b joins with a display: the event keeps it.
    assert_eq!(
        accepted(when(
            &given,
            &add(json!([{"value": b.to_string(), "display": "Bobby"}]))
        )),
        vec![Event::MembersAddedAsSent {
            group: g,
            display_name: sales.clone(),
            members: vec![MemberSent {
                id: b,
                display: Some("Bobby".into())
            }],
        }]
    );
    // a, already a member, re-added as it is: nothing; re-added with a display: its entry changes.
    assert_eq!(
        accepted(when(&given, &add(json!([{"value": a.to_string()}])))),
        vec![]
    );
    assert_eq!(
        accepted(when(
            &given,
            &add(json!([{"value": a.to_string(), "display": "Al"}]))
        )),
        vec![Event::MembersAddedAsSent {
            group: g,
            display_name: sales,
            members: vec![MemberSent {
                id: a,
                display: Some("Al".into())
            }],
        }]
    );
}

// ---- the reads a decision makes ----

/// The given views, counting the lookups of the name indexes.
struct NameLookups<'a> {
    given: &'a Given,
    count: std::cell::Cell<usize>,
}

impl crate::domain::decide::Views for NameLookups<'_> {
    type Error = super::StoreError;
    fn user(&self, id: UserId) -> Result<Option<crate::domain::decide::UserState>, Self::Error> {
        self.given.views.user(id)
    }
    fn user_exists(&self, id: UserId) -> Result<bool, Self::Error> {
        crate::domain::decide::Views::user_exists(&self.given.views, id)
    }
    fn user_by_name(&self, key: &str) -> Result<Option<UserId>, Self::Error> {
        self.count.set(self.count.get() + 1);
        self.given.views.user_by_name(key)
    }
    fn group(&self, id: GroupId) -> Result<Option<crate::domain::decide::GroupState>, Self::Error> {
        self.given.views.group(id)
    }
    fn group_by_name(&self, key: &str) -> Result<Option<GroupId>, Self::Error> {
        self.count.set(self.count.get() + 1);
        self.given.views.group_by_name(key)
    }
    fn member(&self, group: GroupId, user: UserId) -> Result<Option<Option<String>>, Self::Error> {
        crate::domain::decide::Views::member(&self.given.views, group, user)
    }
    fn groups_of(&self, user: UserId) -> Result<Vec<GroupId>, Self::Error> {
        Ok(self.given.views.groups_of(user))
    }
    fn members_of(&self, group: GroupId) -> Result<Vec<UserId>, Self::Error> {
        Ok(self.given.views.members_of(group))
    }
    fn token(&self, id: TokenId) -> Result<Option<crate::domain::decide::TokenState>, Self::Error> {
        crate::domain::decide::Views::token(&self.given.views, id)
    }
}

/// Decide `cmd` against `given`: the decision, and how many name-index lookups it made.
fn when_counting(given: &Given, cmd: &Command) -> (Decision, usize) {
    let views = NameLookups {
        given,
        count: std::cell::Cell::new(0),
    };
    let decision = match decide(&views, &reg(), cmd) {
        Ok(events) => Ok(events),
        Err(Stop::Refused(r)) => Err(r),
        Err(Stop::Store(e)) => panic!("in-memory views failed: {e}"),
    };
    (decision, views.count.get())
}

#[test]
fn updates_that_keep_the_name_do_not_look_it_up_and_renames_still_check_it() {
    let mut given = Given::default();
    let alice = given.with_user(json!({"userName": "alice"}));
    given.with_user(json!({"userName": "carol"}));
    let staff = given.with_group("Staff", &[]);
    given.with_group("Crew", &[]);
    let replace =
        |path: &str, value: &str| ops(json!([{"op": "replace", "path": path, "value": value}]));

    for (cmd, lookups) in [
        (patch_user(alice, replace("title", "Boss")), 0),
        (patch_user(alice, replace("userName", "ALICE")), 0),
        (patch_user(alice, replace("userName", "bob")), 1),
        (patch_group(staff, replace("externalId", "s1")), 0),
        (patch_group(staff, replace("displayName", "STAFF")), 0),
        (patch_group(staff, replace("displayName", "Team")), 1),
    ] {
        let (decision, n) = when_counting(&given, &cmd);
        assert_eq!(accepted(decision).len(), 1, "{cmd:?}");
        assert_eq!(n, lookups, "name lookups for {cmd:?}");
    }
    for cmd in [
        patch_user(alice, replace("userName", "Carol")),
        patch_group(staff, replace("displayName", "crew")),
    ] {
        let r = rejected(when_counting(&given, &cmd).0);
        assert_eq!((r.status(), r.scim_type()), (409, Some("uniqueness")));
    }
}
