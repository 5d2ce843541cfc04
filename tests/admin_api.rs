//! The admin console API over HTTP against a real server: first-start account, sign-in (cookie,
//! CSRF, throttling, session expiry, failures in the report), tokens (add, list, expire, revoke),
//! the activity report (filters and their action names, paging, exports, live tail), histories,
//! stats, users and groups, and the security headers on every console response.
// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use common::{q, Server, GROUP, USER};
use serde_json::{json, Value};

/// A browser-like client: keeps the session cookie and the CSRF token.
struct Console {
    root: String,
    agent: ureq::Agent,
    cookie: Option<String>,
    csrf: Option<String>,
}

struct Res {
    status: u16,
    headers: Vec<(String, String)>,
    text: String,
}

impl Res {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Console {
    fn new(s: &Server) -> Self {
        Self {
            root: s.root.clone(),
            agent: ureq::AgentBuilder::new().redirects(0).build(),
            cookie: None,
            csrf: None,
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<Value>, csrf: bool) -> Res {
        let mut req = self.agent.request(method, &format!("{}{path}", self.root));
        if let Some(c) = &self.cookie {
            req = req.set("Cookie", c);
        }
        if let (true, Some(t)) = (csrf, &self.csrf) {
            req = req.set("X-CSRF-Token", t);
        }
        let res = match body {
            Some(b) => req
                .set("Content-Type", "application/json")
                .send_string(&b.to_string()),
            None => req.call(),
        };
        let res = match res {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let headers = res
            .headers_names()
            .into_iter()
            .flat_map(|n| {
                res.all(&n)
                    .into_iter()
                    .map(move |v| (n.clone(), v.to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect();
        Res {
            status: res.status(),
            headers,
            text: res.into_string().unwrap_or_default(),
        }
    }

    fn get(&self, path: &str) -> Res {
        self.send("GET", path, None, true)
    }

    fn post(&self, path: &str, body: Value) -> Res {
        self.send("POST", path, Some(body), true)
    }

    fn login(&mut self, user: &str, password: &str) -> Res {
        let r = self.send(
            "POST",
            "/admin/api/login",
            Some(json!({"username": user, "password": password})),
            false,
        );
        if r.status == 200 {
            let cookie = r.header("set-cookie").unwrap().to_owned();
            assert!(
                cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
                "{cookie}"
            );
            self.cookie = Some(cookie.split(';').next().unwrap().to_owned());
            self.csrf = r.json()["csrf"].as_str().map(str::to_owned);
        }
        r
    }
}

#[test]
fn sign_in_sessions_csrf_throttling_and_security_headers() {
    let mut s = Server::plain_with_env(&[("SCIMD_ADMIN_SESSION_IDLE", "2s")]);
    let password = s.first_admin_password();
    assert!(
        s.log().contains("/admin/"),
        "the console URL is printed with the password"
    );
    let mut c = Console::new(&s);

    // Everything needs a session.
    for path in [
        "/admin/api/me",
        "/admin/api/tokens",
        "/admin/api/activity",
        "/admin/api/actions",
        "/admin/api/stats",
        "/admin/api/users",
        "/admin/api/groups",
    ] {
        let r = c.get(path);
        assert_eq!(r.status, 401, "{path}");
        assert!(r.json()["error"].is_string());
    }
    // Wrong password: 401, recorded in the activity report.
    assert_eq!(c.login("admin", "not the password").status, 401);
    assert_eq!(c.login("nobody", "not the password").status, 401);
    let r = c.login("admin", &password);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(c.get("/admin/api/me").json()["username"], "admin");
    let failures = c
        .get("/admin/api/activity?action=sign_in&outcome=failure")
        .json();
    assert_eq!(failures["items"].as_array().unwrap().len(), 2, "{failures}");
    assert_eq!(failures["items"][0]["status"], 401);
    assert!(failures["items"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("nobody"));

    // CSRF: a mutating request without (or with a wrong) token is 403.
    let no_csrf = c.send(
        "POST",
        "/admin/api/tokens",
        Some(json!({"name": "X"})),
        false,
    );
    assert_eq!(no_csrf.status, 403);
    let mut forged = Console::new(&s);
    forged.cookie = c.cookie.clone();
    forged.csrf = Some("0".repeat(64));
    assert_eq!(
        forged
            .post("/admin/api/tokens", json!({"name": "X"}))
            .status,
        403
    );
    assert_eq!(
        c.get("/admin/api/tokens").json()["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Security headers on the page, the assets and the API.
    for path in [
        "/admin/",
        "/admin/app.js",
        "/admin/api/me",
        "/admin/api/nope",
    ] {
        let r = c.get(path);
        let csp = r
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{path}"));
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    }
    let page = c.get("/admin/");
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(!page.text.contains("<script>"), "no inline script");
    assert_eq!(c.get("/admin").status, 308);
    assert_eq!(c.get("/admin/nope.js").status, 404);

    // Idle expiry: after 2 s without use the session is gone.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(c.get("/admin/api/me").status, 401);

    // Sign-out ends the session at once.
    c.login("admin", &password);
    assert_eq!(c.post("/admin/api/logout", json!({})).status, 204);
    assert_eq!(c.get("/admin/api/me").status, 401);

    // Throttling: after five failures from one address, further attempts wait (429 + Retry-After).
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let r = c.login("admin", "still wrong");
        statuses.push(r.status);
        if r.status == 429 {
            assert!(r.header("retry-after").is_some());
            assert!(r.json()["retry_after_seconds"].as_u64().unwrap() >= 1);
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    // Even the right password waits while throttled.
    assert_eq!(c.login("admin", &password).status, 429);

    // The password is printed once: a restart creates no second account.
    assert!(s.terminate());
    s.launch();
    assert_eq!(s.log().matches("created the console account").count(), 1);

    // set-password works while the server runs (admin socket), and the old password stops working.
    let mut child = std::process::Command::new(common::bin())
        .env("SCIMD_CONFIG", "")
        .args(["admin", "set-password", "ops", "--data-dir"])
        .arg(&s.data_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"a long ops password\n").unwrap();
    assert!(child.wait().unwrap().success());
    let mut ops = Console::new(&s);
    assert_eq!(ops.login("ops", "a long ops password").status, 200);
}

#[test]
fn tokens_activity_history_stats_users_and_groups() {
    let s = Server::plain();
    let password = s.first_admin_password();
    let mut c = Console::new(&s);
    assert_eq!(c.login("admin", &password).status, 200);

    // Add Token: the token is shown once, with the SCIM Server URL the browser used.
    let hint = format!("{}/scim/v2", s.root);
    let r = c.post(
        "/admin/api/tokens",
        json!({"name": "Entra ID", "scim_url": hint}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json();
    assert_eq!(created["scim_url"], hint);
    let token = created["token"].as_str().unwrap().to_owned();
    let token_id = created["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with("scimd_"));
    assert_eq!(c.post("/admin/api/tokens", json!({"name": ""})).status, 400);
    assert_eq!(
        c.post(
            "/admin/api/tokens",
            json!({"name": "Old", "expires": "2001-01-01T00:00:00Z"})
        )
        .status,
        400
    );
    assert_eq!(
        c.post(
            "/admin/api/tokens",
            json!({"name": "Old", "expires": "yesterday"})
        )
        .status,
        400
    );

    // Provision through SCIM with that token.
    let t = Some(token.as_str());
    let u = s.call(
        "POST",
        "/Users",
        t,
        Some(&json!({"schemas": [USER], "userName": "alice@contoso.com", "title": "Engineer"})),
    );
    let uid = u.body["id"].as_str().unwrap().to_owned();
    let g = s.call(
        "POST",
        "/Groups",
        t,
        Some(&json!({"schemas": [GROUP], "displayName": "Sales", "members": [{"value": uid}]})),
    );
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let patch = json!({"Operations": [{"op": "Replace", "path": "title", "value": "Manager"}]});
    s.call("PATCH", &format!("/Users/{uid}"), t, Some(&patch));
    s.call(
        "POST",
        "/Users",
        t,
        Some(&json!({"schemas": [USER], "userName": "ALICE@contoso.com"})),
    );
    s.call("GET", "/Users", t, None);

    // Tokens list: last used, 24 h counters.
    let list = c.get("/admin/api/tokens").json();
    let entry = &list["items"][0];
    assert_eq!(entry["name"], "Entra ID");
    assert!(entry["last_used"].is_string());
    assert_eq!(entry["requests_24h"], 5);
    assert_eq!(entry["failures_24h"], 1);
    assert_eq!(entry["active"], true);

    // Activity: newest first, with actions, outcomes and change sets.
    let page = c.get("/admin/api/activity").json();
    let actions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create_user",
            "user_updated",
            "members_added",
            "group_created",
            "user_created",
            "token_issued"
        ]
    );
    let failed = &page["items"][0];
    assert_eq!(
        (
            failed["outcome"].as_str(),
            failed["status"].as_u64(),
            failed["scim_type"].as_str()
        ),
        (Some("failure"), Some(409), Some("uniqueness"))
    );
    assert_eq!(
        page["items"][1]["changes"],
        json!([{"path": "title", "old": "Engineer", "new": "Manager"}])
    );
    assert_eq!(page["items"][2]["members"], json!([uid]));
    assert_eq!(page["items"][4]["client"], "Entra ID");
    assert_eq!(page["items"][5]["client"], "admin console (admin)");
    // Filters.
    let count = |query: &str| {
        c.get(&format!("/admin/api/activity?{query}")).json()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count("outcome=failure"), 1);
    assert_eq!(count("client=entra%20id"), 5);
    assert_eq!(count(&format!("resource={uid}")), 3);
    assert_eq!(count(&format!("resource={gid}")), 2);
    assert_eq!(count("q=sales"), 2);
    assert_eq!(count("action=user_created"), 1);
    assert_eq!(count("since=2999-01-01T00:00:00Z"), 0);
    assert_eq!(count("until=2000-01-01T00:00:00Z"), 0);
    assert_eq!(c.get("/admin/api/activity?action=bogus").status, 400);
    assert_eq!(c.get("/admin/api/activity?resource=bogus").status, 400);
    // Paging with next.
    let first = c.get("/admin/api/activity?limit=4").json();
    assert_eq!(first["items"].as_array().unwrap().len(), 4);
    let next = first["next"].as_u64().unwrap();
    let second = c
        .get(&format!("/admin/api/activity?limit=4&before={next}"))
        .json();
    assert_eq!(second["items"].as_array().unwrap().len(), 2);
    assert!(second["next"].is_null());

    // Exports carry the same items.
    let csv = c.get("/admin/api/activity.csv?outcome=success");
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert_eq!(csv.text.lines().count(), 1 + 5, "{}", csv.text);
    assert!(csv
        .text
        .lines()
        .next()
        .unwrap()
        .starts_with("seq,time,client"));
    let nd = c.get("/admin/api/activity.ndjson");
    let lines: Vec<Value> = nd
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0]["action"], "create_user");

    // History and state as of the create (before the title change).
    let h = c.get(&format!("/admin/api/resources/{uid}/history")).json();
    let hist: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(hist, ["user_created", "members_added", "user_updated"]);
    assert_eq!(h["state"]["title"], "Manager");
    assert_eq!(h["state"]["groups"][0]["value"], gid);
    let created_seq = h["items"][0]["seq"].as_u64().unwrap();
    let then = c
        .get(&format!(
            "/admin/api/resources/{uid}/history?at={created_seq}"
        ))
        .json();
    assert_eq!(then["state"]["title"], "Engineer");
    assert_eq!(then["as_of"], created_seq);
    let by_time = c
        .get(&format!(
            "/admin/api/resources/{uid}/history?at={}",
            q(h["items"][0]["time"].as_str().unwrap())
        ))
        .json();
    assert_eq!(by_time["state"]["userName"], "alice@contoso.com");
    assert_eq!(
        c.get("/admin/api/resources/00000000-0000-0000-0000-000000000000/history")
            .status,
        404
    );

    // Stats: this hour's counts and the client's synchronization details.
    let st = c.get("/admin/api/stats").json();
    assert_eq!(st["hourly"].as_array().unwrap().len(), 24);
    assert_eq!(st["daily"].as_array().unwrap().len(), 30);
    let hour = st["hourly"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (hour["success"].as_u64(), hour["failure"].as_u64()),
        (Some(5), Some(1))
    );
    let entra = st["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == "Entra ID")
        .unwrap();
    assert_eq!(entra["writes_24h"], 5);
    assert_eq!(entra["failures_24h"], 1);
    assert!(entra["last_write"].is_string() && entra["last_request"].is_string());
    assert_eq!(entra["quarantine_risk"], false);

    // Users and groups pages.
    let users = c.get("/admin/api/users?q=ALICE").json();
    assert_eq!(users["items"][0]["userName"], "alice@contoso.com");
    assert_eq!(
        c.get("/admin/api/users?q=nobody").json()["items"],
        json!([])
    );
    let user = c.get(&format!("/admin/api/users/{uid}")).json();
    assert_eq!(user["resource"]["groups"][0]["display"], "Sales");
    let groups = c.get("/admin/api/groups").json();
    assert_eq!(groups["items"][0]["member_count"], 1);
    let group = c.get(&format!("/admin/api/groups/{gid}")).json();
    assert!(group["resource"].get("members").is_none());
    assert_eq!(group["members"][0]["display"], "alice@contoso.com");
    assert_eq!(
        c.get("/admin/api/users/00000000-0000-0000-0000-000000000000")
            .status,
        404
    );

    // Revoke: the next SCIM call fails; the list shows it revoked.
    let r = c.send(
        "DELETE",
        &format!("/admin/api/tokens/{token_id}"),
        None,
        true,
    );
    assert_eq!(r.status, 204);
    assert_eq!(s.call("GET", "/Users", t, None).status, 401);
    assert_eq!(
        c.get("/admin/api/tokens").json()["items"][0]["active"],
        false
    );
    assert_eq!(
        c.send(
            "DELETE",
            "/admin/api/tokens/00000000-0000-0000-0000-000000000000",
            None,
            true
        )
        .status,
        404
    );
}

#[test]
fn the_action_list_names_everything_the_feed_shows() {
    let s = Server::plain();
    let mut c = Console::new(&s);
    assert_eq!(c.login("admin", "not the password").status, 401);
    assert_eq!(c.login("admin", &s.first_admin_password()).status, 200);
    let list = c.get("/admin/api/actions");
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.header("cache-control"), Some("no-store"));
    let names = |key: &str| -> Vec<String> {
        list.json()[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key}: {}", list.text))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let (changes, attempts) = (names("changes"), names("attempts"));

    // Traffic that makes the feed show one entry of (almost) every kind.
    let tomorrow = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    let tomorrow = tomorrow
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = c.post(
        "/admin/api/tokens",
        json!({"name": "Okta", "expires": tomorrow}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.json()["token"].as_str().unwrap().to_owned();
    let token_id = r.json()["id"].as_str().unwrap().to_owned();
    let t = Some(token.as_str());
    let u = s.call(
        "POST",
        "/Users",
        t,
        Some(&json!({"schemas": [USER], "userName": "bob"})),
    );
    let uid = u.body["id"].as_str().unwrap().to_owned();
    let user_patch = |op: Value| {
        let r = s.call(
            "PATCH",
            &format!("/Users/{uid}"),
            t,
            Some(&json!({"Operations": [op]})),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    user_patch(json!({"op": "replace", "path": "title", "value": "Boss"}));
    user_patch(json!({"op": "replace", "path": "active", "value": false}));
    user_patch(json!({"op": "replace", "path": "active", "value": true}));
    let g = s.call(
        "POST",
        "/Groups",
        t,
        Some(&json!({"schemas": [GROUP], "displayName": "Ops", "members": [{"value": uid}]})),
    );
    let gid = g.body["id"].as_str().unwrap().to_owned();
    for op in [
        json!({"op": "replace", "path": "displayName", "value": "Operations"}),
        json!({"op": "remove", "path": format!("members[value eq \"{uid}\"]")}),
    ] {
        let r = s.call(
            "PATCH",
            &format!("/Groups/{gid}"),
            t,
            Some(&json!({"Operations": [op]})),
        );
        assert!(r.status == 200 || r.status == 204, "{}", r.body);
    }
    s.call(
        "POST",
        "/Users",
        t,
        Some(&json!({"schemas": [USER], "userName": "BOB"})),
    );
    s.call("DELETE", &format!("/Groups/{gid}"), t, None);
    s.call("DELETE", &format!("/Users/{uid}"), t, None);
    let revoke = c.send(
        "DELETE",
        &format!("/admin/api/tokens/{token_id}"),
        None,
        true,
    );
    assert_eq!(revoke.status, 204, "{}", revoke.text);

    let page = c.get("/admin/api/activity").json();
    let items = page["items"].as_array().unwrap();
    let mut shown: Vec<&str> = Vec::new();
    for item in items {
        let action = item["action"].as_str().unwrap();
        let listed = match item["outcome"].as_str() {
            Some("success") => &changes,
            _ => &attempts,
        };
        assert!(
            listed.iter().any(|n| n == action),
            "{action} ({}) is not in {}",
            item["outcome"],
            list.text
        );
        shown.push(action);
    }
    for expected in [
        "token_issued",
        "token_expiry_set",
        "user_created",
        "user_updated",
        "user_deactivated",
        "user_reactivated",
        "group_created",
        "members_added",
        "group_renamed",
        "members_removed",
        "create_user",
        "group_deleted",
        "user_deleted",
        "token_revoked",
        "sign_in",
    ] {
        assert!(
            shown.contains(&expected),
            "the feed shows no {expected}: {shown:?}"
        );
    }
    // The names the feed can show even where this traffic did not reach them.
    for name in [
        "token_expiry_set",
        "token_scopes_set",
        "user_password_set",
        "group_updated",
    ] {
        assert!(changes.iter().any(|n| n == name), "{name}: {}", list.text);
    }
    for name in [
        "replace_user",
        "delete_group",
        "issue_token",
        "sign_in",
        "unauthorized",
        "read_failed",
    ] {
        assert!(attempts.iter().any(|n| n == name), "{name}: {}", list.text);
    }
    assert_eq!(changes.len() + attempts.len(), 30, "{}", list.text);
    // Every listed name is a valid filter.
    for name in changes.iter().chain(&attempts) {
        let r = c.get(&format!("/admin/api/activity?action={name}&limit=1"));
        assert_eq!(r.status, 200, "{name}: {}", r.text);
    }
    assert_eq!(
        c.get("/admin/api/activity?action=token_expiry_set").json()["items"][0]["resource_id"],
        token_id.as_str()
    );
}

#[test]
fn tokens_with_an_expiry_stop_working_then() {
    let s = Server::plain();
    let mut c = Console::new(&s);
    assert_eq!(c.login("admin", &s.first_admin_password()).status, 200);
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let soon = soon
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = c.post(
        "/admin/api/tokens",
        json!({"name": "Short-lived", "expires": soon}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(s.call("GET", "/Users", Some(&token), None).status, 200);
    assert!(c.get("/admin/api/tokens").json()["items"][0]["expires"].is_string());
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(s.call("GET", "/Users", Some(&token), None).status, 401);
    assert_eq!(
        c.get("/admin/api/tokens").json()["items"][0]["active"],
        false
    );
}

#[test]
fn live_tail_streams_new_entries_as_server_sent_events() {
    let s = Server::plain();
    let mut c = Console::new(&s);
    assert_eq!(c.login("admin", &s.first_admin_password()).status, 200);
    let token = s.token("Okta");
    let url = format!("{}/admin/api/activity/stream?client=Okta", s.root);
    let cookie = c.cookie.clone().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let res = ureq::get(&url).set("Cookie", &cookie).call().unwrap();
        assert_eq!(res.header("content-type"), Some("text/event-stream"));
        for line in BufReader::new(res.into_reader()).lines() {
            let Ok(line) = line else { break };
            if let Some(data) = line.strip_prefix("data: ") {
                if tx.send(data.to_owned()).is_err() {
                    break;
                }
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    s.call(
        "POST",
        "/Users",
        Some(&token),
        Some(&json!({"schemas": [USER], "userName": "live@x"})),
    );
    let item: Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(item["action"], "user_created");
    assert_eq!(item["resource_name"], "live@x");
    // Filtered: writes by other clients do not arrive.
    let other = s.token("Entra ID");
    s.call(
        "POST",
        "/Users",
        Some(&other),
        Some(&json!({"schemas": [USER], "userName": "other@x"})),
    );
    s.call(
        "POST",
        "/Users",
        Some(&token),
        Some(&json!({"schemas": [USER], "userName": "live2@x"})),
    );
    let item: Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(item["resource_name"], "live2@x");
}

/// The Tokens API issues scoped tokens and lists the scopes; the Webhooks API makes, lists,
/// pauses, resumes, replays and deletes subscriptions (the secret is shown once), CSRF-checked.
#[test]
fn tokens_get_scopes_and_webhooks_are_managed_through_the_console_api() {
    let s = Server::plain();
    let mut c = Console::new(&s);
    assert_eq!(c.login("admin", &s.first_admin_password()).status, 200);
    let r = c.post(
        "/admin/api/tokens",
        json!({"name": "Feed app", "scopes": ["events:read", "scim:read"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["scopes"], json!(["scim:read", "events:read"]));
    let bad = c.post(
        "/admin/api/tokens",
        json!({"name": "x", "scopes": ["root"]}),
    );
    assert_eq!(bad.status, 400, "{}", bad.text);
    let list = c.get("/admin/api/tokens").json();
    assert_eq!(
        list["scopes"],
        json!(["scim:write", "scim:read", "events:read"])
    );
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["scopes"] == json!(["scim:read", "events:read"])));

    let made = c.post(
        "/admin/api/webhooks",
        json!({"url": "http://127.0.0.1:9/hook", "events": ["prov:delete"], "detail": "notice"}),
    );
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(made.json()["secret"].as_str().unwrap().len(), 64);
    let list = c.get("/admin/api/webhooks").json();
    let w = &list["items"][0];
    assert_eq!(
        (w["id"].as_str(), w["state"].as_str(), w["detail"].as_str()),
        (Some(id.as_str()), Some("active"), Some("notice"))
    );
    assert!(w.get("secret").is_none(), "the secret is never listed");
    assert_eq!(list["events"][0], "prov:create");
    assert_eq!(
        c.post(&format!("/admin/api/webhooks/{id}/pause"), json!({}))
            .status,
        204
    );
    assert_eq!(
        c.get("/admin/api/webhooks").json()["items"][0]["state"],
        "paused"
    );
    assert_eq!(
        c.post(&format!("/admin/api/webhooks/{id}/resume"), json!({}))
            .status,
        204
    );
    assert_eq!(
        c.post(
            &format!("/admin/api/webhooks/{id}/replay"),
            json!({"cursor": "start"})
        )
        .status,
        204
    );
    assert_eq!(
        c.post(
            &format!("/admin/api/webhooks/{id}/replay"),
            json!({"cursor": "nope"})
        )
        .status,
        400
    );
    assert_eq!(
        c.post("/admin/api/webhooks", json!({"url": "mailto:x"}))
            .status,
        400
    );
    assert_eq!(
        c.send(
            "POST",
            &format!("/admin/api/webhooks/{id}/pause"),
            Some(json!({})),
            false
        )
        .status,
        403,
        "CSRF"
    );
    assert_eq!(
        c.send("DELETE", &format!("/admin/api/webhooks/{id}"), None, true)
            .status,
        204
    );
    assert_eq!(
        c.send("DELETE", &format!("/admin/api/webhooks/{id}"), None, true)
            .status,
        404
    );
    assert_eq!(c.get("/admin/api/webhooks").json()["items"], json!([]));
}
