//! Benchmarks (ignored by `cargo test`; numbers, not assertions). Run:
//!
//! ```text
//! cargo test --release --test bench -- --ignored --nocapture
//! ```
//!
//! - `writer_throughput`: creates per second through the single writer (decide + append + project +
//!   group-commit flush) with 1, 16 and 128 concurrent submitters, on a real on-disk database.
//! - `http_throughput`: end-to-end `POST /Users` and filtered `GET /Users` per second over plain HTTP
//!   on loopback with 16 client threads against the release binary.
//! - `membership_cost_is_flat`: time to add one member to a group of 10 vs. 20,000 members.
//!
//! Each figure is the median of 5 runs. Machines here are shared: compare ratios, not absolutes.
// Tests may unwrap: a panic is a failed test (clippy.toml allows it in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use common::USER;

use scimd::domain::command::Command;
use scimd::domain::ids::{GroupId, UserId};
use scimd::domain::write::Actor;
use scimd::domain::write::{Answer, Envelope, Submission};
use scimd::scim::patch::MemberOp;
use scimd::scim::resource::{parse_resource, MemberEntry};
use scimd::scim::schema::{Registry, ResourceKind};
use scimd::service::writer::Writer;
use scimd::store::Store;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A member entry as Entra sends it: the id only.
fn member(value: String) -> MemberEntry {
    MemberEntry {
        value,
        display: None,
    }
}

fn pending(command: Command) -> Submission {
    Submission {
        command,
        envelope: Envelope {
            actor: Actor {
                token_id: None,
                client: "bench".into(),
            },
            request_id: "bench".into(),
            client_addr: None,
        },
        answer: Answer::default(),
        sent: None,
    }
}

fn create(reg: &Registry, name: &str) -> Command {
    let body = json!({"userName": name, "active": true, "displayName": "Bench User",
        "emails": [{"value": name, "type": "work", "primary": true}],
        "name": {"givenName": "Bench", "familyName": "User"}});
    Command::CreateUser {
        id: UserId::random(),
        input: parse_resource(reg, ResourceKind::User, &body).unwrap(),
        password_hash: None,
    }
}

/// A member change on group `id`, as the HTTP layer splits a PATCH.
fn members_patch(id: GroupId, op: MemberOp) -> Command {
    Command::PatchGroup {
        id,
        ops: vec![],
        members: vec![op],
        if_match: None,
    }
}

/// Requests per second: `clients` threads, each with its own agent, each calling `send(agent,
/// client, i)` for `i` in `0..per`.
fn per_second<F>(clients: usize, per: usize, send: F) -> f64
where
    F: Fn(&ureq::Agent, usize, usize) + Clone + Send + 'static,
{
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let send = send.clone();
            std::thread::spawn(move || {
                let agent = ureq::agent();
                for i in 0..per {
                    send(&agent, c, i);
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    (clients * per) as f64 / start.elapsed().as_secs_f64()
}

#[test]
#[ignore = "benchmark"]
fn writer_throughput() {
    let reg = Arc::new(Registry::core());
    for submitters in [1usize, 16, 128] {
        let per = if submitters == 1 {
            500
        } else {
            4000 / submitters
        };
        let mut runs = Vec::new();
        for run in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            let (writer, thread) = Writer::start(store, reg.clone()).unwrap();
            let start = Instant::now();
            let handles: Vec<_> = (0..submitters)
                .map(|s| {
                    let w = writer.clone();
                    let reg = reg.clone();
                    std::thread::spawn(move || {
                        for i in 0..per {
                            w.submit_blocking(pending(create(&reg, &format!("u{run}-{s}-{i}@x"))))
                                .unwrap();
                        }
                    })
                })
                .collect();
            handles.into_iter().for_each(|h| h.join().unwrap());
            let secs = start.elapsed().as_secs_f64();
            runs.push((submitters * per) as f64 / secs);
            thread.stop();
        }
        println!(
            "writer: {submitters:>3} submitters: median {:>8.0} durable creates/s",
            median(runs)
        );
    }
}

#[test]
#[ignore = "benchmark"]
fn membership_cost_is_flat() {
    let reg = Arc::new(Registry::core());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (writer, thread) = Writer::start(store, reg.clone()).unwrap();
    let mut users = Vec::new();
    for i in 0..20_100 {
        let c = create(&reg, &format!("m{i}@x"));
        if let Command::CreateUser { id, .. } = &c {
            users.push(*id);
        }
        writer.submit_blocking(pending(c)).unwrap();
    }
    let mut medians = Vec::new();
    for size in [10usize, 20_000] {
        let g = GroupId::random();
        let body = json!({"displayName": format!("g{size}")});
        writer
            .submit_blocking(pending(Command::CreateGroup {
                id: g,
                input: parse_resource(&reg, ResourceKind::Group, &body).unwrap(),
            }))
            .unwrap();
        for chunk in users[..size].chunks(1000) {
            let ids = chunk.iter().map(|u| member(u.to_string())).collect();
            writer
                .submit_blocking(pending(members_patch(g, MemberOp::Add(ids))))
                .unwrap();
        }
        let mut runs = Vec::new();
        for k in 0..50 {
            let u = users[20_000 + k % 100].to_string();
            let start = Instant::now();
            writer
                .submit_blocking(pending(members_patch(
                    g,
                    MemberOp::Add(vec![member(u.clone())]),
                )))
                .unwrap();
            writer
                .submit_blocking(pending(members_patch(g, MemberOp::Remove(vec![u]))))
                .unwrap();
            runs.push(start.elapsed().as_secs_f64() * 1000.0 / 2.0);
        }
        let m = median(runs);
        println!("membership: add/remove one member in a group of {size:>6}: median {m:.3} ms");
        medians.push(m);
    }
    println!(
        "membership: ratio 20000/10 = {:.2}",
        medians[1] / medians[0]
    );
    thread.stop();
}

#[test]
#[ignore = "benchmark"]
fn http_throughput() {
    let s = common::Server::plain();
    let t = s.token("bench");
    let clients = 16;
    let per = 200;
    let mut create_runs = Vec::new();
    let mut lookup_runs = Vec::new();
    let (root, bearer) = (s.scim(), format!("Bearer {t}"));
    for run in 0..5 {
        let (r, b) = (root.clone(), bearer.clone());
        create_runs.push(per_second(clients, per, move |agent, c, i| {
            let body =
                json!({"schemas": [USER], "userName": format!("h{run}-{c}-{i}@x"), "active": true});
            agent
                .post(&format!("{r}/Users"))
                .set("Authorization", &b)
                .send_string(&body.to_string())
                .unwrap();
        }));

        let (r, b) = (root.clone(), bearer.clone());
        lookup_runs.push(per_second(clients, per, move |agent, c, i| {
            let f = common::q(&format!("userName eq \"h{run}-{c}-{i}@x\""));
            let res = agent
                .get(&format!("{r}/Users?filter={f}"))
                .set("Authorization", &b)
                .call()
                .unwrap();
            assert_eq!(res.status(), 200);
        }));
    }
    println!("http: {clients} clients: POST /Users median {:.0}/s; GET /Users?filter=userName eq median {:.0}/s",
        median(create_runs), median(lookup_runs));
}
