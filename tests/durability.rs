//! Every acknowledged write survives a crash: the server is killed with SIGKILL right after 2xx
//! answers (no clean shutdown, no final flush), restarted on the same data directory, and the
//! writes are there and `scimd verify` is clean. Also: SIGTERM exits 0 after finishing writes.
// Tests may unwrap: a panic is a failed test (clippy.toml allows it in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{cli_in, Server, GROUP, USER};
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
                            json!({"schemas": [USER], "userName": format!("user{w}-{i}@contoso.com"), "active": true});
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
        Some(&json!({"schemas": [GROUP], "displayName": "Crash", "members": [{"value": ids[0]}]})),
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

/// A flush that fails is what a dying disk looks like. The batch it was for gets 5xx (never a 2xx),
/// the writer takes no more writes (503), `/readyz` says not ready, and the server stops with an
/// error, so the process exits non-zero and systemd restarts it from what is on disk.
#[test]
fn a_failed_flush_fails_its_batch_stops_writes_and_exits_non_zero() {
    use std::sync::Arc;

    use scimd::scim::schema::Registry;
    use scimd::service::{tokens, writer::Writer};
    use scimd::store::Store;

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let store = Store::open(&data).unwrap();
    // A token, issued before the server starts.
    let t = tokens::generate();
    let (writer, thread) = Writer::start(store.clone(), Arc::new(Registry::core())).unwrap();
    writer
        .submit_blocking(common::inproc::issue_token(&t, "Entra ID"))
        .unwrap();
    thread.stop();

    let vars = [
        ("SCIMD_CONFIG", String::new()),
        ("SCIMD_DATA_DIR", data.display().to_string()),
        ("SCIMD_PLAIN_HTTP", "true".into()),
        (
            "SCIMD_ADMIN_SOCKET",
            tmp.path().join("admin.sock").display().to_string(),
        ),
    ];
    let config = scimd::config::Config::resolve(
        None,
        |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()),
        scimd::config::Settings::default(),
    )
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    let served = store.clone();
    let server = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(scimd::app::run_on(listener, config, served))
    });
    let agent = ureq::agent();
    let status = |r: Result<ureq::Response, ureq::Error>| match r {
        Ok(res) => res.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    };
    let ready = || status(agent.get(&format!("{root}/readyz")).call());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while agent.get(&format!("{root}/healthz")).call().is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(ready(), 200);
    let (url, token) = (root.clone(), t.token.clone());
    let create = move |name: String| {
        let res = ureq::agent()
            .post(&format!("{url}/scim/v2/Users"))
            .set("Authorization", &format!("Bearer {token}"))
            .send_string(&json!({ "schemas": [USER], "userName": name }).to_string());
        match res {
            Ok(res) => res.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(create("before@contoso.com".into()), 201);

    store.fail_flushes();
    let answers: Vec<u16> = (0..8)
        .map(|i| {
            let create = create.clone();
            std::thread::spawn(move || create(format!("during{i}@contoso.com")))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    // Every request of the failed batch gets a 500; those queued behind it, 503. None a 2xx.
    assert!(
        answers.iter().all(|s| *s == 500 || *s == 503),
        "{answers:?}"
    );
    assert!(answers.contains(&500), "{answers:?}");
    // It still answers a moment, to say why: no more writes, not ready.
    assert_eq!(create("after@contoso.com".into()), 503);
    assert_eq!(ready(), 503);

    // The server stops by itself, with the reason as its error (main exits non-zero on it).
    let result = server.join().unwrap();
    let error = result.expect_err("a server whose flush failed must not exit cleanly");
    assert!(
        format!("{error:#}").contains("flushing the log to disk failed"),
        "{error:#}"
    );
}

/// Between the failed flush and the exit, nothing more is taken: writes get 503 and `/readyz`
/// reports the writer as not running.
#[actix_web::test]
async fn after_a_failed_flush_writes_get_503_and_readyz_is_not_ready() {
    use actix_web::test;

    let f = common::inproc::start().await;
    let app = common::inproc::app!(f);
    f.store.fail_flushes();
    let post = |name: &str| {
        test::TestRequest::post()
            .uri("/scim/v2/Users")
            .insert_header(f.auth())
            .set_payload(json!({ "schemas": [USER], "userName": name }).to_string())
            .to_request()
    };
    let res = test::call_service(&app, post("a@x")).await;
    assert_eq!(res.status(), 500);
    let res = test::call_service(&app, post("b@x")).await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["status"], "503");
    let res = test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["writer"], false);
    let reason = f.state.commands.writer().failure().borrow().clone();
    assert!(reason.is_some_and(|r| r.contains("injected flush failure")));
}
