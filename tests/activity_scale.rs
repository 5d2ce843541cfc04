//! The activity report on a 200,000-record log: the first page, a page filtered by resource, by
//! time, by a dense and by a sparse client all answer after reading a bounded number of records
//! (asserted on records read, not on time: machines here are shared).
// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::json;

use scimd::domain::command::Command;
use scimd::domain::error::Rejection;
use scimd::domain::event::Action;
use scimd::domain::ids::UserId;
use scimd::domain::write::Actor;
use scimd::domain::write::{Answer, Envelope, Submission};
use scimd::report::activity::{self, Query, SCAN_LIMIT};
use scimd::scim::error::ScimError;
use scimd::scim::resource::parse_resource;
use scimd::scim::schema::{Registry, ResourceKind};
use scimd::store::append::append_batch;
use scimd::store::Store;

const RECORDS: u64 = 200_000;

fn pending(client: &str, command: Command) -> Submission {
    Submission {
        command,
        envelope: Envelope {
            actor: Actor {
                token_id: None,
                client: client.into(),
            },
            request_id: "r".into(),
            client_addr: None,
        },
        answer: Answer::default(),
        sent: None,
    }
}

#[test]
fn pages_of_a_200k_record_log_read_a_bounded_number_of_records() {
    let reg = Arc::new(Registry::core());
    let store = Store::temporary().unwrap();
    // Ten users early on (by "Entra ID"), then a flood of refused writes by "Noise".
    let users: Vec<UserId> = (0..10).map(|_| UserId::random()).collect();
    let creates: Vec<Submission> = users
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let input = parse_resource(
                &reg,
                ResourceKind::User,
                &json!({"userName": format!("early{i}@x")}),
            )
            .unwrap();
            pending(
                "Entra ID",
                Command::CreateUser {
                    id: *id,
                    input,
                    password_hash: None,
                },
            )
        })
        .collect();
    let (_, mut next) = append_batch(&store, &reg, &creates, 1, 1_000).unwrap();
    let noise = pending(
        "Noise",
        Command::Refused {
            action: Action::PatchUser,
            target_id: None,
            rejection: Rejection::Invalid(ScimError::InvalidValue("noise".into())),
        },
    );
    let batch = vec![noise; 5_000];
    let mut time = 2_000;
    while next <= RECORDS {
        let take = usize::try_from((RECORDS + 1 - next).min(5_000)).unwrap();
        let (_, n) = append_batch(&store, &reg, &batch[..take], next, time).unwrap();
        next = n;
        time += 1_000;
    }
    let t = store.trees();
    assert_eq!(
        scimd::store::read::log_bounds(t).unwrap(),
        Some((1, RECORDS))
    );

    // First page: reads exactly one page.
    let page = activity::page(t, &Query::default()).unwrap();
    assert_eq!(page.items.len(), 50);
    assert_eq!(page.items[0].seq, RECORDS);
    assert_eq!(page.scanned, 50);

    // Dense filter: about one page read.
    let dense = activity::page(
        t,
        &Query {
            client: Some("noise".into()),
            limit: 100,
            ..Query::default()
        },
    )
    .unwrap();
    assert_eq!(dense.items.len(), 100);
    assert_eq!(dense.scanned, 100);

    // By resource: the index, so only that resource's records are read.
    let one = Query {
        resource: Some(*users[3].as_bytes()),
        ..Query::default()
    };
    let page = activity::page(t, &one).unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].resource_name.as_deref(), Some("early3@x"));
    assert_eq!(page.scanned, 1);

    // By time: a binary search finds the range, then one page is read.
    let window = Query {
        since_ms: Some(1_000),
        until_ms: Some(1_000),
        ..Query::default()
    };
    let page = activity::page(t, &window).unwrap();
    assert_eq!(page.items.len(), 10);
    assert!(page.scanned <= 10, "{}", page.scanned);
    assert!(activity::seq_at_or_after(t, 3_000).unwrap() > 5_000);

    // Sparse filter: the page stops at the scan limit and says where to go on.
    let sparse = Query {
        client: Some("Entra ID".into()),
        ..Query::default()
    };
    let page = activity::page(t, &sparse).unwrap();
    assert!(page.items.is_empty());
    assert_eq!(page.scanned, SCAN_LIMIT);
    let mut cursor = page.next;
    let mut found = 0;
    let mut pages = 1;
    while let Some(before) = cursor {
        let p = activity::page(
            t,
            &Query {
                before: Some(before),
                ..sparse.clone()
            },
        )
        .unwrap();
        assert!(p.scanned <= SCAN_LIMIT);
        found += p.items.len();
        cursor = p.next;
        pages += 1;
    }
    assert_eq!(found, 10);
    assert_eq!(
        pages,
        usize::try_from(RECORDS.div_ceil(SCAN_LIMIT)).unwrap()
    );
}
