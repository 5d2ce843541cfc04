//! A whole Okta provisioning cycle as an OIN (catalogue) app sends it (idp-behavior.md §9): profile
//! changes by full PUT, activation/deactivation and password by a pathless PATCH, Group Push with
//! the pathless `{id, displayName}` replace sent with every membership change, members removed by
//! `members[value eq "…"]` and added with `{value, display}` in the same PATCH, a full `replace` of
//! `members`, and the unlink by `DELETE /Groups/{id}`; no user is ever deleted. Every answer and the
//! state read back are checked, and the views equal a rebuild from the log at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::okta::{expected_of, group_ids, member_ids, members_json, Okta};
use common::{assert_scim_error, content, fixture, ids, Server};
use serde_json::{json, Value};

/// Okta's create (okta_oin fixture): besides the common checks, a read back gives what was sent.
fn create(
    okta: &Okta<'_>,
    user: &str,
    given: &str,
    family: &str,
    password: &str,
) -> (String, Value) {
    let (id, body, _) = okta.create_user("okta_oin", user, given, family, password);
    assert_eq!(
        content(&okta.get(&format!("/Users/{id}"))),
        expected_of(&body)
    );
    (id, body)
}

#[test]
fn okta_oin_full_provisioning_cycle() {
    let s = Server::plain();
    let token = s.token("Okta");
    let passwords: Vec<String> = (0..3).map(|i| format!("OIN-s3cret-{i}-zz9")).collect();
    let okta = Okta::new(&s, token, passwords.clone());

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

    // A group PATCH from `okta_oin/{file}.json` carrying the name and a members list.
    let patch_members = |file: &str, name: &str, members: &[(&str, &str)]| {
        let body = fixture(
            &format!("okta_oin/{file}.json"),
            &[
                ("id", &g),
                ("name", name),
                ("members", &members_json(members)),
            ],
        );
        okta.patch(&gpath, &body)
    };

    // Members added with {value, display}, the rename op sent along.
    let got = patch_members(
        "group_members_add",
        "Support Tier 1",
        &[(&a, alice), (&b, "bob.stone@okta.local")],
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
    let got = patch_members(
        "group_members_replace",
        "Support Tier 2",
        &[(&a, alice), (&d, "dave.eng@okta.local")],
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

    s.stop_and_verify();
}
