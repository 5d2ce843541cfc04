//! Answers in one step: the identity filter (every record about a user or group by name or id,
//! membership events included), synchronization runs per client, and failure detail with a hint
//! an admin can act on (409 names the holder, an unknown extension attribute says what to declare,
//! 401 names the token and what became of it).
// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::console::Console;
use common::{q, Server, GROUP, USER};
use serde_json::{json, Value};

fn actions(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["action"].as_str().unwrap(),
                i["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn the_identity_filter_finds_every_record_about_a_user_or_group_by_name_or_id() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let t = Some(t.as_str());
    let all = s.call(
        "POST",
        "/Groups",
        t,
        Some(&json!({"schemas": [GROUP], "displayName": "All Employees"})),
    );
    let gid = all.body["id"].as_str().unwrap().to_owned();
    let emily =
        json!({"schemas": [USER], "userName": "emily.braun@contoso.com", "title": "Engineer"});
    let u = s.call("POST", "/Users", t, Some(&emily));
    let uid = u.body["id"].as_str().unwrap().to_owned();
    let bob = s.call(
        "POST",
        "/Users",
        t,
        Some(&json!({"schemas": [USER], "userName": "bob@contoso.com"})),
    );
    let bob_id = bob.body["id"].as_str().unwrap().to_owned();
    let ok = json!({"Operations": [{"op": "replace", "path": "title", "value": "Manager"}]});
    assert_eq!(
        s.call("PATCH", &format!("/Users/{uid}"), t, Some(&ok))
            .status,
        200
    );
    let bad = json!({"Operations": [{"op": "replace", "path": "nosuchattribute", "value": "x"}]});
    assert_eq!(
        s.call("PATCH", &format!("/Users/{uid}"), t, Some(&bad))
            .status,
        400
    );
    let add = json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": uid}, {"value": bob_id}]}]});
    let added = s
        .call("PATCH", &format!("/Groups/{gid}"), t, Some(&add))
        .status;
    assert!(added == 200 || added == 204, "{added}");
    // A create refused for the name (no id yet) is hers too.
    assert_eq!(s.call("POST", "/Users", t, Some(&emily)).status, 409);

    let c = Console::sign_in(&s);
    let by_name = c.items(&format!("identity={}", q("Emily.Braun@contoso.com")));
    assert_eq!(
        actions(&by_name),
        [
            "create_user:failure",
            "members_added:success",
            "patch_user:failure",
            "user_updated:success",
            "user_created:success",
        ],
        "{by_name:?}"
    );
    let page = c.get(&format!(
        "/admin/api/activity?identity={}",
        q("emily.braun@contoso.com")
    ));
    assert_eq!(page["identity"]["ids"][0], uid.as_str());
    // The membership event names the group, so the console can say "added to All Employees".
    assert_eq!(by_name[1]["resource_name"], "All Employees");
    assert!(by_name[1]["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == uid.as_str()));
    // Members are named, not only numbered.
    // (in the event's order, which is the members' id order, not the order they were sent in)
    let mut names: Vec<&str> = by_name[1]["member_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["bob@contoso.com", "emily.braun@contoso.com"]);
    // By id: the same records.
    let by_id = c.items(&format!("identity={uid}"));
    assert_eq!(actions(&by_id), actions(&by_name));
    // Other users' records are not hers.
    assert!(!by_name
        .iter()
        .any(|i| i["resource_name"] == "bob@contoso.com"));
    // A group by name: its creation and its membership change.
    let group = c.items(&format!("identity={}", q("all employees")));
    assert_eq!(
        actions(&group),
        ["members_added:success", "group_created:success"]
    );
    // Combined with other filters: her failures only.
    let failures = c.items(&format!(
        "identity={}&outcome=failure",
        q("emily.braun@contoso.com")
    ));
    assert_eq!(failures.len(), 2);
}

#[test]
fn records_group_into_sync_runs_per_client_with_failures_first() {
    let s = Server::plain();
    let entra = s.token("Entra ID");
    let okta = s.token("Okta");
    let user = |t: &str, n: &str| {
        s.call(
            "POST",
            "/Users",
            Some(t),
            Some(&json!({"schemas": [USER], "userName": n})),
        )
        .status
    };
    // Run 1 of Entra: two creates and a conflict.
    assert_eq!(user(&entra, "a@x"), 201);
    assert_eq!(user(&entra, "b@x"), 201);
    assert_eq!(user(&entra, "a@x"), 409);
    assert_eq!(user(&okta, "o@x"), 201);
    std::thread::sleep(Duration::from_millis(2500));
    // Run 2 of Entra.
    assert_eq!(user(&entra, "c@x"), 201);

    let c = Console::sign_in(&s);
    let runs = c.get("/admin/api/runs?gap_seconds=2");
    let items = runs["items"].as_array().unwrap();
    let entra_runs: Vec<&Value> = items.iter().filter(|r| r["client"] == "Entra ID").collect();
    assert_eq!(entra_runs.len(), 2, "{runs}");
    // Newest first.
    assert_eq!(entra_runs[0]["records"], 1);
    let first = entra_runs[1];
    assert_eq!(first["records"], 3);
    assert_eq!(first["failures"], 1);
    // Failures first among the counts.
    assert_eq!(first["counts"][0]["action"], "create_user");
    assert_eq!(first["counts"][0]["failure"], 1);
    assert_eq!(first["counts"][1]["action"], "user_created");
    assert_eq!(first["counts"][1]["success"], 2);
    // The run's time range opens exactly its records in the report.
    let inside = c.items(&format!(
        "client={}&since={}&until={}",
        q("Entra ID"),
        q(first["start"].as_str().unwrap()),
        q(first["end"].as_str().unwrap())
    ));
    assert_eq!(inside.len(), 3, "{inside:?}");
    // Per client, and the default gap (10 minutes) makes one run of everything here.
    let okta_runs = c.get(&format!("/admin/api/runs?client={}", q("okta")));
    assert_eq!(okta_runs["items"].as_array().unwrap().len(), 1);
    let default = c.get(&format!("/admin/api/runs?client={}", q("Entra ID")));
    assert_eq!(default["items"][0]["records"], 4);
    assert_eq!(default["gap_seconds"], 600);
    assert_eq!(
        ureq::get(&format!("{}/admin/api/runs?gap_seconds=0", s.root))
            .set("Cookie", &c.cookie)
            .call()
            .map_err(|e| match e {
                ureq::Error::Status(code, _) => code,
                _ => 0,
            })
            .unwrap_err(),
        400
    );
}

#[test]
fn failure_detail_says_what_to_do() {
    let s = Server::plain();
    let (okta_id, okta) = {
        let out = s.cli(&["token", "add", "--name", "Okta", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            v["id"].as_str().unwrap().to_owned(),
            v["token"].as_str().unwrap().to_owned(),
        )
    };
    let entra = s.token("Entra ID");
    let t = Some(entra.as_str());
    let first = s.call(
        "POST",
        "/Users",
        t,
        Some(&json!({"schemas": [USER], "userName": "emily.braun@contoso.com"})),
    );
    let holder = first.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.call(
            "POST",
            "/Users",
            t,
            Some(&json!({"schemas": [USER], "userName": "Emily.Braun@contoso.com"}))
        )
        .status,
        409
    );
    let ext = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
    let r = s.call(
        "POST",
        "/Users",
        t,
        Some(
            &json!({"schemas": [USER, ext], "userName": "x@contoso.com", ext: {"costCenter": "7"}}),
        ),
    );
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(s.cli(&["token", "revoke", &okta_id]).status.success());
    assert_eq!(s.call("GET", "/Users", Some(&okta), None).status, 401);

    let mut s = s;
    assert!(s.terminate());
    s.launch();
    let c = Console::sign_in(&s);
    let failures = c.items("outcome=failure");
    let explain = |action: &str| -> Value {
        let item = failures
            .iter()
            .find(|i| i["action"] == action)
            .unwrap_or_else(|| panic!("{action}: {failures:?}"));
        c.get(&format!("/admin/api/activity/{}", item["seq"]))
    };
    // 409: the user that holds the name, linked.
    let conflict = failures.iter().find(|i| i["status"] == 409).unwrap();
    let e = c.get(&format!("/admin/api/activity/{}", conflict["seq"]));
    let x = &e["explanation"];
    assert_eq!(x["request"], "POST /scim/v2/Users");
    assert_eq!(x["status"], 409);
    assert_eq!(x["link"]["resource_type"], "User");
    assert_eq!(x["link"]["id"], holder.as_str());
    assert!(x["hint"].as_str().unwrap().contains("already taken"), "{x}");
    // 400 for an undeclared extension: how to declare it.
    let undeclared = failures.iter().find(|i| i["status"] == 400).unwrap();
    let e = c.get(&format!("/admin/api/activity/{}", undeclared["seq"]));
    let hint = e["explanation"]["hint"].as_str().unwrap();
    assert!(
        hint.contains("[[extensions]]") && hint.contains(ext),
        "{hint}"
    );
    // 401: which token, and that it was revoked.
    let e = explain("unauthorized");
    let x = &e["explanation"];
    assert_eq!(x["link"]["id"], okta_id.as_str());
    let hint = x["hint"].as_str().unwrap();
    assert!(hint.contains("revoked") && hint.contains("Okta"), "{hint}");
    assert_eq!(x["request"], "GET /scim/v2/Users");
    // A success has nothing to explain; an unknown entry is 404.
    let created = c.items("action=user_created");
    let e = c.get(&format!("/admin/api/activity/{}", created[0]["seq"]));
    assert!(e["explanation"].is_null());
    assert!(c.get("/admin/api/activity/999999")["error"].is_string());
}

#[test]
fn the_users_list_has_a_total_an_active_filter_and_orders() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    for i in 0..52 {
        let mut body = json!({"schemas": [USER], "userName": format!("u{i:02}@x")});
        if i % 10 == 0 {
            body["active"] = json!(false);
        }
        assert_eq!(s.call("POST", "/Users", Some(&t), Some(&body)).status, 201);
    }
    let c = Console::sign_in(&s);
    let all = c.get("/admin/api/users");
    assert_eq!(all["total"], 52, "{all}");
    let inactive = c.get("/admin/api/users?active=false");
    assert_eq!(inactive["total"], 6);
    assert!(inactive["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["active"] == false));
    let active = c.get("/admin/api/users?active=true");
    assert_eq!(active["total"], 46);
    // Sorted, paged by index.
    let first = c.get("/admin/api/users?sort=userName&order=descending");
    let names: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 50);
    assert_eq!(&names[..3], ["u51@x", "u50@x", "u49@x"]);
    assert_eq!(first["next"], "@51");
    let rest = c.get("/admin/api/users?sort=userName&order=descending&cursor=%4051");
    let names: Vec<&str> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["u01@x", "u00@x"]);
    assert!(rest["next"].is_null());
    assert!(c.get("/admin/api/users?sort=password")["error"].is_string());
}

#[test]
fn a_history_takes_the_same_time_filter_and_order_as_the_activity() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    let u = s.call(
        "POST",
        "/Users",
        Some(&t),
        Some(&json!({"schemas": [USER], "userName": "h@x", "title": "A"})),
    );
    let id = u.body["id"].as_str().unwrap().to_owned();
    std::thread::sleep(Duration::from_millis(1100));
    let patch = json!({"Operations": [{"op": "replace", "path": "title", "value": "B"}]});
    assert_eq!(
        s.call("PATCH", &format!("/Users/{id}"), Some(&t), Some(&patch))
            .status,
        200
    );
    let c = Console::sign_in(&s);
    let all = c.get(&format!("/admin/api/resources/{id}/history"));
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let second = items[1]["time"].as_str().unwrap().to_owned();
    let newest = c.get(&format!("/admin/api/resources/{id}/history?order=newest"));
    assert_eq!(newest["items"][0]["action"], "user_updated");
    let since = c.get(&format!(
        "/admin/api/resources/{id}/history?since={}",
        q(&second)
    ));
    assert_eq!(since["items"].as_array().unwrap().len(), 1);
    assert_eq!(since["items"][0]["action"], "user_updated");
    let first = items[0]["time"].as_str().unwrap().to_owned();
    let until = c.get(&format!(
        "/admin/api/resources/{id}/history?until={}",
        q(&first)
    ));
    assert_eq!(until["items"].as_array().unwrap().len(), 1);
    assert!(
        c.get(&format!("/admin/api/resources/{id}/history?order=sideways"))["error"].is_string()
    );
}

/// The failure detail of a refused write shows its body with the secrets masked; the raw
/// passwords reach no file of the data directory and no line of the server's log.
#[test]
fn failure_detail_shows_the_request_body_with_its_secrets_masked() {
    const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    let ext = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
    let secrets = [
        "Create-Pa55word-7f3a",
        "Patch-Pa55word-91c2",
        "Dup-Pa55word-c0de",
        "IfMatch-Pa55word-5e5e",
        "Huge-Pa55word-b1b1",
        "Broken-Pa55word-dead",
        "Bulk-Pa55word-0b0e",
    ];
    let mut s = Server::plain();
    let t = s.token("Entra ID");
    let t = Some(t.as_str());
    // Refused before it became a command: an undeclared extension.
    let r = s.call(
        "POST",
        "/Users",
        t,
        Some(
            &json!({"schemas": [USER, ext], "userName": "mia@contoso.com",
            "password": secrets[0], ext: {"costCenter": "7"}}),
        ),
    );
    assert_eq!(r.status, 400, "{:?}", r.body);
    let noah = s.call(
        "POST",
        "/Users",
        t,
        Some(&json!({"schemas": [USER], "userName": "noah@contoso.com"})),
    );
    let id = noah.body["id"].as_str().unwrap().to_owned();
    // A PATCH with a password operation and an operation scimd does not know.
    let r = s.call(
        "PATCH",
        &format!("/Users/{id}"),
        t,
        Some(&json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "password", "value": secrets[1]},
            {"op": "frobnicate", "path": "title", "value": "x"}]})),
    );
    assert_eq!(r.status, 400, "{:?}", r.body);
    // Refused inside the append transaction: 409 and 412.
    let r = s.call(
        "POST",
        "/Users",
        t,
        Some(&json!({"schemas": [USER], "userName": "Noah@contoso.com", "password": secrets[2]})),
    );
    assert_eq!(r.status, 409, "{:?}", r.body);
    let r = s.request(
        "PATCH",
        &format!("/Users/{id}"),
        t,
        Some(
            json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "value": {"PASSWORD": secrets[3], "title": "Engineer"}}]})
            .to_string(),
        ),
        &[("If-Match", "W/\"999\"")],
    );
    assert_eq!(r.status, 412, "{:?}", r.body);
    // A big body is capped.
    let r = s.call(
        "POST",
        "/Users",
        t,
        Some(
            &json!({"schemas": [USER, ext], "userName": "big@contoso.com",
            "displayName": "x".repeat(100_000), "password": secrets[4], ext: {"costCenter": "7"}}),
        ),
    );
    assert_eq!(r.status, 400, "{:?}", r.body);
    // A body that is not JSON is kept as text, still masked.
    let broken = format!(
        "{{\"userName\": \"zoe@contoso.com\", \"password\": \"{}\",",
        secrets[5]
    );
    assert_eq!(s.raw("POST", "/Users", t, Some(broken)).status, 400);
    // A refused /Bulk operation keeps its own body.
    let r = s.call(
        "POST",
        "/Bulk",
        t,
        Some(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b1",
                "data": {"schemas": [USER], "userName": "noah@contoso.com", "password": secrets[6]}}]})),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let gone = "6f1c1c4e-3a52-4a55-9d35-3b3f7f0f0f0f";
    assert_eq!(
        s.call("DELETE", &format!("/Users/{gone}"), t, None).status,
        404
    );

    let c = Console::sign_in(&s);
    let failures = c.items("outcome=failure");
    let explain = |pick: &dyn Fn(&Value) -> bool| -> Value {
        let item = failures
            .iter()
            .find(|i| pick(i))
            .unwrap_or_else(|| panic!("{failures:?}"));
        let e = c.get(&format!("/admin/api/activity/{}", item["seq"]));
        e["explanation"].clone()
    };
    let body = |x: &Value| -> Value {
        assert_eq!(x["body_recorded"], true, "{x}");
        assert_eq!(x["body"]["json"], true, "{x}");
        serde_json::from_str(x["body"]["text"].as_str().unwrap()).unwrap()
    };
    // A write refused before it became a command names no resource: the two undeclared
    // extensions are told apart by their order (the list is newest first).
    let undeclared: Vec<u64> = failures
        .iter()
        .filter(|i| {
            i["detail"]
                .as_str()
                .is_some_and(|d| d.contains("unknown schema extension"))
        })
        .map(|i| i["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(undeclared.len(), 2, "{failures:?}");
    let x = explain(&|i| i["seq"] == undeclared[1]);
    assert_eq!(x["request"], "POST /scim/v2/Users");
    assert_eq!(x["body"]["truncated"], false);
    let b = body(&x);
    assert_eq!(b["password"], "********", "{b}");
    assert_eq!(b[ext]["costCenter"], "7");
    assert_eq!(b["userName"], "mia@contoso.com");

    let x = explain(&|i| i["action"] == "patch_user" && i["status"] == 400);
    let b = body(&x);
    assert_eq!(b["Operations"][0]["value"], "********", "{b}");
    assert_eq!(b["Operations"][0]["path"], "password");
    assert_eq!(b["Operations"][1]["op"], "frobnicate");

    let x = explain(&|i| i["status"] == 409 && i["resource_name"] == "Noah@contoso.com");
    let b = body(&x);
    assert_eq!(b["password"], "********", "{b}");
    assert_eq!(b["userName"], "Noah@contoso.com");

    let x = explain(&|i| i["status"] == 409 && i["resource_name"] == "noah@contoso.com");
    let b = body(&x);
    assert_eq!(b["password"], "********", "{b}");
    assert!(b.get("Operations").is_none(), "{b}");

    let x = explain(&|i| i["status"] == 412);
    let b = body(&x);
    assert_eq!(b["Operations"][0]["value"]["PASSWORD"], "********", "{b}");
    assert_eq!(b["Operations"][0]["value"]["title"], "Engineer");

    let x = explain(&|i| i["seq"] == undeclared[0]);
    assert_eq!(x["body"]["truncated"], true, "{x}");
    assert!(x["body"]["size"].as_u64().unwrap() > 100_000, "{x}");
    assert!(x["body"]["text"].as_str().unwrap().len() <= 8 * 1024);

    let x = explain(&|i| {
        i["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not valid JSON"))
    });
    assert_eq!(x["body"]["json"], false, "{x}");
    let text = x["body"]["text"].as_str().unwrap();
    assert!(
        text.contains("zoe@contoso.com") && text.contains("\"password\": \"********\""),
        "{text}"
    );

    let x = explain(&|i| i["action"] == "delete_user");
    assert!(x["body"].is_null() && x["body_recorded"] == true, "{x}");

    // The exports keep no bodies.
    let csv = ureq::get(&format!("{}/admin/api/activity.csv", c.root))
        .set("Cookie", &c.cookie)
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        csv.contains("Noah@contoso.com") && !csv.contains("********"),
        "{csv}"
    );

    assert!(s.terminate());
    let log = s.log();
    let mut files = vec![s.data_dir.clone()];
    let mut seen = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        seen += bytes.len();
        for secret in secrets {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{secret} is in {}", p.display());
        }
    }
    assert!(seen > 0);
    for secret in secrets {
        assert!(!log.contains(secret), "{secret} is in the server's log");
    }
}
