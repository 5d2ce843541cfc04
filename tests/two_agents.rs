//! Two provisioning agents at once: Entra runs two active agents per on-prem SCIM app, so PATCHes
//! of one group arrive in parallel. Both add and remove disjoint member sets of a 20k-member group
//! (each remove shape Entra sends); the final membership is exactly the expected one and the log
//! holds every change once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use actix_web::test;
use serde_json::{json, Value};

use common::inproc::{self, app};
use scimd::domain::event::Event;
use scimd::domain::ids::GroupId;
use scimd::domain::write::{Actor, Answer, Envelope};
use scimd::scim::schema::ResourceKind;
use scimd::service::commands::{ResourceWrite, Write, WriteRequest};
use scimd::store::codec::Entry;
use scimd::store::read;

const MEMBERS: usize = 20_000;
/// Members each agent removes, and users each adds.
const PER_AGENT: usize = 200;

fn patch(ops: Value) -> String {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
        .to_string()
}

#[actix_web::test]
async fn two_agents_patching_one_big_group_lose_and_repeat_nothing() {
    let f = inproc::start().await;
    let app = app!(f);
    // 20k members and 2 × PER_AGENT users to add, created through the write service in bulk.
    let envelope = Envelope {
        actor: Actor {
            token_id: None,
            client: "setup".into(),
        },
        request_id: "setup".into(),
        client_addr: None,
    };
    let total = MEMBERS + 2 * PER_AGENT;
    let mut users = Vec::with_capacity(total);
    for chunk in (0..total).collect::<Vec<_>>().chunks(1000) {
        let writes = chunk.iter().map(|i| {
            let w = ResourceWrite {
                kind: ResourceKind::User,
                write: Write::Create,
                id: None,
                body: Ok(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("u{i}@contoso.com"),
                })),
                if_match: None,
            };
            f.state
                .commands
                .execute(&envelope, WriteRequest::Resource(w), Answer::default())
        });
        for written in futures_util::future::join_all(writes).await {
            users.push(uuid::Uuid::from_bytes(written.unwrap().id).to_string());
        }
    }
    let res = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/scim/v2/Groups")
            .insert_header(f.auth())
            .set_payload(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "All staff"})
                    .to_string(),
            )
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 201);
    let group: Value = test::read_body_json(res).await;
    let gid = group["id"].as_str().unwrap().to_owned();
    let uri = format!("/scim/v2/Groups/{gid}");
    for chunk in users[..MEMBERS].chunks(1000) {
        let value: Vec<Value> = chunk.iter().map(|u| json!({"value": u})).collect();
        let res = test::call_service(
            &app,
            test::TestRequest::patch()
                .uri(&uri)
                .insert_header(f.auth())
                .set_payload(patch(
                    json!([{"op": "Add", "path": "members", "value": value}]),
                ))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), 204);
    }
    let setup_done = *f.state.commands.writer().subscribe().borrow();

    // Agent a removes members [0, PER_AGENT) and adds the first extra users; agent b removes the
    // next PER_AGENT members and adds the other extras. Each alternates Entra's two remove shapes.
    let agent = |n: usize| {
        let (app, f, uri, users) = (&app, &f, &uri, &users);
        async move {
            for i in 0..PER_AGENT {
                let gone = &users[n * PER_AGENT + i];
                let remove = if i % 2 == 0 {
                    json!([{"op": "Remove", "path": "members", "value": [{"value": gone}]}])
                } else {
                    json!([{"op": "remove", "path": format!("members[value eq \"{gone}\"]")}])
                };
                let new = &users[MEMBERS + n * PER_AGENT + i];
                let add = json!([{"op": "Add", "path": "members", "value": [{"value": new}]}]);
                for body in [remove, add] {
                    let res = test::call_service(
                        app,
                        test::TestRequest::patch()
                            .uri(uri)
                            .insert_header(f.auth())
                            .set_payload(patch(body))
                            .to_request(),
                    )
                    .await;
                    assert_eq!(res.status(), 204, "agent {n}, step {i}");
                }
            }
        }
    };
    futures_util::future::join(agent(0), agent(1)).await;

    let g = GroupId::try_from(gid.as_str()).unwrap();
    let members: BTreeSet<String> = read::members_of(f.store.trees(), g)
        .map(|u| u.unwrap().to_string())
        .collect();
    let removed: BTreeSet<String> = users[..2 * PER_AGENT].iter().cloned().collect();
    let added: BTreeSet<String> = users[MEMBERS..].iter().cloned().collect();
    let expected: BTreeSet<String> = users[..MEMBERS]
        .iter()
        .filter(|u| !removed.contains(*u))
        .chain(&added)
        .cloned()
        .collect();
    assert_eq!(members.len(), MEMBERS);
    assert!(
        members == expected,
        "the final membership differs from the expected one"
    );
    assert_eq!(
        read::group(f.store.trees(), g)
            .unwrap()
            .unwrap()
            .member_count,
        u64::try_from(MEMBERS).unwrap()
    );

    // Every change once: each removed member in exactly one MembersRemoved, each new one in
    // exactly one MembersAdded, nothing else.
    let mut removals: BTreeMap<String, usize> = BTreeMap::new();
    let mut additions: BTreeMap<String, usize> = BTreeMap::new();
    for rec in read::log_from(f.store.trees(), setup_done + 1) {
        match rec.unwrap().entry {
            Entry::Event(Event::MembersRemoved { group, users, .. }) if group == g => {
                for u in users {
                    *removals.entry(u.to_string()).or_default() += 1;
                }
            }
            Entry::Event(Event::MembersAdded { group, users, .. }) if group == g => {
                for u in users {
                    *additions.entry(u.to_string()).or_default() += 1;
                }
            }
            other => panic!("unexpected record during the agents' run: {other:?}"),
        }
    }
    assert_eq!(removals.keys().cloned().collect::<BTreeSet<_>>(), removed);
    assert!(
        removals.values().all(|n| *n == 1),
        "a removal was logged twice"
    );
    assert_eq!(additions.keys().cloned().collect::<BTreeSet<_>>(), added);
    assert!(
        additions.values().all(|n| *n == 1),
        "an addition was logged twice"
    );
}
