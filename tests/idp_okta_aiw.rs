//! A whole Okta provisioning cycle as an App Integration Wizard app sends it (idp-behavior.md §9):
//! `User-Agent: Okta SCIM Client 1.0.0`, Test Connector Configuration, `%20`-encoded lookups with
//! paging parameters, creates carrying `password`/`groups:[]`/`locale`/`externalId` (the password
//! accepted and never returned), every update — deactivation and reactivation included — as a
//! full-object PUT after a GET, case-insensitive lookups, import paging by 100 over 233 users,
//! Group Push by POST then PUT, and the 404/409/401 error bodies; no user is ever deleted. The views
//! equal a rebuild from the log at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{assert_scim_error, fixture, Reply, Server};
use serde_json::{json, Value};

const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const USER_AGENT: &str = "Okta SCIM Client 1.0.0";

/// Okta's HTTP client: its User-Agent, Accept and Content-Type, the bearer token; every answer is
/// checked never to carry a password.
struct Okta<'a> {
    s: &'a Server,
    agent: ureq::Agent,
    token: String,
    passwords: Vec<String>,
}

impl Okta<'_> {
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.send_with(&self.token, method, path, body)
    }

    fn send_with(&self, token: &str, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let url = format!("{}{path}", self.s.scim());
        let req = self
            .agent
            .request(method, &url)
            .set("User-Agent", USER_AGENT)
            .set("Accept", "application/scim+json")
            .set("Authorization", &format!("Bearer {token}"));
        let res = match body {
            Some(b) => req
                .set("Content-Type", "application/scim+json; charset=utf-8")
                .send_string(&b.to_string()),
            None => req.call(),
        };
        let res = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {url}: {e}"),
        };
        let header = |n: &str| res.header(n).map(str::to_owned);
        let status = res.status();
        let content_type = header("content-type").unwrap_or_default();
        let location = header("location");
        let etag = header("etag");
        let www_authenticate = header("www-authenticate");
        let text = res.into_string().unwrap();
        for p in &self.passwords {
            assert!(
                !text.contains(p.as_str()),
                "{method} {path} returned a password: {text}"
            );
        }
        assert!(
            !text.to_ascii_lowercase().contains("\"password\""),
            "{method} {path} returned a password attribute: {text}"
        );
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
        };
        if body != Value::Null {
            assert!(
                content_type.starts_with("application/scim+json"),
                "{method} {path}: {content_type}"
            );
        }
        Reply {
            status,
            content_type,
            location,
            etag,
            www_authenticate,
            body,
        }
    }

    /// A ListResponse page: 200, integers for totalResults/startIndex/itemsPerPage.
    fn page(&self, path: &str) -> (u64, u64, Vec<Value>) {
        let r = self.send("GET", path, None);
        assert_eq!(r.status, 200, "GET {path}: {:?}", r.body);
        assert_eq!(r.body["schemas"], json!([LIST]), "{:?}", r.body);
        let total = r.body["totalResults"]
            .as_u64()
            .unwrap_or_else(|| panic!("totalResults not an integer: {:?}", r.body));
        let start = r.body["startIndex"]
            .as_u64()
            .unwrap_or_else(|| panic!("startIndex not an integer: {:?}", r.body));
        let per_page = r.body["itemsPerPage"]
            .as_u64()
            .unwrap_or_else(|| panic!("itemsPerPage not an integer: {:?}", r.body));
        let res = r.body["Resources"].as_array().unwrap().clone();
        assert_eq!(per_page, res.len() as u64, "{:?}", r.body);
        (total, start, res)
    }

    /// Okta's lookup: `filter=userName%20eq%20%22x%22&startIndex=1&count=100`.
    fn lookup(&self, user: &str) -> Vec<Value> {
        let path = format!(
            "/Users?filter={}&startIndex=1&count=100",
            pct(&format!("userName eq \"{user}\""))
        );
        let (total, start, res) = self.page(&path);
        assert_eq!((total, start), (res.len() as u64, 1));
        res
    }

    fn get(&self, path: &str) -> Value {
        let r = self.send("GET", path, None);
        assert_eq!(r.status, 200, "GET {path}: {:?}", r.body);
        r.body
    }

    /// PUT the full object after a GET (as the wizard does); 200 with the resource, which a read
    /// back returns unchanged.
    fn put_after_get(&self, path: &str, body: &Value) -> Value {
        let before = self.get(path);
        assert_eq!(before["id"], body["id"]);
        let r = self.send("PUT", path, Some(body));
        assert_eq!(r.status, 200, "PUT {path} {body}: {:?}", r.body);
        assert_eq!(
            r.body,
            self.get(path),
            "PUT answer differs from the read back"
        );
        r.body
    }
}

/// Percent-encoding as Okta sends it (`%20` for spaces).
fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The resource without server-managed parts (`id`, `meta`, `groups`) and without empty arrays.
fn content(v: &Value) -> Value {
    let mut m = v.as_object().unwrap().clone();
    for k in ["id", "meta", "groups"] {
        m.remove(k);
    }
    m.retain(|_, v| !matches!(v, Value::Array(a) if a.is_empty()));
    Value::Object(m)
}

/// What a create or PUT body must read back as: everything sent but the password (never
/// returned), the request's `id`/`meta` and the read-only `groups`.
fn expected_of(body: &Value) -> Value {
    let mut e = body.clone();
    e.as_object_mut().unwrap().remove("password");
    content(&e)
}

fn ids(resources: &[Value]) -> Vec<String> {
    resources
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn member_ids(group: &Value) -> BTreeSet<String> {
    group["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Okta's create: 201, a full (never empty) body, Location; returns (id, body sent).
fn create(
    okta: &Okta<'_>,
    user: &str,
    given: &str,
    family: &str,
    password: &str,
) -> (String, Value) {
    let external = format!("00u{}", user.split('@').next().unwrap().replace('.', ""));
    let body = fixture(
        "okta_aiw/create_user.json",
        &[
            ("user", user),
            ("given", given),
            ("family", family),
            ("external", &external),
            ("password", password),
        ],
    );
    let r = okta.send("POST", "/Users", Some(&body));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert!(!id.contains("bulkId"));
    assert_eq!(
        r.location.as_deref(),
        Some(format!("{}/Users/{id}", okta.s.scim()).as_str())
    );
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(content(&r.body), expected_of(&body));
    (id, body)
}

#[test]
fn okta_app_integration_wizard_full_provisioning_cycle() {
    let s = Server::plain();
    let token = s.token("Okta");
    let passwords: Vec<String> = (0..4).map(|i| format!("Okta-Pa55w0rd-{i}-xq7")).collect();
    let okta = Okta {
        s: &s,
        agent: ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(30))
            .build(),
        token: token.clone(),
        passwords: passwords.clone(),
    };

    // Test Connector Configuration, then the groups read when To-App is saved.
    let (total, start, res) = okta.page("/Users?startIndex=1&count=2");
    assert_eq!((total, start, res.len()), (0, 1, 0));
    let (total, start, res) = okta.page("/Groups?startIndex=1&count=100");
    assert_eq!((total, start, res.len()), (0, 1, 0));

    // Lookup by userName: not found is 200 with an empty list.
    let alice = "alice.ng@okta.local";
    assert!(okta.lookup(alice).is_empty());

    // Create: password, groups:[], locale, externalId; the password never comes back.
    let (a, sent) = create(&okta, alice, "Alice", "Ng", &passwords[0]);
    assert_eq!(sent["groups"], json!([]));
    let got = okta.get(&format!("/Users/{a}"));
    assert_eq!(content(&got), expected_of(&sent));
    assert_eq!(got["active"], true);
    assert_eq!(got["locale"], "en-US");
    assert_eq!(okta.lookup(alice), vec![got.clone()]);
    // userName in caps: found.
    assert_eq!(ids(&okta.lookup(&alice.to_uppercase())), vec![a.clone()]);

    // Test Connector Configuration again: at least one user with name/userName/active/emails.
    let (total, start, res) = okta.page("/Users?startIndex=1&count=2");
    assert_eq!((total, start, res.len()), (1, 1, 1));
    let u = &res[0];
    assert!(u["userName"].is_string() && u["name"]["givenName"].is_string());
    assert!(u["active"].is_boolean() && u["emails"][0]["value"].is_string());

    // Duplicate (any letter case): 409 with an error body.
    let dup = fixture(
        "okta_aiw/create_user.json",
        &[
            ("user", "ALICE.NG@okta.local"),
            ("given", "A"),
            ("family", "N"),
            ("external", "00udup"),
            ("password", &passwords[1]),
        ],
    );
    assert_scim_error(
        &okta.send("POST", "/Users", Some(&dup)),
        409,
        Some("uniqueness"),
    );

    // Unknown id: 404 with status "404".
    let unknown = "9b2e4c61-7f3a-4d8b-a1e5-0c6f2d9b3a47";
    assert_scim_error(
        &okta.send("GET", &format!("/Users/{unknown}"), None),
        404,
        None,
    );
    assert_scim_error(
        &okta.send("GET", &format!("/Groups/{unknown}"), None),
        404,
        None,
    );
    // Bad token: 401 with status "401".
    for (m, p, b) in [
        ("GET", "/Users?startIndex=1&count=2", None),
        ("GET", "/Groups?startIndex=1&count=100", None),
        ("POST", "/Users", Some(&dup)),
    ] {
        let r = okta.send_with("scimd_not_a_real_token", m, p, b);
        assert_scim_error(&r, 401, None);
    }

    // Profile update: GET, then the full object by PUT.
    let put =
        |id: &str, user: &str, given: &str, email: &str, title: &str, active: bool, pw: &str| {
            fixture(
                "okta_aiw/put_user.json",
                &[
                    ("id", id),
                    ("user", user),
                    ("given", given),
                    ("family", "Ng"),
                    ("email", email),
                    ("title", title),
                    ("locale", "fr-FR"),
                    ("external", "00ualiceng"),
                    ("password", pw),
                    ("active", if active { "true" } else { "false" }),
                ],
            )
        };
    let body = put(
        &a,
        alice,
        "Alicia",
        "alicia@okta.local",
        "Engineer",
        true,
        &passwords[2],
    );
    let got = okta.put_after_get(&format!("/Users/{a}"), &body);
    assert_eq!(content(&got), expected_of(&body));
    assert_eq!(got["name"]["givenName"], "Alicia");
    assert_eq!(got["emails"][0]["value"], "alicia@okta.local");
    assert_eq!(okta.lookup(alice), vec![got.clone()]);

    // Group Push: POST {displayName, members: []}, then PUT with members.
    let (b, _) = create(&okta, "bob.stone@okta.local", "Bob", "Stone", &passwords[1]);
    let (c, _) = create(
        &okta,
        "carol.diaz@okta.local",
        "Carol",
        "Diaz",
        &passwords[1],
    );
    let r = okta.send(
        "POST",
        "/Groups",
        Some(&fixture(
            "okta_aiw/create_group.json",
            &[("name", "Engineering")],
        )),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    let g = r.body["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&g).is_ok(), "{g}");
    assert_eq!(r.body["displayName"], "Engineering");
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    assert!(member_ids(&r.body).is_empty(), "{:?}", r.body);
    assert_eq!(
        r.location.as_deref(),
        Some(format!("{}/Groups/{g}", s.scim()).as_str())
    );
    let (total, _, res) = okta.page("/Groups?startIndex=1&count=100");
    assert_eq!((total, ids(&res)), (1, vec![g.clone()]));
    assert_scim_error(
        &okta.send(
            "POST",
            "/Groups",
            Some(&fixture(
                "okta_aiw/create_group.json",
                &[("name", "engineering")],
            )),
        ),
        409,
        Some("uniqueness"),
    );
    let members = |list: &[(&str, &str)]| -> String {
        Value::Array(
            list.iter()
                .map(|(id, display)| json!({"value": id, "display": display}))
                .collect(),
        )
        .to_string()
    };
    let gpath = format!("/Groups/{g}");
    let body = fixture(
        "okta_aiw/put_group.json",
        &[
            ("id", &g),
            ("name", "Engineering"),
            (
                "members",
                &members(&[(&a, alice), (&b, "bob.stone@okta.local")]),
            ),
        ],
    );
    let got = okta.put_after_get(&gpath, &body);
    assert_eq!(got["displayName"], "Engineering");
    assert_eq!(member_ids(&got), BTreeSet::from([a.clone(), b.clone()]));
    // The next push: bob out, carol in, and a rename — all in one PUT.
    let body = fixture(
        "okta_aiw/put_group.json",
        &[
            ("id", &g),
            ("name", "Engineering EU"),
            (
                "members",
                &members(&[(&a, alice), (&c, "carol.diaz@okta.local")]),
            ),
        ],
    );
    let got = okta.put_after_get(&gpath, &body);
    assert_eq!(got["displayName"], "Engineering EU");
    assert_eq!(member_ids(&got), BTreeSet::from([a.clone(), c.clone()]));
    let u = okta.get(&format!("/Users/{a}"));
    assert_eq!(u["groups"][0]["value"], g);
    assert!(okta
        .get(&format!("/Users/{b}"))
        .get("groups")
        .is_none_or(|v| v == &json!([])));

    // Deactivation: GET, then PUT with active false. Still readable, found by lookup, still a
    // member of its group.
    let body = put(
        &a,
        alice,
        "Alicia",
        "alicia@okta.local",
        "Engineer",
        false,
        &passwords[3],
    );
    let got = okta.put_after_get(&format!("/Users/{a}"), &body);
    assert_eq!(got["active"], false);
    assert_eq!(content(&got), expected_of(&body));
    let found = okta.lookup(alice);
    assert_eq!(found, vec![got.clone()]);
    assert_eq!(found[0]["active"], false);
    assert_eq!(
        member_ids(&okta.get(&gpath)),
        BTreeSet::from([a.clone(), c.clone()])
    );
    // Reactivation, also a full PUT.
    let body = put(
        &a,
        alice,
        "Alicia",
        "alicia@okta.local",
        "Engineer",
        true,
        &passwords[3],
    );
    let got = okta.put_after_get(&format!("/Users/{a}"), &body);
    assert_eq!(got["active"], true);
    assert_eq!(content(&got), expected_of(&body));
    assert_eq!(okta.lookup(alice)[0]["active"], true);
    assert_eq!(
        member_ids(&okta.get(&gpath)),
        BTreeSet::from([a.clone(), c.clone()])
    );

    // Import: 230 more users, read back in pages of 100 (startIndex + 100).
    let mut all = BTreeSet::from([a.clone(), b.clone(), c.clone()]);
    for i in 0..230 {
        let (id, _) = create(
            &okta,
            &format!("user{i:03}@okta.local"),
            "User",
            &format!("N{i:03}"),
            &passwords[i % passwords.len()],
        );
        all.insert(id);
    }
    assert_eq!(all.len(), 233);
    let import = |okta: &Okta<'_>| -> Vec<String> {
        let mut seen = Vec::new();
        let mut start = 1;
        loop {
            let (total, got_start, res) =
                okta.page(&format!("/Users?startIndex={start}&count=100"));
            assert_eq!(total, 233);
            assert_eq!(got_start, start);
            assert_eq!(res.len() as u64, (total + 1 - start).min(100));
            for u in &res {
                assert!(u["userName"].is_string() && u["active"].is_boolean(), "{u}");
                assert!(u["name"]["familyName"].is_string() && u["emails"][0]["value"].is_string());
            }
            seen.extend(ids(&res));
            start += 100;
            if start > total {
                break;
            }
        }
        seen
    };
    let first = import(&okta);
    assert_eq!(first.len(), 233);
    assert_eq!(first.iter().cloned().collect::<BTreeSet<_>>(), all);
    // An update between two imports does not reorder them.
    let body = put(
        &a,
        alice,
        "Alicia",
        "alicia@okta.local",
        "Staff Engineer",
        true,
        &passwords[0],
    );
    okta.put_after_get(&format!("/Users/{a}"), &body);
    assert_eq!(import(&okta), first);
    // Past the end: an empty page, the same total.
    let (total, start, res) = okta.page("/Users?startIndex=301&count=100");
    assert_eq!((total, start, res.len()), (233, 301, 0));

    // Okta never deletes users: they are all still there.
    let (total, _, _) = okta.page("/Users?startIndex=1&count=2");
    assert_eq!(total, 233);

    let mut s = s;
    assert!(s.terminate());
    let out = s.cli(&["verify"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
