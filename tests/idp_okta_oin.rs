//! A whole Okta provisioning cycle as an OIN (catalogue) app sends it (idp-behavior.md §9): profile
//! changes by full PUT, activation/deactivation and password by a pathless PATCH, Group Push with
//! the pathless `{id, displayName}` replace sent with every membership change, members removed by
//! `members[value eq "…"]` and added with `{value, display}` in the same PATCH, a full `replace` of
//! `members`, and the unlink by `DELETE /Groups/{id}`; no user is ever deleted. Every answer and the
//! state read back are checked, and the views equal a rebuild from the log at the end.
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
        let url = format!("{}{path}", self.s.scim());
        let req = self
            .agent
            .request(method, &url)
            .set("User-Agent", USER_AGENT)
            .set("Accept", "application/scim+json")
            .set("Authorization", &format!("Bearer {}", self.token));
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
        let total = r.body["totalResults"].as_u64().unwrap();
        let start = r.body["startIndex"].as_u64().unwrap();
        let per_page = r.body["itemsPerPage"].as_u64().unwrap();
        let res = r.body["Resources"].as_array().unwrap().clone();
        assert_eq!(per_page, res.len() as u64, "{:?}", r.body);
        (total, start, res)
    }

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

    /// PATCH: 200 with the resource (equal to a fresh read) or 204 (§9); returns the read.
    fn patch(&self, path: &str, body: &Value) -> Value {
        let r = self.send("PATCH", path, Some(body));
        assert!(
            r.status == 200 || r.status == 204,
            "PATCH {path} {body}: {} {:?}",
            r.status,
            r.body
        );
        let now = self.get(path);
        if r.status == 200 {
            assert_eq!(r.body, now, "PATCH answer differs from the read back");
        } else {
            assert_eq!(r.body, Value::Null);
        }
        now
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

/// What a create or PUT body must read back as: everything but the password, `id`, `meta`, `groups`.
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

fn group_ids(user: &Value) -> BTreeSet<String> {
    user["groups"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn create(
    okta: &Okta<'_>,
    user: &str,
    given: &str,
    family: &str,
    password: &str,
) -> (String, Value) {
    let external = format!("00u{}", user.split('@').next().unwrap().replace('.', ""));
    let body = fixture(
        "okta_oin/create_user.json",
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
    assert_eq!(
        r.location.as_deref(),
        Some(format!("{}/Users/{id}", okta.s.scim()).as_str())
    );
    assert_eq!(content(&r.body), expected_of(&body));
    assert_eq!(
        content(&okta.get(&format!("/Users/{id}"))),
        expected_of(&body)
    );
    (id, body)
}

fn members_json(list: &[(&str, &str)]) -> String {
    Value::Array(
        list.iter()
            .map(|(id, display)| json!({"value": id, "display": display}))
            .collect(),
    )
    .to_string()
}

#[test]
fn okta_oin_full_provisioning_cycle() {
    let s = Server::plain();
    let token = s.token("Okta");
    let passwords: Vec<String> = (0..3).map(|i| format!("OIN-s3cret-{i}-zz9")).collect();
    let okta = Okta {
        s: &s,
        agent: ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(30))
            .build(),
        token,
        passwords: passwords.clone(),
    };

    // Test Connector Configuration and the groups read.
    assert_eq!(okta.page("/Users?startIndex=1&count=2").0, 0);
    assert_eq!(okta.page("/Groups?startIndex=1&count=100").0, 0);

    // Users: lookup, then create.
    let alice = "alice.ng@okta.local";
    assert!(okta.lookup(alice).is_empty());
    let (a, _) = create(&okta, alice, "Alice", "Ng", &passwords[0]);
    let (b, _) = create(&okta, "bob.stone@okta.local", "Bob", "Stone", &passwords[0]);
    let (c, _) = create(
        &okta,
        "carol.diaz@okta.local",
        "Carol",
        "Diaz",
        &passwords[0],
    );
    let (d, _) = create(&okta, "dave.eng@okta.local", "Dave", "Eng", &passwords[0]);
    assert_eq!(ids(&okta.lookup("Alice.NG@OKTA.local")), vec![a.clone()]);

    // Profile change: GET, then full PUT; 200 with the resource, read back the same.
    let apath = format!("/Users/{a}");
    let before = okta.get(&apath);
    let put = fixture(
        "okta_oin/put_user.json",
        &[
            ("id", &a),
            ("user", alice),
            ("given", "Alicia"),
            ("family", "Ng"),
            ("email", "alicia@okta.local"),
            ("title", "Support Lead"),
            ("locale", "en-GB"),
            ("external", before["externalId"].as_str().unwrap()),
            ("password", &passwords[1]),
            ("active", "true"),
        ],
    );
    let r = okta.send("PUT", &apath, Some(&put));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(content(&r.body), expected_of(&put));
    let profile = okta.get(&apath);
    assert_eq!(r.body, profile);
    assert_eq!(okta.lookup(alice), vec![profile.clone()]);

    // Deactivate with the pathless PATCH: only active changes; still readable and found.
    let got = okta.patch(
        &apath,
        &fixture("okta_oin/active.json", &[("active", "false")]),
    );
    let mut expected = content(&profile);
    expected["active"] = json!(false);
    assert_eq!(content(&got), expected);
    assert_eq!(okta.lookup(alice), vec![got.clone()]);
    // Reactivate.
    let got = okta.patch(
        &apath,
        &fixture("okta_oin/active.json", &[("active", "true")]),
    );
    assert_eq!(content(&got), content(&profile));
    assert_eq!(okta.lookup(alice)[0]["active"], true);
    // Password change with the pathless PATCH: accepted, nothing visible changes.
    let got = okta.patch(
        &apath,
        &fixture("okta_oin/password.json", &[("password", &passwords[2])]),
    );
    assert_eq!(content(&got), content(&profile));

    // Group Push: POST {displayName, members: []}.
    let r = okta.send(
        "POST",
        "/Groups",
        Some(&fixture(
            "okta_oin/create_group.json",
            &[("name", "Support")],
        )),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    let g = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["displayName"], "Support");
    assert!(member_ids(&r.body).is_empty(), "{:?}", r.body);
    assert_eq!(
        r.location.as_deref(),
        Some(format!("{}/Groups/{g}", s.scim()).as_str())
    );
    let gpath = format!("/Groups/{g}");
    let (total, _, res) = okta.page("/Groups?startIndex=1&count=100");
    assert_eq!((total, ids(&res)), (1, vec![g.clone()]));

    // Rename: pathless replace of {id, displayName}.
    let got = okta.patch(
        &gpath,
        &fixture(
            "okta_oin/group_rename.json",
            &[("id", &g), ("name", "Support Tier 1")],
        ),
    );
    assert_eq!(got["id"], g);
    assert_eq!(got["displayName"], "Support Tier 1");
    assert!(member_ids(&got).is_empty());

    // Members added with {value, display}, the rename op sent along.
    let got = okta.patch(
        &gpath,
        &fixture(
            "okta_oin/group_members_add.json",
            &[
                ("id", &g),
                ("name", "Support Tier 1"),
                (
                    "members",
                    &members_json(&[(&a, alice), (&b, "bob.stone@okta.local")]),
                ),
            ],
        ),
    );
    assert_eq!(got["displayName"], "Support Tier 1");
    assert_eq!(member_ids(&got), BTreeSet::from([a.clone(), b.clone()]));
    assert_eq!(group_ids(&okta.get(&apath)), BTreeSet::from([g.clone()]));

    // One PATCH: rename, remove members[value eq a], add c.
    let got = okta.patch(
        &gpath,
        &fixture(
            "okta_oin/group_members_change.json",
            &[
                ("id", &g),
                ("name", "Support Tier 2"),
                ("remove", &a),
                ("add", &c),
                ("add_display", "carol.diaz@okta.local"),
            ],
        ),
    );
    assert_eq!(got["displayName"], "Support Tier 2");
    assert_eq!(member_ids(&got), BTreeSet::from([b.clone(), c.clone()]));
    assert!(group_ids(&okta.get(&apath)).is_empty());

    // A full replace of members.
    let got = okta.patch(
        &gpath,
        &fixture(
            "okta_oin/group_members_replace.json",
            &[
                ("id", &g),
                ("name", "Support Tier 2"),
                (
                    "members",
                    &members_json(&[(&a, alice), (&d, "dave.eng@okta.local")]),
                ),
            ],
        ),
    );
    assert_eq!(got["displayName"], "Support Tier 2");
    assert_eq!(member_ids(&got), BTreeSet::from([a.clone(), d.clone()]));
    for (u, want) in [(&a, true), (&b, false), (&c, false), (&d, true)] {
        let groups = group_ids(&okta.get(&format!("/Users/{u}")));
        assert_eq!(groups.contains(&g), want, "{u}");
    }

    // A member deactivated by the pathless PATCH stays a member.
    let got = okta.patch(
        &format!("/Users/{d}"),
        &fixture("okta_oin/active.json", &[("active", "false")]),
    );
    assert_eq!(got["active"], false);
    assert_eq!(
        member_ids(&okta.get(&gpath)),
        BTreeSet::from([a.clone(), d.clone()])
    );

    // Unlink: DELETE /Groups/{id} → 204; the group is gone, the users are not.
    let r = okta.send("DELETE", &gpath, None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(r.body, Value::Null);
    assert_scim_error(&okta.send("GET", &gpath, None), 404, None);
    assert_eq!(okta.page("/Groups?startIndex=1&count=100").0, 0);
    for u in [&a, &b, &c, &d] {
        let user = okta.get(&format!("/Users/{u}"));
        assert!(group_ids(&user).is_empty(), "{user}");
    }
    assert_eq!(okta.page("/Users?startIndex=1&count=100").0, 4);

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
