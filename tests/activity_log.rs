//! The activity log records each write with the right attribute-level changes. Commands are built
//! exactly as the HTTP layer builds them (`parse_request`, `parse_patch`, `split_members`), go
//! through the real writer over a temporary store, and the log is then read back record by record:
//! contiguous sequence numbers from 1, the actor, request id and client address of each request,
//! non-decreasing times, and for each write the event (or rejection) with exactly the expected
//! content — a no-op PATCH leaves no record at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{json, Value};

use scimd::domain::command::Command;
use scimd::domain::error::Rejection;
use scimd::domain::event::{Action, Change, Event, Rejected};
use scimd::domain::ids::{ClientName, GroupId, TokenId, UserId};
use scimd::domain::write::{Answer, Envelope, Outcome, Submission, Written};
use scimd::scim::error::ScimError;
use scimd::scim::patch::{parse_patch, split_members, take_password, PATCH_OP_SCHEMA};
use scimd::scim::resource::{parse_request, parse_resource};
use scimd::scim::schema::{
    Registry, ResourceKind, ENTERPRISE_USER_SCHEMA as ENT, GROUP_SCHEMA as GROUP,
    USER_SCHEMA as USER,
};
use scimd::service::writer::{now_ms, Writer, WriterThread};
use scimd::store::codec::{Actor, Entry, LogRecord};
use scimd::store::read::log_from;
use scimd::store::Store;

const CLIENT_ADDR: &str = "10.0.0.9";

/// The real writer over a temporary store, submitting as "Entra ID" with one token and numbering
/// request ids `req-1`, `req-2`, … It remembers which request each log record must belong to.
struct Harness {
    reg: Arc<Registry>,
    store: Store,
    writer: Writer,
    thread: Option<WriterThread>,
    actor: Actor,
    requests: usize,
    /// Request id of each record the log must hold, in sequence order.
    expected_requests: Vec<String>,
}

impl Harness {
    fn start() -> Self {
        let reg = Arc::new(Registry::core());
        let store = Store::temporary().unwrap();
        let (writer, thread) = Writer::start(store.clone(), reg.clone()).unwrap();
        Self {
            reg,
            store,
            writer,
            thread: Some(thread),
            actor: Actor {
                token_id: Some(TokenId::random()),
                client: "Entra ID".into(),
            },
            requests: 0,
            expected_requests: Vec::new(),
        }
    }

    /// Submit one command as the next request; `records` is how many log records it must append.
    fn submit(&mut self, command: Command, records: usize) -> Outcome {
        self.requests += 1;
        let request_id = format!("req-{}", self.requests);
        let applied = self
            .writer
            .submit_blocking(Submission {
                command,
                envelope: Envelope {
                    actor: self.actor.clone(),
                    request_id: request_id.clone(),
                    client_addr: Some(CLIENT_ADDR.into()),
                },
                answer: Answer::default(),
                sent: None,
            })
            .unwrap();
        let first = u64::try_from(self.expected_requests.len()).unwrap() + 1;
        // Where its records landed: an accepted command's last event, or the rejection.
        let landed = match &applied {
            Outcome::Written(Written { seq, .. }) => (true, *seq),
            Outcome::Refused { seq, .. } => (false, Some(*seq)),
        };
        let want = match (records, landed.0) {
            (0, accepted) => (accepted, None),
            (_, false) => (false, Some(first)),
            (n, true) => (true, Some(first + u64::try_from(n).unwrap() - 1)),
        };
        assert!(
            records > 0 || landed.0,
            "{request_id}: a refusal always appends a record"
        );
        assert_eq!(landed, want, "{request_id}: unexpected outcome {applied:?}");
        self.expected_requests
            .extend(std::iter::repeat_n(request_id, records));
        applied
    }

    /// `POST /Users` or `POST /Groups`, as `prepare` builds it.
    fn create(&mut self, kind: ResourceKind, body: Value, records: usize) -> (String, Outcome) {
        let mut input = parse_request(&self.reg, kind, &body).unwrap();
        // The default password storage discards the password: no hash reaches the command.
        let _password = input.password.take();
        let (id, command) = match kind {
            ResourceKind::User => {
                let id = UserId::random();
                (
                    id.to_string(),
                    Command::CreateUser {
                        id,
                        input,
                        password_hash: None,
                    },
                )
            }
            ResourceKind::Group => {
                let id = GroupId::random();
                (id.to_string(), Command::CreateGroup { id, input })
            }
        };
        (id, self.submit(command, records))
    }

    /// `PATCH /Users/{id}`, as `prepare` builds it.
    fn patch_user(&mut self, id: &str, body: Value, records: usize) -> Outcome {
        let mut ops = parse_patch(&body).unwrap();
        let _password = take_password(&mut ops);
        let command = Command::PatchUser {
            id: UserId::try_from(id).unwrap(),
            ops,
            if_match: None,
            password_hash: None,
        };
        self.submit(command, records)
    }

    /// `PATCH /Groups/{id}`, as `prepare` builds it.
    fn patch_group(&mut self, id: &str, body: Value, records: usize) -> Outcome {
        let (ops, members) = split_members(&self.reg, parse_patch(&body).unwrap()).unwrap();
        let command = Command::PatchGroup {
            id: GroupId::try_from(id).unwrap(),
            ops,
            members,
            if_match: None,
        };
        self.submit(command, records)
    }

    /// Stop the writer (flushing) and read the whole log.
    fn log(&mut self) -> Vec<LogRecord> {
        if let Some(t) = self.thread.take() {
            t.stop();
        }
        log_from(self.store.trees(), 0)
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    }
}

fn ops(list: Value) -> Value {
    json!({ "schemas": [PATCH_OP_SCHEMA], "Operations": list })
}

fn user_body(user: &str, external: &str, given: &str, family: &str, employee: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "externalId": external, "userName": user, "active": "True",
        "displayName": format!("{given} {family}"),
        "emails": [{"primary": true, "type": "work", "value": user}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": format!("{given} {family}"), "familyName": family, "givenName": given},
        "title": "Engineer", "phoneNumbers": [{"type": "work", "value": "+1 555 0100"}],
        ENT: {"employeeNumber": employee, "department": "R&D"},
        "roles": []
    })
}

fn members(ids: &[&str]) -> Value {
    Value::Array(ids.iter().map(|id| json!({ "value": id })).collect())
}

fn uid(s: &str) -> UserId {
    UserId::try_from(s).unwrap()
}

fn gid(s: &str) -> GroupId {
    GroupId::try_from(s).unwrap()
}

/// Ids in the order events list them (sorted, deduplicated).
fn sorted_users(ids: &[&str]) -> Vec<UserId> {
    ids.iter()
        .map(|s| uid(s))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn sorted_groups(ids: &[&str]) -> Vec<GroupId> {
    ids.iter()
        .map(|s| gid(s))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A change whose old and new texts are exactly these (JSON texts, `None` = absent).
fn change(path: &str, old: Option<&str>, new: Option<&str>) -> Change {
    Change {
        path: path.into(),
        old: old.map(str::to_owned),
        new: new.map(str::to_owned),
    }
}

/// Compare changes by path and by the JSON their texts hold (key order inside objects aside).
fn assert_changes(at: &str, got: &[Change], want: &[(&str, Option<Value>, Option<Value>)]) {
    let parse = |t: &Option<String>| {
        t.as_ref().map(|s| {
            serde_json::from_str::<Value>(s)
                .unwrap_or_else(|e| panic!("{at}: change text {s:?} is not JSON: {e}"))
        })
    };
    let mut got: Vec<(String, Option<Value>, Option<Value>)> = got
        .iter()
        .map(|c| (c.path.clone(), parse(&c.old), parse(&c.new)))
        .collect();
    let mut want: Vec<(String, Option<Value>, Option<Value>)> = want
        .iter()
        .map(|(p, o, n)| ((*p).to_owned(), o.clone(), n.clone()))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want, "{at}: changes");
}

fn doc_of(snapshot_doc: &str) -> Value {
    serde_json::from_str(snapshot_doc).unwrap()
}

#[test]
fn the_log_records_every_write_with_its_attribute_level_changes() {
    let before = now_ms();
    let mut h = Harness::start();
    let ent_employee = format!("{ENT}:employeeNumber");

    // 1: create alice (Entra's create body).
    let alice_body = user_body("alice@contoso.com", "alice", "Alice", "Ng", "701984");
    let alice_doc = parse_resource(&h.reg, ResourceKind::User, &alice_body)
        .unwrap()
        .doc;
    let (alice, _) = h.create(ResourceKind::User, alice_body, 1);

    // 2: the Entra legacy PATCH (idp-behavior §3.4).
    h.patch_user(
        &alice,
        ops(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"},
            {"op": "Replace", "path": "name.familyName", "value": "Nguyen"},
            {"op": "Add", "path": "nickName", "value": "Al"},
            {"op": "Replace", "path": ent_employee, "value": "42"}
        ])),
        1,
    );

    // 3: disable with the string "False"; 4: re-enable with "True".
    h.patch_user(
        &alice,
        ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        1,
    );
    h.patch_user(
        &alice,
        ops(json!([{"op": "Replace", "path": "active", "value": "True"}])),
        1,
    );

    // A PATCH that changes nothing leaves no record.
    h.patch_user(
        &alice,
        ops(json!([
            {"op": "Replace", "path": "title", "value": "Engineer"},
            {"op": "Replace", "path": "active", "value": "True"},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"},
            {"op": "replace", "value": {"name.familyName": "Nguyen", "nickName": "Al"}},
            {"op": "remove", "path": "nickName"},
            {"op": "add", "path": "nickName", "value": "Al"}
        ])),
        0,
    );

    // 5: a duplicate create (another letter case) is rejected and recorded.
    let dup_body = user_body("ALICE@contoso.com", "alice2", "Alice", "Ng", "1");
    let (dup, dup_applied) = h.create(ResourceKind::User, dup_body, 1);
    assert!(
        matches!(
            &dup_applied,
            Outcome::Refused {
                rejection: Rejection::Uniqueness(_),
                ..
            }
        ),
        "{dup_applied:?}"
    );

    // 6–8: three more users.
    let (bob, _) = h.create(
        ResourceKind::User,
        {
            // Okta sends a password with every create; it is never stored nor logged.
            let mut b = user_body("bob@contoso.com", "bob", "Bob", "Lee", "2");
            b["password"] = json!("Secr3t!-create");
            b
        },
        1,
    );
    // An Okta OIN password change: with the default storage nothing is kept, so nothing is logged.
    h.patch_user(
        &bob,
        ops(json!([{"op": "replace", "value": {"password": "Secr3t!-patch"}}])),
        0,
    );
    let (carol, _) = h.create(
        ResourceKind::User,
        user_body("carol@contoso.com", "carol", "Carol", "Diaz", "3"),
        1,
    );
    let (dave, _) = h.create(
        ResourceKind::User,
        user_body("dave@contoso.com", "dave", "Dave", "Kim", "4"),
        1,
    );

    // 9–10: group Sales with alice and bob; 11–12: group Eng with alice and dave.
    let sales_ext = "8aa1a0c0-0000-4000-8000-000000000001";
    let (sales, _) = h.create(
        ResourceKind::Group,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
               "externalId": sales_ext, "displayName": "Sales", "meta": {"resourceType": "Group"},
               "members": members(&[&alice, &bob])}),
        2,
    );
    let (eng, _) = h.create(
        ResourceKind::Group,
        json!({"schemas": [GROUP], "displayName": "Eng", "members": members(&[&dave, &alice])}),
        2,
    );

    // 13: Entra rename.
    h.patch_group(
        &sales,
        ops(json!([{"op": "Replace", "path": "displayName", "value": "Sales EU"}])),
        1,
    );
    // 14: add carol, and alice again (already a member: not recorded as added).
    h.patch_group(
        &sales,
        ops(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": carol}, {"value": alice}]}])),
        1,
    );
    // 15: Entra legacy member removal names bob only.
    h.patch_group(
        &sales,
        ops(json!([{"op": "Remove", "path": "members", "value": [{"value": bob}]}])),
        1,
    );
    // 16: flag/Okta member removal by filter names dave only.
    h.patch_group(
        &eng,
        ops(json!([{"op": "remove", "path": format!("members[value eq \"{dave}\"]")}])),
        1,
    );
    // 17: Okta rename: pathless replace echoing the id.
    h.patch_group(
        &eng,
        ops(json!([{"op": "replace", "value": {"id": eng, "displayName": "Engineering"}}])),
        1,
    );
    // A re-sent Okta rename with the same name changes nothing.
    h.patch_group(
        &eng,
        ops(json!([{"op": "replace", "value": {"id": eng, "displayName": "Engineering"}}])),
        0,
    );

    // 18: delete alice (member of Sales and Eng); 19: delete Sales (carol left).
    h.submit(
        Command::DeleteUser {
            id: uid(&alice),
            if_match: None,
        },
        1,
    );
    h.submit(
        Command::DeleteGroup {
            id: gid(&sales),
            if_match: None,
        },
        1,
    );

    // 20–21: a token is issued and revoked.
    let token = TokenId::random();
    let okta = ClientName::try_from("Okta").unwrap();
    h.submit(
        Command::IssueToken {
            id: token,
            name: okta.clone(),
            secret_sha256: [7; 32],
            expires_ms: None,
            scopes: scimd::domain::scope::Scopes::default(),
        },
        1,
    );
    h.submit(Command::RevokeToken { id: token }, 1);

    // 22: a write refused at the boundary.
    h.submit(
        Command::Refused {
            action: Action::PatchUser,
            target_id: Some("not-a-uuid".into()),
            rejection: Rejection::Invalid(ScimError::InvalidSyntax(
                "the request body is not valid JSON".into(),
            )),
        },
        1,
    );

    // 23: a PATCH refused when deciding (unknown attribute).
    h.patch_user(
        &bob,
        ops(json!([{"op": "replace", "path": "bogus", "value": "x"}])),
        1,
    );

    let log = h.log();
    let after = now_ms();

    let text = format!("{log:?}");
    assert!(!text.contains("Secr3t!"), "a password reached the log");

    // ---- every record: seq, actor, request id, client address, time ----
    assert_eq!(
        log.len(),
        h.expected_requests.len(),
        "log length; log = {log:#?}"
    );
    let mut last_time = before;
    for (i, rec) in log.iter().enumerate() {
        let at = format!("record {}", i + 1);
        assert_eq!(
            rec.seq,
            u64::try_from(i + 1).unwrap(),
            "{at}: seq is not contiguous from 1"
        );
        assert_eq!(rec.actor, h.actor, "{at}: actor");
        assert_eq!(rec.request_id, h.expected_requests[i], "{at}: request id");
        assert_eq!(
            rec.client_addr.as_deref(),
            Some(CLIENT_ADDR),
            "{at}: client address"
        );
        assert!(
            rec.time_ms >= last_time,
            "{at}: time went backwards ({} < {last_time})",
            rec.time_ms
        );
        assert!(rec.time_ms <= after, "{at}: time is in the future");
        last_time = rec.time_ms;
    }

    let event = |n: usize| -> &Event {
        match &log[n - 1].entry {
            Entry::Event(e) => e,
            Entry::Rejected(r) => panic!("record {n}: expected an event, got the rejection {r:?}"),
        }
    };
    let rejected = |n: usize| -> &Rejected {
        match &log[n - 1].entry {
            Entry::Rejected(r) => r,
            Entry::Event(e) => panic!("record {n}: expected a rejection, got {e:?}"),
        }
    };

    // 1: UserCreated with the userName, externalId and the stored document.
    let Event::UserCreated(u) = event(1) else {
        panic!("record 1: expected UserCreated, got {:?}", event(1));
    };
    assert_eq!(u.id, uid(&alice));
    assert_eq!(u.user_name.as_str(), "alice@contoso.com");
    assert_eq!(u.external_id.as_deref(), Some("alice"));
    assert_eq!(doc_of(&u.doc), Value::Object(alice_doc));
    assert_eq!(doc_of(&u.doc)["active"], json!(true));

    // 2: UserUpdated with exactly the four paths of the legacy PATCH.
    let Event::UserUpdated { user, changes } = event(2) else {
        panic!("record 2: expected UserUpdated, got {:?}", event(2));
    };
    assert_eq!(user.id, uid(&alice));
    assert_changes(
        "record 2",
        changes,
        &[
            (
                "emails",
                Some(json!([{"primary": true, "type": "work", "value": "alice@contoso.com"}])),
                Some(json!([{"primary": true, "type": "work", "value": "new@contoso.com"}])),
            ),
            ("name.familyName", Some(json!("Ng")), Some(json!("Nguyen"))),
            ("nickName", None, Some(json!("Al"))),
            (
                ent_employee.as_str(),
                Some(json!("701984")),
                Some(json!("42")),
            ),
        ],
    );
    let scalar = |p: &str| changes.iter().find(|c| c.path == p).cloned().unwrap();
    assert_eq!(
        scalar("name.familyName"),
        change("name.familyName", Some("\"Ng\""), Some("\"Nguyen\""))
    );
    assert_eq!(scalar("nickName"), change("nickName", None, Some("\"Al\"")));
    assert_eq!(
        scalar(&ent_employee),
        change(&ent_employee, Some("\"701984\""), Some("\"42\""))
    );
    let doc = doc_of(&user.doc);
    assert_eq!(doc["emails"][0]["value"], "new@contoso.com");
    assert_eq!(doc["name"]["familyName"], "Nguyen");
    assert_eq!(doc[ENT]["employeeNumber"], "42");
    assert_eq!(doc[ENT]["department"], "R&D");

    // 3: UserDeactivated, active "true" → "false".
    let Event::UserDeactivated { user, changes } = event(3) else {
        panic!("record 3: expected UserDeactivated, got {:?}", event(3));
    };
    assert_eq!(user.id, uid(&alice));
    assert_eq!(
        changes,
        &vec![change("active", Some("true"), Some("false"))]
    );
    assert_eq!(doc_of(&user.doc)["active"], json!(false));

    // 4: UserReactivated, active "false" → "true".
    let Event::UserReactivated { user, changes } = event(4) else {
        panic!("record 4: expected UserReactivated, got {:?}", event(4));
    };
    assert_eq!(user.id, uid(&alice));
    assert_eq!(
        changes,
        &vec![change("active", Some("false"), Some("true"))]
    );

    // 5: the duplicate create.
    let r = rejected(5);
    assert_eq!(r.action, Action::CreateUser);
    assert_eq!(r.target_id.as_deref(), Some(dup.as_str()));
    assert_eq!(r.target_name.as_deref(), Some("ALICE@contoso.com"));
    assert_eq!(r.status, 409);
    assert_eq!(r.scim_type.as_deref(), Some("uniqueness"));
    assert!(r.detail.contains("ALICE@contoso.com"), "{}", r.detail);

    // 6–8: the other users.
    for (n, id, name) in [
        (6, &bob, "bob@contoso.com"),
        (7, &carol, "carol@contoso.com"),
        (8, &dave, "dave@contoso.com"),
    ] {
        let Event::UserCreated(u) = event(n) else {
            panic!("record {n}: expected UserCreated, got {:?}", event(n));
        };
        assert_eq!((u.id, u.user_name.as_str()), (uid(id), name), "record {n}");
    }

    // 9–10: GroupCreated (no members in its document) then MembersAdded with the user ids.
    let Event::GroupCreated(g) = event(9) else {
        panic!("record 9: expected GroupCreated, got {:?}", event(9));
    };
    assert_eq!(g.id, gid(&sales));
    assert_eq!(g.display_name.as_str(), "Sales");
    assert_eq!(g.external_id.as_deref(), Some(sales_ext));
    assert_eq!(
        doc_of(&g.doc),
        json!({"externalId": sales_ext, "displayName": "Sales"})
    );
    assert_eq!(
        event(10),
        &Event::MembersAdded {
            group: gid(&sales),
            display_name: "Sales".try_into().unwrap(),
            users: sorted_users(&[&alice, &bob]),
        }
    );
    let Event::GroupCreated(g) = event(11) else {
        panic!("record 11: expected GroupCreated, got {:?}", event(11));
    };
    assert_eq!((g.id, g.display_name.as_str()), (gid(&eng), "Eng"));
    assert_eq!(
        event(12),
        &Event::MembersAdded {
            group: gid(&eng),
            display_name: "Eng".try_into().unwrap(),
            users: sorted_users(&[&alice, &dave]),
        }
    );

    // 13: GroupRenamed with the displayName change.
    let Event::GroupRenamed { group, changes } = event(13) else {
        panic!("record 13: expected GroupRenamed, got {:?}", event(13));
    };
    assert_eq!(group.id, gid(&sales));
    assert_eq!(group.display_name.as_str(), "Sales EU");
    assert_eq!(group.external_id.as_deref(), Some(sales_ext));
    assert_eq!(
        changes,
        &vec![change(
            "displayName",
            Some("\"Sales\""),
            Some("\"Sales EU\"")
        )]
    );

    // 14: only carol is new.
    assert_eq!(
        event(14),
        &Event::MembersAdded {
            group: gid(&sales),
            display_name: "Sales EU".try_into().unwrap(),
            users: vec![uid(&carol)],
        }
    );
    // 15, 16: only the named members are removed.
    assert_eq!(
        event(15),
        &Event::MembersRemoved {
            group: gid(&sales),
            display_name: "Sales EU".try_into().unwrap(),
            users: vec![uid(&bob)],
        }
    );
    assert_eq!(
        event(16),
        &Event::MembersRemoved {
            group: gid(&eng),
            display_name: "Eng".try_into().unwrap(),
            users: vec![uid(&dave)],
        }
    );
    // 17: the Okta rename records only displayName (the echoed id is no change).
    let Event::GroupRenamed { group, changes } = event(17) else {
        panic!("record 17: expected GroupRenamed, got {:?}", event(17));
    };
    assert_eq!(group.id, gid(&eng));
    assert_eq!(
        changes,
        &vec![change(
            "displayName",
            Some("\"Eng\""),
            Some("\"Engineering\"")
        )]
    );

    // 18: UserDeleted listing both groups alice was in.
    assert_eq!(
        event(18),
        &Event::UserDeleted {
            id: uid(&alice),
            user_name: "alice@contoso.com".try_into().unwrap(),
            external_id: Some("alice".into()),
            groups: sorted_groups(&[&sales, &eng]),
        }
    );
    // 19: GroupDeleted listing the members it still had (alice was deleted, bob removed).
    assert_eq!(
        event(19),
        &Event::GroupDeleted {
            id: gid(&sales),
            display_name: "Sales EU".try_into().unwrap(),
            external_id: Some(sales_ext.into()),
            members: vec![uid(&carol)],
        }
    );

    // 20–21: tokens.
    assert_eq!(
        event(20),
        &Event::TokenIssued {
            id: token,
            name: okta.clone(),
            secret_sha256: [7; 32],
        }
    );
    assert_eq!(
        event(21),
        &Event::TokenRevoked {
            id: token,
            name: okta,
        }
    );

    // 22: the refused write, exactly as given.
    assert_eq!(
        rejected(22),
        &Rejected {
            action: Action::PatchUser,
            target_id: Some("not-a-uuid".into()),
            target_name: None,
            status: 400,
            scim_type: Some("invalidSyntax".into()),
            detail: "the request body is not valid JSON".into(),
        }
    );

    // 23: the PATCH refused when deciding.
    let r = rejected(23);
    assert_eq!(r.action, Action::PatchUser);
    assert_eq!(r.target_id.as_deref(), Some(bob.as_str()));
    assert_eq!(r.status, 400);
    assert_eq!(r.scim_type.as_deref(), Some("invalidPath"));
    assert!(r.detail.contains("bogus"), "{}", r.detail);
}

#[test]
fn records_read_from_a_later_sequence_number_start_there() {
    let mut h = Harness::start();
    for i in 0..5 {
        h.create(
            ResourceKind::User,
            json!({"schemas": [USER], "userName": format!("u{i}@x")}),
            1,
        );
    }
    h.log();
    let tail: Vec<LogRecord> = log_from(h.store.trees(), 3)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(
        tail.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![3, 4, 5]
    );
    assert_eq!(tail[0].request_id, "req-3");
}
