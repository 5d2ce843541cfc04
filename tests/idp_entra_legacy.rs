//! A whole Entra ID provisioning cycle in the default (legacy) dialect of idp-behavior.md §2–§5:
//! Test Connection, lookup, create, read back, one-op-per-path PATCH with capitalised op names, the
//! bare-string and 2019 manager shapes with the `id eq … and manager eq …` check, "False"/"True"
//! soft delete and re-enable, group lookup/create/members/rename with the legacy member removal,
//! the membership check, hard deletes — each answer and the state read back afterwards checked,
//! and the views equal to a rebuild from the log at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_scim_error, fixture, q, Reply, Server};
use serde_json::{json, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

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
    let r = s.call("GET", path, Some(t), None);
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

/// GET /Users/{id}: 200, SCIM JSON, the right id.
fn get_user(s: &Server, t: &str, id: &str) -> Value {
    let r = s.call("GET", &format!("/Users/{id}"), Some(t), None);
    assert_eq!(r.status, 200, "{:?}", r.body);
    scim_json(&r);
    assert_eq!(r.body["id"], id);
    r.body
}

/// PATCH a user: 200 with the resource (which must equal a fresh read) or 204; returns the read.
fn patch_user(s: &Server, t: &str, id: &str, body: &Value) -> Value {
    let r = s.call("PATCH", &format!("/Users/{id}"), Some(t), Some(body));
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
    let r = s.call("PATCH", &format!("/Groups/{gid}"), Some(t), Some(body));
    assert_eq!(r.status, 204, "PATCH {body}: {:?}", r.body);
    assert_eq!(r.body, Value::Null);
}

fn members(s: &Server, t: &str, gid: &str) -> Vec<String> {
    let r = s.call("GET", &format!("/Groups/{gid}"), Some(t), None);
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

/// The resource without server-managed parts (`id`, `meta`, `groups`) and without empty arrays
/// (an empty multi-valued attribute is the same as an absent one, RFC 7643 §2.5).
fn content(v: &Value) -> Value {
    let mut m = v.as_object().unwrap().clone();
    for k in ["id", "meta", "groups"] {
        m.remove(k);
    }
    m.retain(|_, v| !matches!(v, Value::Array(a) if a.is_empty()));
    Value::Object(m)
}

/// The create body as Entra sends it, and what reading it back must give: the same values, with
/// the string "True" read back as the boolean and the request's `meta` not stored.
fn create_user(s: &Server, t: &str, user: &str, given: &str, family: &str) -> (String, Value) {
    let vars = [
        ("user", user),
        ("external", user.split('@').next().unwrap()),
        ("given", given),
        ("family", family),
        ("employee", "701984"),
    ];
    let body = fixture("entra_legacy/create_user.json", &vars);
    assert_eq!(body["active"], "True");
    let r = s.call("POST", "/Users", Some(t), Some(&body));
    assert_eq!(r.status, 201, "{:?}", r.body);
    scim_json(&r);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(
        r.location.as_deref(),
        Some(format!("{}/Users/{id}", s.scim()).as_str())
    );
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(
        r.body["meta"]["location"],
        format!("{}/Users/{id}", s.scim())
    );
    assert!(r.body["meta"]["created"].is_string());
    assert!(r.body["meta"]["lastModified"].is_string());
    assert_eq!(r.etag.as_deref(), r.body["meta"]["version"].as_str());
    let mut expected = body.clone();
    expected["active"] = json!(true);
    expected.as_object_mut().unwrap().remove("meta");
    assert_eq!(content(&r.body), content(&expected));
    (id, expected)
}

#[test]
fn entra_default_mode_full_provisioning_cycle() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let t = t.as_str();

    // §2 Test Connection: a random GUID as the matching value, on /Users and on /Groups.
    let guid = "7d0c4d1e-9a3b-4f0e-8c55-2b1f6a9e0c31";
    for path in [
        format!("/Users?filter=userName+eq+%22{guid}%22"),
        format!("/Groups?filter=displayName+eq+%22{guid}%22"),
    ] {
        let r = s.call("GET", &path, Some(t), None);
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        scim_json(&r);
        assert_eq!(
            r.body,
            json!({"schemas":[LIST],"totalResults":0,"Resources":[],"startIndex":1,"itemsPerPage":0}),
            "{path}"
        );
    }

    // The test updated the token's last-used time (Netskope shows it).
    let out = s.cli(&["token", "list", "--json"]);
    assert!(out.status.success());
    let tokens: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(tokens[0]["last_used"].is_string(), "{tokens}");

    // §3.1 Lookup by the matching attribute: no match yet.
    let alice = "alice@contoso.com";
    let lookup_alice = user_filter(&format!("userName eq \"{alice}\""));
    assert!(list(&s, t, &lookup_alice).is_empty());

    // §3.2 Create: 201 with the full resource; §3.3 read back gives the same resource.
    let (a, mut expected) = create_user(&s, t, alice, "Alice", "Ng");
    let got = get_user(&s, t, &a);
    assert_eq!(content(&got), content(&expected));
    assert_eq!(got["active"], true);
    assert_eq!(
        got["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE])
    );
    // The lookup now finds exactly her, with the same representation.
    let found = list(&s, t, &lookup_alice);
    assert_eq!(found, vec![got.clone()]);
    // Another matching attribute Entra may be configured with (§3, §10.2).
    let by_mail = list(
        &s,
        t,
        &user_filter(&format!("emails[type eq \"work\"].value eq \"{alice}\"")),
    );
    assert_eq!(ids(&by_mail), vec![a.clone()]);
    // Duplicate: 409 uniqueness.
    let dup = fixture(
        "entra_legacy/create_user.json",
        &[
            ("user", alice),
            ("external", "alice2"),
            ("given", "A"),
            ("family", "N"),
            ("employee", "1"),
        ],
    );
    assert_scim_error(
        &s.call("POST", "/Users", Some(t), Some(&dup)),
        409,
        Some("uniqueness"),
    );
    assert_eq!(list(&s, t, &lookup_alice), vec![got.clone()]);

    // §3.4 PATCH, legacy shape: one op per path, capitalised ops. Only the named values change.
    let patch = fixture(
        "entra_legacy/patch_user.json",
        &[
            ("email", "alice.ng@contoso.com"),
            ("family", "Nguyen"),
            ("nick", "Al"),
            ("employee", "42"),
        ],
    );
    let got = patch_user(&s, t, &a, &patch);
    expected["emails"] = json!([{"primary":true,"type":"work","value":"alice.ng@contoso.com"}]);
    expected["name"]["familyName"] = json!("Nguyen");
    expected["nickName"] = json!("Al");
    expected[ENTERPRISE]["employeeNumber"] = json!("42");
    assert_eq!(content(&got), content(&expected));

    // §3.5 Manager: set after both exist, as a bare string on the URN path; read back as an object.
    let (b, _) = create_user(&s, t, "bob@contoso.com", "Bob", "Stone");
    let got = patch_user(
        &s,
        t,
        &a,
        &fixture("entra_legacy/manager_add.json", &[("manager", &b)]),
    );
    expected[ENTERPRISE]["manager"] = json!({ "value": b });
    assert_eq!(got[ENTERPRISE]["manager"], json!({ "value": b }));
    assert_eq!(content(&got), content(&expected));
    // The reference check: id eq … and manager eq ….
    let check = user_filter(&format!("id eq \"{a}\" and manager eq \"{b}\""));
    assert_eq!(ids(&list(&s, t, &check)), vec![a.clone()]);
    let check_none = user_filter(&format!("id eq \"{b}\" and manager eq \"{a}\""));
    assert!(list(&s, t, &check_none).is_empty());
    // The 2019 shape: path "manager", a list holding {"$ref", "value"}. Dave becomes the manager.
    let (d, _) = create_user(&s, t, "dave@contoso.com", "Dave", "Eng");
    let got = patch_user(
        &s,
        t,
        &a,
        &fixture(
            "entra_legacy/manager_add_2019.json",
            &[("manager", &d), ("base", &s.scim())],
        ),
    );
    assert!(got[ENTERPRISE]["manager"].is_object(), "{got}");
    assert_eq!(got[ENTERPRISE]["manager"]["value"], d.as_str());
    assert!(got.get("manager").is_none(), "{got}");
    expected[ENTERPRISE]["manager"] = got[ENTERPRISE]["manager"].clone();
    assert_eq!(content(&got), content(&expected));
    let check = user_filter(&format!("id eq \"{a}\" and manager eq \"{d}\""));
    assert_eq!(ids(&list(&s, t, &check)), vec![a.clone()]);

    // §3.6 Disable with the string "False": still returned by id and by filter, active false.
    let got = patch_user(&s, t, &a, &fixture("entra_legacy/disable.json", &[]));
    expected["active"] = json!(false);
    assert_eq!(content(&got), content(&expected));
    let found = list(&s, t, &lookup_alice);
    assert_eq!(ids(&found), vec![a.clone()]);
    assert_eq!(found[0]["active"], false);
    assert_eq!(found[0], got);
    // Re-enable with "True".
    let got = patch_user(&s, t, &a, &fixture("entra_legacy/enable.json", &[]));
    expected["active"] = json!(true);
    assert_eq!(content(&got), content(&expected));
    assert_eq!(list(&s, t, &lookup_alice)[0]["active"], true);

    // §4 Groups. 1. Lookup with excludedAttributes=members: nothing yet.
    let lookup_sales = group_filter("displayName eq \"Sales\"");
    assert!(list(&s, t, &lookup_sales).is_empty());
    // 2. Create with the legacy Microsoft schema URI (ignored): 201, no members.
    let gext = "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159";
    let r = s.call(
        "POST",
        "/Groups",
        Some(t),
        Some(&fixture(
            "entra_legacy/create_group.json",
            &[("name", "Sales"), ("external", gext)],
        )),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    scim_json(&r);
    let g = r.body["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&g).is_ok(), "{g}");
    assert_eq!(
        r.location.as_deref(),
        Some(format!("{}/Groups/{g}", s.scim()).as_str())
    );
    assert_eq!(r.body["displayName"], "Sales");
    assert_eq!(r.body["externalId"], gext);
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    assert!(r.body["schemas"]
        .as_array()
        .unwrap()
        .contains(&json!("urn:ietf:params:scim:schemas:core:2.0:Group")));
    assert!(
        r.body.get("members").is_none() || r.body["members"] == json!([]),
        "{:?}",
        r.body
    );
    // 3. Read back without members; the lookup finds it, without members.
    let r = s.call(
        "GET",
        &format!("/Groups/{g}?excludedAttributes=members"),
        Some(t),
        None,
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    scim_json(&r);
    assert_eq!(r.body["id"], g);
    assert_eq!(r.body["displayName"], "Sales");
    assert_eq!(r.body["externalId"], gext);
    assert!(r.body.get("members").is_none(), "{:?}", r.body);
    let found = list(&s, t, &lookup_sales);
    assert_eq!(ids(&found), vec![g.clone()]);
    assert!(found[0].get("members").is_none(), "{:?}", found[0]);

    // 5. Add several members in one op (204); re-adding the same is harmless.
    let (c, _) = create_user(&s, t, "carol@contoso.com", "Carol", "Diaz");
    let add = fixture(
        "entra_legacy/members_add.json",
        &[("a", &a), ("b", &b), ("c", &c)],
    );
    patch_group(&s, t, &g, &add);
    assert_eq!(
        members(&s, t, &g),
        sorted(vec![a.clone(), b.clone(), c.clone()])
    );
    patch_group(&s, t, &g, &add);
    assert_eq!(
        members(&s, t, &g),
        sorted(vec![a.clone(), b.clone(), c.clone()])
    );
    // Reads with excludedAttributes=members still carry none, even now.
    let found = list(&s, t, &lookup_sales);
    assert_eq!(ids(&found), vec![g.clone()]);
    assert!(found[0].get("members").is_none(), "{:?}", found[0]);

    // 7. Membership check: one hit or none.
    let member_check = |uid: &str| {
        ids(&list(
            &s,
            t,
            &group_filter(&format!("id eq \"{g}\" and members eq \"{uid}\"")),
        ))
    };
    assert_eq!(member_check(&a), vec![g.clone()]);
    assert_eq!(member_check(&b), vec![g.clone()]);
    assert!(member_check(&d).is_empty());

    // §3.6 A disabled member keeps its membership.
    patch_user(&s, t, &c, &fixture("entra_legacy/disable.json", &[]));
    assert_eq!(member_check(&c), vec![g.clone()]);

    // 6. Legacy removal: Remove path members with a value list. Only bob goes.
    patch_group(
        &s,
        t,
        &g,
        &fixture("entra_legacy/members_remove.json", &[("id", &b)]),
    );
    assert_eq!(members(&s, t, &g), sorted(vec![a.clone(), c.clone()]));
    assert!(member_check(&b).is_empty());
    assert_eq!(member_check(&a), vec![g.clone()]);

    // 4. Rename: 204; the new name finds it, the old one no longer does; members untouched.
    patch_group(
        &s,
        t,
        &g,
        &fixture("entra_legacy/group_rename.json", &[("name", "Sales EU")]),
    );
    assert!(list(&s, t, &lookup_sales).is_empty());
    let found = list(&s, t, &group_filter("displayName eq \"Sales EU\""));
    assert_eq!(ids(&found), vec![g.clone()]);
    assert_eq!(found[0]["displayName"], "Sales EU");
    assert_eq!(found[0]["externalId"], gext);
    assert_eq!(members(&s, t, &g), sorted(vec![a.clone(), c.clone()]));

    // §3.7 Hard delete of a user: 204, then 404; gone from lookups and from the group.
    let r = s.call("DELETE", &format!("/Users/{a}"), Some(t), None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(r.body, Value::Null);
    assert_scim_error(
        &s.call("GET", &format!("/Users/{a}"), Some(t), None),
        404,
        None,
    );
    assert!(list(&s, t, &lookup_alice).is_empty());
    assert!(member_check(&a).is_empty());
    assert_eq!(members(&s, t, &g), vec![c.clone()]);

    // 8. Delete the group: 204, then 404; its lookup is empty; the users stay.
    let r = s.call("DELETE", &format!("/Groups/{g}"), Some(t), None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_scim_error(
        &s.call("GET", &format!("/Groups/{g}"), Some(t), None),
        404,
        None,
    );
    assert!(list(&s, t, &group_filter("displayName eq \"Sales EU\"")).is_empty());
    for u in [&b, &c, &d] {
        let got = get_user(&s, t, u);
        assert!(
            got.get("groups").is_none() || got["groups"] == json!([]),
            "{got}"
        );
    }

    // Clean stop; the views equal a rebuild from the log.
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
