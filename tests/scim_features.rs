//! RFC 7644 features over HTTP: `/Bulk` with bulkId references and limits, extension schemas from
//! the configuration file (and the unknown-attribute policy), `/.search`, cursor paging.
// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_scim_error, q, Server, GROUP, USER};
use serde_json::{json, Value};

const NETSKOPE: &str = "urn:ietf:params:scim:schemas:extension:Netskope:2.0:User";

#[test]
fn bulk_runs_operations_in_dependency_order_with_bulk_id_references() {
    let s = Server::plain();
    let t = s.token("Bulk client");
    let t = Some(t.as_str());
    // The group op comes first but names a user created later in the same request.
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": {"schemas": [GROUP], "displayName": "Bulk Group", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"schemas": [USER], "userName": "bulk1@x"}},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"schemas": [USER], "userName": "bulk2@x"}},
            {"method": "PATCH", "path": "/Users/bulkId:u1",
             "data": {"Operations": [{"op": "replace", "path": "active", "value": "False"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"schemas": [USER], "userName": "BULK1@x"}},
            {"method": "POST", "path": "/Users", "bulkId": "u3", "data": {"schemas": [USER], "userName": "bulk3@x"}},
            {"method": "DELETE", "path": "/Users/bulkId:u3"},
        ]
    });
    let r = s.call("POST", "/Bulk", t, Some(&body));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    let ops = r.body["Operations"].as_array().unwrap();
    let by = |b: &str| ops.iter().find(|o| o["bulkId"] == b).unwrap().clone();
    assert_eq!(by("u1")["status"], "201");
    assert!(by("u1")["version"].as_str().unwrap().starts_with("W/"));
    assert_eq!(by("g1")["status"], "201", "{:?}", by("g1"));
    assert_eq!(by("dup")["status"], "409");
    assert_eq!(by("dup")["response"]["scimType"], "uniqueness");
    // The id at the end of an operation's location.
    let id_of = |b: &str| {
        by(b)["location"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    let u1 = id_of("u1");
    let g1 = id_of("g1");
    assert_eq!(
        s.call("GET", &format!("/Users/{u1}"), t, None).body["active"],
        false
    );
    let u2 = id_of("u2");
    let members = s.call("GET", &format!("/Groups/{g1}"), t, None).body["members"].clone();
    let mut got: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    got.sort_unstable();
    let mut want = vec![u1.as_str(), u2.as_str()];
    want.sort_unstable();
    assert_eq!(got, want);
    // The DELETE addressed the user created by bulkId u3.
    let deleted = ops.iter().find(|o| o["method"] == "DELETE").unwrap();
    assert_eq!(deleted["status"], "204");
    assert_eq!(deleted["location"], by("u3")["location"]);
    assert_eq!(
        s.call(
            "GET",
            &format!("/Users?filter={}", q("userName eq \"bulk3@x\"")),
            t,
            None
        )
        .body["totalResults"],
        0
    );

    // failOnErrors: 1 stops after the first failure.
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "failOnErrors": 1,
    "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"schemas": [USER], "userName": "bulk1@x"}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"schemas": [USER], "userName": "never@x"}},
    ]});
    let r = s.call("POST", "/Bulk", t, Some(&body));
    assert_eq!(r.body["Operations"].as_array().unwrap().len(), 1);
    let r = s.call(
        "GET",
        &format!("/Users?filter={}", q("userName eq \"never@x\"")),
        t,
        None,
    );
    assert_eq!(r.body["totalResults"], 0);

    // Circular and missing references are reported per operation.
    let body = json!({"Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "x", "data": {"schemas": [GROUP], "displayName": "X", "members": [{"value": "bulkId:nobody"}]}},
        {"method": "PUT", "path": "/Users", "data": {"schemas": [USER], "userName": "z"}},
        {"method": "FETCH", "path": "/Users/1"},
    ]});
    let r = s.call("POST", "/Bulk", t, Some(&body));
    let statuses: Vec<&str> = r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["409", "400", "400"]);

    // Limits: more than maxOperations → 413 tooMany; advertised in ServiceProviderConfig.
    let spc = s.call("GET", "/ServiceProviderConfig", t, None).body;
    assert_eq!(spc["bulk"]["supported"], true);
    let max = usize::try_from(spc["bulk"]["maxOperations"].as_u64().unwrap()).unwrap();
    let many: Vec<Value> = (0..=max)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    assert_scim_error(
        &s.call("POST", "/Bulk", t, Some(&json!({"Operations": many}))),
        413,
        Some("tooMany"),
    );
    assert_scim_error(
        &s.call(
            "POST",
            "/Bulk",
            t,
            Some(&json!({"schemas": ["x"], "Operations": []})),
        ),
        400,
        Some("invalidSyntax"),
    );
    assert_scim_error(&s.call("GET", "/Bulk", t, None), 405, None);
}

#[test]
fn bulk_bodies_over_the_payload_limit_are_413_too_large() {
    let s = Server::plain_with_env(&[("SCIMD_MAX_BODY_BYTES", "2048")]);
    let t = s.token("Bulk client");
    let spc = s.call("GET", "/ServiceProviderConfig", Some(&t), None).body;
    assert_eq!(spc["bulk"]["maxPayloadSize"], 2048);
    let ops: Vec<Value> = (0..50).map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"), "data": {"schemas": [USER], "userName": format!("user{i}@x")}})).collect();
    assert_scim_error(
        &s.call("POST", "/Bulk", Some(&t), Some(&json!({"Operations": ops}))),
        413,
        Some("tooLarge"),
    );
}

fn config_file(dir: &std::path::Path, extra: &str) -> String {
    let path = dir.join("scimd.toml");
    std::fs::write(
        &path,
        format!(
            r#"{extra}
[[extensions]]
schema = "{NETSKOPE}"
description = "Netskope user attributes"
[[extensions.attributes]]
name = "costCode"
[[extensions.attributes]]
name = "clearance"
type = "integer"
[[extensions.attributes]]
name = "badge"
type = "complex"
sub_attributes = [{{ name = "number" }}, {{ name = "expires", type = "dateTime" }}]
"#
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// A server reading a configuration file written by [`config_file`] (kept with the server).
fn configured(extra: &str) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(dir.path(), extra);
    let s = Server::plain_with_env(&[("SCIMD_CONFIG", &cfg)]);
    (dir, s)
}

#[test]
fn declared_extensions_are_validated_stored_filterable_and_discoverable() {
    let (_dir, s) = configured("");
    let t = s.token("Entra ID");
    let t = Some(t.as_str());
    let user = json!({"schemas": [USER], "userName": "ext@x", NETSKOPE: {"costCode": "CC-7", "clearance": 3, "badge": {"number": "B1", "expires": "2027-01-01T00:00:00Z"}}});
    let r = s.call("POST", "/Users", t, Some(&user));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body[NETSKOPE]["clearance"], 3);
    assert!(r.body["schemas"]
        .as_array()
        .unwrap()
        .contains(&json!(NETSKOPE)));
    let id = r.body["id"].as_str().unwrap().to_owned();
    // Entra's PATCH form: URN-qualified attribute path.
    let patch = json!({"Operations": [{"op": "Replace", "path": format!("{NETSKOPE}:costCode"), "value": "CC-8"}]});
    assert_eq!(
        s.call("PATCH", &format!("/Users/{id}"), t, Some(&patch))
            .body[NETSKOPE]["costCode"],
        "CC-8"
    );
    // Filterable, typed.
    for f in [
        format!("{NETSKOPE}:costCode eq \"cc-8\""),
        format!("{NETSKOPE}:clearance gt 2"),
        format!("{NETSKOPE}:badge.expires gt \"2026-06-01T00:00:00Z\""),
    ] {
        let r = s.call("GET", &format!("/Users?filter={}", q(&f)), t, None);
        assert_eq!(r.body["totalResults"], 1, "{f}: {:?}", r.body);
    }
    // Type errors and unknown attributes of a declared schema are 400s naming them.
    let bad = json!({"schemas": [USER], "userName": "ext2@x", NETSKOPE: {"clearance": "high"}});
    assert_scim_error(
        &s.call("POST", "/Users", t, Some(&bad)),
        400,
        Some("invalidValue"),
    );
    // An unknown attribute is a body that does not conform to the schema (RFC 7644 §3.12).
    let bad = json!({"schemas": [USER], "userName": "ext2@x", NETSKOPE: {"shoeSize": 44}});
    let r = s.call("POST", "/Users", t, Some(&bad));
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    assert!(r.body["detail"].as_str().unwrap().contains("shoeSize"));
    // Undeclared schemas: a clear 400, not silent loss.
    let undeclared = json!({"schemas": [USER], "userName": "ext3@x", "urn:ietf:params:scim:schemas:extension:Other:2.0:User": {"x": 1}});
    let r = s.call("POST", "/Users", t, Some(&undeclared));
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    assert!(r.body["detail"].as_str().unwrap().contains("Other"));
    // Discovery.
    let schemas = s.call("GET", "/Schemas", t, None).body;
    assert_eq!(schemas["totalResults"], 4);
    let doc = s.call("GET", &format!("/Schemas/{NETSKOPE}"), t, None).body;
    assert_eq!(doc["attributes"][1]["type"], "integer");
    assert_eq!(doc["attributes"][2]["subAttributes"][1]["type"], "dateTime");
    let rt = s.call("GET", "/ResourceTypes/User", t, None).body;
    assert!(rt["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["schema"] == NETSKOPE));
}

#[test]
fn lenient_setups_can_ignore_unknown_attributes() {
    let (_dir, s) = configured("unknown_attributes = \"ignore\"");
    let t = s.token("Lenient");
    let t = Some(t.as_str());
    let body = json!({"schemas": [USER], "userName": "lenient@x", "favouriteColour": "blue",
        "urn:ietf:params:scim:schemas:extension:Other:2.0:User": {"x": 1}, NETSKOPE: {"costCode": "A", "shoeSize": 44}});
    let r = s.call("POST", "/Users", t, Some(&body));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.body.get("favouriteColour").is_none());
    assert!(r
        .body
        .get("urn:ietf:params:scim:schemas:extension:Other:2.0:User")
        .is_none());
    assert_eq!(r.body[NETSKOPE], json!({"costCode": "A"}));
    let id = r.body["id"].as_str().unwrap();
    let patch = json!({"Operations": [{"op": "replace", "path": "favouriteColour", "value": "red"}, {"op": "replace", "path": "title", "value": "Boss"}]});
    let r = s.call("PATCH", &format!("/Users/{id}"), t, Some(&patch));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["title"], "Boss");
}

#[test]
fn search_and_cursor_paging_over_http() {
    let s = Server::plain();
    let t = s.token("Search");
    let t = Some(t.as_str());
    for i in 0..7 {
        assert_eq!(
            s.call(
                "POST",
                "/Users",
                t,
                Some(&json!({"schemas": [USER], "userName": format!("s{i}@x")}))
            )
            .status,
            201
        );
    }
    assert_eq!(
        s.call(
            "POST",
            "/Groups",
            t,
            Some(&json!({"schemas": [GROUP], "displayName": "Searchers"}))
        )
        .status,
        201
    );
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "attributes": ["userName"], "filter": "userName sw \"s\"", "sortBy": "userName", "sortOrder": "descending", "startIndex": 1, "count": 3});
    let r = s.call("POST", "/Users/.search", t, Some(&search));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(
        r.body["Resources"][0],
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": r.body["Resources"][0]["id"], "userName": "s6@x"})
    );
    let r = s.call(
        "POST",
        "/.search",
        t,
        Some(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})),
    );
    assert_eq!(r.body["totalResults"], 8);
    // Cursor paging through HTTP.
    let mut seen = 0;
    let mut next = Some(String::new());
    while let Some(c) = next {
        let r = s.call("GET", &format!("/Users?count=3&cursor={c}"), t, None);
        assert_eq!(r.status, 200, "{:?}", r.body);
        seen += r.body["Resources"].as_array().unwrap().len();
        next = r
            .body
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    assert_eq!(seen, 7);
    assert_scim_error(
        &s.call("GET", "/Users?cursor=bogus", t, None),
        400,
        Some("invalidCursor"),
    );
    let spc = s.call("GET", "/ServiceProviderConfig", t, None).body;
    assert_eq!(spc["pagination"]["cursor"], true);
    assert_eq!(spc["sort"]["supported"], true);
}

fn secrets(store: &scimd::store::Store) -> Vec<String> {
    scimd::store::read::password_hashes(store.trees()).unwrap()
}

/// Whether any stored log record contains `needle` (a backup holds them as stored, byte for byte).
fn log_contains(store: &scimd::store::Store, needle: &str) -> bool {
    let mut all = Vec::new();
    scimd::store::backup::write(store, &mut all).unwrap();
    all.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn passwords_are_never_returned_nor_stored_in_clear() {
    for mode in ["discard", "hash"] {
        let mut s = Server::plain_with_env(&[("SCIMD_PASSWORD_STORAGE", mode)]);
        let t = s.token("Okta");
        let t = Some(t.as_str());
        // Okta sends a password on create even without password sync.
        let r = s.call(
            "POST",
            "/Users",
            t,
            Some(&json!({"schemas": [USER], "userName": "pw@x", "password": "Create-Secret-1"})),
        );
        assert_eq!(r.status, 201);
        assert!(r.body.get("password").is_none());
        let id = r.body["id"].as_str().unwrap().to_owned();
        let v1 = r.body["meta"]["version"].clone();
        // Okta OIN: password change as a pathless PATCH; Entra: with a path.
        let r = s.call("PATCH", &format!("/Users/{id}"), t, Some(&json!({"Operations": [{"op": "replace", "value": {"password": "Patch-Secret-2"}}]})));
        assert_eq!(r.status, 200);
        assert!(r.body.get("password").is_none());
        let r = s.call("PATCH", &format!("/Users/{id}"), t, Some(&json!({"Operations": [{"op": "replace", "path": "password", "value": "Patch-Secret-3"}]})));
        assert_eq!(r.status, 200);
        if mode == "hash" {
            assert_ne!(
                r.body["meta"]["version"], v1,
                "a password change is a change"
            );
        }
        let r = s.call(
            "PUT",
            &format!("/Users/{id}"),
            t,
            Some(&json!({"schemas": [USER], "userName": "pw@x", "password": "Put-Secret-4"})),
        );
        assert_eq!(r.status, 200);
        let r = s.call(
            "GET",
            &format!("/Users/{id}?attributes=password,userName"),
            t,
            None,
        );
        assert!(r.body.get("password").is_none(), "{:?}", r.body);
        let r = s.call(
            "GET",
            &format!("/Users?filter={}", q("userName eq \"pw@x\"")),
            t,
            None,
        );
        assert!(r.body["Resources"][0].get("password").is_none());
        assert!(s.terminate());
        let out = s.cli(&["verify"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        // Opened once, after every other process is done with the directory (sled releases its
        // lock lazily).
        let store = scimd::store::Store::open(&s.data_dir).unwrap();
        for secret in [
            "Create-Secret-1",
            "Patch-Secret-2",
            "Patch-Secret-3",
            "Put-Secret-4",
        ] {
            assert!(
                !log_contains(&store, secret),
                "{mode}: {secret} is in the log"
            );
        }
        let stored = secrets(&store);
        match mode {
            "discard" => assert!(stored.is_empty()),
            _ => {
                assert_eq!(stored.len(), 1);
                assert!(stored[0].starts_with("$argon2id$"));
                assert!(scimd::service::passwords::verify(
                    "Put-Secret-4",
                    &stored[0]
                ));
                assert!(!scimd::service::passwords::verify(
                    "Patch-Secret-3",
                    &stored[0]
                ));
            }
        }
    }
}

#[test]
fn immutable_extension_attributes_cannot_change_once_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimd.toml");
    std::fs::write(&path, format!("[[extensions]]\nschema = \"{NETSKOPE}\"\n[[extensions.attributes]]\nname = \"hireId\"\nmutability = \"immutable\"\n")).unwrap();
    let s = Server::plain_with_env(&[("SCIMD_CONFIG", &path.display().to_string())]);
    let t = s.token("Okta");
    let t = Some(t.as_str());
    let r = s.call(
        "POST",
        "/Users",
        t,
        Some(&json!({"schemas": [USER], "userName": "imm@x"})),
    );
    let id = r.body["id"].as_str().unwrap().to_owned();
    // Setting it the first time is allowed; changing it afterwards is a mutability error.
    let put = |v: &str| json!({"schemas": [USER], "userName": "imm@x", NETSKOPE: {"hireId": v}});
    assert_eq!(
        s.call("PUT", &format!("/Users/{id}"), t, Some(&put("H1")))
            .status,
        200
    );
    assert_eq!(
        s.call("PUT", &format!("/Users/{id}"), t, Some(&put("H1")))
            .status,
        200
    );
    assert_scim_error(
        &s.call("PUT", &format!("/Users/{id}"), t, Some(&put("H2"))),
        400,
        Some("mutability"),
    );
    let patch = json!({"Operations": [{"op": "replace", "path": format!("{NETSKOPE}:hireId"), "value": "H3"}]});
    assert_scim_error(
        &s.call("PATCH", &format!("/Users/{id}"), t, Some(&patch)),
        400,
        Some("mutability"),
    );
}

#[test]
fn empty_string_then_null_clear_an_attribute() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let t = Some(t.as_str());
    let r = s.call("POST", "/Users", t, Some(&json!({"schemas": [USER], "userName": "clear@x", "title": "Boss", "name": {"givenName": "A", "familyName": "B"}})));
    let id = r.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    for (op, path_attr, value) in [
        ("Replace", "title", json!("")),
        ("Add", "name.givenName", json!("")),
        ("replace", "title", Value::Null),
    ] {
        let r = s.call(
            "PATCH",
            &path,
            t,
            Some(&json!({"Operations": [{"op": op, "path": path_attr, "value": value}]})),
        );
        assert_eq!(r.status, 200);
    }
    let r = s.call("GET", &path, t, None);
    assert!(r.body.get("title").is_none(), "{:?}", r.body);
    assert_eq!(r.body["name"], json!({"familyName": "B"}));
    // A required attribute cannot be cleared.
    let r = s.call(
        "PATCH",
        &path,
        t,
        Some(&json!({"Operations": [{"op": "replace", "path": "userName", "value": ""}]})),
    );
    assert_scim_error(&r, 400, Some("invalidValue"));
}

#[test]
fn manager_in_every_entra_form_and_the_2019_reference_check() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let t = Some(t.as_str());
    let mk = |n: &str| {
        s.call(
            "POST",
            "/Users",
            t,
            Some(&json!({"schemas": [USER], "userName": n})),
        )
        .body["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (emp, boss, boss2) = (mk("emp@x"), mk("boss@x"), mk("boss2@x"));
    let path = format!("/Users/{emp}");
    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    // 2019 form: unqualified path, array value with $ref.
    let r = s.call(
        "PATCH",
        &path,
        t,
        Some(&json!({"Operations": [{"op": "Add", "path": "manager",
        "value": [{"$ref": format!("{}/Users/{boss}", s.scim()), "value": boss}]}]})),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body[ENT]["manager"]["value"], boss);
    // Reference check: id eq … and manager eq … (unqualified, compared on manager.value).
    let check = |m: &str| {
        let f = q(&format!("id eq \"{emp}\" and manager eq \"{m}\""));
        s.call("GET", &format!("/Users?filter={f}"), t, None).body["totalResults"].clone()
    };
    assert_eq!(check(&boss), 1);
    assert_eq!(check(&boss2), 0);
    // Current form: bare string on the URN path; then {"value": …}; cleared by remove.
    let r = s.call("PATCH", &path, t, Some(&json!({"Operations": [{"op": "replace", "path": format!("{ENT}:manager"), "value": boss2}]})));
    // The new manager replaces the old one whole: no stale $ref to the previous manager.
    assert_eq!(r.body[ENT]["manager"], json!({"value": boss2}));
    assert_eq!(check(&boss2), 1);
    let r = s.call(
        "PATCH",
        &path,
        t,
        Some(&json!({"Operations": [{"op": "remove", "path": format!("{ENT}:manager")}]})),
    );
    assert!(
        r.body.get(ENT).is_none_or(|e| e.get("manager").is_none()),
        "{:?}",
        r.body
    );
    assert_eq!(check(&boss2), 0);
}
