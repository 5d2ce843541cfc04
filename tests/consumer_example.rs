//! The README's example consumer (the Python script between the `consumer.py` markers) works as the
//! manual says: against a real scimd it loads a snapshot, follows the feed across two runs (the
//! second continues from the saved cursor) and ends with the users and groups the SCIM API serves;
//! in `serve` mode it accepts webhooks whose signature verifies and refuses a forged one.
// Tests may unwrap: a panic is a failed test (clippy.toml allows it in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{Server, GROUP, USER};

const SECRET: &str = "example-consumer-secret-123";

fn script(dir: &std::path::Path) -> std::path::PathBuf {
    let readme = include_str!("../README.md");
    let start = readme
        .find("<!-- consumer.py -->\n```python\n")
        .expect("the marker")
        + "<!-- consumer.py -->\n```python\n".len();
    let end = start
        + readme[start..]
            .find("```\n<!-- /consumer.py -->")
            .expect("the end marker");
    let path = dir.join("consumer.py");
    std::fs::write(&path, &readme[start..end]).unwrap();
    path
}

fn run_once(py: &std::path::Path, s: &Server, token: &str, state: &std::path::Path) {
    let out = Command::new("python3")
        .arg(py)
        .arg("once")
        .env("SCIMD_URL", &s.root)
        .env("SCIMD_TOKEN", token)
        .env("STATE", state)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (users: id → (userName, active), groups: id → (displayName, member ids)).
type View = (
    BTreeMap<String, (Value, Value)>,
    BTreeMap<String, (Value, BTreeSet<String>)>,
);

fn view_of(users: &[Value], groups: &[Value]) -> View {
    let u = users
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_owned(),
                (u["userName"].clone(), u["active"].clone()),
            )
        })
        .collect();
    let g = groups
        .iter()
        .map(|g| {
            let m = g["members"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|m| m["value"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            (
                g["id"].as_str().unwrap().to_owned(),
                (g["displayName"].clone(), m),
            )
        })
        .collect();
    (u, g)
}

fn served(s: &Server, admin: &str) -> View {
    let users = s.call("GET", "/Users?count=1000", Some(admin), None).body["Resources"]
        .as_array()
        .unwrap()
        .clone();
    let groups = s.call("GET", "/Groups?count=1000", Some(admin), None).body["Resources"]
        .as_array()
        .unwrap()
        .clone();
    view_of(&users, &groups)
}

fn consumer_view(state: &std::path::Path) -> View {
    let st: Value = serde_json::from_str(&std::fs::read_to_string(state).unwrap()).unwrap();
    let users: Vec<Value> = st["Users"].as_object().unwrap().values().cloned().collect();
    let groups: Vec<Value> = st["Groups"]
        .as_object()
        .unwrap()
        .values()
        .cloned()
        .collect();
    view_of(&users, &groups)
}

#[test]
fn the_readme_consumer_follows_the_feed_and_verifies_webhooks() {
    let tmp = tempfile::tempdir().unwrap();
    let py = script(tmp.path());
    let state = tmp.path().join("feed-state.json");
    let s = Server::plain();
    let admin = s.token("Entra ID");
    let out = s.cli(&[
        "token",
        "add",
        "--name",
        "example app",
        "--scope",
        "events:read",
        "--json",
    ]);
    let feed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let feed = feed["token"].as_str().unwrap().to_owned();
    let user = |n: u32| json!({"schemas": [USER], "userName": format!("ex{n}@example.com"), "active": true});
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(
            s.call("POST", "/Users", Some(&admin), Some(&user(n))).body["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let g = s.call(
        "POST",
        "/Groups",
        Some(&admin),
        Some(&json!({"schemas": [GROUP], "displayName": "Staff",
        "members": [{"value": ids[0]}, {"value": ids[1]}]})),
    );
    let gid = g.body["id"].as_str().unwrap().to_owned();
    // First run: from a snapshot.
    run_once(&py, &s, &feed, &state);
    assert_eq!(consumer_view(&state), served(&s, &admin));
    // Changes after it: a deactivation, membership changes, a rename, a delete.
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    s.call(
        "PATCH",
        &format!("/Users/{}", ids[2]),
        Some(&admin),
        Some(&patch(
            json!([{"op": "replace", "path": "active", "value": false}]),
        )),
    );
    s.call(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(&admin),
        Some(&patch(json!([
        {"op": "add", "path": "members", "value": [{"value": ids[3]}]},
        {"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])},
        {"op": "replace", "path": "displayName", "value": "All staff"}]))),
    );
    assert_eq!(
        s.call("DELETE", &format!("/Users/{}", ids[1]), Some(&admin), None)
            .status,
        204
    );
    s.call("POST", "/Users", Some(&admin), Some(&user(9)));
    // Second run: continues from the saved cursor.
    run_once(&py, &s, &feed, &state);
    let want = served(&s, &admin);
    assert_eq!(want.0.len(), 4);
    assert_eq!(want.1[&gid].1.len(), 1, "{want:?}");
    assert_eq!(consumer_view(&state), want);

    // Webhooks: the script's receiver verifies every delivery.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("python3")
        .arg(&py)
        .arg("serve")
        .arg(port.to_string())
        .env("WEBHOOK_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push(l);
        }
    });
    let url = format!("http://127.0.0.1:{port}/hook");
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "the receiver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A forged request is refused.
    let forged = ureq::post(&url)
        .set(
            "X-Scimd-Signature",
            &format!(
                "t={},v1=00",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
            ),
        )
        .send_string("a.e30.");
    assert!(
        matches!(forged, Err(ureq::Error::Status(401, _))),
        "{forged:?}"
    );
    let out = s.cli(&[
        "webhook", "add", "--url", &url, "--secret", SECRET, "--from", "start", "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = s.call("GET", "//events?limit=1000", Some(&feed), None).body["events"]
        .as_array()
        .unwrap()
        .len();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let n = lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("verified "))
            .count();
        if n >= all {
            break;
        }
        assert!(
            Instant::now() < until,
            "{n} of {all} webhooks verified: {:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let got = lines.lock().unwrap().clone();
    assert!(got.iter().any(|l| l.contains("prov:deactivate")), "{got:?}");
    assert!(got.iter().any(|l| l.contains("prov:delete")), "{got:?}");
    child.kill().unwrap();
    let _ = child.wait();
}
