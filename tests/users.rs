//! In-process HTTP tests: the same `http::configure` the server mounts, on a temporary sled, driven
//! with `actix_web::test` (no sockets). Fast checks of the request/response contract.
// Tests may unwrap: a panic is a failed test (clippy.toml allows it in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test;
use serde_json::{json, Value};

use common::inproc::{app, start as fixture, InProc as Fixture};
use common::USER;

fn auth(f: &Fixture) -> (&'static str, String) {
    ("Authorization", format!("Bearer {}", f.token))
}

#[actix_web::test]
async fn create_then_filter_by_each_indexed_attribute() {
    let f = fixture().await;
    let app = app!(f);
    let req = test::TestRequest::post()
        .uri("/scim/v2/Users")
        .insert_header(auth(&f))
        .set_payload(
            json!({"schemas": [USER], "userName": "Dana@Example.com", "externalId": "D-1", "title": "CTO"})
                .to_string(),
        )
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), 201);
    assert!(res.headers().get("x-request-id").is_some());
    let loc = res
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        loc.starts_with("https://scim.example.com/scim/v2/Users/"),
        "{loc}"
    );
    let created: Value = test::read_body_json(res).await;
    let id = created["id"].as_str().unwrap().to_owned();

    for filter in [
        "userName eq \"dana@example.com\"".to_owned(),
        "externalId eq \"D-1\"".to_owned(),
        format!("id eq \"{id}\""),
        "userName eq \"DANA@example.com\" and title eq \"CTO\"".to_owned(),
        "title co \"ct\"".to_owned(),
        "userName sw \"dana\" or externalId eq \"nobody\"".to_owned(),
    ] {
        let uri = format!("/scim/v2/Users?filter={}", urlencode(&filter));
        let req = test::TestRequest::get()
            .uri(&uri)
            .insert_header(auth(&f))
            .to_request();
        let body: Value = test::call_and_read_body_json(&app, req).await;
        assert_eq!(body["totalResults"], 1, "{filter}: {body}");
        assert_eq!(body["Resources"][0]["id"], id.as_str());
    }
    // externalId is case-exact; an `and` whose indexed term matches but whose other term does not.
    for filter in [
        "externalId eq \"d-1\"",
        "userName eq \"dana@example.com\" and title eq \"CEO\"",
    ] {
        let uri = format!("/scim/v2/Users?filter={}", urlencode(filter));
        let req = test::TestRequest::get()
            .uri(&uri)
            .insert_header(auth(&f))
            .to_request();
        let body: Value = test::call_and_read_body_json(&app, req).await;
        assert_eq!(body["totalResults"], 0, "{filter}: {body}");
    }
}

#[actix_web::test]
async fn every_response_is_scim_json_and_unknown_query_params_are_ignored() {
    let f = fixture().await;
    let app = app!(f);
    for uri in [
        "/scim/v2/Users?aadOptscim062020",
        "/scim/v2/Groups?foo=bar&aadOptscim062020",
        "/scim/v2/Schemas",
        "/scim/v2/nope",
    ] {
        let req = test::TestRequest::get()
            .uri(uri)
            .insert_header(auth(&f))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(
            res.headers().get("content-type").unwrap().to_str().unwrap(),
            "application/scim+json",
            "{uri}"
        );
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Group members are stored as sent: a `display` only where the client sent one (never one the
/// server made up from the user), replaced exactly by a PUT, kept by an add that sends none.
#[actix_web::test]
async fn group_members_come_back_as_their_client_sent_them() {
    let f = fixture().await;
    let app = app!(f);
    let call = |method: test::TestRequest, uri: &str, body: Option<Value>| {
        let mut req = method.uri(uri).insert_header(auth(&f));
        if let Some(b) = body {
            req = req.set_payload(b.to_string());
        }
        req.to_request()
    };
    let mut ids = Vec::new();
    for (name, display) in [("alice@x", "Alice A"), ("bob@x", "Bob B")] {
        let res = test::call_service(
            &app,
            call(
                test::TestRequest::post(),
                "/scim/v2/Users",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "displayName": display})),
            ),
        )
        .await;
        let v: Value = test::read_body_json(res).await;
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let (alice, bob) = (ids[0].clone(), ids[1].clone());
    let res = test::call_service(
        &app,
        call(
            test::TestRequest::post(),
            "/scim/v2/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales", "members": [{"value": alice}]})),
        ),
    )
    .await;
    assert_eq!(res.status(), 201);
    let g: Value = test::read_body_json(res).await;
    assert_eq!(
        g["members"],
        json!([{"value": alice, "$ref": format!("https://scim.example.com/scim/v2/Users/{alice}"), "type": "User"}])
    );
    let uri = format!("/scim/v2/Groups/{}", g["id"].as_str().unwrap());
    let patch = |ops: Value| {
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}),
        )
    };
    let members = |g: &Value| -> Vec<(String, Option<String>)> {
        g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["value"].as_str().unwrap().to_owned(),
                    m.get("display").map(|d| d.as_str().unwrap().to_owned()),
                )
            })
            .collect()
    };
    let sorted = |mut v: Vec<(String, Option<String>)>| {
        v.sort();
        v
    };
    let get = || call(test::TestRequest::get(), &uri, None);

    // An add with a display keeps it; an add of an existing member without one keeps the old.
    let res = test::call_service(
        &app,
        call(
            test::TestRequest::patch(),
            &uri,
            patch(json!([{"op": "add", "path": "members", "value": [{"value": bob, "display": "Bobby"}]}])),
        ),
    )
    .await;
    assert_eq!(res.status(), 204);
    let res = test::call_service(
        &app,
        call(
            test::TestRequest::patch(),
            &uri,
            patch(json!([{"op": "add", "path": "members", "value": [{"value": bob}]}])),
        ),
    )
    .await;
    assert_eq!(res.status(), 204);
    let g: Value = test::read_body_json(test::call_service(&app, get()).await).await;
    assert_eq!(
        members(&g),
        sorted(vec![
            (alice.clone(), None),
            (bob.clone(), Some("Bobby".into()))
        ])
    );

    // A PUT makes the members exactly as sent.
    let res = test::call_service(
        &app,
        call(
            test::TestRequest::put(),
            &uri,
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales", "members": [{"value": alice, "display": "Al"}, {"value": bob}]})),
        ),
    )
    .await;
    assert_eq!(res.status(), 200);
    let put: Value = test::read_body_json(res).await;
    let want = sorted(vec![
        (alice.clone(), Some("Al".into())),
        (bob.clone(), None),
    ]);
    assert_eq!(members(&put), want, "the PUT's answer");
    let g: Value = test::read_body_json(test::call_service(&app, get()).await).await;
    assert_eq!(members(&g), want, "a later GET");

    // A display filter sees what was sent.
    let res = test::call_service(
        &app,
        call(
            test::TestRequest::patch(),
            &uri,
            patch(json!([{"op": "remove", "path": "members[display eq \"Al\"]"}])),
        ),
    )
    .await;
    assert_eq!(res.status(), 204);
    let g: Value = test::read_body_json(test::call_service(&app, get()).await).await;
    assert_eq!(members(&g), vec![(bob, None)]);
}

/// Created users and groups get time-ordered (version 7) ids: each sorts after the one made before
/// it, so an unfiltered list, which runs in id order, comes back in creation order.
#[actix_web::test]
async fn ids_are_time_ordered_and_unfiltered_lists_come_back_in_creation_order() {
    let f = fixture().await;
    let app = app!(f);
    let mut made = Vec::new();
    for i in 0..12 {
        let req = test::TestRequest::post()
            .uri("/scim/v2/Users")
            .insert_header(auth(&f))
            .set_payload(json!({"schemas": [USER], "userName": format!("u{i}@x")}).to_string())
            .to_request();
        let created: Value = test::call_and_read_body_json(&app, req).await;
        made.push(created["id"].as_str().unwrap().to_owned());
    }
    for id in &made {
        let v = uuid::Uuid::parse_str(id).unwrap().get_version_num();
        assert_eq!(v, 7, "{id}");
    }
    let mut sorted = made.clone();
    sorted.sort();
    assert_eq!(sorted, made, "ids sort in creation order");
    let req = test::TestRequest::get()
        .uri("/scim/v2/Users?count=100")
        .insert_header(auth(&f))
        .to_request();
    let list: Value = test::call_and_read_body_json(&app, req).await;
    let listed: Vec<String> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, made);

    let req = test::TestRequest::post()
        .uri("/scim/v2/Groups")
        .insert_header(auth(&f))
        .set_payload(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G"})
                .to_string(),
        )
        .to_request();
    let group: Value = test::call_and_read_body_json(&app, req).await;
    let gid = uuid::Uuid::parse_str(group["id"].as_str().unwrap()).unwrap();
    assert_eq!(gid.get_version_num(), 7);
}
