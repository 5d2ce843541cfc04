//! Every acknowledged write survives a crash: the server is killed with SIGKILL right after 2xx
//! answers (no clean shutdown, no final flush), restarted on the same data directory, and the
//! writes are there and `scimd verify` is clean. Also: SIGTERM exits 0 after finishing writes.
// Tests may unwrap: a panic is a failed test (clippy.toml allows it in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{cli_in, Server};
use serde_json::json;

#[test]
fn acknowledged_writes_survive_sigkill() {
    let mut s = Server::plain();
    let t = s.token("Entra ID");
    let mut ids = Vec::new();
    // Concurrent writers share group commits; each 201 must still be durable.
    let handles: Vec<_> = (0..4)
        .map(|w| {
            let root = s.scim();
            let t = t.clone();
            std::thread::spawn(move || {
                let agent = ureq::agent();
                (0..25)
                    .map(|i| {
                        let body =
                            json!({"userName": format!("user{w}-{i}@contoso.com"), "active": true});
                        let res = agent
                            .post(&format!("{root}/Users"))
                            .set("Authorization", &format!("Bearer {t}"))
                            .send_string(&body.to_string())
                            .unwrap();
                        assert_eq!(res.status(), 201);
                        let v: serde_json::Value = res.into_json().unwrap();
                        v["id"].as_str().unwrap().to_owned()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        ids.extend(h.join().unwrap());
    }
    let g = s.call(
        "POST",
        "/Groups",
        Some(&t),
        Some(&json!({"displayName": "Crash", "members": [{"value": ids[0]}]})),
    );
    assert_eq!(g.status, 201);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let last = s.call(
        "PATCH",
        &format!("/Users/{}", ids[1]),
        Some(&t),
        Some(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})),
    );
    assert_eq!(last.status, 200);

    s.kill();
    s.launch();

    for id in &ids {
        assert_eq!(
            s.call("GET", &format!("/Users/{id}"), Some(&t), None)
                .status,
            200,
            "{id} lost"
        );
    }
    assert_eq!(
        s.call("GET", &format!("/Users/{}", ids[1]), Some(&t), None)
            .body["active"],
        false
    );
    let r = s.call("GET", &format!("/Groups/{gid}"), Some(&t), None);
    assert_eq!(r.body["members"][0]["value"], ids[0]);
    assert_eq!(
        s.call("GET", "/Users?count=0", Some(&t), None).body["totalResults"],
        100
    );

    assert!(s.terminate(), "SIGTERM must exit 0");
    let out = cli_in(&s.data_dir, &["verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok"));
}
