//! The change feed end to end (in process): random provisioning traffic — creates, PATCH, PUT,
//! disable, delete, membership changes — while one consumer follows `GET /events` from zero and
//! another starts from `GET /events/snapshot` taken in the middle of the traffic (with writes landing
//! while the snapshot streams). Both must end with exactly the users and groups the SCIM API serves,
//! having seen every event once, in order. Also: the long poll answers as soon as a write is
//! durable, cursors the log cannot serve are 410, garbage cursors 400.
// Tests may unwrap: a panic is a failed test (clippy.toml allows it in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use actix_web::test;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

use common::inproc::{app, issue_scoped, start, InProc};
use common::{GROUP, USER};
use scimd::service::tokens;

const EV: &str = "urn:ietf:params:scim:event:";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn feed_token(f: &InProc) -> String {
    let t = tokens::generate();
    f.state
        .commands
        .writer()
        .submit(issue_scoped(&t, "follower", &["events:read"]))
        .await
        .unwrap();
    t.token
}

/// Send a request: (status, body as JSON or null, raw body).
macro_rules! call {
    ($app:expr, $token:expr, $method:expr, $path:expr, $body:expr) => {{
        let body: Option<Value> = $body;
        let mut req = test::TestRequest::default()
            .method($method.parse().unwrap())
            .uri(&$path)
            .insert_header(("Authorization", format!("Bearer {}", $token)));
        if let Some(b) = body {
            req = req
                .insert_header(("Content-Type", "application/scim+json"))
                .set_payload(b.to_string());
        }
        let res = test::call_service(&$app, req.to_request()).await;
        let status = res.status().as_u16();
        let bytes = test::read_body(res).await;
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, json, String::from_utf8_lossy(&bytes).into_owned())
    }};
}

/// What a consumer holds: users and groups (without meta), member sets, the SETs it applied.
#[derive(Default, Debug)]
struct Replica {
    users: BTreeMap<String, Value>,
    groups: BTreeMap<String, Value>,
    members: BTreeMap<String, BTreeSet<String>>,
    jtis: Vec<String>,
    cursor: Option<String>,
    /// The version (`meta.version`) each resource was last seen at: a SET older than what the
    /// replica holds would be a repeat.
    versions: BTreeMap<String, u64>,
    from_snapshot: bool,
}

fn version(v: &Value) -> u64 {
    v["meta"]["version"]
        .as_str()
        .unwrap()
        .trim_start_matches("W/\"")
        .trim_end_matches('"')
        .parse()
        .unwrap()
}

fn strip(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("meta");
        m.remove("groups");
        m.remove("members");
    }
    v
}

fn id_of(set: &Value) -> (bool, String) {
    let uri = set["sub_id"]["uri"].as_str().unwrap();
    let (kind, id) = uri.trim_start_matches('/').split_once('/').unwrap();
    (kind == "Users", id.to_owned())
}

impl Replica {
    fn apply(&mut self, set: &Value) {
        self.jtis.push(set["jti"].as_str().unwrap().to_owned());
        let (user, id) = id_of(set);
        for (name, payload) in set["events"].as_object().unwrap() {
            let name = name.strip_prefix(EV).unwrap();
            match name {
                "prov:create:full" | "prov:put:full" => {
                    let v = version(&payload["data"]);
                    let held = if user {
                        self.users.contains_key(&id)
                    } else {
                        self.groups.contains_key(&id)
                    };
                    // Strict: a create for something held, a put for something unknown, or a
                    // put not newer than what is held means an event was repeated or lost.
                    assert_eq!(
                        held,
                        name == "prov:put:full",
                        "{name} of {id}: held {held}, snapshot {:?}, {} SETs: {set}",
                        self.from_snapshot,
                        self.jtis.len()
                    );
                    if let Some(old) = self.versions.insert(id.clone(), v) {
                        assert!(
                            v > old,
                            "{name} of {id} at version {v} after {old}: a repeat"
                        );
                    }
                    let data = strip(payload["data"].clone());
                    assert_eq!(data["id"], id.as_str());
                    if user {
                        self.users.insert(id.clone(), data);
                    } else {
                        self.groups.insert(id.clone(), data);
                        self.members.entry(id.clone()).or_default();
                    }
                }
                "prov:patch:full" => {
                    assert!(!user, "users change by put: {set}");
                    assert_eq!(payload["data"]["schemas"][0], PATCH);
                    for op in payload["data"]["Operations"].as_array().unwrap() {
                        self.patch_group(&id, op);
                    }
                }
                "prov:delete" => {
                    let held = if user {
                        self.users.contains_key(&id)
                    } else {
                        self.groups.contains_key(&id)
                    };
                    assert!(held, "delete of {id}, which the replica does not hold (after {} SETs, snapshot {:?}): {set}", self.jtis.len(), self.from_snapshot);
                    if user {
                        self.users.remove(&id);
                        for m in self.members.values_mut() {
                            m.remove(&id);
                        }
                    } else {
                        self.groups.remove(&id);
                        self.members.remove(&id);
                    }
                }
                "prov:activate" | "prov:deactivate" => {
                    let want = name == "prov:activate";
                    assert_eq!(self.users[&id]["active"], want, "{set}");
                }
                other => panic!("unexpected event {other}: {set}"),
            }
        }
    }

    fn patch_group(&mut self, id: &str, op: &Value) {
        let path = op["path"].as_str().unwrap();
        match (op["op"].as_str().unwrap(), path) {
            ("add", "members") => {
                let m = self.members.get_mut(id).unwrap();
                for v in op["value"].as_array().unwrap() {
                    // Only new members are events: adding a held one means a repeat.
                    assert!(
                        m.insert(v["value"].as_str().unwrap().to_owned()),
                        "member added twice"
                    );
                }
            }
            ("remove", p) if p.starts_with("members[value eq \"") => {
                let uid = p
                    .trim_start_matches("members[value eq \"")
                    .trim_end_matches("\"]");
                assert!(
                    self.members.get_mut(id).unwrap().remove(uid),
                    "member removed twice"
                );
            }
            ("replace", p) => {
                self.groups.get_mut(id).unwrap()[p] = op["value"].clone();
            }
            ("remove", p) => {
                self.groups
                    .get_mut(id)
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove(p);
            }
            other => panic!("unexpected operation {other:?}"),
        }
    }

    /// Take a snapshot's lines.
    fn load_snapshot(&mut self, text: &str) {
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let first = &lines[0];
        let last = lines.last().unwrap();
        assert_eq!(last["end"], true, "the snapshot ends with its trailer");
        assert_eq!(first["cursor"], last["cursor"]);
        let (mut users, mut groups) = (0, 0);
        for r in &lines[1..lines.len() - 1] {
            let id = r["id"].as_str().unwrap().to_owned();
            match r["meta"]["resourceType"].as_str().unwrap() {
                "User" => {
                    users += 1;
                    self.versions.insert(id.clone(), version(r));
                    assert!(self.users.insert(id, strip(r.clone())).is_none(), "once");
                }
                "Group" => {
                    groups += 1;
                    self.versions.insert(id.clone(), version(r));
                    let m = r["members"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| m["value"].as_str().unwrap().to_owned())
                        .collect();
                    self.members.insert(id.clone(), m);
                    assert!(self.groups.insert(id, strip(r.clone())).is_none(), "once");
                }
                other => panic!("{other}"),
            }
        }
        assert_eq!(
            (
                last["users"].as_u64().unwrap(),
                last["groups"].as_u64().unwrap()
            ),
            (users, groups)
        );
        self.cursor = Some(first["cursor"].as_str().unwrap().to_owned());
        self.from_snapshot = true;
    }
}

/// Follow the feed until `more` is false; pages of `limit`.
macro_rules! follow {
    ($app:expr, $token:expr, $replica:expr, $limit:expr) => {{
        loop {
            let path = match &$replica.cursor {
                Some(c) => format!("/events?after={c}&limit={}", $limit),
                None => format!("/events?limit={}", $limit),
            };
            let (s, page, raw) = call!($app, $token, "GET", path, None);
            assert_eq!(s, 200, "{raw}");
            let events = page["events"].as_array().unwrap();
            assert!(events.len() <= $limit);
            for e in events {
                $replica.apply(e);
            }
            $replica.cursor = Some(page["next"].as_str().unwrap().to_owned());
            if page["more"] == false {
                break;
            }
        }
    }};
}

/// What the SCIM API serves: users, groups (without meta/members) and member sets.
macro_rules! served {
    ($app:expr, $token:expr) => {{
        let (_, users, _) = call!($app, $token, "GET", "/scim/v2/Users?count=1000", None);
        let (_, groups, _) = call!($app, $token, "GET", "/scim/v2/Groups?count=1000", None);
        let mut r = Replica::default();
        for u in users["Resources"].as_array().unwrap() {
            r.users
                .insert(u["id"].as_str().unwrap().to_owned(), strip(u.clone()));
        }
        for g in groups["Resources"].as_array().unwrap() {
            let id = g["id"].as_str().unwrap().to_owned();
            let m = g["members"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|m| m["value"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            r.members.insert(id.clone(), m);
            r.groups.insert(id, strip(g.clone()));
        }
        r
    }};
}

fn assert_same(what: &str, got: &Replica, want: &Replica) {
    assert_eq!(
        got.users.keys().collect::<Vec<_>>(),
        want.users.keys().collect::<Vec<_>>(),
        "{what}: user ids"
    );
    for (id, u) in &want.users {
        assert_eq!(&got.users[id], u, "{what}: user {id}");
    }
    assert_eq!(got.groups, want.groups, "{what}: groups");
    assert_eq!(got.members, want.members, "{what}: members");
}

/// One random write; returns nothing, keeps `users`/`groups` (ids that may exist) up to date.
macro_rules! random_write {
    ($app:expr, $token:expr, $rng:expr, $n:expr, $users:expr, $groups:expr) => {{
        let n: usize = $n;
        let pick = |v: &Vec<String>, rng: &mut StdRng| v[rng.gen_range(0..v.len())].clone();
        let roll = $rng.gen_range(0..100);
        let patch = |ops: Value| Some(json!({"schemas": [PATCH], "Operations": ops}));
        if $users.len() < 5 || roll < 18 {
            let body = json!({"schemas": [USER], "userName": format!("user{n}@example.com"),
                "externalId": format!("X{n}"), "name": {"givenName": format!("G{n}"), "familyName": "F"},
                "title": "starter", "active": true});
            let (s, u, raw) = call!($app, $token, "POST", "/scim/v2/Users", Some(body));
            assert_eq!(s, 201, "{raw}");
            $users.push(u["id"].as_str().unwrap().to_owned());
        } else if $groups.len() < 3 || roll < 26 {
            let first = pick(&$users, &mut $rng);
            let body = json!({"schemas": [GROUP], "displayName": format!("Group {n}"),
                "members": [{"value": first}]});
            let (s, g, raw) = call!($app, $token, "POST", "/scim/v2/Groups", Some(body));
            assert_eq!(s, 201, "{raw}");
            $groups.push(g["id"].as_str().unwrap().to_owned());
        } else if roll < 40 {
            let u = pick(&$users, &mut $rng);
            let (s, _, raw) = call!($app, $token, "PATCH", format!("/scim/v2/Users/{u}"),
                patch(json!([{"op": "replace", "path": "title", "value": format!("title {n}")},
                    {"op": "add", "path": "emails", "value": [{"value": format!("m{n}@example.com"), "type": "work"}]}])));
            assert!(s == 200 || s == 204 || s == 404, "{raw}");
        } else if roll < 50 {
            let u = pick(&$users, &mut $rng);
            let body = json!({"schemas": [USER], "userName": format!("put{n}@example.com"),
                "displayName": format!("Put {n}"), "active": $rng.gen_bool(0.7)});
            let (s, _, raw) = call!($app, $token, "PUT", format!("/scim/v2/Users/{u}"), Some(body));
            assert!(s == 200 || s == 404, "{raw}");
        } else if roll < 58 {
            let u = pick(&$users, &mut $rng);
            let active = $rng.gen_bool(0.4);
            let (s, _, raw) = call!($app, $token, "PATCH", format!("/scim/v2/Users/{u}"),
                patch(json!([{"op": "replace", "path": "active", "value": active}])));
            assert!(s == 200 || s == 204 || s == 404, "{raw}");
        } else if roll < 64 {
            let i = $rng.gen_range(0..$users.len());
            let u = $users.swap_remove(i);
            let (s, _, raw) = call!($app, $token, "DELETE", format!("/scim/v2/Users/{u}"), None);
            assert!(s == 204 || s == 404, "{raw}");
        } else if roll < 78 {
            let g = pick(&$groups, &mut $rng);
            let adds: Vec<Value> = (0..$rng.gen_range(1..4)).map(|_| json!({"value": pick(&$users, &mut $rng)})).collect();
            let (s, _, raw) = call!($app, $token, "PATCH", format!("/scim/v2/Groups/{g}"),
                patch(json!([{"op": "add", "path": "members", "value": adds}])));
            assert!(s == 200 || s == 204 || s == 404 || s == 400, "{raw}");
        } else if roll < 86 {
            let g = pick(&$groups, &mut $rng);
            let u = pick(&$users, &mut $rng);
            let (s, _, raw) = call!($app, $token, "PATCH", format!("/scim/v2/Groups/{g}"),
                patch(json!([{"op": "remove", "path": format!("members[value eq \"{u}\"]")}])));
            assert!(s == 200 || s == 204 || s == 404, "{raw}");
        } else if roll < 91 {
            let g = pick(&$groups, &mut $rng);
            let (s, _, raw) = call!($app, $token, "PATCH", format!("/scim/v2/Groups/{g}"),
                patch(json!([{"op": "replace", "path": "displayName", "value": format!("Renamed {n}")},
                    {"op": "replace", "path": "externalId", "value": format!("E{n}")}])));
            assert!(s == 200 || s == 204 || s == 404, "{raw}");
        } else if roll < 96 {
            let g = pick(&$groups, &mut $rng);
            let members: Vec<Value> = (0..$rng.gen_range(0..3)).map(|_| json!({"value": pick(&$users, &mut $rng)})).collect();
            let body = json!({"schemas": [GROUP], "displayName": format!("Put group {n}"), "members": members});
            let (s, _, raw) = call!($app, $token, "PUT", format!("/scim/v2/Groups/{g}"), Some(body));
            assert!(s == 200 || s == 404 || s == 400, "{raw}");
        } else if $groups.len() > 3 {
            let i = $rng.gen_range(0..$groups.len());
            let g = $groups.swap_remove(i);
            let (s, _, raw) = call!($app, $token, "DELETE", format!("/scim/v2/Groups/{g}"), None);
            assert!(s == 204 || s == 404, "{raw}");
        }
    }};
}

#[actix_web::test]
async fn followers_from_zero_and_from_a_snapshot_end_with_what_scim_serves() {
    let f = start().await;
    let app = app!(f);
    let follower = feed_token(&f).await;
    let admin = f.token.clone();
    let mut rng = StdRng::seed_from_u64(12);
    let (mut users, mut groups): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let mut zero = Replica::default();
    let mut n = 0;
    // First half: the follower from zero keeps up now and then. Enough resources that the
    // snapshot's producer cannot buffer them all before the writes below land.
    for _ in 0..700 {
        n += 1;
        random_write!(app, admin, rng, n, users, groups);
        if rng.gen_range(0..10) == 0 {
            follow!(app, follower, zero, 7);
        }
    }
    // The snapshot: its first lines are read, then writes land while the rest is still being
    // produced (the producer is held back by the stream's buffer), then the rest is read.
    let req = test::TestRequest::get()
        .uri("/events/snapshot")
        .insert_header(("Authorization", format!("Bearer {follower}")))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/x-ndjson"
    );
    use actix_web::body::MessageBody;
    use futures_util::future::poll_fn;
    let mut stream = res.into_body().boxed();
    let mut text = String::new();
    // Read a few chunks.
    for _ in 0..3 {
        if let Some(Ok(b)) = poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await {
            text.push_str(std::str::from_utf8(&b).unwrap());
        }
    }
    for _ in 0..120 {
        n += 1;
        random_write!(app, admin, rng, n, users, groups);
    }
    while let Some(b) = poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await {
        text.push_str(std::str::from_utf8(&b.unwrap()).unwrap());
    }
    let mut snap = Replica::default();
    snap.load_snapshot(&text);
    follow!(app, follower, snap, 13);
    for _ in 0..250 {
        n += 1;
        random_write!(app, admin, rng, n, users, groups);
        if rng.gen_range(0..10) == 0 {
            follow!(app, follower, zero, 7);
            follow!(app, follower, snap, 13);
        }
    }
    follow!(app, follower, zero, 7);
    follow!(app, follower, snap, 13);

    let want = served!(app, admin);
    assert!(
        want.users.len() > 20 && want.groups.len() > 3,
        "the traffic built something"
    );
    assert!(want.members.values().any(|m| m.len() > 1));
    assert_same("from zero", &zero, &want);
    assert_same("from the snapshot", &snap, &want);

    // Every event once, in order: no repeats, and the snapshot follower saw exactly the tail of
    // what the follower from zero saw.
    let unique: HashSet<&String> = zero.jtis.iter().collect();
    assert_eq!(unique.len(), zero.jtis.len(), "no SET twice");
    assert!(
        zero.jtis.ends_with(&snap.jtis),
        "the snapshot follower saw the tail, in order"
    );
    assert!(!snap.jtis.is_empty());
    // Read again in big pages: the same SETs in the same order, times never going back.
    let mut again = Replica::default();
    let mut iats: Vec<i64> = Vec::new();
    loop {
        let path = match &again.cursor {
            Some(c) => format!("/events?after={c}&limit=1000"),
            None => "/events?limit=1000".to_owned(),
        };
        let (_, page, _) = call!(app, follower, "GET", path, None);
        for e in page["events"].as_array().unwrap() {
            again.jtis.push(e["jti"].as_str().unwrap().to_owned());
            iats.push(e["iat"].as_i64().unwrap());
        }
        again.cursor = Some(page["next"].as_str().unwrap().to_owned());
        if page["more"] == false {
            break;
        }
    }
    assert!(again.jtis == zero.jtis, "pages of 1000 and of 7 agree");
    assert!(iats.windows(2).all(|w| w[0] <= w[1]));
}

#[actix_web::test]
async fn a_long_poll_answers_as_soon_as_a_write_is_durable() {
    let f = start().await;
    let app = app!(f);
    let follower = feed_token(&f).await;
    let (_, page, _) = call!(app, follower, "GET", "/events", None);
    assert_eq!(page["events"], json!([]));
    assert_eq!(page["more"], false);
    let cursor = page["next"].as_str().unwrap().to_owned();
    let poll = async {
        let started = std::time::Instant::now();
        let got = call!(
            app,
            follower,
            "GET",
            format!("/events?after={cursor}&wait=30"),
            None
        );
        (got, started.elapsed())
    };
    let write = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        call!(
            app,
            f.token,
            "POST",
            "/scim/v2/Users",
            Some(json!({"schemas": [USER], "userName": "late@example.com"}))
        )
    };
    let (((s, page, raw), waited), (created, _, _)) = tokio::join!(poll, write);
    assert_eq!((s, created), (200, 201), "{raw}");
    assert!(
        waited >= std::time::Duration::from_millis(250),
        "it waited for the write"
    );
    assert!(
        waited < std::time::Duration::from_secs(10),
        "and answered at once: {waited:?}"
    );
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["events"][format!("{EV}prov:create:full")]["data"]["userName"],
        "late@example.com"
    );
    // Nothing new: the poll ends at its deadline with an empty page and the same cursor.
    let next = page["next"].as_str().unwrap().to_owned();
    let (_, empty, _) = call!(
        app,
        follower,
        "GET",
        format!("/events?after={next}&wait=1"),
        None
    );
    assert_eq!(empty["events"], json!([]));
    assert_eq!(empty["next"], next.as_str());
}

#[actix_web::test]
async fn cursors_the_log_cannot_serve_are_gone_and_garbage_is_refused() {
    let f = start().await;
    let app = app!(f);
    let follower = feed_token(&f).await;
    let (_, page, _) = call!(app, follower, "GET", "/events", None);
    let next = page["next"].as_str().unwrap().to_owned();
    // A cursor past the end of this log (another scimd's, or from before a restore).
    let ahead = format!("s1.{:016x}", 1_000_000);
    let (s, e, raw) = call!(app, follower, "GET", format!("/events?after={ahead}"), None);
    assert_eq!(s, 410, "{raw}");
    assert_eq!(
        e["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert!(e["detail"].as_str().unwrap().contains("snapshot"), "{e}");
    for bad in ["0", "garbage", "s1.zz", "s1.0000000000000001x"] {
        let (s, e, raw) = call!(app, follower, "GET", format!("/events?after={bad}"), None);
        assert_eq!(s, 400, "{bad}: {raw}");
        assert_eq!(e["scimType"], "invalidValue", "{bad}");
    }
    for bad in [
        "/events?limit=x",
        "/events?detail=some",
        "/events?wait=-1",
        "/events?unknown=1",
    ] {
        let (s, e, raw) = call!(app, follower, "GET", bad, None);
        assert_eq!(s, 400, "{bad}: {raw}");
        assert_eq!(e["scimType"], "invalidValue", "{bad}");
    }
    let (s, _, _) = call!(
        app,
        follower,
        "GET",
        format!("/events?after={next}&limit=0"),
        None
    );
    assert_eq!(s, 200, "a limit of 0 is read as 1");
    let (s, _, _) = call!(app, follower, "POST", "/events", Some(json!({})));
    assert_eq!(s, 405);
    let (s, _, _) = call!(app, follower, "GET", "/events/jwks.json", None);
    assert_eq!(s, 404, "no key is published while signing is off");
}

#[actix_web::test]
async fn notice_sets_name_what_changed_without_the_data() {
    let f = start().await;
    let app = app!(f);
    let follower = feed_token(&f).await;
    let (_, u, _) = call!(
        app,
        f.token,
        "POST",
        "/scim/v2/Users",
        Some(json!({"schemas": [USER], "userName": "n@example.com", "title": "a"}))
    );
    let id = u["id"].as_str().unwrap().to_owned();
    call!(
        app,
        f.token,
        "PATCH",
        format!("/scim/v2/Users/{id}"),
        Some(
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": false}]})
        )
    );
    call!(app, f.token, "DELETE", format!("/scim/v2/Users/{id}"), None);
    let (_, page, _) = call!(app, follower, "GET", "/events?detail=notice", None);
    let sets = page["events"].as_array().unwrap();
    let names: Vec<Vec<&str>> = sets
        .iter()
        .map(|s| {
            s["events"]
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.strip_prefix(EV).unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        names,
        [
            vec!["prov:create:notice"],
            vec!["prov:put:notice", "prov:deactivate"],
            vec!["prov:delete"]
        ]
    );
    assert_eq!(
        sets[1]["events"][format!("{EV}prov:put:notice")]["attributes"],
        json!(["active"])
    );
    assert!(sets.iter().all(|s| !s.to_string().contains("\"data\"")));
    assert!(sets
        .iter()
        .all(|s| s["sub_id"]["uri"] == format!("/Users/{id}")));
    // The three SETs come from three requests.
    let txns: HashSet<&str> = sets.iter().map(|s| s["txn"].as_str().unwrap()).collect();
    assert_eq!(txns.len(), 3);
}

#[actix_web::test]
async fn signed_sets_verify_with_the_published_key_which_survives_a_restart() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
    let f = start().await;
    let mut state = (**f.state).clone();
    state.feed = scimd::service::feed::Feed::new(
        f.store.clone(),
        state.registry.clone(),
        f.state.commands.writer().subscribe(),
        true,
    )
    .unwrap();
    let signed = InProc {
        state: actix_web::web::Data::new(state),
        token: f.token.clone(),
        store: f.store.clone(),
    };
    let app = app!(signed);
    let follower = feed_token(&signed).await;
    call!(
        app,
        f.token,
        "POST",
        "/scim/v2/Users",
        Some(json!({"schemas": [USER], "userName": "signed@example.com"}))
    );
    let (s, jwks, _) = call!(app, "none", "GET", "/events/jwks.json", None);
    assert_eq!(s, 200, "the key set is public");
    let jwk = &jwks["keys"][0];
    assert_eq!(
        (jwk["kty"].as_str(), jwk["alg"].as_str()),
        (Some("EC"), Some("ES256"))
    );
    let (_, page, _) = call!(app, follower, "GET", "/events", None);
    let jws = page["events"][0].as_str().expect("a compact JWS");
    let parts: Vec<&str> = jws.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["typ"], "secevent+jwt");
    assert_eq!(header["kid"], jwk["kid"]);
    let mut point = vec![4u8];
    point.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .expect("the signature verifies with the published key");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        claims["events"][format!("{EV}prov:create:full")]["data"]["userName"],
        "signed@example.com"
    );
    // The key is part of scimd's data: loading it again (a restart) gives the same key.
    let again = scimd::service::feed::Feed::load_signer(&f.store).unwrap();
    assert_eq!(again.kid(), jwk["kid"].as_str().unwrap());
}
