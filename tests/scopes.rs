//! Token scopes, endpoint by endpoint: `scim:write` may do everything of the SCIM API, `scim:read`
//! only reads it (writes are 403 with a SCIM error and change nothing), `events:read` reads the
//! change feed and nothing of SCIM. The table below names every route the bearer token guards; a
//! route added without a row here would still be covered by the one extractor, but not tested.
// Tests may unwrap: a panic is a failed test (clippy.toml allows it in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test;
use serde_json::{json, Value};

use common::inproc::{app, issue_scoped, start, InProc};
use common::{GROUP, USER};
use scimd::service::tokens;

/// Issue a token with `scopes` on the fixture's writer; its bearer text.
async fn token(f: &InProc, name: &str, scopes: &[&str]) -> String {
    let t = tokens::generate();
    f.state
        .commands
        .writer()
        .submit(issue_scoped(&t, name, scopes))
        .await
        .unwrap();
    t.token
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Needs {
    ScimRead,
    ScimWrite,
    Events,
}

/// Every bearer-guarded route: method, path (with `{u}`/`{g}` for an existing user and group),
/// a body, and the scope it needs.
fn routes() -> Vec<(&'static str, &'static str, Option<Value>, Needs)> {
    use Needs::*;
    let user = json!({"schemas": [USER], "userName": "new-{u}@example.com"});
    let group = json!({"schemas": [GROUP], "displayName": "New {g}"});
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "x"}]});
    let gpatch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed {g}"}]});
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]});
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "a",
            "data": {"schemas": [USER], "userName": "bulk-{u}@example.com"}}]});
    vec![
        ("GET", "/scim/v2/ServiceProviderConfig", None, ScimRead),
        ("GET", "/scim/v2/ResourceTypes", None, ScimRead),
        ("GET", "/scim/v2/ResourceTypes/User", None, ScimRead),
        ("GET", "/scim/v2/Schemas", None, ScimRead),
        (
            "GET",
            "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            None,
            ScimRead,
        ),
        ("GET", "/scim/v2/Users", None, ScimRead),
        ("GET", "/scim/v2/Users/{u}", None, ScimRead),
        (
            "POST",
            "/scim/v2/Users/.search",
            Some(search.clone()),
            ScimRead,
        ),
        ("GET", "/scim/v2/Groups", None, ScimRead),
        ("GET", "/scim/v2/Groups/{g}", None, ScimRead),
        (
            "POST",
            "/scim/v2/Groups/.search",
            Some(search.clone()),
            ScimRead,
        ),
        ("POST", "/scim/v2/.search", Some(search), ScimRead),
        ("POST", "/scim/v2/Users", Some(user.clone()), ScimWrite),
        (
            "PUT",
            "/scim/v2/Users/{u}",
            Some(json!({"schemas": [USER], "userName": "put-{u}@example.com", "title": "t"})),
            ScimWrite,
        ),
        ("PATCH", "/scim/v2/Users/{u}", Some(patch), ScimWrite),
        ("POST", "/scim/v2/Groups", Some(group), ScimWrite),
        (
            "PUT",
            "/scim/v2/Groups/{g}",
            Some(json!({"schemas": [GROUP], "displayName": "G2 {g}"})),
            ScimWrite,
        ),
        ("PATCH", "/scim/v2/Groups/{g}", Some(gpatch), ScimWrite),
        ("POST", "/scim/v2/Bulk", Some(bulk), ScimWrite),
        ("DELETE", "/scim/v2/Groups/{g}", None, ScimWrite),
        ("DELETE", "/scim/v2/Users/{u}", None, ScimWrite),
        ("GET", "/events", None, Events),
        ("GET", "/events?limit=5&detail=notice", None, Events),
        ("GET", "/events/snapshot", None, Events),
    ]
}

fn allowed(scopes: &[&str], needs: Needs) -> bool {
    let has = |s: &str| scopes.contains(&s);
    match needs {
        Needs::ScimRead => has("scim:read") || has("scim:write"),
        Needs::ScimWrite => has("scim:write"),
        Needs::Events => has("events:read"),
    }
}

/// Send a request with a bearer token: (status, WWW-Authenticate, JSON body or null).
macro_rules! send {
    ($app:expr, $token:expr, $method:expr, $path:expr, $body:expr) => {{
        let body: Option<&Value> = $body;
        let mut req = test::TestRequest::default()
            .method($method.parse().unwrap())
            .uri(&$path)
            .insert_header(("Authorization", format!("Bearer {}", $token)));
        if let Some(b) = body {
            req = req
                .insert_header(("Content-Type", "application/scim+json"))
                .set_payload(b.to_string());
        }
        let res = test::call_service(&$app, req.to_request()).await;
        let status = res.status().as_u16();
        let www = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = test::read_body(res).await;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, www, body)
    }};
}

/// A fresh user and group for a route that may delete or change them.
macro_rules! seed {
    ($app:expr, $admin:expr, $n:expr) => {{
        let (s, _, u) = send!($app, $admin, "POST", "/scim/v2/Users",
            Some(&json!({"schemas": [USER], "userName": format!("u{}@example.com", $n)})));
        assert_eq!(s, 201, "{u}");
        let (s, _, g) = send!($app, $admin, "POST", "/scim/v2/Groups",
            Some(&json!({"schemas": [GROUP], "displayName": format!("G{}", $n)})));
        assert_eq!(s, 201, "{g}");
        (u["id"].as_str().unwrap().to_owned(), g["id"].as_str().unwrap().to_owned())
    }};
}

#[actix_web::test]
async fn every_endpoint_checks_the_token_scope() {
    let f = start().await;
    let app = app!(f);
    let kinds: [&[&str]; 5] = [
        &["scim:write"],
        &["scim:read"],
        &["events:read"],
        &["scim:read", "events:read"],
        &["scim:write", "events:read"],
    ];
    let mut n = 0;
    for scopes in kinds {
        let bearer = token(&f, &format!("client {}", scopes.join("+")), scopes).await;
        for (method, path, body, needs) in routes() {
            n += 1;
            let (u, g) = seed!(app, &f.token, n);
            let path = path.replace("{u}", &u).replace("{g}", &g);
            let before = send!(app, &f.token, "GET", "/scim/v2/Users?count=0", None).2
                ["totalResults"]
                .clone();
            let body = body.map(|b| {
                serde_json::from_str::<Value>(&b.to_string().replace("{u}", &u).replace("{g}", &g))
                    .unwrap()
            });
            let (status, www, reply) = send!(app, &bearer, method, &path, body.as_ref());
            if allowed(scopes, needs) {
                assert!(status < 400, "{scopes:?} {method} {path}: {status} {reply}");
            } else {
                assert_eq!(status, 403, "{scopes:?} {method} {path}: {reply}");
                assert_eq!(
                    reply["schemas"][0],
                    "urn:ietf:params:scim:api:messages:2.0:Error"
                );
                assert_eq!(reply["status"], "403");
                assert!(
                    reply["detail"].as_str().unwrap().contains("scope")
                        || reply["detail"].as_str().unwrap().contains("grant"),
                    "{reply}"
                );
                assert!(www.unwrap().contains("insufficient_scope"));
                // A refused write changed nothing.
                let (_, _, after) =
                    send!(app, &f.token, "GET", &format!("/scim/v2/Users/{u}"), None);
                assert_eq!(
                    after["userName"],
                    format!("u{n}@example.com"),
                    "{method} {path}"
                );
                let (s, _, _) = send!(app, &f.token, "GET", &format!("/scim/v2/Groups/{g}"), None);
                assert_eq!(s, 200, "{method} {path}");
                let now = send!(app, &f.token, "GET", "/scim/v2/Users?count=0", None).2
                    ["totalResults"]
                    .clone();
                assert_eq!(now, before, "{method} {path}");
            }
        }
    }
}

#[actix_web::test]
async fn a_read_token_cannot_write_and_an_events_token_cannot_read_scim() {
    let f = start().await;
    let app = app!(f);
    let reader = token(&f, "HR app", &["scim:read"]).await;
    let follower = token(&f, "Directory sync", &["events:read"]).await;
    let (s, _, e) = send!(
        app,
        &reader,
        "POST",
        "/scim/v2/Users",
        Some(&json!({"schemas": [USER], "userName": "x@example.com"}))
    );
    assert_eq!(s, 403, "{e}");
    assert!(e["detail"].as_str().unwrap().contains("scim:write"), "{e}");
    let (s, _, list) = send!(app, &reader, "GET", "/scim/v2/Users", None);
    assert_eq!((s, list["totalResults"].clone()), (200, json!(0)));
    let (s, _, e) = send!(app, &follower, "GET", "/scim/v2/Users", None);
    assert_eq!(s, 403, "{e}");
    assert!(e["detail"].as_str().unwrap().contains("scim:read"), "{e}");
    // A write token does not read the feed either: it is a grant of its own.
    let (s, _, e) = send!(app, &f.token, "GET", "/events", None);
    assert_eq!(s, 403, "{e}");
    assert!(e["detail"].as_str().unwrap().contains("events:read"), "{e}");
}

#[actix_web::test]
async fn the_tokens_api_issues_and_lists_scopes() {
    use scimd::domain::scope::Scopes;
    let f = start().await;
    let list = f.state.directory.tokens().unwrap();
    assert_eq!(list[0].scopes, ["scim:write"]);
    let _ = token(&f, "Feed", &["events:read", "scim:read"]).await;
    let list = f.state.directory.tokens().unwrap();
    assert_eq!(list[1].scopes, ["scim:read", "events:read"]);
    assert!(Scopes::parse(&["nope"]).is_err());
}
