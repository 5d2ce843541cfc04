//! Bad input gets a SCIM error with the right status and scimType — never a 5xx, a hang or a panic.
// Tests may unwrap: a panic is a failed test (clippy.toml allows it in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_scim_error, q, Server, GROUP, USER};
use serde_json::json;

#[test]
fn malformed_requests_get_precise_scim_errors() {
    let s = Server::plain_with_env(&[("SCIMD_MAX_BODY_BYTES", "4096")]);
    let t = s.token("Entra ID");
    let t = Some(t.as_str());

    // Bodies.
    assert_scim_error(
        &s.raw("POST", "/Users", t, Some("{not json".into())),
        400,
        Some("invalidSyntax"),
    );
    assert_scim_error(
        &s.raw("POST", "/Users", t, Some(String::new())),
        400,
        Some("invalidSyntax"),
    );
    assert_scim_error(
        &s.raw("POST", "/Users", t, Some("[1,2]".into())),
        400,
        Some("invalidSyntax"),
    );
    let r = s.call(
        "POST",
        "/Users",
        t,
        Some(&json!({"schemas": [USER], "displayName": "No Name"})),
    );
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(r.body["detail"].as_str().unwrap().contains("userName"));
    for body in [
        json!({"schemas": [USER], "userName": 42}),
        json!({"schemas": [USER], "userName": "a", "active": "perhaps"}),
        json!({"schemas": [USER], "userName": "a", "emails": "not-a-list-of-objects"}),
        json!({"schemas": [USER], "userName": "a", "name": {"givenName": 7}}),
        json!({"schemas": [USER], "userName": "a\u{0007}b"}),
    ] {
        assert_scim_error(
            &s.call("POST", "/Users", t, Some(&body)),
            400,
            Some("invalidValue"),
        );
    }
    // Unknown attributes, sub-attributes and extension schemas: the body does not conform to the
    // schema, RFC 7644 §3.12 invalidSyntax (a wrong value is invalidValue, above).
    for body in [
        json!({"schemas": [USER], "userName": "a", "favouriteColour": "blue"}),
        json!({"schemas": [USER], "userName": "a", "urn:example:unknown:2.0:User": {"x": 1}}),
        json!({"schemas": [USER], "userName": "a", "name": {"nick": "A"}}),
        json!({"schemas": [USER], "userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"shoeSize": 9}}),
    ] {
        let r = s.call("POST", "/Users", t, Some(&body));
        assert_scim_error(&r, 400, Some("invalidSyntax"));
        assert!(
            r.body["detail"].as_str().unwrap().contains("unknown"),
            "{:?}",
            r.body
        );
    }
    assert_scim_error(
        &s.call(
            "POST",
            "/Groups",
            t,
            Some(&json!({"schemas": [GROUP], "members": []})),
        ),
        400,
        Some("invalidValue"),
    );

    // Oversized body: 413 with a SCIM body.
    let big = json!({"schemas": [USER], "userName": "x".repeat(5000)});
    assert_scim_error(
        &s.call("POST", "/Users", t, Some(&big)),
        413,
        Some("tooLarge"),
    );

    // Unknown ids: 404 for every method; ids that are not even UUIDs too.
    for id in [
        "00000000-0000-0000-0000-000000000000",
        "alice@contoso.com",
        "%20",
    ] {
        for (m, body) in [
            ("GET", None),
            ("DELETE", None),
            ("PUT", Some(json!({"schemas": [USER], "userName": "z"}))),
            ("PATCH", Some(json!({"Operations": []}))),
        ] {
            let r = s.call(m, &format!("/Users/{id}"), t, body.as_ref());
            assert_scim_error(&r, 404, None);
        }
    }

    // PATCH bodies.
    let u = s
        .call(
            "POST",
            "/Users",
            t,
            Some(&json!({"schemas": [USER], "userName": "p@x"})),
        )
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/Users/{u}");
    let patch = |ops: serde_json::Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    assert_scim_error(
        &s.call("PATCH", &path, t, Some(&json!({"ops": []}))),
        400,
        Some("invalidSyntax"),
    );
    for (ops, scim_type) in [
        (
            json!([{"op": "frobnicate", "path": "title", "value": "x"}]),
            "invalidSyntax",
        ),
        (json!([{"op": "remove"}]), "noTarget"),
        (
            json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "nosuch", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "groups", "value": []}]),
            "mutability",
        ),
        (
            json!([{"op": "remove", "path": "userName"}]),
            "invalidValue",
        ),
    ] {
        assert_scim_error(
            &s.call("PATCH", &path, t, Some(&patch(ops))),
            400,
            Some(scim_type),
        );
    }
    // An empty Operations list is a no-op.
    assert_eq!(
        s.call("PATCH", &path, t, Some(&patch(json!([])))).status,
        200
    );

    // Filters the parser cannot handle are 400 invalidFilter, never a silent full list.
    for f in [
        "userName equals \"x\"",
        "userName eq",
        "(userName eq \"x\"",
        "nosuch eq \"x\"",
        "active gt true",
        "meta.lastModified gt \"yesterday\"",
        "userName eq \"unterminated",
    ] {
        let r = s.call("GET", &format!("/Users?filter={}", q(f)), t, None);
        assert_scim_error(&r, 400, Some("invalidFilter"));
        assert!(!r.body["detail"].as_str().unwrap().is_empty());
    }
    assert_scim_error(
        &s.call("GET", "/Users?startIndex=abc", t, None),
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &s.call("GET", "/Users?attributes=nosuch", t, None),
        400,
        Some("invalidValue"),
    );

    // Unknown routes and methods: SCIM bodies, 404 / 405.
    assert_scim_error(&s.call("GET", "/Nope", t, None), 404, None);
    assert_scim_error(&s.call("GET", "//nope", t, None), 404, None);
    assert_scim_error(&s.call("DELETE", "/Users", t, None), 405, None);
    assert_scim_error(
        &s.call("POST", "/ServiceProviderConfig", t, Some(&json!({}))),
        405,
        None,
    );
    assert_scim_error(&s.call("PUT", "/Schemas", t, Some(&json!({}))), 405, None);
    assert_scim_error(&s.call("GET", "/Schemas/urn:nope", t, None), 404, None);

    // Nothing above was a server error, and the server is still healthy.
    assert!(!s.log().contains("status=5"), "{}", s.log());
    assert_eq!(s.call("GET", "//healthz", None, None).status, 200);

    // Every refused write is in the log with the status, scimType and detail the client got;
    // failed reads are not logged one by one but aggregated (per client, status and minute).
    let mut s = s;
    assert!(s.terminate());
    let store = scimd::store::Store::open(&s.data_dir).unwrap();
    let (read_failures, rejected): (Vec<scimd::domain::event::Rejected>, Vec<_>) =
        scimd::store::read::log_from(store.trees(), 0)
            .filter_map(|r| match r.unwrap().entry {
                scimd::store::codec::Entry::Rejected(r) => Some(r),
                scimd::store::codec::Entry::Event(_) => None,
            })
            .partition(|r| r.action == scimd::domain::event::Action::ReadFailed);
    let mut read_kinds: Vec<(u16, Option<&str>)> = read_failures
        .iter()
        .map(|r| (r.status, r.scim_type.as_deref()))
        .collect();
    read_kinds.sort_unstable();
    read_kinds.dedup();
    assert_eq!(
        read_kinds.len(),
        read_failures.len(),
        "one aggregated record per kind: {read_failures:#?}"
    );
    assert!(
        read_kinds.contains(&(400, Some("invalidFilter"))),
        "{read_kinds:?}"
    );
    assert!(read_kinds.contains(&(404, None)), "{read_kinds:?}");
    let has = |status: u16, scim_type: Option<&str>| {
        rejected.iter().any(|r| {
            r.status == status && r.scim_type.as_deref() == scim_type && !r.detail.is_empty()
        })
    };
    assert!(has(400, Some("invalidSyntax")), "{rejected:?}");
    assert!(has(400, Some("invalidValue")));
    assert!(has(400, Some("noTarget")));
    assert!(has(413, Some("tooLarge")));
    assert!(has(404, None));
    // 14 user POSTs + 1 group POST + DELETE/PUT/PATCH on 3 unknown ids + 8 bad PATCH bodies:
    // every write above that failed, and none of the reads.
    let writes_refused = 14 + 1 + 3 * 3 + 8;
    assert_eq!(rejected.len(), writes_refused, "{rejected:#?}");
}

#[test]
fn discovery_documents_describe_what_is_served() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let t = Some(t.as_str());
    let spc = s.call("GET", "/ServiceProviderConfig", t, None).body;
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], true);
    assert_eq!(spc["bulk"]["maxOperations"], 1000);
    assert_eq!(spc["filter"]["maxResults"], 1000);
    assert_eq!(spc["patch"]["supported"], true);
    let schemas = s.call("GET", "/Schemas", t, None).body;
    assert_eq!(schemas["totalResults"], 3);
    assert!(!schemas.to_string().contains("null"));
    let user = s
        .call(
            "GET",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            t,
            None,
        )
        .body;
    let user_name = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    let rts = s.call("GET", "/ResourceTypes", t, None).body;
    assert_eq!(
        rts["Resources"][0]["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    assert_eq!(
        s.call("GET", "/ResourceTypes/Group", t, None).body["endpoint"],
        "/Groups"
    );
}

#[test]
fn paging_attributes_etags_and_put() {
    let s = Server::plain();
    let token = s.token("Okta");
    let t = Some(token.as_str());
    for i in 0..12 {
        let r = s.call("POST", "/Users", t, Some(&json!({"schemas": [USER], "userName": format!("u{i:02}@x"), "name": {"givenName": "G", "familyName": "F"}, "emails": [{"value": format!("u{i}@x"), "primary": true}], "active": true})));
        assert_eq!(r.status, 201);
    }
    // Okta's Test Connector Configuration, then pages of 5 over 12 users: each exactly once.
    let r = s.call("GET", "/Users?startIndex=1&count=2", t, None).body;
    assert_eq!(
        (
            r["totalResults"].as_u64(),
            r["itemsPerPage"].as_u64(),
            r["startIndex"].as_u64()
        ),
        (Some(12), Some(2), Some(1))
    );
    let mut seen = Vec::new();
    for page in 0..3 {
        let start = page * 5 + 1;
        let r = s
            .call(
                "GET",
                &format!("/Users?startIndex={start}&count=5"),
                t,
                None,
            )
            .body;
        assert_eq!(r["startIndex"], start);
        for u in r["Resources"].as_array().unwrap() {
            seen.push(u["id"].as_str().unwrap().to_owned());
        }
    }
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!((n, seen.len()), (12, 12));
    assert_eq!(
        s.call("GET", "/Users?count=0", t, None).body["Resources"],
        json!([])
    );

    // attributes: only what was asked plus id and schemas.
    let r = s
        .call(
            "GET",
            &format!(
                "/Users?attributes=userName&filter={}",
                q("userName eq \"u03@x\"")
            ),
            t,
            None,
        )
        .body;
    let keys: Vec<&String> = r["Resources"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["schemas", "id", "userName"]);

    // ETags: If-None-Match → 304; If-Match mismatch → 412; match → 200.
    let id = seen[0].clone();
    let got = s.call("GET", &format!("/Users/{id}"), t, None);
    let etag = got.etag.clone().unwrap();
    let agent = ureq::agent();
    let url = format!("{}/Users/{id}", s.scim());
    let auth = format!("Bearer {token}");
    let res = agent
        .get(&url)
        .set("Authorization", &auth)
        .set("If-None-Match", &etag)
        .call()
        .unwrap();
    assert_eq!(res.status(), 304);
    let put = json!({"schemas": [USER], "userName": got.body["userName"], "active": false});
    let err = agent
        .put(&url)
        .set("Authorization", &auth)
        .set("If-Match", "W/\"999999\"")
        .send_string(&put.to_string());
    match err {
        Err(ureq::Error::Status(412, _)) => {}
        other => panic!("expected 412, got {other:?}"),
    }
    // PUT replaces: attributes not sent are gone (Okta's integration-wizard deactivation).
    let res = agent
        .put(&url)
        .set("Authorization", &auth)
        .set("If-Match", &etag)
        .send_string(&put.to_string())
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.into_json().unwrap();
    assert_eq!(body["active"], false);
    assert!(
        body.get("emails").is_none() && body.get("name").is_none(),
        "{body}"
    );
}

#[test]
fn strict_input_is_refused_with_scim_errors() {
    let s = Server::plain();
    let t = s.token("Strict");
    let t = Some(t.as_str());
    let user = |extra: serde_json::Value| {
        let mut b = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "strict@x"});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    let u = s.call("POST", "/Users", t, Some(&user(json!({})))).body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let g = s
        .call(
            "POST",
            "/Groups",
            t,
            Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Strict"})),
        )
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let patch = |ops: serde_json::Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});

    // Every multi-valued attribute is an array: a lone object is refused like a lone string.
    for extra in [
        json!({"phoneNumbers": {"value": "1"}}),
        json!({"emails": {"value": "a@x"}}),
        json!({"emails": "a@x"}),
        json!({"roles": {"value": "Admin"}}),
    ] {
        let mut created = user(extra.clone());
        // A userName of its own, so only the shape can refuse it.
        created["userName"] = json!("lone@x");
        for (m, path, body) in [
            ("POST", "/Users".to_owned(), created),
            ("PUT", format!("/Users/{u}"), user(extra)),
        ] {
            let r = s.call(m, &path, t, Some(&body));
            assert_scim_error(&r, 400, Some("invalidValue"));
            assert!(
                r.body["detail"].as_str().unwrap().contains("array"),
                "{:?}",
                r.body
            );
        }
    }
    let lone_member = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Lone", "members": {"value": u}});
    assert_scim_error(
        &s.call("POST", "/Groups", t, Some(&lone_member)),
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &s.call("PUT", &format!("/Groups/{g}"), t, Some(&lone_member)),
        400,
        Some("invalidValue"),
    );
    // … and in a PATCH value without a path.
    let r = s.call(
        "PATCH",
        &format!("/Users/{u}"),
        t,
        Some(&patch(
            json!([{"op": "add", "value": {"phoneNumbers": {"value": "1"}}}]),
        )),
    );
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = s.call(
        "PATCH",
        &format!("/Groups/{g}"),
        t,
        Some(&patch(
            json!([{"op": "add", "value": {"members": {"value": u}}}]),
        )),
    );
    assert_scim_error(&r, 400, Some("invalidValue"));
    // An `add` whose path names the attribute may give one new value (RFC 7644 §3.5.2.1).
    let r = s.call(
        "PATCH",
        &format!("/Users/{u}"),
        t,
        Some(&patch(
            json!([{"op": "add", "path": "phoneNumbers", "value": {"value": "1"}}]),
        )),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["phoneNumbers"], json!([{"value": "1"}]));
    let r = s.call(
        "PATCH",
        &format!("/Groups/{g}"),
        t,
        Some(&patch(
            json!([{"op": "add", "path": "members", "value": {"value": u}}]),
        )),
    );
    assert_eq!(r.status, 204, "{:?}", r.body);

    // PATCH add/replace with a path and no value: 400 invalidValue ("a required value was missing").
    for (path, op) in [
        (
            &format!("/Users/{u}"),
            json!({"op": "add", "path": "title"}),
        ),
        (
            &format!("/Users/{u}"),
            json!({"op": "Replace", "path": "displayName"}),
        ),
        (
            &format!("/Groups/{g}"),
            json!({"op": "add", "path": "members"}),
        ),
        (
            &format!("/Groups/{g}"),
            json!({"op": "replace", "path": "displayName"}),
        ),
    ] {
        let r = s.call("PATCH", path, t, Some(&patch(json!([op]))));
        assert_scim_error(&r, 400, Some("invalidValue"));
        assert!(
            r.body["detail"].as_str().unwrap().contains("value"),
            "{:?}",
            r.body
        );
    }

    // `schemas` is required and names the endpoint's core schema (RFC 7643 §3): 400 invalidSyntax.
    let user_path = format!("/Users/{u}");
    let group_path = format!("/Groups/{g}");
    for (m, path, body) in [
        ("POST", "/Users", json!({"userName": "noschemas@x"})),
        (
            "POST",
            "/Users",
            json!({"schemas": null, "userName": "noschemas@x"}),
        ),
        (
            "POST",
            "/Users",
            json!({"schemas": [], "userName": "noschemas@x"}),
        ),
        (
            "POST",
            "/Users",
            json!({"schemas": USER, "userName": "noschemas@x"}),
        ),
        (
            "POST",
            "/Users",
            json!({"schemas": [GROUP], "userName": "noschemas@x"}),
        ),
        (
            "POST",
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"], "userName": "noschemas@x"}),
        ),
        ("PUT", user_path.as_str(), json!({"userName": "strict@x"})),
        (
            "PUT",
            user_path.as_str(),
            json!({"schemas": [GROUP], "userName": "strict@x"}),
        ),
        ("POST", "/Groups", json!({"displayName": "No Schemas"})),
        (
            "POST",
            "/Groups",
            json!({"schemas": [USER], "displayName": "No Schemas"}),
        ),
        ("PUT", group_path.as_str(), json!({"displayName": "Strict"})),
    ] {
        let r = s.call(m, path, t, Some(&body));
        assert_scim_error(&r, 400, Some("invalidSyntax"));
        assert!(
            r.body["detail"].as_str().unwrap().contains("schemas"),
            "{:?}",
            r.body
        );
    }
    // The URN is matched in any letter case, and other URNs may come with it.
    let r = s.call(
        "POST",
        "/Users",
        t,
        Some(&json!({"schemas": ["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER", "urn:example:other"], "userName": "cased@x"})),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    // Bulk operation data are resources too.
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "bulk-noschemas@x"}},
            {"method": "PUT", "path": format!("/Groups/{g}"), "data": {"schemas": [USER], "displayName": "Strict"}},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"schemas": [USER], "userName": "bulk-ok@x"}},
        ]
    });
    let r = s.call("POST", "/Bulk", t, Some(&bulk));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ops = r.body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["400", "400", "201"], "{:?}", r.body);
    for op in &ops[..2] {
        assert_eq!(op["response"]["scimType"], "invalidSyntax", "{op}");
    }

    // Nothing above was a server error.
    assert!(!s.log().contains("status=5"), "{}", s.log());
}
