//! Big groups and big directories: a group with more members than
//! `STREAM_MEMBERS_ABOVE` is answered as a stream whose bytes are the whole rendering's (every
//! member once, in id order, `display` only where it was sent, ETag and If-None-Match as usual);
//! list totals come from the kept counts and stay equal to what is there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::body::{BodySize, MessageBody};
use actix_web::test;
use serde_json::{json, Value};

use common::inproc::{self, app};
use common::{GROUP, USER};
use scimd::service::query::STREAM_MEMBERS_ABOVE;
use scimd::store::read;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Create `n` users `{prefix}{i}@contoso.com` through `$app`; their ids, in creation order.
macro_rules! create_users {
    ($app:expr, $f:expr, $prefix:expr, $n:expr) => {{
        let mut ids = Vec::new();
        for i in 0..$n {
            let name = format!("{}{i}@contoso.com", $prefix);
            let body = json!({"schemas": [USER], "userName": name});
            let req = test::TestRequest::post()
                .uri("/scim/v2/Users")
                .insert_header($f.auth())
                .set_payload(body.to_string())
                .to_request();
            let v: Value = test::call_and_read_body_json(&$app, req).await;
            ids.push(v["id"].as_str().unwrap().to_owned());
        }
        ids
    }};
}

#[actix_web::test]
async fn a_big_group_streams_exactly_its_stored_members() {
    let f = inproc::start().await;
    let app = app!(f);
    let n = usize::try_from(STREAM_MEMBERS_ABOVE).unwrap() + 234;
    let ids = create_users!(app, f, "big", n);
    let req = test::TestRequest::post()
        .uri("/scim/v2/Groups")
        .insert_header(f.auth())
        .set_payload(json!({"schemas": [GROUP], "displayName": "Everyone"}).to_string())
        .to_request();
    let g: Value = test::call_and_read_body_json(&app, req).await;
    let gid = g["id"].as_str().unwrap().to_owned();
    // Every third member is sent with a display, the others with the id only.
    for chunk in ids.chunks(400) {
        let members: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(k, id)| {
                if k % 3 == 0 {
                    json!({"value": id, "display": format!("shown {id}")})
                } else {
                    json!({"value": id})
                }
            })
            .collect();
        let body = json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": members}]});
        let req = test::TestRequest::patch()
            .uri(&format!("/scim/v2/Groups/{gid}"))
            .insert_header(f.auth())
            .set_payload(body.to_string())
            .to_request();
        assert_eq!(test::call_service(&app, req).await.status(), 204);
    }

    // The streamed answer.
    let req = test::TestRequest::get()
        .uri(&format!("/scim/v2/Groups/{gid}"))
        .insert_header(f.auth())
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.response().body().size(),
        BodySize::Stream,
        "a group of {n} members is streamed, not rendered whole"
    );
    let etag = res
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let streamed: Value = serde_json::from_slice(&test::read_body(res).await).unwrap();

    // The whole rendering of the same group (a projection turns streaming off).
    let req = test::TestRequest::get()
        .uri(&format!(
            "/scim/v2/Groups/{gid}?attributes=displayName,members,externalId,meta"
        ))
        .insert_header(f.auth())
        .to_request();
    let res = test::call_service(&app, req).await;
    assert!(matches!(res.response().body().size(), BodySize::Sized(_)));
    let whole: Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
    assert_eq!(streamed, whole, "streamed and whole renderings differ");

    // Exactly the stored members, in id order, with what was sent.
    let members = streamed["members"].as_array().unwrap();
    assert_eq!(members.len(), n);
    let stored: Vec<(String, Option<String>)> = read::member_entries(
        f.store.trees(),
        scimd::domain::ids::GroupId::try_from(gid.as_str()).unwrap(),
    )
    .map(|e| {
        let (u, d) = e.unwrap();
        (u.to_string(), d)
    })
    .collect();
    let got: Vec<(String, Option<String>)> = members
        .iter()
        .map(|m| {
            (
                m["value"].as_str().unwrap().to_owned(),
                m.get("display").and_then(Value::as_str).map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(got, stored);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        got.iter().map(|(u, _)| u.clone()).collect::<Vec<_>>(),
        sorted
    );
    let shown = ids.chunks(400).map(|c| c.len().div_ceil(3)).sum::<usize>();
    assert_eq!(got.iter().filter(|(_, d)| d.is_some()).count(), shown);

    // Conditional reads work on the streamed path.
    let req = test::TestRequest::get()
        .uri(&format!("/scim/v2/Groups/{gid}"))
        .insert_header(f.auth())
        .insert_header(("If-None-Match", etag))
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 304);

    // Totals come from the kept counts: delete some users and groups and they still agree.
    for id in &ids[..10] {
        let req = test::TestRequest::delete()
            .uri(&format!("/scim/v2/Users/{id}"))
            .insert_header(f.auth())
            .to_request();
        assert_eq!(test::call_service(&app, req).await.status(), 204);
    }
    let req = test::TestRequest::get()
        .uri("/scim/v2/Users?count=1")
        .insert_header(f.auth())
        .to_request();
    let list: Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(list["totalResults"], json!(n - 10));
    assert_eq!(read::counts(f.store.trees()).unwrap(), (n - 10, 1));
    assert_eq!(read::counted(f.store.trees()), (n - 10, 1));
    let req = test::TestRequest::delete()
        .uri(&format!("/scim/v2/Groups/{gid}"))
        .insert_header(f.auth())
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 204);
    assert_eq!(read::counts(f.store.trees()).unwrap(), (n - 10, 0));
    assert_eq!(scimd::store::rebuild::verify(&f.store).unwrap(), Vec::new());
}

/// A group extension attribute returned only on request, and one never returned, stay out of the
/// streamed answer exactly as they stay out of the whole one (RFC 7643 §7).
#[actix_web::test]
async fn a_streamed_group_keeps_the_default_projection() {
    const EXT: &str = "urn:example:params:scim:schemas:extension:acme:2.0:Group";
    let decl: scimd::scim::schema::ExtensionDecl = serde_json::from_value(json!({
        "schema": EXT, "resource": "Group", "attributes": [
            {"name": "costCenter"},
            {"name": "auditNote", "returned": "request"},
            {"name": "syncSecret", "returned": "never", "mutability": "writeOnly"}
        ]
    }))
    .unwrap();
    let registry = scimd::scim::schema::Registry::with_extensions(&[decl], false).unwrap();
    let f = inproc::start_with(scimd::store::Store::temporary().unwrap(), registry).await;
    let app = app!(f);
    let n = usize::try_from(STREAM_MEMBERS_ABOVE).unwrap() + 1;
    let members: Vec<Value> = create_users!(app, f, "ext", n)
        .into_iter()
        .map(|id| json!({"value": id}))
        .collect();
    let body = json!({"schemas": [GROUP, EXT], "displayName": "Finance",
        EXT: {"costCenter": "4711", "auditNote": "reviewed", "syncSecret": "s3cret"},
        "members": members});
    let req = test::TestRequest::post()
        .uri("/scim/v2/Groups")
        .insert_header(f.auth())
        .set_payload(body.to_string())
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), 201);
    let created: Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
    let gid = created["id"].as_str().unwrap().to_owned();

    let req = test::TestRequest::get()
        .uri(&format!("/scim/v2/Groups/{gid}"))
        .insert_header(f.auth())
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.response().body().size(), BodySize::Stream);
    let mut streamed: Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
    assert_eq!(streamed["members"].as_array().unwrap().len(), n);

    // Everything but the members, as the whole rendering answers it.
    let req = test::TestRequest::get()
        .uri(&format!("/scim/v2/Groups/{gid}?excludedAttributes=members"))
        .insert_header(f.auth())
        .to_request();
    let whole: Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(whole[EXT], json!({"costCenter": "4711"}), "{}", whole[EXT]);
    streamed.as_object_mut().unwrap().remove("members");
    assert_eq!(streamed, whole);
    assert_eq!(
        streamed[EXT],
        json!({"costCenter": "4711"}),
        "{}",
        streamed[EXT]
    );
    // Asked for by name, the `request` attribute is sent; the `never` one still is not.
    let req = test::TestRequest::get()
        .uri(&format!(
            "/scim/v2/Groups/{gid}?attributes={EXT}:auditNote,{EXT}:syncSecret,displayName"
        ))
        .insert_header(f.auth())
        .to_request();
    let asked: Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(asked[EXT], json!({"auditNote": "reviewed"}), "{asked}");
}
