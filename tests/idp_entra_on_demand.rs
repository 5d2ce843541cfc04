//! Entra ID on-demand provisioning and the Microsoft SCIM Validator (idp-behavior.md §3.4–§3.7, §4,
//! §5, §6): on-demand ignores `?aadOptscim062020`, so one tenant drives the same user and group with
//! both PATCH dialects interleaved; plus the validator's shapes — an empty `Operations` list, ~36
//! replace ops in one PATCH, a pathless `externalId` replace on a group, `emails[].display`,
//! `roles[].primary:"True"`, `timezone`, the manager cleared by `{"value":""}`, unknown and double
//! deletes, re-creating a userName renamed earlier; nulls in a create body, "" then null clearing an
//! attribute, and the three roles mappings of §5. Every answer and the state read back are
//! checked, and the views equal a rebuild from the log at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::entra::{group_filter, scim_json, sorted_members, user_filter, Entra, Url};
use common::{assert_scim_error, content, fixture, ids, sorted, Server, ENTERPRISE};
use serde_json::{json, Value};

/// The group's member ids, sorted, from a GET that must answer 200 with SCIM JSON.
fn members(e: &Entra<'_>, gid: &str) -> Vec<String> {
    sorted_members(&e.get_group(gid))
}

/// The soft delete / re-enable body of the URL form's dialect.
fn active(e: &Entra<'_>, value: &str) -> Value {
    match e.u {
        Url::Plain => fixture("entra_on_demand/active_legacy.json", &[("value", value)]),
        Url::Flag => fixture("entra_on_demand/active_flag.json", &[("value", value)]),
    }
}

#[test]
fn on_demand_mixes_both_dialects_and_validator_quirks() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let t = t.as_str();
    // The scheduled cycle's Tenant URL carries the flag; on-demand does not change the body
    // shape with it — both reach the same server.
    let (p, f) = (Entra::new(&s, t, Url::Plain), Entra::new(&s, t, Url::Flag));

    // Test Connection, as repeated when an on-demand run starts: both URL forms, both endpoints.
    for u in [&p, &f] {
        u.test_connection("c0a8d3e2-41f7-4b6a-9d2e-8e5f1b3c7a90");
    }

    // The manager first (the scheduled cycle, legacy body, flagged URL).
    let bob = "bob@contoso.com";
    assert!(f
        .list(&user_filter(&format!("userName eq \"{bob}\"")))
        .is_empty());
    let created = f.post(
        "/Users",
        &fixture(
            "entra_on_demand/create_user.json",
            &[("user", bob), ("external", "bob"), ("display", "Bob Stone")],
        ),
    );
    let b = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["active"], true);

    // The validator's create: emails[].display, roles[].primary "True", timezone, manager object.
    let alice = "alice@contoso.com";
    let lookup_alice = user_filter(&format!("userName eq \"{alice}\""));
    assert!(p.list(&lookup_alice).is_empty());
    let body = fixture(
        "entra_on_demand/create_user_validator.json",
        &[
            ("user", alice),
            ("external", "alice"),
            ("timezone", "America/Los_Angeles"),
            ("manager", &b),
        ],
    );
    assert_eq!(body["roles"][0]["primary"], "True");
    let created = p.post("/Users", &body);
    let a = created["id"].as_str().unwrap().to_owned();
    let mut expected = body.clone();
    expected["roles"][0]["primary"] = json!(true);
    assert_eq!(content(&created), content(&expected));
    let got = f.get_user(&a);
    assert_eq!(got, created);
    assert_eq!(got["emails"][0]["display"], "Alice Ng (work)");
    assert_eq!(got["roles"][0]["primary"], true);
    assert_eq!(got["timezone"], "America/Los_Angeles");
    assert_eq!(got[ENTERPRISE]["manager"], json!({ "value": b }));
    // Found by filter in another letter case (the validator's "different case" test).
    assert_eq!(
        ids(&f.list(&user_filter("userName eq \"ALICE@CONTOSO.COM\""))),
        vec![a.clone()]
    );
    // Duplicate create: 409.
    assert_scim_error(
        &p.call("POST", "/Users", Some(&body)),
        409,
        Some("uniqueness"),
    );

    // An empty Operations list: accepted as a no-op, nothing changes (not even the version).
    let empty = fixture("entra_on_demand/empty_ops.json", &[]);
    let r = f.call("PATCH", &format!("/Users/{a}"), Some(&empty));
    assert_eq!(r.status, 200, "{:?}", r.body);
    scim_json(&r);
    assert_eq!(r.body, got);
    assert_eq!(p.get_user(&a), got);

    // Legacy PATCH on the plain URL, then the flag shape on the flagged URL, same user.
    let legacy = fixture(
        "entra_on_demand/patch_legacy.json",
        &[
            ("email", "alice.ng@contoso.com"),
            ("family", "Nguyen"),
            ("nick", "Al"),
            ("employee", "42"),
        ],
    );
    let got = p.patch_user(&a, &legacy);
    expected["emails"][0]["value"] = json!("alice.ng@contoso.com");
    expected["name"]["familyName"] = json!("Nguyen");
    expected["nickName"] = json!("Al");
    expected[ENTERPRISE]["employeeNumber"] = json!("42");
    assert_eq!(content(&got), content(&expected));
    let flag = fixture(
        "entra_on_demand/patch_flag.json",
        &[
            ("email", "alice.n@contoso.com"),
            ("display", "Alice Nguyen"),
            ("given", "Alicia"),
            ("family", "Nguyen"),
            ("employee", "43"),
        ],
    );
    let got = f.patch_user(&a, &flag);
    expected["emails"][0]["value"] = json!("alice.n@contoso.com");
    expected["displayName"] = json!("Alice Nguyen");
    expected["name"]["givenName"] = json!("Alicia");
    expected[ENTERPRISE]["employeeNumber"] = json!("43");
    assert_eq!(content(&got), content(&expected));
    // The on-demand run sends the legacy shape to the flagged URL too.
    let got = f.patch_user(&a, &legacy);
    expected["emails"][0]["value"] = json!("alice.ng@contoso.com");
    expected[ENTERPRISE]["employeeNumber"] = json!("42");
    assert_eq!(content(&got), content(&expected));

    // The validator's big PATCH: 36 replace ops, value-filter paths creating missing elements.
    let many = fixture("entra_on_demand/patch_many.json", &[("user", alice)]);
    assert_eq!(many["Operations"].as_array().unwrap().len(), 36);
    let got = f.patch_user(&a, &many);
    let expected_many = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": alice,
        "active": true,
        "displayName": "Alicia Nguyen",
        "nickName": "Ali",
        "title": "Principal Engineer",
        "userType": "Employee",
        "preferredLanguage": "de-DE",
        "locale": "de-DE",
        "timezone": "Europe/Berlin",
        "profileUrl": "https://profiles.contoso.com/alicia",
        "externalId": "alicia",
        "name": {"givenName": "Alicia", "familyName": "Nguyen",
                 "formatted": "Dr. Alicia M. Nguyen PhD", "middleName": "M.",
                 "honorificPrefix": "Dr.", "honorificSuffix": "PhD"},
        "emails": [{"type": "work", "value": "alicia@contoso.com", "primary": true,
                    "display": "Alicia (work)"},
                   {"type": "home", "value": "alicia@example.org"}],
        "phoneNumbers": [{"type": "work", "value": "+49 30 1234"},
                         {"type": "mobile", "value": "+49 170 5678"},
                         {"type": "fax", "value": "+49 30 1299"}],
        "addresses": [{"type": "work", "streetAddress": "Unter den Linden 1",
                       "locality": "Berlin", "region": "BE", "postalCode": "10117",
                       "country": "DE", "formatted": "Unter den Linden 1, 10117 Berlin"}],
        "ims": [{"type": "skype", "value": "alicia.nguyen"}],
        "photos": [{"type": "photo", "value": "https://photos.contoso.com/alicia.jpg"}],
        "roles": [{"primary": true, "display": "User", "value": "User",
                   "type": "WindowsAzureActiveDirectoryRole"}],
        ENTERPRISE: {"employeeNumber": "9001", "department": "Platform", "costCenter": "CC-17",
                     "organization": "Contoso GmbH", "division": "Cloud",
                     "manager": {"value": b}}
    });
    assert_eq!(content(&got), content(&expected_many));
    let mut expected = expected_many;

    // Gallery validation: setting "" then null clears the attribute.
    p.patch_user(
        &a,
        &fixture("entra_on_demand/title.json", &[("value", "\"\"")]),
    );
    let got = f.patch_user(
        &a,
        &fixture("entra_on_demand/title.json", &[("value", "null")]),
    );
    expected.as_object_mut().unwrap().remove("title");
    assert!(got.get("title").is_none(), "{got}");
    assert_eq!(content(&got), content(&expected));

    // The manager: {"value": ""} clears it (flag URL); a bare string sets it again (plain URL).
    let got = f.patch_user(&a, &fixture("entra_on_demand/manager_clear.json", &[]));
    expected[ENTERPRISE]
        .as_object_mut()
        .unwrap()
        .remove("manager");
    assert_eq!(content(&got), content(&expected));
    let got = p.patch_user(
        &a,
        &fixture("entra_on_demand/manager_add.json", &[("manager", &b)]),
    );
    expected[ENTERPRISE]["manager"] = json!({ "value": b });
    assert_eq!(got[ENTERPRISE]["manager"], json!({ "value": b }));
    assert_eq!(content(&got), content(&expected));

    // Soft delete and re-enable, alternating the dialects and the spellings of the boolean.
    for (u, value, now) in [
        (&p, "False", false),
        (&f, "true", true),
        (&f, "false", false),
        (&p, "True", true),
        (&p, "false", false),
        (&p, "TRUE", true),
        (&p, "FALSE", false),
    ] {
        let got = u.patch_user(&a, &active(u, value));
        expected["active"] = json!(now);
        assert_eq!(content(&got), content(&expected), "active {value}");
        // Still returned by filter, with the new state.
        let found = u.list(&lookup_alice);
        assert_eq!(found, vec![got], "active {value}");
    }

    // Groups: lookup and create on the flagged URL with the legacy schema URI.
    assert!(f.list(&group_filter("displayName eq \"Sales\"")).is_empty());
    let gext = "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159";
    let created = f.post(
        "/Groups",
        &fixture(
            "entra_on_demand/create_group.json",
            &[("name", "Sales"), ("external", gext)],
        ),
    );
    let g = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["displayName"], "Sales");
    assert_eq!(created["externalId"], gext);
    // An empty Operations list on a group: 204, nothing changes.
    let before = p.get_group(&g);
    p.patch_group(&g, &empty);
    assert_eq!(f.get_group(&g), before);

    // Members: legacy add on the plain URL, flag add on the flagged URL, both removal shapes mixed.
    // Carol's create body carries nulls, as E1's own example does: tolerated, nothing stored.
    let carol_body = fixture(
        "entra_on_demand/create_user_nulls.json",
        &[
            ("user", "carol@contoso.com"),
            ("external", "carol"),
            ("display", "Carol Diaz"),
        ],
    );
    let carol = p.post("/Users", &carol_body);
    let c = carol["id"].as_str().unwrap().to_owned();
    let mut carol_expected = carol_body.clone();
    for k in ["meta", "title", "nickName", "preferredLanguage"] {
        carol_expected.as_object_mut().unwrap().remove(k);
    }
    carol_expected[ENTERPRISE]
        .as_object_mut()
        .unwrap()
        .remove("department");
    assert_eq!(content(&carol), content(&carol_expected));
    assert_eq!(content(&f.get_user(&c)), content(&carol_expected));
    p.patch_group(
        &g,
        &fixture(
            "entra_on_demand/members_add_legacy.json",
            &[("a", &a), ("b", &b)],
        ),
    );
    f.patch_group(
        &g,
        &fixture(
            "entra_on_demand/members_add_flag.json",
            &[("a", &b), ("b", &c)],
        ),
    );
    assert_eq!(
        members(&p, &g),
        sorted(vec![a.clone(), b.clone(), c.clone()])
    );
    let member_check = |u: &Entra<'_>, uid: &str| u.member_check(&g, uid);
    assert_eq!(member_check(&p, &c), vec![g.clone()]);
    // The flag removal sent to the plain URL (on-demand), then the legacy one to the flagged URL.
    p.patch_group(
        &g,
        &fixture("entra_on_demand/members_remove_flag.json", &[("id", &c)]),
    );
    assert_eq!(members(&f, &g), sorted(vec![a.clone(), b.clone()]));
    assert!(member_check(&f, &c).is_empty());
    f.patch_group(
        &g,
        &fixture("entra_on_demand/members_remove_legacy.json", &[("id", &b)]),
    );
    assert_eq!(members(&p, &g), vec![a.clone()]);
    assert!(member_check(&p, &b).is_empty());
    assert_eq!(member_check(&f, &a), vec![g.clone()]);
    // Alice is disabled (last spelling above) and keeps her membership.
    assert_eq!(p.get_user(&a)["active"], false);

    // The validator's pathless replace of externalId on a group: only externalId changes.
    let gext2 = "f3b9e2d1-6a7c-4e58-b0d4-1c2e3f4a5b6c";
    f.patch_group(
        &g,
        &fixture(
            "entra_on_demand/group_external.json",
            &[("external", gext2)],
        ),
    );
    let r = p.get_group(&g);
    assert_eq!(r["externalId"], gext2);
    assert_eq!(r["displayName"], "Sales");
    assert_eq!(members(&p, &g), vec![a.clone()]);
    // Rename (legacy) and look it up (flag).
    p.patch_group(
        &g,
        &fixture("entra_on_demand/group_rename.json", &[("name", "Sales EU")]),
    );
    let found = f.list(&group_filter("displayName eq \"Sales EU\""));
    assert_eq!(ids(&found), vec![g.clone()]);
    assert!(found[0].get("members").is_none(), "{:?}", found[0]);
    assert!(p.list(&group_filter("displayName eq \"Sales\"")).is_empty());

    // Rename alice's userName, then re-create the old userName (the validator did): 201.
    let got = p.patch_user(
        &a,
        &fixture(
            "entra_on_demand/rename_user.json",
            &[("user", "alicia.nguyen@contoso.com")],
        ),
    );
    assert_eq!(got["userName"], "alicia.nguyen@contoso.com");
    assert!(f.list(&lookup_alice).is_empty());
    let again = f.post(
        "/Users",
        &fixture(
            "entra_on_demand/create_user_validator.json",
            &[
                ("user", alice),
                ("external", "alice-again"),
                ("timezone", "Asia/Kolkata"),
                ("manager", &b),
            ],
        ),
    );
    let a2 = again["id"].as_str().unwrap().to_owned();
    assert_ne!(a2, a);
    assert_eq!(again["userName"], alice);
    assert_eq!(again["timezone"], "Asia/Kolkata");
    assert_eq!(ids(&p.list(&lookup_alice)), vec![a2.clone()]);
    assert_eq!(
        ids(&p.list(&user_filter("userName eq \"alicia.nguyen@contoso.com\""))),
        vec![a.clone()]
    );

    // Delete of an unknown id: 404 with a SCIM error, for users and for groups.
    for path in [
        "/Users/6d1f0f8e-2f7c-4b8e-9b43-0c1a2e3d4f56",
        "/Groups/6d1f0f8e-2f7c-4b8e-9b43-0c1a2e3d4f56",
    ] {
        assert_scim_error(&f.call("DELETE", path, None), 404, None);
    }

    // Double delete: 204, then 404; the user's membership goes with it.
    let r = p.call("DELETE", &format!("/Users/{a}"), None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(r.body, Value::Null);
    assert_scim_error(&f.call("DELETE", &format!("/Users/{a}"), None), 404, None);
    assert_scim_error(&p.call("GET", &format!("/Users/{a}"), None), 404, None);
    assert!(members(&p, &g).is_empty());
    assert!(member_check(&f, &a).is_empty());
    // The re-created alice is untouched.
    assert_eq!(p.get_user(&a2)["userName"], alice);

    // The group, twice.
    let r = f.call("DELETE", &format!("/Groups/{g}"), None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_scim_error(&p.call("DELETE", &format!("/Groups/{g}"), None), 404, None);
    assert_scim_error(&f.call("GET", &format!("/Groups/{g}"), None), 404, None);

    // §5 SingleAppRoleAssignment: roles[primary eq "True"].value on the re-created user.
    let got = p.patch_user(
        &a2,
        &fixture("entra_on_demand/role_single.json", &[("role", "Admin")]),
    );
    assert_eq!(
        got["roles"],
        json!([{"primary": true, "display": "User", "value": "Admin",
                "type": "WindowsAzureActiveDirectoryRole"}])
    );

    // §5 AppRoleAssignmentsComplex: roles PATCHed with a JSON string as the value; stored as sent.
    let complex = fixture("entra_on_demand/roles_complex.json", &[]);
    let role_string = complex["Operations"][0]["value"][0]["value"].clone();
    let got = p.patch_user(&a2, &complex);
    let roles = got["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 2, "{got}");
    assert!(roles.iter().any(|r| r["value"] == "Admin"), "{got}");
    assert!(roles.iter().any(|r| r["value"] == role_string), "{got}");
    // AssertiveAppRoleAssignmentsComplex: replace of the whole roles array.
    let got = f.patch_user(&a2, &fixture("entra_on_demand/roles_assertive.json", &[]));
    assert_eq!(
        got["roles"],
        json!([{"value": "Reader", "display": "Reader", "primary": true}])
    );

    s.stop_and_verify();
}
