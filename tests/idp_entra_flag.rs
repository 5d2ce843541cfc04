//! A whole Entra ID provisioning cycle with `?aadOptscim062020` in the Tenant URL (idp-behavior.md
//! §1, §3.4, §4, §5): the flag on every URL, lowercase ops, one pathless replace with dotted and
//! URN-qualified keys, boolean `active`, the bare-string manager, member removal by
//! `members[value eq "…"]` without a value — each answer and the state read back afterwards
//! checked, and the views equal to a rebuild from the log at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_scim_error, fixture, q, Reply, Server};
use serde_json::{json, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const FLAG: &str = "aadOptscim062020";

/// The path as Entra builds it from a Tenant URL that carries the flag.
fn flagged(path: &str) -> String {
    match path.split_once('?') {
        Some((p, query)) => format!("{p}?{FLAG}&{query}"),
        None => format!("{path}?{FLAG}"),
    }
}

fn call(s: &Server, method: &str, path: &str, t: Option<&str>, body: Option<&Value>) -> Reply {
    s.call(method, &flagged(path), t, body)
}

fn scim_json(r: &Reply) {
    assert!(
        r.content_type.starts_with("application/scim+json"),
        "content type {:?} for {:?}",
        r.content_type,
        r.body
    );
}

/// GET a list, check the ListResponse envelope (one page, 1-based), return its resources.
fn list(s: &Server, t: &str, path: &str) -> Vec<Value> {
    let r = call(s, "GET", path, Some(t), None);
    assert_eq!(r.status, 200, "GET {path}: {:?}", r.body);
    scim_json(&r);
    assert_eq!(r.body["schemas"], json!([LIST]), "{:?}", r.body);
    let res = r.body["Resources"].as_array().unwrap().clone();
    assert_eq!(r.body["totalResults"].as_u64(), Some(res.len() as u64));
    assert_eq!(r.body["itemsPerPage"].as_u64(), Some(res.len() as u64));
    assert_eq!(r.body["startIndex"].as_u64(), Some(1));
    res
}

fn ids(resources: &[Value]) -> Vec<String> {
    resources
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn user_filter(expr: &str) -> String {
    format!("/Users?filter={}", q(expr))
}

fn group_filter(expr: &str) -> String {
    format!("/Groups?excludedAttributes=members&filter={}", q(expr))
}

fn get_user(s: &Server, t: &str, id: &str) -> Value {
    let r = call(s, "GET", &format!("/Users/{id}"), Some(t), None);
    assert_eq!(r.status, 200, "{:?}", r.body);
    scim_json(&r);
    assert_eq!(r.body["id"], id);
    r.body
}

/// PATCH a user: 200 with the resource (which must equal a fresh read) or 204; returns the read.
fn patch_user(s: &Server, t: &str, id: &str, body: &Value) -> Value {
    let r = call(s, "PATCH", &format!("/Users/{id}"), Some(t), Some(body));
    assert!(
        r.status == 200 || r.status == 204,
        "PATCH {body}: {} {:?}",
        r.status,
        r.body
    );
    let now = get_user(s, t, id);
    if r.status == 200 {
        scim_json(&r);
        assert_eq!(r.body, now, "PATCH answer differs from the read back");
    }
    now
}

/// PATCH a group: 204 with no body (idp-behavior.md §4).
fn patch_group(s: &Server, t: &str, gid: &str, body: &Value) {
    let r = call(s, "PATCH", &format!("/Groups/{gid}"), Some(t), Some(body));
    assert_eq!(r.status, 204, "PATCH {body}: {:?}", r.body);
    assert_eq!(r.body, Value::Null);
}

fn members(s: &Server, t: &str, gid: &str) -> Vec<String> {
    let r = call(s, "GET", &format!("/Groups/{gid}"), Some(t), None);
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut m: Vec<String> = r.body["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    m.sort();
    m
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
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

fn create_user(s: &Server, t: &str, user: &str, given: &str, family: &str) -> (String, Value) {
    let vars = [
        ("user", user),
        ("external", user.split('@').next().unwrap()),
        ("given", given),
        ("family", family),
        ("employee", "701984"),
    ];
    let body = fixture("entra_flag/create_user.json", &vars);
    let r = call(s, "POST", "/Users", Some(t), Some(&body));
    assert_eq!(r.status, 201, "{:?}", r.body);
    scim_json(&r);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(
        r.location.as_deref(),
        Some(format!("{}/Users/{id}", s.scim()).as_str())
    );
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(r.etag.as_deref(), r.body["meta"]["version"].as_str());
    let mut expected = body.clone();
    expected.as_object_mut().unwrap().remove("meta");
    assert_eq!(content(&r.body), content(&expected));
    (id, expected)
}

#[test]
fn entra_aadoptscim062020_full_provisioning_cycle() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let t = t.as_str();

    // §2 Test Connection, the flag in front of the filter.
    let guid = "3f2b8c71-0d5e-4a7b-9e61-c4d2a8f0b917";
    for path in [
        format!("/Users?filter=userName+eq+%22{guid}%22"),
        format!("/Groups?filter=displayName+eq+%22{guid}%22"),
    ] {
        let r = call(&s, "GET", &path, Some(t), None);
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        scim_json(&r);
        assert_eq!(
            r.body,
            json!({"schemas":[LIST],"totalResults":0,"Resources":[],"startIndex":1,"itemsPerPage":0}),
            "{path}"
        );
    }

    // §3.1 Lookup, §3.2 create (boolean active), §3.3 read back.
    let alice = "alice@contoso.com";
    let lookup_alice = user_filter(&format!("userName eq \"{alice}\""));
    assert!(list(&s, t, &lookup_alice).is_empty());
    let (a, mut expected) = create_user(&s, t, alice, "Alice", "Ng");
    let got = get_user(&s, t, &a);
    assert_eq!(content(&got), content(&expected));
    assert_eq!(list(&s, t, &lookup_alice), vec![got.clone()]);
    // Lookup in another letter case finds her too (userName is case-insensitive).
    let found = list(&s, t, &user_filter("userName eq \"ALICE@contoso.COM\""));
    assert_eq!(ids(&found), vec![a.clone()]);
    // Duplicate: 409 uniqueness.
    let dup = fixture(
        "entra_flag/create_user.json",
        &[
            ("user", "Alice@Contoso.com"),
            ("external", "alice2"),
            ("given", "A"),
            ("family", "N"),
            ("employee", "1"),
        ],
    );
    assert_scim_error(
        &call(&s, "POST", "/Users", Some(t), Some(&dup)),
        409,
        Some("uniqueness"),
    );

    // §3.4 flag shape: a path op plus one pathless replace with dotted and URN-qualified keys.
    let patch = fixture(
        "entra_flag/patch_user.json",
        &[
            ("email", "alice.nguyen@contoso.com"),
            ("display", "Alice Nguyen"),
            ("given", "Alicia"),
            ("family", "Nguyen"),
            ("employee", "42"),
            ("department", "Research"),
        ],
    );
    assert_eq!(patch["Operations"][1].get("path"), None);
    let got = patch_user(&s, t, &a, &patch);
    expected["emails"] = json!([{"primary":true,"type":"work","value":"alice.nguyen@contoso.com"}]);
    expected["displayName"] = json!("Alice Nguyen");
    expected["name"]["givenName"] = json!("Alicia");
    expected["name"]["familyName"] = json!("Nguyen");
    expected[ENTERPRISE]["employeeNumber"] = json!("42");
    expected[ENTERPRISE]["department"] = json!("Research");
    assert_eq!(content(&got), content(&expected));
    // No dotted or URN-qualified key was stored as an attribute of its own.
    let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .all(|k| k.as_str() == ENTERPRISE || !(k.contains('.') || k.contains(':'))),
        "{keys:?}"
    );
    // Entra reads, diffs and re-sends the same values when nothing changed: no change.
    let version = got["meta"]["version"].clone();
    let again = patch_user(&s, t, &a, &patch);
    assert_eq!(content(&again), content(&expected));
    assert_eq!(again["meta"]["version"], version);

    // §3.5 Manager: bare string in, {"value": …} out; `remove` clears it.
    let (b, _) = create_user(&s, t, "bob@contoso.com", "Bob", "Stone");
    let got = patch_user(
        &s,
        t,
        &a,
        &fixture("entra_flag/manager_add.json", &[("manager", &b)]),
    );
    assert_eq!(got[ENTERPRISE]["manager"], json!({ "value": b }));
    expected[ENTERPRISE]["manager"] = json!({ "value": b });
    assert_eq!(content(&got), content(&expected));
    let got = patch_user(&s, t, &a, &fixture("entra_flag/manager_remove.json", &[]));
    expected[ENTERPRISE]
        .as_object_mut()
        .unwrap()
        .remove("manager");
    assert_eq!(content(&got), content(&expected));

    // §3.6 Disable with the boolean: still readable by id and by filter with active false.
    let got = patch_user(&s, t, &a, &fixture("entra_flag/disable.json", &[]));
    expected["active"] = json!(false);
    assert_eq!(content(&got), content(&expected));
    let found = list(&s, t, &lookup_alice);
    assert_eq!(found, vec![got.clone()]);
    assert_eq!(found[0]["active"], false);
    let found = list(
        &s,
        t,
        &user_filter(&format!("userName eq \"{alice}\" and active eq false")),
    );
    assert_eq!(ids(&found), vec![a.clone()]);
    // Re-enable.
    let got = patch_user(&s, t, &a, &fixture("entra_flag/enable.json", &[]));
    expected["active"] = json!(true);
    assert_eq!(content(&got), content(&expected));
    assert_eq!(list(&s, t, &lookup_alice)[0]["active"], true);

    // §4 Groups: lookup, create, read back without members.
    let lookup_sales = group_filter("displayName eq \"Sales\"");
    assert!(list(&s, t, &lookup_sales).is_empty());
    let gext = "5c1e7a4d-2b90-4f3c-8d61-0a9e3b7c2f18";
    let r = call(
        &s,
        "POST",
        "/Groups",
        Some(t),
        Some(&fixture(
            "entra_flag/create_group.json",
            &[("name", "Sales"), ("external", gext)],
        )),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    scim_json(&r);
    let g = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["displayName"], "Sales");
    assert_eq!(r.body["externalId"], gext);
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    assert_eq!(
        r.location.as_deref(),
        Some(format!("{}/Groups/{g}", s.scim()).as_str())
    );
    let r = call(
        &s,
        "GET",
        &format!("/Groups/{g}?excludedAttributes=members"),
        Some(t),
        None,
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["displayName"], "Sales");
    assert!(r.body.get("members").is_none(), "{:?}", r.body);
    assert_eq!(ids(&list(&s, t, &lookup_sales)), vec![g.clone()]);
    // Duplicate displayName: 409.
    assert_scim_error(
        &call(
            &s,
            "POST",
            "/Groups",
            Some(t),
            Some(&fixture(
                "entra_flag/create_group.json",
                &[("name", "sales"), ("external", "other")],
            )),
        ),
        409,
        Some("uniqueness"),
    );

    // Members: several in one lowercase add; re-adding is harmless.
    let (c, _) = create_user(&s, t, "carol@contoso.com", "Carol", "Diaz");
    let (d, _) = create_user(&s, t, "dave@contoso.com", "Dave", "Eng");
    let add = fixture(
        "entra_flag/members_add.json",
        &[("a", &a), ("b", &b), ("c", &c)],
    );
    patch_group(&s, t, &g, &add);
    patch_group(&s, t, &g, &add);
    assert_eq!(
        members(&s, t, &g),
        sorted(vec![a.clone(), b.clone(), c.clone()])
    );
    let found = list(&s, t, &lookup_sales);
    assert!(found[0].get("members").is_none(), "{:?}", found[0]);
    let member_check = |uid: &str| {
        ids(&list(
            &s,
            t,
            &group_filter(&format!("id eq \"{g}\" and members eq \"{uid}\"")),
        ))
    };
    assert_eq!(member_check(&b), vec![g.clone()]);
    assert!(member_check(&d).is_empty());

    // A user disabled with the boolean keeps its memberships.
    patch_user(&s, t, &b, &fixture("entra_flag/disable.json", &[]));
    assert_eq!(member_check(&b), vec![g.clone()]);

    // Flag removal: members[value eq "…"] with no value. Only that member goes.
    let rm = fixture("entra_flag/members_remove.json", &[("id", &b)]);
    assert!(rm["Operations"][0].get("value").is_none());
    patch_group(&s, t, &g, &rm);
    assert_eq!(members(&s, t, &g), sorted(vec![a.clone(), c.clone()]));
    assert!(member_check(&b).is_empty());
    assert_eq!(member_check(&a), vec![g.clone()]);
    // Removing a non-member that way changes nothing.
    patch_group(
        &s,
        t,
        &g,
        &fixture("entra_flag/members_remove.json", &[("id", &d)]),
    );
    assert_eq!(members(&s, t, &g), sorted(vec![a.clone(), c.clone()]));

    // Rename with a path, then a pathless replace of displayName and externalId.
    patch_group(
        &s,
        t,
        &g,
        &fixture("entra_flag/group_rename.json", &[("name", "Sales EU")]),
    );
    assert!(list(&s, t, &lookup_sales).is_empty());
    assert_eq!(
        ids(&list(&s, t, &group_filter("displayName eq \"Sales EU\""))),
        vec![g.clone()]
    );
    let gext2 = "0b6f3e2a-7c41-4d8e-a915-6f2d0c8b4e73";
    patch_group(
        &s,
        t,
        &g,
        &fixture(
            "entra_flag/group_update.json",
            &[("name", "Sales EMEA"), ("external", gext2)],
        ),
    );
    let found = list(&s, t, &group_filter("displayName eq \"Sales EMEA\""));
    assert_eq!(ids(&found), vec![g.clone()]);
    assert_eq!(found[0]["externalId"], gext2);
    assert_eq!(members(&s, t, &g), sorted(vec![a.clone(), c.clone()]));

    // Rename a userName; the old name is free, the new one found.
    let got = patch_user(
        &s,
        t,
        &a,
        &fixture(
            "entra_flag/rename_user.json",
            &[("user", "alice.nguyen@contoso.com")],
        ),
    );
    assert_eq!(got["userName"], "alice.nguyen@contoso.com");
    assert!(list(&s, t, &lookup_alice).is_empty());
    assert_eq!(
        ids(&list(
            &s,
            t,
            &user_filter("userName eq \"alice.nguyen@contoso.com\"")
        )),
        vec![a.clone()]
    );

    // §3.7 Hard delete: 204, then 404; gone from the group.
    let r = call(&s, "DELETE", &format!("/Users/{a}"), Some(t), None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_scim_error(
        &call(&s, "GET", &format!("/Users/{a}"), Some(t), None),
        404,
        None,
    );
    assert_eq!(members(&s, t, &g), vec![c.clone()]);
    assert!(member_check(&a).is_empty());

    // §4.8 Delete the group: 204, then 404.
    let r = call(&s, "DELETE", &format!("/Groups/{g}"), Some(t), None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_scim_error(
        &call(&s, "GET", &format!("/Groups/{g}"), Some(t), None),
        404,
        None,
    );
    assert!(list(&s, t, &group_filter("displayName eq \"Sales EMEA\"")).is_empty());
    let got = get_user(&s, t, &c);
    assert!(
        got.get("groups").is_none() || got["groups"] == json!([]),
        "{got}"
    );

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
