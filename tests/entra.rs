//! The Entra ID provisioning flow of idp-behavior.md §2–§4, request by request, with Entra's JSON
//! shapes (fixtures in `tests/fixtures/entra/`), against a real server on 127.0.0.1:0.
// Tests may unwrap: a panic is a failed test (clippy.toml allows it in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_scim_error, fixture, list_ids, q, Server};
use serde_json::{json, Value};

fn members_of(s: &Server, t: &str, gid: &str) -> Vec<String> {
    let r = s.call("GET", &format!("/Groups/{gid}"), Some(t), None);
    assert_eq!(r.status, 200);
    let mut m: Vec<String> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    m.sort();
    m
}

fn create_user(s: &Server, t: &str, user: &str) -> String {
    let body = fixture(
        "entra/create_user.json",
        &[
            ("user", user),
            ("external", user.split('@').next().unwrap()),
            ("display", "Alice Ng"),
        ],
    );
    let r = s.call("POST", "/Users", Some(t), Some(&body));
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// A hard delete: 204; then a GET and a second DELETE are 404 with a SCIM error.
fn delete_then_gone(s: &Server, t: &str, path: &str) {
    assert_eq!(s.call("DELETE", path, Some(t), None).status, 204);
    assert_scim_error(&s.call("GET", path, Some(t), None), 404, None);
    assert_scim_error(&s.call("DELETE", path, Some(t), None), 404, None);
}

#[test]
fn test_connection_probes_get_empty_lists_on_users_and_groups() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let guid = "0e6f7b3a-54b7-4ec4-9a39-0b0b2a7a3b55";
    for path in [
        format!("/Users?filter={}", q(&format!("userName eq \"{guid}\""))),
        format!(
            "/Groups?filter={}",
            q(&format!("displayName eq \"{guid}\""))
        ),
        format!(
            "/Users?aadOptscim062020&filter={}",
            q(&format!("userName eq \"{guid}\""))
        ),
        format!(
            "/Groups?excludedAttributes=members&filter={}",
            q(&format!("displayName eq \"{guid}\""))
        ),
    ] {
        let r = s.call("GET", &path, Some(&t), None);
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        assert!(r.content_type.starts_with("application/scim+json"));
        assert_eq!(
            r.body,
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                   "totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]})
        );
    }
    // Test Connection updates the token's last-used time (Netskope shows it).
    let out = s.cli(&["token", "list", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(list[0]["last_used"].is_string(), "{list}");
}

#[test]
fn user_lifecycle_in_legacy_and_flag_shapes() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let alice = "alice@contoso.com";

    // Lookup before create: no match.
    let lookup = format!("/Users?filter={}", q(&format!("userName eq \"{alice}\"")));
    assert_eq!(
        s.call("GET", &lookup, Some(&t), None).body["totalResults"],
        0
    );

    // Create: 201, Location, id is a server-assigned UUID (never the userName), meta complete.
    let body = fixture(
        "entra/create_user.json",
        &[
            ("user", alice),
            ("external", "alice"),
            ("display", "Alice Ng"),
        ],
    );
    let r = s.call("POST", "/Users", Some(&t), Some(&body));
    let id = s.assert_created(&r, "/Users");
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(
        r.body["meta"]["location"],
        format!("{}/Users/{id}", s.scim())
    );
    assert!(r.body["meta"]["version"]
        .as_str()
        .unwrap()
        .starts_with("W/\""));
    assert_eq!(r.etag.as_deref(), r.body["meta"]["version"].as_str());
    assert!(r.body["meta"]["created"].is_string() && r.body["meta"]["lastModified"].is_string());
    assert_eq!(r.body["active"], true);
    assert_eq!(
        r.body["schemas"],
        json!([
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ])
    );

    // Duplicate userName in another letter case: 409 uniqueness.
    let dup = fixture(
        "entra/create_user.json",
        &[
            ("user", "ALICE@Contoso.com"),
            ("external", "x"),
            ("display", "A"),
        ],
    );
    assert_scim_error(
        &s.call("POST", "/Users", Some(&t), Some(&dup)),
        409,
        Some("uniqueness"),
    );

    // Lookup in a different letter case finds her.
    let r = s.call(
        "GET",
        &format!("/Users?filter={}", q("userName eq \"Alice@CONTOSO.com\"")),
        Some(&t),
        None,
    );
    assert_eq!(list_ids(&r.body), vec![id.clone()]);
    // and by externalId (case-exact), and id.
    let r = s.call(
        "GET",
        &format!("/Users?filter={}", q("externalId eq \"alice\"")),
        Some(&t),
        None,
    );
    assert_eq!(list_ids(&r.body), vec![id.clone()]);
    let r = s.call(
        "GET",
        &format!(
            "/Users?filter={}",
            q(&format!("id eq \"{id}\" and userName eq \"{alice}\""))
        ),
        Some(&t),
        None,
    );
    assert_eq!(list_ids(&r.body), vec![id.clone()]);

    // Read back: values exactly as sent.
    let r = s.call("GET", &format!("/Users/{id}"), Some(&t), None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["emails"],
        json!([{"primary":true,"type":"work","value":alice}])
    );
    assert_eq!(
        r.body["phoneNumbers"],
        json!([{"type":"work","value":"+1 555 0100"}])
    );
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "R&D"
    );
    let v1 = r.body["meta"]["version"].clone();

    // PATCH, legacy shape: one op per path, capitalised op names.
    let r = s.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&t),
        Some(&fixture("entra/patch_legacy.json", &[])),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["emails"][0]["value"], "new@contoso.com");
    assert_eq!(r.body["emails"][0]["type"], "work");
    assert_eq!(r.body["name"]["familyName"], "Nguyen");
    assert_eq!(r.body["name"]["givenName"], "Alice");
    assert_eq!(r.body["nickName"], "Al");
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
        "42"
    );
    assert_ne!(r.body["meta"]["version"], v1);

    // PATCH, aadOptscim062020 shape: lowercase ops, one pathless op with dotted and URN keys.
    let r = s.call(
        "PATCH",
        &format!("/Users/{id}?aadOptscim062020"),
        Some(&t),
        Some(&fixture("entra/patch_flag.json", &[])),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["emails"],
        json!([{"primary":true,"type":"work","value":"newer@contoso.com"}])
    );
    assert_eq!(r.body["displayName"], "Alice N");
    assert_eq!(r.body["name"]["givenName"], "Alicia");
    assert_eq!(r.body["name"]["familyName"], "Nguyen-Ng");
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
        "43"
    );

    // A PATCH that changes nothing keeps the version.
    let before =
        s.call("GET", &format!("/Users/{id}"), Some(&t), None).body["meta"]["version"].clone();
    let r = s.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&t),
        Some(&fixture("entra/patch_flag.json", &[])),
    );
    assert_eq!(r.body["meta"]["version"], before);

    // Manager: bare string in, {"value": …} out; cleared by {"value": ""}.
    let bob = create_user(&s, &t, "bob@contoso.com");
    let r = s.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&t),
        Some(&fixture("entra/manager_add.json", &[("manager", &bob)])),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"],
        json!({"value": bob})
    );
    let r = s.call("GET", &format!("/Users?filter={}", q(&format!("id eq \"{id}\" and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"{bob}\""))), Some(&t), None);
    assert_eq!(list_ids(&r.body), vec![id.clone()]);
    let r = s.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&t),
        Some(&fixture("entra/manager_clear.json", &[])),
    );
    assert_eq!(r.status, 200);
    assert!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
            .get("manager")
            .is_none(),
        "{:?}",
        r.body
    );

    // Disable with the string "False": still readable by id and by filter, active false.
    let r = s.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&t),
        Some(&fixture("entra/disable_legacy.json", &[])),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body["active"], false);
    let r = s.call(
        "GET",
        &format!("/Users?filter={}", q(&format!("userName eq \"{alice}\""))),
        Some(&t),
        None,
    );
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["active"], false);
    let r = s.call(
        "GET",
        &format!(
            "/Users?filter={}",
            q("userName eq \"alice@contoso.com\" and active eq false")
        ),
        Some(&t),
        None,
    );
    assert_eq!(r.body["totalResults"], 1);

    // Rename userName.
    let rename = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"Replace","path":"userName","value":"alice.ng@contoso.com"}]});
    let r = s.call("PATCH", &format!("/Users/{id}"), Some(&t), Some(&rename));
    assert_eq!(r.body["userName"], "alice.ng@contoso.com");
    assert_eq!(
        s.call("GET", &lookup, Some(&t), None).body["totalResults"],
        0
    );
    // Renaming onto bob's name is a conflict.
    let clash = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"Replace","path":"userName","value":"BOB@contoso.com"}]});
    assert_scim_error(
        &s.call("PATCH", &format!("/Users/{id}"), Some(&t), Some(&clash)),
        409,
        Some("uniqueness"),
    );

    // Hard delete: 204, then 404; a second delete is 404 too.
    delete_then_gone(&s, &t, &format!("/Users/{id}"));
    // The name is free again.
    let again = fixture(
        "entra/create_user.json",
        &[
            ("user", "alice.ng@contoso.com"),
            ("external", "alice"),
            ("display", "A"),
        ],
    );
    assert_eq!(s.call("POST", "/Users", Some(&t), Some(&again)).status, 201);
}

#[test]
fn group_lifecycle_with_both_member_removal_shapes() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let a = create_user(&s, &t, "a@contoso.com");
    let b = create_user(&s, &t, "b@contoso.com");
    let c = create_user(&s, &t, "c@contoso.com");

    // Lookup, then create with the legacy Microsoft schema URI.
    let lookup = format!(
        "/Groups?excludedAttributes=members&filter={}",
        q("displayName eq \"Sales\"")
    );
    assert_eq!(
        s.call("GET", &lookup, Some(&t), None).body["totalResults"],
        0
    );
    let r = s.call(
        "POST",
        "/Groups",
        Some(&t),
        Some(&fixture("entra/create_group.json", &[("name", "Sales")])),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    let g = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
    );
    assert_eq!(r.body["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    // Duplicate displayName in another case: 409.
    let dup = fixture("entra/create_group.json", &[("name", "SALES")]);
    assert_scim_error(
        &s.call("POST", "/Groups", Some(&t), Some(&dup)),
        409,
        Some("uniqueness"),
    );

    // Several members in one op; re-adding is harmless; 204 with no body.
    let add = fixture("entra/members_add.json", &[("a", &a), ("b", &b)]);
    let r = s.call("PATCH", &format!("/Groups/{g}"), Some(&t), Some(&add));
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(r.body, Value::Null);
    assert_eq!(
        s.call("PATCH", &format!("/Groups/{g}"), Some(&t), Some(&add))
            .status,
        204
    );
    let add_c = fixture("entra/members_add.json", &[("a", &c), ("b", &c)]);
    assert_eq!(
        s.call("PATCH", &format!("/Groups/{g}"), Some(&t), Some(&add_c))
            .status,
        204
    );
    let mut all = vec![a.clone(), b.clone(), c.clone()];
    all.sort();
    assert_eq!(members_of(&s, &t, &g), all);

    // Reads with excludedAttributes=members never carry members.
    let r = s.call("GET", &lookup, Some(&t), None);
    assert_eq!(r.body["totalResults"], 1);
    assert!(r.body["Resources"][0].get("members").is_none());
    let r = s.call(
        "GET",
        &format!("/Groups/{g}?excludedAttributes=members"),
        Some(&t),
        None,
    );
    assert!(r.body.get("members").is_none());
    assert_eq!(r.body["displayName"], "Sales");

    // Membership check: id eq … and members eq ….
    let check = |uid: &str| {
        let f = q(&format!("id eq \"{g}\" and members eq \"{uid}\""));
        s.call(
            "GET",
            &format!("/Groups?excludedAttributes=members&filter={f}"),
            Some(&t),
            None,
        )
        .body["totalResults"]
            .clone()
    };
    assert_eq!(check(&a), 1);

    // Legacy removal: value list. Only b goes.
    let rm = fixture("entra/members_remove_legacy.json", &[("id", &b)]);
    assert_eq!(
        s.call("PATCH", &format!("/Groups/{g}"), Some(&t), Some(&rm))
            .status,
        204
    );
    let mut left = vec![a.clone(), c.clone()];
    left.sort();
    assert_eq!(members_of(&s, &t, &g), left);
    assert_eq!(check(&b), 0);

    // Flag removal: members[value eq "…"], no value. Only c goes.
    let rm = fixture("entra/members_remove_flag.json", &[("id", &c)]);
    assert_eq!(
        s.call(
            "PATCH",
            &format!("/Groups/{g}?aadOptscim062020"),
            Some(&t),
            Some(&rm)
        )
        .status,
        204
    );
    assert_eq!(members_of(&s, &t, &g), vec![a.clone()]);

    // A user's groups are shown on the user.
    let r = s.call("GET", &format!("/Users/{a}"), Some(&t), None);
    assert_eq!(r.body["groups"][0]["value"], g);
    assert_eq!(r.body["groups"][0]["display"], "Sales");

    // Rename: 204, read back.
    let r = s.call(
        "PATCH",
        &format!("/Groups/{g}"),
        Some(&t),
        Some(&fixture("entra/group_rename.json", &[("name", "Sales EU")])),
    );
    assert_eq!(r.status, 204);
    let r = s.call(
        "GET",
        &format!(
            "/Groups?excludedAttributes=members&filter={}",
            q("displayName eq \"sales eu\"")
        ),
        Some(&t),
        None,
    );
    assert_eq!(list_ids(&r.body), vec![g.clone()]);

    // Disabling a member keeps the membership.
    let r = s.call(
        "PATCH",
        &format!("/Users/{a}"),
        Some(&t),
        Some(&fixture("entra/disable_legacy.json", &[])),
    );
    assert_eq!(r.status, 200);
    assert_eq!(members_of(&s, &t, &g), vec![a.clone()]);

    // Deleting a user removes it from every group.
    assert_eq!(
        s.call("DELETE", &format!("/Users/{a}"), Some(&t), None)
            .status,
        204
    );
    assert!(members_of(&s, &t, &g).is_empty());

    // Unknown member ids are refused with the id named.
    let bad = fixture(
        "entra/members_add.json",
        &[("a", &b), ("b", "no-such-user")],
    );
    let r = s.call("PATCH", &format!("/Groups/{g}"), Some(&t), Some(&bad));
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(r.body["detail"].as_str().unwrap().contains("no-such-user"));

    // Delete: 204, then 404.
    delete_then_gone(&s, &t, &format!("/Groups/{g}"));
    // b's groups are gone too.
    let r = s.call("GET", &format!("/Users/{b}"), Some(&t), None);
    assert!(r.body.get("groups").is_none(), "{:?}", r.body);

    // Everything above is in the log, and the views equal a rebuild.
    assert!(s.log().contains("request_id"));
    drop(s.call("GET", "/ServiceProviderConfig", Some(&t), None));
    s.stop_and_verify();
}
