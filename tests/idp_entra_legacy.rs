//! A whole Entra ID provisioning cycle in the default (legacy) dialect of idp-behavior.md §2–§5:
//! Test Connection, lookup, create, read back, one-op-per-path PATCH with capitalised op names, the
//! bare-string and 2019 manager shapes with the `id eq … and manager eq …` check, "False"/"True"
//! soft delete and re-enable, group lookup/create/members/rename with the legacy member removal,
//! the membership check, hard deletes — each answer and the state read back afterwards checked,
//! and the views equal to a rebuild from the log at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::entra::{group_filter, scim_json, user_body, user_filter, without_meta, Entra, Url};
use common::{assert_scim_error, content, fixture, ids, sorted, Server, ENTERPRISE};
use serde_json::{json, Value};

/// The create body as Entra sends it, and what reading it back must give: the same values, with
/// the string "True" read back as the boolean and the request's `meta` not stored.
fn create_user(e: &Entra<'_>, user: &str, given: &str, family: &str) -> (String, Value) {
    let body = user_body("entra_legacy", user, given, family);
    assert_eq!(body["active"], "True");
    let mut expected = without_meta(&body);
    expected["active"] = json!(true);
    let (id, r) = e.create_user(&body, &expected);
    assert_eq!(
        r.body["meta"]["location"],
        format!("{}/Users/{id}", e.s.scim())
    );
    assert!(r.body["meta"]["created"].is_string());
    assert!(r.body["meta"]["lastModified"].is_string());
    (id, expected)
}

#[test]
fn entra_default_mode_full_provisioning_cycle() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let t = t.as_str();
    let e = Entra::new(&s, t, Url::Plain);

    // §2 Test Connection: a random GUID as the matching value, on /Users and on /Groups.
    let guid = "7d0c4d1e-9a3b-4f0e-8c55-2b1f6a9e0c31";
    for r in e.test_connection(guid) {
        scim_json(&r);
    }

    // The test updated the token's last-used time (Netskope shows it).
    let out = s.cli(&["token", "list", "--json"]);
    assert!(out.status.success());
    let tokens: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(tokens[0]["last_used"].is_string(), "{tokens}");

    // §3.1 Lookup by the matching attribute: no match yet.
    let alice = "alice@contoso.com";
    let lookup_alice = user_filter(&format!("userName eq \"{alice}\""));
    assert!(e.list(&lookup_alice).is_empty());

    // §3.2 Create: 201 with the full resource; §3.3 read back gives the same resource.
    let (a, mut expected) = create_user(&e, alice, "Alice", "Ng");
    let got = e.get_user(&a);
    assert_eq!(content(&got), content(&expected));
    assert_eq!(got["active"], true);
    assert_eq!(
        got["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE])
    );
    // The lookup now finds exactly her, with the same representation.
    let found = e.list(&lookup_alice);
    assert_eq!(found, vec![got.clone()]);
    // Another matching attribute Entra may be configured with (§3, §10.2).
    let by_mail = e.list(&user_filter(&format!(
        "emails[type eq \"work\"].value eq \"{alice}\""
    )));
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
        &e.call("POST", "/Users", Some(&dup)),
        409,
        Some("uniqueness"),
    );
    assert_eq!(e.list(&lookup_alice), vec![got.clone()]);

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
    let got = e.patch_user(&a, &patch);
    expected["emails"] = json!([{"primary":true,"type":"work","value":"alice.ng@contoso.com"}]);
    expected["name"]["familyName"] = json!("Nguyen");
    expected["nickName"] = json!("Al");
    expected[ENTERPRISE]["employeeNumber"] = json!("42");
    assert_eq!(content(&got), content(&expected));

    // §3.5 Manager: set after both exist, as a bare string on the URN path; read back as an object.
    let (b, _) = create_user(&e, "bob@contoso.com", "Bob", "Stone");
    let got = e.patch_user(
        &a,
        &fixture("entra_legacy/manager_add.json", &[("manager", &b)]),
    );
    expected[ENTERPRISE]["manager"] = json!({ "value": b });
    assert_eq!(got[ENTERPRISE]["manager"], json!({ "value": b }));
    assert_eq!(content(&got), content(&expected));
    // The reference check: id eq … and manager eq ….
    let check = user_filter(&format!("id eq \"{a}\" and manager eq \"{b}\""));
    assert_eq!(ids(&e.list(&check)), vec![a.clone()]);
    let check_none = user_filter(&format!("id eq \"{b}\" and manager eq \"{a}\""));
    assert!(e.list(&check_none).is_empty());
    // The 2019 shape: path "manager", a list holding {"$ref", "value"}. Dave becomes the manager.
    let (d, _) = create_user(&e, "dave@contoso.com", "Dave", "Eng");
    let got = e.patch_user(
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
    assert_eq!(ids(&e.list(&check)), vec![a.clone()]);

    // §3.6 Disable with the string "False": still returned by id and by filter, active false.
    let got = e.patch_user(&a, &fixture("entra_legacy/disable.json", &[]));
    expected["active"] = json!(false);
    assert_eq!(content(&got), content(&expected));
    let found = e.list(&lookup_alice);
    assert_eq!(ids(&found), vec![a.clone()]);
    assert_eq!(found[0]["active"], false);
    assert_eq!(found[0], got);
    // Re-enable with "True".
    let got = e.patch_user(&a, &fixture("entra_legacy/enable.json", &[]));
    expected["active"] = json!(true);
    assert_eq!(content(&got), content(&expected));
    assert_eq!(e.list(&lookup_alice)[0]["active"], true);

    // §4 Groups. 1. Lookup with excludedAttributes=members: nothing yet.
    let lookup_sales = group_filter("displayName eq \"Sales\"");
    assert!(e.list(&lookup_sales).is_empty());
    // 2. Create with the legacy Microsoft schema URI (ignored): 201, no members.
    let gext = "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159";
    let r = e.create(
        "/Groups",
        &fixture(
            "entra_legacy/create_group.json",
            &[("name", "Sales"), ("external", gext)],
        ),
    );
    let g = r.body["id"].as_str().unwrap().to_owned();
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
    let r = e.call(
        "GET",
        &format!("/Groups/{g}?excludedAttributes=members"),
        None,
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    scim_json(&r);
    assert_eq!(r.body["id"], g);
    assert_eq!(r.body["displayName"], "Sales");
    assert_eq!(r.body["externalId"], gext);
    assert!(r.body.get("members").is_none(), "{:?}", r.body);
    let found = e.list(&lookup_sales);
    assert_eq!(ids(&found), vec![g.clone()]);
    assert!(found[0].get("members").is_none(), "{:?}", found[0]);

    // 5. Add several members in one op (204); re-adding the same is harmless.
    let (c, _) = create_user(&e, "carol@contoso.com", "Carol", "Diaz");
    let add = fixture(
        "entra_legacy/members_add.json",
        &[("a", &a), ("b", &b), ("c", &c)],
    );
    e.patch_group(&g, &add);
    assert_eq!(e.members(&g), sorted(vec![a.clone(), b.clone(), c.clone()]));
    e.patch_group(&g, &add);
    assert_eq!(e.members(&g), sorted(vec![a.clone(), b.clone(), c.clone()]));
    // Reads with excludedAttributes=members still carry none, even now.
    let found = e.list(&lookup_sales);
    assert_eq!(ids(&found), vec![g.clone()]);
    assert!(found[0].get("members").is_none(), "{:?}", found[0]);

    // 7. Membership check: one hit or none.
    let member_check = |uid: &str| e.member_check(&g, uid);
    assert_eq!(member_check(&a), vec![g.clone()]);
    assert_eq!(member_check(&b), vec![g.clone()]);
    assert!(member_check(&d).is_empty());

    // §3.6 A disabled member keeps its membership.
    e.patch_user(&c, &fixture("entra_legacy/disable.json", &[]));
    assert_eq!(member_check(&c), vec![g.clone()]);

    // 6. Legacy removal: Remove path members with a value list. Only bob goes.
    e.patch_group(
        &g,
        &fixture("entra_legacy/members_remove.json", &[("id", &b)]),
    );
    assert_eq!(e.members(&g), sorted(vec![a.clone(), c.clone()]));
    assert!(member_check(&b).is_empty());
    assert_eq!(member_check(&a), vec![g.clone()]);

    // 4. Rename: 204; the new name finds it, the old one no longer does; members untouched.
    e.patch_group(
        &g,
        &fixture("entra_legacy/group_rename.json", &[("name", "Sales EU")]),
    );
    assert!(e.list(&lookup_sales).is_empty());
    let found = e.list(&group_filter("displayName eq \"Sales EU\""));
    assert_eq!(ids(&found), vec![g.clone()]);
    assert_eq!(found[0]["displayName"], "Sales EU");
    assert_eq!(found[0]["externalId"], gext);
    assert_eq!(e.members(&g), sorted(vec![a.clone(), c.clone()]));

    // §3.7 Hard delete of a user: 204, then 404; gone from lookups and from the group.
    let r = e.call("DELETE", &format!("/Users/{a}"), None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(r.body, Value::Null);
    assert_scim_error(&e.call("GET", &format!("/Users/{a}"), None), 404, None);
    assert!(e.list(&lookup_alice).is_empty());
    assert!(member_check(&a).is_empty());
    assert_eq!(e.members(&g), vec![c.clone()]);

    // 8. Delete the group: 204, then 404; its lookup is empty; the users stay.
    let r = e.call("DELETE", &format!("/Groups/{g}"), None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_scim_error(&e.call("GET", &format!("/Groups/{g}"), None), 404, None);
    assert!(e
        .list(&group_filter("displayName eq \"Sales EU\""))
        .is_empty());
    for u in [&b, &c, &d] {
        let got = e.get_user(u);
        assert!(
            got.get("groups").is_none() || got["groups"] == json!([]),
            "{got}"
        );
    }

    // Clean stop; the views equal a rebuild from the log.
    s.stop_and_verify();
}
