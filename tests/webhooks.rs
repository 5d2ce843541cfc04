//! Webhooks end to end: a receiver on 127.0.0.1:0 that fails (500), times out and then recovers
//! gets every SET at least once, in order, each with a valid HMAC-SHA256 signature — also across a
//! scimd restart (SIGKILL, then a start on the same data) in the middle. Status shows in
//! `webhook list` and `/metrics`. In process: pause, resume, replay from a cursor, dead letter.
// Tests may unwrap: a panic is a failed test (clippy.toml allows it in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use common::{cli_in, Server, USER};

const SECRET: &str = "a-webhook-secret-of-some-length";

/// What the receiver does with the n-th request (0-based).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Answer {
    Fail,
    Hang,
    Accept,
    /// Accept, two seconds after the request arrived (less than scimd waits).
    AcceptSlowly,
}

/// One request as the receiver got it.
#[derive(Clone, Debug)]
struct Got {
    signature: String,
    content_type: String,
    body: String,
    answered: Answer,
}

/// A minimal HTTP/1.1 receiver; `script` picks the answer of each request in arrival order.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    fn start(script: impl Fn(usize) -> Answer + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let log = got.clone();
        std::thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let Ok(conn) = conn else { continue };
                let answer = script(n);
                let log = log.clone();
                // One thread per connection: a hung one must not hold back the next.
                std::thread::spawn(move || serve(conn, answer, &log));
            }
        });
        Self { url, got }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// Wait until `done` holds for what arrived.
    fn wait_for(&self, what: &str, secs: u64, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.got();
            if done(&got) {
                return got;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}: {} requests",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn serve(conn: TcpStream, answer: Answer, log: &Mutex<Vec<Got>>) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let (mut len, mut signature, mut content_type) = (0usize, String::new(), String::new());
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            match k.to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap(),
                "x-scimd-signature" => signature = v.trim().to_owned(),
                "content-type" => content_type = v.trim().to_owned(),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    log.lock().unwrap().push(Got {
        signature,
        content_type,
        body: String::from_utf8(body).unwrap(),
        answered: answer,
    });
    let mut w = conn;
    match answer {
        Answer::Fail => {
            let _ = w.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
        // Longer than scimd waits for an answer (5 s).
        Answer::Hang => std::thread::sleep(Duration::from_secs(7)),
        Answer::Accept | Answer::AcceptSlowly => {
            if answer == Answer::AcceptSlowly {
                std::thread::sleep(Duration::from_secs(2));
            }
            let _ = w.write_all(
                b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    }
}

/// The SET claims inside a pushed JWT, after checking the signature header.
fn verified(g: &Got) -> Value {
    use ring::hmac;
    assert_eq!(g.content_type, "application/secevent+jwt");
    let (t, v1) = g.signature.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET.as_bytes());
    hmac::verify(
        &key,
        format!("{t}.{}", g.body).as_bytes(),
        &hex::decode(v1).unwrap(),
    )
    .expect("the signature verifies");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        now.abs_diff(t.parse::<u64>().unwrap()) < 300,
        "a fresh timestamp"
    );
    let parts: Vec<&str> = g.body.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["typ"], "secevent+jwt");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every SET of the pull feed, in order (the reference the pushes are checked against).
fn feed_jtis(s: &Server, token: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let q = if after.is_empty() {
            "//events?limit=1000".to_owned()
        } else {
            format!("//events?limit=1000&after={after}")
        };
        let page = s.call("GET", &q, Some(token), None).body;
        for e in page["events"].as_array().unwrap() {
            out.push(e["jti"].as_str().unwrap().to_owned());
        }
        after = page["next"].as_str().unwrap().to_owned();
        if page["more"] == false {
            return out;
        }
    }
}

#[test]
fn a_failing_then_hanging_then_recovering_receiver_gets_everything_in_order_across_a_restart() {
    // Requests 0–2 fail, 3 hangs past the timeout, then all succeed.
    let rx = Receiver::start(|n| match n {
        0..=2 => Answer::Fail,
        3 => Answer::Hang,
        _ => Answer::Accept,
    });
    let mut s = Server::plain();
    let admin = s.token("Entra ID");
    let feed = json_of(&s.cli(&[
        "token",
        "add",
        "--name",
        "feed",
        "--scope",
        "events:read",
        "--json",
    ]));
    let feed = feed["token"].as_str().unwrap().to_owned();
    let created = json_of(&s.cli(&[
        "webhook",
        "add",
        "--url",
        &rx.url,
        "--secret",
        SECRET,
        "--resource-type",
        "User",
        "--json",
    ]));
    let id = created["id"].as_str().unwrap().to_owned();
    let bad = s.cli(&["webhook", "add", "--url", &rx.url, "--detail", "loud"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("detail 'loud' is neither 'full' nor 'notice'"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let user = |n: usize| json!({"schemas": [USER], "userName": format!("hook{n}@example.com")});
    for n in 0..6 {
        assert_eq!(
            s.call("POST", "/Users", Some(&admin), Some(&user(n)))
                .status,
            201
        );
    }
    // A group is not a User: the filter leaves it out.
    let g = s.call(
        "POST",
        "/Groups",
        Some(&admin),
        Some(&json!({"schemas": [common::GROUP], "displayName": "G"})),
    );
    assert_eq!(g.status, 201);
    // Three failures, a timeout, then deliveries: wait for some accepted ones, then crash.
    rx.wait_for("first deliveries", 60, |g| {
        g.iter().filter(|x| x.answered == Answer::Accept).count() >= 2
    });
    let status = json_of(&s.cli(&["webhook", "list", "--json"]));
    assert!(status[0]["failures"].as_u64().unwrap() >= 4, "{status}");
    s.kill();
    s.launch();
    for n in 6..10 {
        assert_eq!(
            s.call("POST", "/Users", Some(&admin), Some(&user(n)))
                .status,
            201
        );
    }
    let id0 = s
        .call(
            "GET",
            "/Users?filter=userName%20eq%20%22hook0@example.com%22",
            Some(&admin),
            None,
        )
        .body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]});
    assert_eq!(
        s.call(
            "PATCH",
            &format!("/Users/{id0}"),
            Some(&admin),
            Some(&patch)
        )
        .status,
        200
    );
    assert_eq!(
        s.call("DELETE", &format!("/Users/{id0}"), Some(&admin), None)
            .status,
        204
    );
    // The reference: the User SETs of the pull feed, in order.
    let reference: Vec<String> = {
        let all = feed_jtis(&s, &feed);
        assert_eq!(
            all.len(),
            13,
            "10 creates, a group, a deactivation, a delete"
        );
        all
    };
    let accepted = |got: &[Got]| -> Vec<String> {
        let mut firsts: Vec<String> = Vec::new();
        for g in got.iter().filter(|g| g.answered == Answer::Accept) {
            let jti = verified(g)["jti"].as_str().unwrap().to_owned();
            if !firsts.contains(&jti) {
                firsts.push(jti);
            }
        }
        firsts
    };
    let got = rx.wait_for("every User SET", 90, |g| accepted(g).len() >= 12);
    // Every request carried a valid signature, failed and hung ones too.
    let claims: Vec<Value> = got.iter().map(verified).collect();
    assert!(claims
        .iter()
        .all(|c| c["sub_id"]["uri"].as_str().unwrap().starts_with("/Users/")));
    let want: Vec<String> = reference
        .iter()
        .filter(|j| claims.iter().any(|c| c["jti"] == j.as_str()))
        .cloned()
        .collect();
    assert_eq!(want.len(), 12, "the group's SET was never pushed");
    assert_eq!(accepted(&got), want, "at least once, in order");
    // In order: positions never go back, except once, at the restart, when delivery resumes from
    // the last cursor that was durable (acceptances after it are delivered again: at least once).
    let pos = |c: &Value| want.iter().position(|j| c["jti"] == j.as_str()).unwrap();
    let positions: Vec<usize> = claims.iter().map(pos).collect();
    let drops = positions.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(
        drops <= 1,
        "delivery went back more than once: {positions:?}"
    );
    // Status: in the list and in /metrics.
    let until = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let st = json_of(&s.cli(&["webhook", "list", "--json"]));
        if st[0]["lag"] == 0 || Instant::now() > until {
            break st;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status[0]["id"], id.as_str());
    assert_eq!(status[0]["state"], "active");
    assert_eq!(status[0]["lag"], 0, "{status}");
    assert!(
        status[0]["last_error"].as_str().unwrap().contains("500")
            || status[0]["last_error"]
                .as_str()
                .unwrap()
                .contains("timed out"),
        "{status}"
    );
    assert!(status[0]["delivered"].as_u64().unwrap() >= 10, "{status}");
    let metrics = s.call("GET", "//metrics", None, None).text.unwrap();
    assert!(
        metrics.contains(&format!(
            "scimd_webhook_lag_records{{subscription=\"{id}\"}} 0"
        )),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "scimd_webhook_state{{subscription=\"{id}\",state=\"active\"}} 1"
    )));
    assert!(metrics.contains(&format!(
        "scimd_webhook_failures_total{{subscription=\"{id}\"}}"
    )));
    let seq = u64::from_str_radix(
        status[0]["cursor"]
            .as_str()
            .unwrap()
            .trim_start_matches("s1."),
        16,
    )
    .unwrap();
    assert!(
        metrics.contains(&format!(
            "scimd_webhook_cursor_sequence{{subscription=\"{id}\"}} {seq}"
        )),
        "{metrics}"
    );
    // The subscription is part of the data: a backup restored elsewhere holds it, cursor and all.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("b.scimd");
    let out = s.cli(&["backup", "--out", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.terminate());
    let other = tmp.path().join("restored");
    let out = cli_in(&other, &["restore", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = json_of(&cli_in(&other, &["webhook", "list", "--json"]));
    assert_eq!(restored[0]["id"], id.as_str());
    assert_eq!(restored[0]["cursor"], status[0]["cursor"]);
    assert_eq!(restored[0]["url"], rx.url.as_str());
}

/// A subscription of `rx` to user and group creates (notices, signed with [`SECRET`]).
fn subscribe_to_creates(
    hooks: &scimd::service::webhooks::Webhooks,
    rx: &Receiver,
) -> scimd::service::webhooks::CreatedWebhook {
    hooks
        .add(scimd::service::webhooks::NewWebhook {
            url: rx.url.clone(),
            secret: Some(SECRET.into()),
            detail: scimd::feed::set::Detail::Notice,
            events: vec!["prov:create".into()],
            ..Default::default()
        })
        .unwrap()
}

/// `POST /Users` of a user named `user_name`, in process.
fn create_user(f: &common::inproc::InProc, user_name: &str) -> actix_web::test::TestRequest {
    actix_web::test::TestRequest::post()
        .uri("/scim/v2/Users")
        .insert_header(f.auth())
        .set_payload(json!({"schemas": [USER], "userName": user_name}).to_string())
}

/// A pause that lands while a delivery is under way holds the next ones back, and the one under way
/// still counts once its receiver accepts it: it is not sent again after the resume.
#[actix_web::test]
async fn a_delivery_under_way_when_paused_is_not_sent_again_after_the_resume() {
    let f = common::inproc::start().await;
    let app = common::inproc::app!(f);
    let rx = Receiver::start(|n| {
        if n == 0 {
            Answer::AcceptSlowly
        } else {
            Answer::Accept
        }
    });
    let hooks = &f.state.webhooks;
    let created = subscribe_to_creates(hooks, &rx);
    let create = |n: usize| create_user(&f, &format!("w{n}@example.com")).to_request();
    let status = actix_web::test::call_service(&app, create(0))
        .await
        .status();
    assert_eq!(status, 201);
    rx.wait_for("the first delivery to arrive", 20, |g| !g.is_empty());
    // The receiver answers two seconds after the request arrived: the pause lands before that.
    hooks.pause(&created.id).unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let w = hooks.list().unwrap().remove(0);
        if w.delivered == 1 {
            assert_eq!(w.state, "paused", "the pause stands: {w:?}");
            break;
        }
        assert!(
            Instant::now() < until,
            "the accepted delivery was never counted: {w:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = actix_web::test::call_service(&app, create(1))
        .await
        .status();
    assert_eq!(status, 201);
    hooks.resume(&created.id).unwrap();
    rx.wait_for("the second create", 20, |g| g.len() >= 2);
    std::thread::sleep(Duration::from_millis(700));
    let users: Vec<Value> = rx
        .got()
        .iter()
        .map(|g| verified(g)["sub_id"]["uri"].clone())
        .collect();
    assert_eq!(users.len(), 2, "one delivery per create: {users:?}");
    assert_ne!(users[0], users[1]);
}

/// Pause holds deliveries back, resume sends them, replay sends everything again from a cursor,
/// and a receiver that never answers puts its subscription in the dead-letter state (in process,
/// with a fast backoff).
#[actix_web::test]
async fn pause_resume_replay_and_dead_letter() {
    use scimd::service::webhooks::{Backoff, NewWebhook, Options, Webhooks};
    let f = common::inproc::start().await;
    let app = common::inproc::app!(f);
    let rx = Receiver::start(|_| Answer::Accept);
    let hooks = &f.state.webhooks;
    let created = subscribe_to_creates(hooks, &rx);
    let create = |n: usize| create_user(&f, &format!("p{n}@example.com")).to_request();
    for n in 0..3 {
        assert_eq!(
            actix_web::test::call_service(&app, create(n))
                .await
                .status(),
            201
        );
    }
    let got = rx.wait_for("three creates", 20, |g| g.len() >= 3);
    let first = verified(&got[0]);
    assert!(
        first["events"]["urn:ietf:params:scim:event:prov:create:notice"]["attributes"].is_array()
    );
    hooks.pause(&created.id).unwrap();
    assert_eq!(hooks.list().unwrap()[0].state, "paused");
    for n in 3..5 {
        assert_eq!(
            actix_web::test::call_service(&app, create(n))
                .await
                .status(),
            201
        );
    }
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(rx.got().len(), 3, "nothing is delivered while paused");
    assert!(hooks.list().unwrap()[0].lag > 0);
    hooks.resume(&created.id).unwrap();
    rx.wait_for("the two held back", 20, |g| g.len() >= 5);
    // Replay from the start: the five again, in the same order.
    hooks.replay(&created.id, "start").unwrap();
    let got = rx.wait_for("the replay", 20, |g| g.len() >= 10);
    let jtis: Vec<Value> = got.iter().map(|g| verified(g)["jti"].clone()).collect();
    assert_eq!(jtis[..5], jtis[5..10]);
    assert!(hooks.replay(&created.id, "s1.garbage").is_err());
    assert!(hooks.pause("no-such-id").is_err());
    assert!(hooks
        .add(NewWebhook {
            url: "ftp://x".into(),
            ..Default::default()
        })
        .is_err());
    assert!(hooks
        .add(NewWebhook {
            url: rx.url.clone(),
            events: vec!["prov:nope".into()],
            ..Default::default()
        })
        .is_err());

    hooks.remove(&created.id).unwrap();
    assert!(hooks.list().unwrap().is_empty());

    // A receiver that is not there: retried, then dead-lettered after the configured time.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let short = Webhooks::start(
        f.store.clone(),
        f.state.registry.clone(),
        f.state.commands.writer().subscribe(),
        Options {
            issuer: "https://scim.example.com/scim/v2".into(),
            signer: None,
            dead_letter_after: Duration::from_millis(600),
            backoff: Backoff {
                base: Duration::from_millis(50),
                max: Duration::from_millis(200),
            },
        },
    )
    .unwrap();
    let dead = short
        .add(NewWebhook {
            url: dead_url,
            from: Some("start".into()),
            ..Default::default()
        })
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    let state = loop {
        let w = short
            .list()
            .unwrap()
            .into_iter()
            .find(|w| w.id == dead.id)
            .unwrap();
        if w.state == "dead_letter" || Instant::now() > until {
            break w;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(state.state, "dead_letter", "{state:?}");
    assert!(
        state.failures >= 2 && state.failing_since.is_some() && state.last_error.is_some(),
        "{state:?}"
    );
    assert_eq!(state.delivered, 0);
    assert!(short.metrics().contains(&format!(
        "scimd_webhook_state{{subscription=\"{}\",state=\"dead_letter\"}} 1",
        dead.id
    )));
    short.resume(&dead.id).unwrap();
    let w = short
        .list()
        .unwrap()
        .into_iter()
        .find(|w| w.id == dead.id)
        .unwrap();
    assert_eq!((w.state.as_str(), w.attempts), ("active", 0));
    short.remove(&dead.id).unwrap();
    short.stop();
}
