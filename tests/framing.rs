//! Request framing: how endpoint paths may be spelled, which `Authorization` field counts, request
//! heads that are too large, and chunked bodies whose chunk sizes are not numbers — each answered
//! with a SCIM error body wherever the server answers at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_scim_error, q, Server, GROUP, LIST, USER};
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
        Some(&json!({"schemas": [USER], "userName": "alice@contoso.com"})),
    );
    let user = s.assert_created(&r, "/Users");
    let r = s.call(
        "POST",
        "/GROUPS",
        t,
        Some(&json!({"schemas": [GROUP], "displayName": "Staff"})),
    );
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
                        "data": {"schemas": [USER], "userName": "bob@contoso.com"}}]});
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

/// A response read off a raw socket.
#[derive(Debug)]
struct Raw {
    /// 0 when the server answered nothing.
    status: u16,
    /// Header fields, names lower-cased.
    headers: Vec<(String, String)>,
    body: serde_json::Value,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A SCIM error with this status (schema, status as a string, a detail).
    fn assert_scim_error(&self, status: u16) {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/scim+json")),
            "{self:?}"
        );
        assert_eq!(
            self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{self:?}"
        );
        assert_eq!(self.body["status"], status.to_string(), "{self:?}");
        assert!(self.body["detail"].as_str().is_some(), "{self:?}");
    }
}

/// Send `request` on a fresh connection and read until the server closes it (every request here
/// either says `Connection: close` or is one the server must close after).
fn exchange(s: &Server, request: &[u8]) -> Raw {
    use std::io::{Read, Write};
    let addr = s.root.strip_prefix("http://").unwrap();
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    // Only a bound on a hung test, never an assertion.
    sock.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    // The server may stop reading (and reset) before all of a refused request is written.
    let _ = sock.write_all(request);
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the answer: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Raw {
        status,
        headers,
        body: serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    }
}

#[test]
fn two_authorization_fields_are_refused_whichever_comes_first() {
    let s = Server::plain();
    let good = s.token("Entra ID");
    for (first, second) in [
        (format!("Bearer {good}"), "Bearer scimd_nope".to_owned()),
        ("Bearer scimd_nope".to_owned(), format!("Bearer {good}")),
        (format!("Bearer {good}"), format!("Bearer {good}")),
    ] {
        let r = exchange(
            &s,
            format!(
                "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                 Authorization: {first}\r\nAuthorization: {second}\r\n\r\n"
            )
            .as_bytes(),
        );
        r.assert_scim_error(400);
        assert!(
            r.body["detail"].as_str().unwrap().contains("Authorization"),
            "{r:?}"
        );
    }
    // One field still works.
    let r = exchange(
        &s,
        format!(
            "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {good}\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn oversized_request_heads_get_a_scim_error_where_the_application_sees_them() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let get = |target: &str, extra: &str| {
        exchange(
            &s,
            format!(
                "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                 Authorization: Bearer {t}\r\n{extra}\r\n"
            )
            .as_bytes(),
        )
    };
    let filter = |n: usize| {
        format!(
            "/scim/v2/Users?filter={}",
            q(&format!("userName eq \"{}\"", "a".repeat(n)))
        )
    };

    // A 100 KB header field: 431.
    let r = get(
        "/scim/v2/Users",
        &format!("X-Padding: {}\r\n", "p".repeat(100_000)),
    );
    r.assert_scim_error(431);
    assert!(
        r.body["detail"].as_str().unwrap().contains("x-padding"),
        "{r:?}"
    );
    assert_eq!(r.header("connection"), Some("close"), "{r:?}");
    // Many fields that are each small but 100 KB together: 431.
    let many: String = (0..40)
        .map(|i| format!("X-F{i}: {}\r\n", "f".repeat(2500)))
        .collect();
    get("/scim/v2/Users", &many).assert_scim_error(431);
    // A 20 KB filter: 414.
    let r = get(&filter(20_000), "");
    r.assert_scim_error(414);
    assert_eq!(r.header("connection"), Some("close"), "{r:?}");
    // Just below the limits: served.
    let r = get(
        &format!("/scim/v2/Users?aadOptscim062020&pad={}", "p".repeat(15_000)),
        "",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        get(
            "/scim/v2/Users",
            &format!("X-Padding: {}\r\n", "p".repeat(15_000))
        )
        .status,
        200
    );

    // Below the application, actix-http answers by itself, with no body and before any of our
    // code runs (tests pin it so a future actix that lets us answer shows up here):
    // a request target over the `http` crate's 65 534 bytes is a parse error: 400, empty body;
    let r = get(&filter(100_000), "");
    assert_eq!(
        (r.status, &r.body),
        (400, &serde_json::Value::Null),
        "{r:?}"
    );
    assert_eq!(r.header("content-length"), Some("0"), "{r:?}");
    // a head over its 128 KiB buffer: 431, empty body.
    let r = get(
        "/scim/v2/Users",
        &format!("X-Padding: {}\r\n", "p".repeat(200_000)),
    );
    assert_eq!(
        (r.status, &r.body),
        (431, &serde_json::Value::Null),
        "{r:?}"
    );
    assert_eq!(r.header("content-length"), Some("0"), "{r:?}");
}

/// A chunked POST /Users whose body is sent with this chunk-size line.
fn chunked(token: &str, size_line: &str, body: &str) -> String {
    format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/scim+json\r\n\
         Transfer-Encoding: chunked\r\n\r\n{size_line}\r\n{body}\r\n0\r\n\r\n"
    )
}

#[test]
fn chunked_bodies_with_invalid_chunk_sizes_get_400_and_a_close() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let body = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"chunked@contoso.com"}"#;
    // A well-formed chunked body is served like any other.
    let r = exchange(
        &s,
        chunked(&t, &format!("{:x}", body.len()), body).as_bytes(),
    );
    assert_eq!(r.status, 201, "{r:?}\n{}", s.log());

    // Not hex, 21 hex digits (more than a u64 holds), negative: actix-http reports each as an I/O
    // error and closes the connection; the answer must be out before it does. Each also as the
    // size of a second chunk, after a good one, so the error comes while the handler reads.
    for size in ["zz", "123456789012345678901", "-5"] {
        for request in [
            chunked(&t, size, body),
            chunked(&t, &format!("2\r\n{{\"\r\n{size}"), &body[1..]),
        ] {
            let r = exchange(&s, request.as_bytes());
            r.assert_scim_error(400);
            assert_eq!(r.body["scimType"], "invalidSyntax", "{size}: {r:?}");
            assert!(
                r.body["detail"].as_str().unwrap().contains("chunked"),
                "{size}: {r:?}"
            );
            assert_eq!(r.header("connection"), Some("close"), "{size}: {r:?}");
        }
    }
    // The server goes on serving, and none of those bodies made a user.
    let r = s.call("GET", "/Users", Some(&t), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 1, "{:?}", r.body);
    s.stop_and_verify();
}
