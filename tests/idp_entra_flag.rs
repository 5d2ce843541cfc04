//! A whole Entra ID provisioning cycle with `?aadOptscim062020` in the Tenant URL (idp-behavior.md
//! §1, §3.4, §4, §5): the flag on every URL, lowercase ops, one pathless replace with dotted and
//! URN-qualified keys, boolean `active`, the bare-string manager, member removal by
//! `members[value eq "…"]` without a value — each answer and the state read back afterwards
//! checked, and the views equal to a rebuild from the log at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::entra::{group_filter, scim_json, user_body, user_filter, without_meta, Entra, Url};
use common::{assert_scim_error, content, fixture, ids, sorted, Server, ENTERPRISE};
use serde_json::{json, Value};

/// The create body as Entra sends it with the flag (boolean `active`); reading it back gives the
/// same values without the request's `meta`.
fn create_user(e: &Entra<'_>, user: &str, given: &str, family: &str) -> (String, Value) {
    let body = user_body("entra_flag", user, given, family);
    let expected = without_meta(&body);
    let (id, _) = e.create_user(&body, &expected);
    (id, expected)
}

#[test]
fn entra_aadoptscim062020_full_provisioning_cycle() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let t = t.as_str();
    let e = Entra::new(&s, t, Url::Flag);

    // §2 Test Connection, the flag in front of the filter.
    let guid = "3f2b8c71-0d5e-4a7b-9e61-c4d2a8f0b917";
    for r in e.test_connection(guid) {
        scim_json(&r);
    }

    // §3.1 Lookup, §3.2 create (boolean active), §3.3 read back.
    let alice = "alice@contoso.com";
    let lookup_alice = user_filter(&format!("userName eq \"{alice}\""));
    assert!(e.list(&lookup_alice).is_empty());
    let (a, mut expected) = create_user(&e, alice, "Alice", "Ng");
    let got = e.get_user(&a);
    assert_eq!(content(&got), content(&expected));
    assert_eq!(e.list(&lookup_alice), vec![got.clone()]);
    // Lookup in another letter case finds her too (userName is case-insensitive).
    let found = e.list(&user_filter("userName eq \"ALICE@contoso.COM\""));
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
        &e.call("POST", "/Users", Some(&dup)),
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
    let got = e.patch_user(&a, &patch);
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
    let again = e.patch_user(&a, &patch);
    assert_eq!(content(&again), content(&expected));
    assert_eq!(again["meta"]["version"], version);

    // §3.5 Manager: bare string in, {"value": …} out; `remove` clears it.
    let (b, _) = create_user(&e, "bob@contoso.com", "Bob", "Stone");
    let got = e.patch_user(
        &a,
        &fixture("entra_flag/manager_add.json", &[("manager", &b)]),
    );
    assert_eq!(got[ENTERPRISE]["manager"], json!({ "value": b }));
    expected[ENTERPRISE]["manager"] = json!({ "value": b });
    assert_eq!(content(&got), content(&expected));
    let got = e.patch_user(&a, &fixture("entra_flag/manager_remove.json", &[]));
    expected[ENTERPRISE]
        .as_object_mut()
        .unwrap()
        .remove("manager");
    assert_eq!(content(&got), content(&expected));

    // §3.6 Disable with the boolean: still readable by id and by filter with active false.
    let got = e.patch_user(&a, &fixture("entra_flag/disable.json", &[]));
    expected["active"] = json!(false);
    assert_eq!(content(&got), content(&expected));
    let found = e.list(&lookup_alice);
    assert_eq!(found, vec![got.clone()]);
    assert_eq!(found[0]["active"], false);
    let found = e.list(&user_filter(&format!(
        "userName eq \"{alice}\" and active eq false"
    )));
    assert_eq!(ids(&found), vec![a.clone()]);
    // Re-enable.
    let got = e.patch_user(&a, &fixture("entra_flag/enable.json", &[]));
    expected["active"] = json!(true);
    assert_eq!(content(&got), content(&expected));
    assert_eq!(e.list(&lookup_alice)[0]["active"], true);

    // §4 Groups: lookup, create, read back without members.
    let lookup_sales = group_filter("displayName eq \"Sales\"");
    assert!(e.list(&lookup_sales).is_empty());
    let post_group = |name: &str, external: &str| {
        let body = fixture(
            "entra_flag/create_group.json",
            &[("name", name), ("external", external)],
        );
        e.call("POST", "/Groups", Some(&body))
    };
    let gext = "5c1e7a4d-2b90-4f3c-8d61-0a9e3b7c2f18";
    let r = post_group("Sales", gext);
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
    let r = e.call(
        "GET",
        &format!("/Groups/{g}?excludedAttributes=members"),
        None,
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["displayName"], "Sales");
    assert!(r.body.get("members").is_none(), "{:?}", r.body);
    assert_eq!(ids(&e.list(&lookup_sales)), vec![g.clone()]);
    // Duplicate displayName: 409.
    assert_scim_error(&post_group("sales", "other"), 409, Some("uniqueness"));

    // Members: several in one lowercase add; re-adding is harmless.
    let (c, _) = create_user(&e, "carol@contoso.com", "Carol", "Diaz");
    let (d, _) = create_user(&e, "dave@contoso.com", "Dave", "Eng");
    let add = fixture(
        "entra_flag/members_add.json",
        &[("a", &a), ("b", &b), ("c", &c)],
    );
    e.patch_group(&g, &add);
    e.patch_group(&g, &add);
    assert_eq!(e.members(&g), sorted(vec![a.clone(), b.clone(), c.clone()]));
    let found = e.list(&lookup_sales);
    assert!(found[0].get("members").is_none(), "{:?}", found[0]);
    let member_check = |uid: &str| e.member_check(&g, uid);
    assert_eq!(member_check(&b), vec![g.clone()]);
    assert!(member_check(&d).is_empty());

    // A user disabled with the boolean keeps its memberships.
    e.patch_user(&b, &fixture("entra_flag/disable.json", &[]));
    assert_eq!(member_check(&b), vec![g.clone()]);

    // Flag removal: members[value eq "…"] with no value. Only that member goes.
    let rm = fixture("entra_flag/members_remove.json", &[("id", &b)]);
    assert!(rm["Operations"][0].get("value").is_none());
    e.patch_group(&g, &rm);
    assert_eq!(e.members(&g), sorted(vec![a.clone(), c.clone()]));
    assert!(member_check(&b).is_empty());
    assert_eq!(member_check(&a), vec![g.clone()]);
    // Removing a non-member that way changes nothing.
    e.patch_group(
        &g,
        &fixture("entra_flag/members_remove.json", &[("id", &d)]),
    );
    assert_eq!(e.members(&g), sorted(vec![a.clone(), c.clone()]));

    // Rename with a path, then a pathless replace of displayName and externalId.
    e.patch_group(
        &g,
        &fixture("entra_flag/group_rename.json", &[("name", "Sales EU")]),
    );
    assert!(e.list(&lookup_sales).is_empty());
    assert_eq!(
        ids(&e.list(&group_filter("displayName eq \"Sales EU\""))),
        vec![g.clone()]
    );
    let gext2 = "0b6f3e2a-7c41-4d8e-a915-6f2d0c8b4e73";
    e.patch_group(
        &g,
        &fixture(
            "entra_flag/group_update.json",
            &[("name", "Sales EMEA"), ("external", gext2)],
        ),
    );
    let found = e.list(&group_filter("displayName eq \"Sales EMEA\""));
    assert_eq!(ids(&found), vec![g.clone()]);
    assert_eq!(found[0]["externalId"], gext2);
    assert_eq!(e.members(&g), sorted(vec![a.clone(), c.clone()]));

    // Rename a userName; the old name is free, the new one found.
    let got = e.patch_user(
        &a,
        &fixture(
            "entra_flag/rename_user.json",
            &[("user", "alice.nguyen@contoso.com")],
        ),
    );
    assert_eq!(got["userName"], "alice.nguyen@contoso.com");
    assert!(e.list(&lookup_alice).is_empty());
    assert_eq!(
        ids(&e.list(&user_filter("userName eq \"alice.nguyen@contoso.com\""))),
        vec![a.clone()]
    );

    // §3.7 Hard delete: 204, then 404; gone from the group.
    let r = e.call("DELETE", &format!("/Users/{a}"), None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_scim_error(&e.call("GET", &format!("/Users/{a}"), None), 404, None);
    assert_eq!(e.members(&g), vec![c.clone()]);
    assert!(member_check(&a).is_empty());

    // §4.8 Delete the group: 204, then 404.
    let r = e.call("DELETE", &format!("/Groups/{g}"), None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_scim_error(&e.call("GET", &format!("/Groups/{g}"), None), 404, None);
    assert!(e
        .list(&group_filter("displayName eq \"Sales EMEA\""))
        .is_empty());
    let got = e.get_user(&c);
    assert!(
        got.get("groups").is_none() || got["groups"] == json!([]),
        "{got}"
    );

    s.stop_and_verify();
}
