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

use common::okta::{expected_of, member_ids, members_json, Okta};
use common::{assert_scim_error, content, fixture, ids, Server};
use serde_json::{json, Value};

/// Okta's create (okta_aiw fixture): besides the common checks, no `bulkId` in the id and
/// `meta.resourceType` User; returns (id, body sent).
fn create(
    okta: &Okta<'_>,
    user: &str,
    given: &str,
    family: &str,
    password: &str,
) -> (String, Value) {
    let (id, body, r) = okta.create_user("okta_aiw", user, given, family, password);
    assert!(!id.contains("bulkId"));
    assert_eq!(r.body["meta"]["resourceType"], "User");
    (id, body)
}

#[test]
fn okta_app_integration_wizard_full_provisioning_cycle() {
    let s = Server::plain();
    let token = s.token("Okta");
    let passwords: Vec<String> = (0..4).map(|i| format!("Okta-Pa55w0rd-{i}-xq7")).collect();
    let okta = Okta::new(&s, token, passwords.clone());

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

    // Profile update: GET, then the full object by PUT (Alicia, alicia@okta.local, fr-FR).
    let apath = format!("/Users/{a}");
    let put = |title: &str, active: bool, pw: &str| {
        fixture(
            "okta_aiw/put_user.json",
            &[
                ("id", &a),
                ("user", alice),
                ("given", "Alicia"),
                ("family", "Ng"),
                ("email", "alicia@okta.local"),
                ("title", title),
                ("locale", "fr-FR"),
                ("external", "00ualiceng"),
                ("password", pw),
                ("active", if active { "true" } else { "false" }),
            ],
        )
    };
    let body = put("Engineer", true, &passwords[2]);
    let got = okta.put_after_get(&apath, &body);
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
    let g = s.assert_created(&r, "/Groups");
    assert_eq!(r.body["displayName"], "Engineering");
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    assert!(member_ids(&r.body).is_empty(), "{:?}", r.body);
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
    // A push: the whole group, name and members, by PUT after a GET.
    let gpath = format!("/Groups/{g}");
    let push = |name: &str, members: &[(&str, &str)]| {
        let body = fixture(
            "okta_aiw/put_group.json",
            &[
                ("id", &g),
                ("name", name),
                ("members", &members_json(members)),
            ],
        );
        okta.put_after_get(&gpath, &body)
    };
    let got = push("Engineering", &[(&a, alice), (&b, "bob.stone@okta.local")]);
    assert_eq!(got["displayName"], "Engineering");
    assert_eq!(member_ids(&got), BTreeSet::from([a.clone(), b.clone()]));
    // The next push: bob out, carol in, and a rename — all in one PUT.
    let got = push(
        "Engineering EU",
        &[(&a, alice), (&c, "carol.diaz@okta.local")],
    );
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
    let body = put("Engineer", false, &passwords[3]);
    let got = okta.put_after_get(&apath, &body);
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
    let body = put("Engineer", true, &passwords[3]);
    let got = okta.put_after_get(&apath, &body);
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
    let body = put("Staff Engineer", true, &passwords[0]);
    okta.put_after_get(&apath, &body);
    assert_eq!(import(&okta), first);
    // Past the end: an empty page, the same total.
    let (total, start, res) = okta.page("/Users?startIndex=301&count=100");
    assert_eq!((total, start, res.len()), (233, 301, 0));

    // Okta never deletes users: they are all still there.
    let (total, _, _) = okta.page("/Users?startIndex=1&count=2");
    assert_eq!(total, 233);

    s.stop_and_verify();
}
