//! Request framing: how endpoint paths may be spelled, which `Authorization` field counts, request
//! heads that are too large, and chunked bodies whose chunk sizes are not numbers — each answered
//! with a SCIM error body wherever the server answers at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_scim_error, q, Server, LIST};
use serde_json::json;

#[test]
fn endpoint_names_in_any_case_and_with_a_trailing_slash_are_served() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let t = Some(t.as_str());

    let r = s.call(
        "POST",
        "/users/",
        t,
        Some(&json!({"userName": "alice@contoso.com"})),
    );
    let user = s.assert_created(&r, "/Users");
    let r = s.call("POST", "/GROUPS", t, Some(&json!({"displayName": "Staff"})));
    let group = s.assert_created(&r, "/Groups");

    // Entra's probe, lower case and with a trailing slash.
    let filter = q(r#"userName eq "alice@contoso.com""#);
    for path in [
        "/users".to_owned(),
        format!("/Users/?filter={filter}"),
        format!("/users/?filter={filter}"),
    ] {
        let r = s.call("GET", &path, t, None);
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        assert_eq!(r.body["schemas"][0], LIST, "{path}");
        assert_eq!(r.body["totalResults"], 1, "{path}");
    }
    for path in ["/groups", "/Groups/", "/gRoUpS/"] {
        let r = s.call("GET", path, t, None);
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        assert_eq!(r.body["totalResults"], 1, "{path}");
    }
    for path in [format!("/users/{user}/"), format!("/USERS/{user}")] {
        let r = s.call("GET", &path, t, None);
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        assert_eq!(r.body["id"], user.as_str());
    }
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "Engineer"}]});
    let r = s.call("PATCH", &format!("/users/{user}/"), t, Some(&patch));
    common::assert_patch_status(&r, "lower-case path");
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName eq \"alice@contoso.com\""});
    for path in ["/users/.SEARCH", "/Users/.search/", "/.Search", "/.search/"] {
        let r = s.call("POST", path, t, Some(&search));
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        assert_eq!(r.body["totalResults"], 1, "{path}");
    }

    // Discovery.
    for path in [
        "/serviceproviderconfig",
        "/ServiceProviderConfig/",
        "/resourcetypes/",
        "/resourcetypes/user/",
        "/RESOURCETYPES/Group",
        "/schemas",
        "/schemas/urn:ietf:params:scim:schemas:core:2.0:User/",
    ] {
        let r = s.call("GET", path, t, None);
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        assert!(
            r.content_type.starts_with("application/scim+json"),
            "{path}"
        );
    }

    // Bulk.
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b",
                        "data": {"userName": "bob@contoso.com"}}]});
    let r = s.call("POST", "/bulk/", t, Some(&bulk));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["Operations"][0]["status"], "201", "{:?}", r.body);

    let r = s.call("DELETE", &format!("/groups/{group}/"), t, None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    // Unknown endpoints stay SCIM 404s, and methods keep their 405s whatever the spelling.
    assert_scim_error(&s.call("GET", "/nothing/", t, None), 404, None);
    assert_scim_error(&s.call("PUT", "/users/", t, Some(&json!({}))), 405, None);
    s.stop_and_verify();
}
