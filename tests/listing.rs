//! Listing over the real views: index paging and RFC 9865 cursor paging through 1,000 users return
//! each exactly once; sortBy/sortOrder; and the property that an index-backed plan returns exactly
//! what the plain evaluator over every resource returns.
// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Value};

use common::list_ids;

use scimd::domain::command::Command;
use scimd::domain::ids::{GroupId, UserId};
use scimd::domain::write::Actor;
use scimd::domain::write::{Answer, Envelope, Submission};
use scimd::scim::patch::MemberOp;
use scimd::scim::resource::{parse_resource, MemberEntry};
use scimd::scim::schema::{Registry, ResourceKind};
use scimd::service::query::{Directory, ListQuery};
use scimd::service::writer::Writer;
use scimd::store::Store;

const BASE: &str = "https://scim.example.com/scim/v2";

fn pending(command: Command) -> Submission {
    Submission {
        command,
        envelope: Envelope {
            actor: Actor {
                token_id: None,
                client: "test".into(),
            },
            request_id: "t".into(),
            client_addr: None,
        },
        answer: Answer::default(),
        sent: None,
    }
}

/// A directory of `n` users (names `user0000@x` …, every third disabled, externalId per user,
/// departments cycling through 4 values) and 3 groups with some members.
fn directory(n: usize) -> (Directory, Vec<String>, Vec<String>) {
    let reg = Arc::new(Registry::core());
    let store = Store::temporary().unwrap();
    let (writer, thread) = Writer::start(store.clone(), reg.clone()).unwrap();
    let users: Vec<UserId> = (0..n).map(|_| UserId::random()).collect();
    let chunks: Vec<Vec<(usize, UserId)>> = users
        .iter()
        .copied()
        .enumerate()
        .collect::<Vec<_>>()
        .chunks(n.div_ceil(8).max(1))
        .map(<[_]>::to_vec)
        .collect();
    let handles: Vec<_> = chunks.into_iter().map(|chunk| {
        let w = writer.clone();
        let reg = reg.clone();
        std::thread::spawn(move || {
            for (i, id) in chunk {
                let body = json!({
                    "userName": format!("user{i:04}@x"),
                    "externalId": format!("ext-{}", i % 50),
                    "active": i % 3 != 0,
                    "title": format!("T{}", i % 7),
                    "emails": [{"value": format!("u{i}@work.example"), "type": "work", "primary": true}],
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": format!("D{}", i % 4)},
                });
                let input = parse_resource(&reg, ResourceKind::User, &body).unwrap();
                w.submit_blocking(pending(Command::CreateUser { id, input, password_hash: None })).unwrap();
            }
        })
    }).collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    let mut groups = Vec::new();
    for g in 0..3usize {
        let gid = GroupId::random();
        let input = parse_resource(
            &reg,
            ResourceKind::Group,
            &json!({"displayName": format!("Group {g}")}),
        )
        .unwrap();
        writer
            .submit_blocking(pending(Command::CreateGroup { id: gid, input }))
            .unwrap();
        let members = users
            .iter()
            .skip(g)
            .step_by(5 + g)
            .map(|u| MemberEntry {
                value: u.to_string(),
                display: None,
            })
            .collect();
        writer
            .submit_blocking(pending(Command::PatchGroup {
                id: gid,
                ops: vec![],
                members: vec![MemberOp::Add(members)],
                if_match: None,
            }))
            .unwrap();
        groups.push(gid.to_string());
    }
    thread.stop();
    (
        Directory::new(store, reg),
        users.iter().map(ToString::to_string).collect(),
        groups,
    )
}

fn q(filter: Option<&str>) -> ListQuery {
    ListQuery {
        filter: filter.map(str::to_owned),
        count: Some("1000".into()),
        ..ListQuery::default()
    }
}

#[test]
fn index_and_cursor_paging_return_every_user_exactly_once() {
    let (dir, users, _) = directory(1000);
    let all: BTreeSet<String> = users.into_iter().collect();

    // Index paging, pages of 100 (Okta's import), and of 7 with a filter.
    let mut seen = Vec::new();
    for page in 0..10 {
        let body = dir
            .list(
                ResourceKind::User,
                &ListQuery {
                    start_index: Some((page * 100 + 1).to_string()),
                    count: Some("100".into()),
                    ..ListQuery::default()
                },
                BASE,
            )
            .unwrap();
        assert_eq!(body["totalResults"], 1000);
        assert_eq!(body["startIndex"], page * 100 + 1);
        assert_eq!(body["itemsPerPage"], 100);
        seen.extend(list_ids(&body));
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), all);

    // Cursor paging: start with an empty cursor, follow nextCursor until it is absent.
    let mut seen = Vec::new();
    let mut cursor = Some(String::new());
    let mut pages = 0;
    while let Some(c) = cursor {
        let body = dir
            .list(
                ResourceKind::User,
                &ListQuery {
                    cursor: Some(c),
                    count: Some("64".into()),
                    ..ListQuery::default()
                },
                BASE,
            )
            .unwrap();
        seen.extend(list_ids(&body));
        cursor = body
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        pages += 1;
        assert!(pages <= 16, "cursor paging does not end");
    }
    assert_eq!(pages, 16);
    assert_eq!(seen.len(), 1000);
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), all);

    // Cursor paging with a filter (index-backed and scanned) also visits each match once.
    for filter in ["active eq true", "externalId eq \"ext-7\""] {
        let expected: BTreeSet<String> = list_ids(
            &dir.list(ResourceKind::User, &q(Some(filter)), BASE)
                .unwrap(),
        )
        .into_iter()
        .collect();
        let mut got = Vec::new();
        let mut cursor = Some(String::new());
        while let Some(c) = cursor {
            let body = dir
                .list(
                    ResourceKind::User,
                    &ListQuery {
                        filter: Some(filter.into()),
                        cursor: Some(c),
                        count: Some("9".into()),
                        ..ListQuery::default()
                    },
                    BASE,
                )
                .unwrap();
            got.extend(list_ids(&body));
            cursor = body
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        assert_eq!(got.len(), expected.len(), "{filter}");
        assert_eq!(
            got.into_iter().collect::<BTreeSet<_>>(),
            expected,
            "{filter}"
        );
    }

    // Bad cursors and mixed paging are clear errors.
    let e = dir
        .list(
            ResourceKind::User,
            &ListQuery {
                cursor: Some("nope".into()),
                ..ListQuery::default()
            },
            BASE,
        )
        .unwrap_err();
    assert!(e.to_string().contains("cursor"), "{e}");
    let e = dir.list(
        ResourceKind::User,
        &ListQuery {
            cursor: Some(String::new()),
            start_index: Some("1".into()),
            ..ListQuery::default()
        },
        BASE,
    );
    assert!(e.is_err());
}

#[test]
fn sort_by_any_attribute_in_both_orders() {
    let (dir, _, _) = directory(40);
    let names = |order: &str, by: &str| -> Vec<Value> {
        let body = dir
            .list(
                ResourceKind::User,
                &ListQuery {
                    sort_by: Some(by.into()),
                    sort_order: Some(order.into()),
                    count: Some("40".into()),
                    ..ListQuery::default()
                },
                BASE,
            )
            .unwrap();
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].clone())
            .collect()
    };
    let asc = names("ascending", "userName");
    assert_eq!(asc.first().unwrap(), "user0000@x");
    assert_eq!(asc.last().unwrap(), "user0039@x");
    let desc = names("descending", "USERNAME");
    assert_eq!(desc, asc.iter().rev().cloned().collect::<Vec<_>>());
    // Multi-valued: by the primary value; extension attributes by URN path.
    let by_email = names("ascending", "emails.value");
    assert_eq!(by_email[0], "user0000@x");
    let by_dept = dir
        .list(
            ResourceKind::User,
            &ListQuery {
                sort_by: Some(
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department".into(),
                ),
                count: Some("40".into()),
                ..ListQuery::default()
            },
            BASE,
        )
        .unwrap();
    let depts: Vec<&str> = by_dept["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"]
                .as_str()
                .unwrap()
        })
        .collect();
    let mut sorted = depts.clone();
    sorted.sort_unstable();
    assert_eq!(depts, sorted);
    // Paging applies after sorting.
    let page = dir
        .list(
            ResourceKind::User,
            &ListQuery {
                sort_by: Some("userName".into()),
                sort_order: Some("descending".into()),
                start_index: Some("3".into()),
                count: Some("2".into()),
                ..ListQuery::default()
            },
            BASE,
        )
        .unwrap();
    assert_eq!(page["Resources"][0]["userName"], "user0037@x");
    assert_eq!(page["totalResults"], 40);
    assert!(dir
        .list(
            ResourceKind::User,
            &ListQuery {
                sort_by: Some("nope".into()),
                ..ListQuery::default()
            },
            BASE
        )
        .is_err());
    assert!(dir
        .list(
            ResourceKind::User,
            &ListQuery {
                sort_by: Some("userName".into()),
                sort_order: Some("sideways".into()),
                ..ListQuery::default()
            },
            BASE
        )
        .is_err());
}

fn filter_strategy(users: Vec<String>, groups: Vec<String>) -> impl Strategy<Value = String> {
    let user = proptest::sample::select(users);
    let group = proptest::sample::select(groups);
    let leaf = prop_oneof![
        (0..60usize).prop_map(|i| format!("userName eq \"USER{i:04}@x\"")),
        (0..60usize).prop_map(|i| format!("externalId eq \"ext-{}\"", i % 55)),
        user.clone().prop_map(|u| format!("id eq \"{u}\"")),
        Just("active eq true".to_owned()),
        (0..8usize).prop_map(|i| format!("title eq \"t{i}\"")),
        (0..5usize).prop_map(|i| format!(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"D{i}\""
        )),
        Just("emails[type eq \"work\" and value co \"1\"]".to_owned()),
        (0..60usize).prop_map(|i| format!("userName sw \"user00{}\"", i % 10)),
        group.prop_map(|g| format!("groups.value eq \"{g}\"")),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

#[test]
fn index_plans_return_exactly_what_a_full_scan_returns() {
    let (dir, users, groups) = directory(60);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(200));
    runner
        .run(&filter_strategy(users, groups.clone()), |f| {
            let planned = dir
                .list_with(ResourceKind::User, &q(Some(&f)), BASE, true)
                .unwrap();
            let scanned = dir
                .list_with(ResourceKind::User, &q(Some(&f)), BASE, false)
                .unwrap();
            prop_assert_eq!(&planned["totalResults"], &scanned["totalResults"], "{}", f);
            prop_assert_eq!(list_ids(&planned), list_ids(&scanned), "{}", f);
            // The whole answers, rendering included (an indexed page renders its matches once).
            prop_assert_eq!(&planned, &scanned, "{}", f);
            Ok(())
        })
        .unwrap();

    // Projections beside an indexed term: the page shows what the projection asks for, also when
    // the filter reads memberships the projection leaves out.
    for f in [
        "userName eq \"USER0001@x\"".to_owned(),
        format!(
            "userName eq \"USER0002@x\" and groups.value eq \"{}\"",
            groups[0]
        ),
        format!(
            "externalId eq \"ext-3\" or groups.value eq \"{}\"",
            groups[1]
        ),
    ] {
        for (attributes, excluded) in [
            (None, Some("groups")),
            (Some("userName"), None),
            (Some("groups,title"), None),
            (None, Some("emails,name")),
        ] {
            let pq = ListQuery {
                attributes: attributes.map(str::to_owned),
                excluded_attributes: excluded.map(str::to_owned),
                ..q(Some(&f))
            };
            let planned = dir.list_with(ResourceKind::User, &pq, BASE, true).unwrap();
            let scanned = dir.list_with(ResourceKind::User, &pq, BASE, false).unwrap();
            assert_eq!(planned, scanned, "{f} {attributes:?} {excluded:?}");
        }
    }

    // Groups: displayName (case-insensitive index), id, and members eq.
    let (dir, users, groups) = directory(30);
    let mut filters = vec![
        "displayName eq \"group 1\"".to_owned(),
        "displayName eq \"GROUP 2\" and displayName sw \"Gr\"".to_owned(),
    ];
    for u in users.iter().take(10) {
        filters.push(format!("members eq \"{u}\""));
        filters.push(format!("id eq \"{}\" and members eq \"{u}\"", groups[0]));
        filters.push(format!(
            "members.value eq \"{u}\" or displayName eq \"Group 0\""
        ));
    }
    for f in filters {
        let gq = |f: &str| ListQuery {
            filter: Some(f.into()),
            excluded_attributes: Some("members".into()),
            ..ListQuery::default()
        };
        let planned = dir
            .list_with(ResourceKind::Group, &gq(&f), BASE, true)
            .unwrap();
        let scanned = dir
            .list_with(ResourceKind::Group, &gq(&f), BASE, false)
            .unwrap();
        assert_eq!(list_ids(&planned), list_ids(&scanned), "{f}");
        assert_eq!(planned, scanned, "{f}");
        assert!(planned["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g.get("members").is_none()));
    }
}

#[test]
fn search_endpoints_take_the_same_parameters_in_a_body() {
    let (dir, users, _) = directory(20);
    let all = dir
        .search_all(
            &ListQuery {
                count: Some("100".into()),
                ..ListQuery::default()
            },
            BASE,
        )
        .unwrap();
    assert_eq!(all["totalResults"], 23);
    let only_groups = dir
        .search_all(
            &ListQuery {
                filter: Some("displayName sw \"Group\"".into()),
                ..ListQuery::default()
            },
            BASE,
        )
        .unwrap();
    // displayName exists on both types; no user has one here.
    assert_eq!(only_groups["totalResults"], 3);
    let members = dir
        .search_all(
            &ListQuery {
                filter: Some(format!("members eq \"{}\"", users[0])),
                ..ListQuery::default()
            },
            BASE,
        )
        .unwrap();
    assert_eq!(members["totalResults"], 1);
    assert!(dir
        .search_all(
            &ListQuery {
                filter: Some("nosuch eq 1".into()),
                ..ListQuery::default()
            },
            BASE
        )
        .is_err());
}
