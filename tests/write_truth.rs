//! The answer to a write is the write: every 2xx body and ETag is the state its own event
//! produced (checked against the log), an accepted write is never answered 404, a resource's
//! history at every entry is what the live views held then, and every record about a resource —
//! refusals included — carries its name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashMap};

use actix_web::test;
use serde_json::{json, Value};

use common::inproc::{self, app, InProc};
use common::{GROUP, USER};
use scimd::domain::event::Event;
use scimd::report::activity::Query;
use scimd::store::codec::{Entry, LogRecord};
use scimd::store::read;

/// One answer, as the client saw it.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    etag: Option<u64>,
    request_id: String,
    body: Value,
}

macro_rules! send {
    ($app:expr, $f:expr, $method:ident, $uri:expr, $body:expr) => {{
        let uri: String = $uri.into();
        let mut req = test::TestRequest::$method()
            .uri(&uri)
            .insert_header($f.auth());
        let body: Option<Value> = $body;
        if let Some(b) = body {
            req = req.set_payload(b.to_string());
        }
        let res = test::call_service(&$app, req.to_request()).await;
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let etag = header("etag").map(|t| {
            t.trim_start_matches("W/")
                .trim_matches('"')
                .parse::<u64>()
                .unwrap()
        });
        let request_id = header("x-request-id").unwrap();
        let status = res.status().as_u16();
        let bytes = test::read_body(res).await;
        Answer {
            status,
            etag,
            request_id,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }};
}

fn patch_title(title: &str) -> Option<Value> {
    Some(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": title}]
    }))
}

/// Every log record, by request id.
fn records_by_request(f: &InProc) -> HashMap<String, Vec<LogRecord>> {
    let mut out: HashMap<String, Vec<LogRecord>> = HashMap::new();
    for rec in read::log_from(f.store.trees(), 0) {
        let rec = rec.unwrap();
        out.entry(rec.request_id.clone()).or_default().push(rec);
    }
    out
}

/// A 2xx with a body: its ETag is the sequence number of this request's own event, whose
/// document the body shows.
fn check_own_write(log: &HashMap<String, Vec<LogRecord>>, a: &Answer, what: &str) {
    let seq = a.etag.unwrap_or_else(|| panic!("{what}: no ETag: {a:?}"));
    assert_eq!(
        a.body["meta"]["version"],
        json!(format!("W/\"{seq}\"")),
        "{what}"
    );
    let mine = log.get(&a.request_id).expect("the request's records");
    let rec = mine
        .iter()
        .find(|r| r.seq == seq)
        .unwrap_or_else(|| panic!("{what}: ETag {seq} is not an event of this request: {mine:?}"));
    let doc = match &rec.entry {
        Entry::Event(Event::UserCreated(u)) | Entry::Event(Event::UserUpdated { user: u, .. }) => {
            &u.doc
        }
        other => panic!("{what}: record {seq} is {other:?}"),
    };
    let doc: Value = serde_json::from_str(doc).unwrap();
    for (k, v) in doc.as_object().unwrap() {
        assert_eq!(
            &a.body[k], v,
            "{what}: '{k}' of the body vs. its event {seq}"
        );
    }
}

/// An answer of 404 to a write: nothing of it was accepted.
fn check_refused_404(log: &HashMap<String, Vec<LogRecord>>, a: &Answer, what: &str) {
    let mine = &log[&a.request_id];
    assert!(
        mine.iter()
            .all(|r| matches!(&r.entry, Entry::Rejected(x) if x.status == 404)),
        "{what}: answered 404 but the log accepted it: {mine:?}"
    );
}

#[actix_web::test]
async fn two_clients_racing_on_one_resource_each_get_their_own_write() {
    let f = inproc::start().await;
    let app = app!(f);
    let created = send!(
        app,
        f,
        post,
        "/scim/v2/Users",
        Some(json!({"schemas": [USER], "userName": "race@x"}))
    );
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let uri = format!("/scim/v2/Users/{id}");

    // PATCH vs PATCH: each answer shows its own title, at its own version.
    let mut patches = Vec::new();
    for i in 0..1500 {
        let (a, b) = futures_util::future::join(
            async { send!(app, f, patch, uri.clone(), patch_title(&format!("a{i}"))) },
            async { send!(app, f, patch, uri.clone(), patch_title(&format!("b{i}"))) },
        )
        .await;
        patches.push((format!("a{i}"), a));
        patches.push((format!("b{i}"), b));
    }

    // PATCH vs DELETE of a fresh user: the PATCH is either accepted and answered with its write,
    // or ordered after the delete and refused with 404 — never accepted and answered 404.
    let mut versus_delete = Vec::new();
    for i in 0..1000 {
        let c = send!(
            app,
            f,
            post,
            "/scim/v2/Users",
            Some(json!({"schemas": [USER], "userName": format!("pd{i}@x")}))
        );
        let uri = format!("/scim/v2/Users/{}", c.body["id"].as_str().unwrap());
        let (p, d) = futures_util::future::join(
            async { send!(app, f, patch, uri.clone(), patch_title(&format!("p{i}"))) },
            async { send!(app, f, delete, uri.clone(), None) },
        )
        .await;
        versus_delete.push((format!("p{i}"), p, d));
    }

    // POST vs DELETE of the created id: a second client deletes the user as soon as a lookup
    // finds it; the creator's answer is still its own write.
    let mut creates = Vec::new();
    for i in 0..500 {
        let name = format!("cd{i}@x");
        let filter = format!("/scim/v2/Users?filter=userName%20eq%20%22{name}%22");
        let (c, _) = futures_util::future::join(
            async {
                send!(
                    app,
                    f,
                    post,
                    "/scim/v2/Users",
                    Some(json!({"schemas": [USER], "userName": name.clone()}))
                )
            },
            async {
                for _ in 0..200 {
                    let found = send!(app, f, get, filter.clone(), None);
                    if let Some(hit) = found.body["Resources"].as_array().and_then(|r| r.first()) {
                        let uri = format!("/scim/v2/Users/{}", hit["id"].as_str().unwrap());
                        return Some(send!(app, f, delete, uri, None));
                    }
                    tokio::task::yield_now().await;
                }
                None
            },
        )
        .await;
        creates.push((name, c));
    }

    let log = records_by_request(&f);
    for (title, a) in &patches {
        assert_eq!(a.status, 200, "PATCH {title}: {a:?}");
        assert_eq!(a.body["title"], json!(title), "PATCH {title}");
        check_own_write(&log, a, &format!("PATCH {title}"));
    }
    let mut refused = 0;
    for (title, p, d) in &versus_delete {
        match p.status {
            200 => {
                assert_eq!(p.body["title"], json!(title));
                check_own_write(&log, p, &format!("PATCH {title} vs DELETE"));
            }
            404 => {
                refused += 1;
                check_refused_404(&log, p, &format!("PATCH {title} vs DELETE"));
            }
            other => panic!("PATCH {title} vs DELETE: {other} {p:?}"),
        }
        assert_eq!(d.status, 204, "DELETE racing PATCH {title}: {d:?}");
    }
    for (name, c) in &creates {
        assert_eq!(c.status, 201, "POST {name}: {c:?}");
        assert_eq!(c.body["userName"], json!(name));
        check_own_write(&log, c, &format!("POST {name}"));
    }
    // Both orders happened, or the PATCH/DELETE race did not race.
    assert!(
        refused < versus_delete.len(),
        "every PATCH lost to its DELETE"
    );
}

/// The parts of a resource both the live views and a history show.
fn essence(v: &Value) -> Value {
    let values = |key: &str| common::sorted(common::values(v, key));
    json!({
        "version": v["meta"]["version"],
        "created": v["meta"]["created"],
        "lastModified": v["meta"]["lastModified"],
        "userName": v.get("userName"),
        "displayName": v.get("displayName"),
        "title": v.get("title"),
        "active": v.get("active"),
        "groups": values("groups"),
        "members": values("members"),
    })
}

#[actix_web::test]
async fn history_after_deletes_matches_the_live_views_at_every_entry() {
    let f = inproc::start().await;
    let app = app!(f);
    let durable = || *f.state.commands.writer().subscribe().borrow();
    let members = |op: &str, ids: &[&str]| {
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": op, "path": "members",
                "value": ids.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()}]
        }))
    };
    let mut ids: Vec<(String, &str)> = Vec::new();
    for name in ["a@x", "b@x", "c@x"] {
        let r = send!(
            app,
            f,
            post,
            "/scim/v2/Users",
            Some(json!({"schemas": [USER], "userName": name, "active": true}))
        );
        ids.push((r.body["id"].as_str().unwrap().to_owned(), "Users"));
    }
    for name in ["G1", "G2"] {
        let r = send!(
            app,
            f,
            post,
            "/scim/v2/Groups",
            Some(json!({"schemas": [GROUP], "displayName": name}))
        );
        ids.push((r.body["id"].as_str().unwrap().to_owned(), "Groups"));
    }
    let (a, b, c, g1, g2) = (
        ids[0].0.clone(),
        ids[1].0.clone(),
        ids[2].0.clone(),
        ids[3].0.clone(),
        ids[4].0.clone(),
    );
    // What the live views hold after each entry: sequence number → resource → essence.
    let mut live: BTreeMap<u64, BTreeMap<String, Option<Value>>> = BTreeMap::new();
    let steps: Vec<(&str, String, Option<Value>)> = vec![
        (
            "PATCH",
            format!("/scim/v2/Groups/{g1}"),
            members("add", &[&a, &b]),
        ),
        (
            "PATCH",
            format!("/scim/v2/Groups/{g2}"),
            members("add", &[&a, &c]),
        ),
        (
            "PATCH",
            format!("/scim/v2/Groups/{g1}"),
            Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "G1 renamed"}]})),
        ),
        ("DELETE", format!("/scim/v2/Users/{b}"), None),
        ("DELETE", format!("/scim/v2/Groups/{g2}"), None),
        ("PATCH", format!("/scim/v2/Users/{a}"), patch_title("Boss")),
        (
            "PATCH",
            format!("/scim/v2/Groups/{g1}"),
            members("remove", &[&a]),
        ),
        (
            "PATCH",
            format!("/scim/v2/Groups/{g1}"),
            members("add", &[&c]),
        ),
        (
            "PATCH",
            format!("/scim/v2/Users/{c}"),
            Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": false}]})),
        ),
        ("DELETE", format!("/scim/v2/Users/{a}"), None),
        ("DELETE", format!("/scim/v2/Users/{c}"), None),
    ];
    let first = durable();
    for i in 0..=steps.len() {
        if i > 0 {
            let (method, uri, body) = steps[i - 1].clone();
            let before = durable();
            let r = match method {
                "PATCH" => send!(app, f, patch, uri, body),
                _ => send!(app, f, delete, uri, body),
            };
            assert!(
                r.status == 200 || r.status == 204,
                "{method} step {i}: {r:?}"
            );
            assert_eq!(durable(), before + 1, "step {i} appends exactly one entry");
        }
        let mut at = BTreeMap::new();
        for (id, collection) in &ids {
            let r = send!(app, f, get, format!("/scim/v2/{collection}/{id}"), None);
            at.insert(id.clone(), (r.status == 200).then(|| essence(&r.body)));
        }
        live.insert(durable(), at);
    }
    // Before the resources existed, too: every entry from the first create on.
    for n in 2..=durable() {
        let expected: BTreeMap<String, Option<Value>> = match live.get(&n) {
            Some(at) => at.clone(),
            // An entry of the creates: the views held the resources created so far.
            None => {
                assert!(n < first, "entry {n} was not observed");
                continue;
            }
        };
        for (id, want) in &expected {
            let raw = uuid::Uuid::parse_str(id).unwrap().into_bytes();
            let h = f
                .state
                .directory
                .history(raw, Some(n), "https://scim.example.com/scim/v2")
                .unwrap();
            assert_eq!(
                h.state.as_ref().map(essence),
                *want,
                "state of {id} after entry {n}"
            );
        }
    }
    // The membership cascade is part of every changed resource's history.
    let g1_history = f
        .state
        .directory
        .history(uuid::Uuid::parse_str(&g1).unwrap().into_bytes(), None, "")
        .unwrap();
    assert!(
        g1_history.items.iter().any(|i| i.action == "user_deleted"),
        "G1's history shows the deletion of its member b"
    );
    let c_history = f
        .state
        .directory
        .history(
            uuid::Uuid::parse_str(&c).unwrap().into_bytes(),
            Some(first + 5),
            "",
        )
        .unwrap();
    assert!(
        c_history.items.iter().any(|i| i.action == "group_deleted"),
        "c's history shows the deletion of its group G2"
    );
}

#[actix_web::test]
async fn refused_writes_on_an_existing_user_are_found_by_her_name() {
    let f = inproc::start().await;
    let app = app!(f);
    let r = send!(
        app,
        f,
        post,
        "/scim/v2/Users",
        Some(json!({"schemas": [USER], "userName": "emily@contoso.com"}))
    );
    let uri = format!("/scim/v2/Users/{}", r.body["id"].as_str().unwrap());
    let stale = |req: test::TestRequest| req.insert_header(("If-Match", "W/\"1\""));
    // A PATCH refused by a rule (If-Match), one refused before it became a command (bad body),
    // and a DELETE refused by a rule.
    let res = test::call_service(
        &app,
        stale(test::TestRequest::patch().uri(&uri).insert_header(f.auth()))
            .set_payload(patch_title("x").unwrap().to_string())
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 412);
    let bad = send!(
        app,
        f,
        patch,
        uri.clone(),
        Some(json!({"Operations": "nope"}))
    );
    assert_eq!(bad.status, 400);
    let res = test::call_service(
        &app,
        stale(
            test::TestRequest::delete()
                .uri(&uri)
                .insert_header(f.auth()),
        )
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), 412);

    let page = f
        .state
        .directory
        .activity_page(&Query {
            text: Some("EMILY@contoso".into()),
            ..Query::default()
        })
        .unwrap();
    let found: Vec<(&str, &str, Option<u16>)> = page
        .items
        .iter()
        .map(|i| {
            (
                i.action,
                i.outcome,
                (i.outcome == "failure").then_some(i.status),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("delete_user", "failure", Some(412)),
            ("patch_user", "failure", Some(400)),
            ("patch_user", "failure", Some(412)),
            ("user_created", "success", None),
        ],
        "{:#?}",
        page.items
    );
    assert!(page
        .items
        .iter()
        .all(|i| i.resource_name.as_deref() == Some("emily@contoso.com")));
}

#[actix_web::test]
async fn the_report_shows_the_status_each_client_got() {
    let f = inproc::start().await;
    let app = app!(f);
    let user = send!(
        app,
        f,
        post,
        "/scim/v2/Users",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "s@x"}))
    );
    let uid = user.body["id"].as_str().unwrap().to_owned();
    let group = send!(
        app,
        f,
        post,
        "/scim/v2/Groups",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "S"})
        )
    );
    let gid = group.body["id"].as_str().unwrap().to_owned();
    let add = Some(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]
    }));
    let remove = Some(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]
    }));
    let answers = vec![
        ("user_created", user.status),
        ("group_created", group.status),
        // A group PATCH answers 204, or 200 with a body when attributes are asked for.
        (
            "members_added",
            send!(app, f, patch, format!("/scim/v2/Groups/{gid}"), add).status,
        ),
        (
            "members_removed",
            send!(
                app,
                f,
                patch,
                format!("/scim/v2/Groups/{gid}?attributes=displayName"),
                remove
            )
            .status,
        ),
        (
            "user_updated",
            send!(
                app,
                f,
                patch,
                format!("/scim/v2/Users/{uid}"),
                patch_title("t")
            )
            .status,
        ),
        (
            "group_deleted",
            send!(app, f, delete, format!("/scim/v2/Groups/{gid}"), None).status,
        ),
        (
            "user_deleted",
            send!(app, f, delete, format!("/scim/v2/Users/{uid}"), None).status,
        ),
    ];
    assert_eq!(
        answers.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        [201, 201, 204, 200, 200, 204, 204]
    );
    let page = f.state.directory.activity_page(&Query::default()).unwrap();
    let mut reported: Vec<(&str, u16)> = page
        .items
        .iter()
        .filter(|i| i.client == "Test")
        .map(|i| (i.action, i.status))
        .collect();
    reported.reverse();
    assert_eq!(reported, answers);
}
