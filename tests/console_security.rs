//! The console an admin can trust, over HTTP against the real binary: writes only as JSON (a
//! cross-site `text/plain` post is refused), sign-in throttling per account and address with the
//! attempt reserved before hashing (200 concurrent guesses), the device cookie that keeps the
//! admin's own browser in during a flood, `admin_allow` and `admin_listen`, sessions that end
//! (password change, absolute lifetime, sign out others, the live tail), escaped and capped log
//! fields, failed sign-ins apart in the charts, owner-only files from every command, and forwarded
//! headers believed only from `trusted_proxies`.
// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Server, USER};
use serde_json::{json, Value};

/// A browser: a cookie jar (name → value) and the CSRF token.
#[derive(Clone)]
struct Browser {
    root: String,
    agent: ureq::Agent,
    cookies: Vec<(String, String)>,
    csrf: Option<String>,
}

struct Res {
    status: u16,
    set_cookies: Vec<String>,
    text: String,
}

impl Res {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

impl Browser {
    fn new(root: &str) -> Self {
        Self {
            root: root.to_owned(),
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(60))
                .build(),
            cookies: Vec::new(),
            csrf: None,
        }
    }

    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn raw(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Res {
        let mut req = self.agent.request(method, &format!("{}{path}", self.root));
        if let Some(c) = self.cookie_header() {
            req = req.set("Cookie", &c);
        }
        if let Some(t) = &self.csrf {
            req = req.set("X-CSRF-Token", t);
        }
        if let Some(ct) = content_type {
            req = req.set("Content-Type", ct);
        }
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let res = match body {
            Some(b) => req.send_string(b),
            None => req.call(),
        };
        let res = match res {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let set_cookies: Vec<String> = res
            .all("set-cookie")
            .into_iter()
            .map(str::to_owned)
            .collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !v.is_empty() {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
        Res {
            status: res.status(),
            set_cookies,
            text: res.into_string().unwrap_or_default(),
        }
    }

    fn get(&mut self, path: &str) -> Res {
        self.raw("GET", path, None, None, &[])
    }

    fn post(&mut self, path: &str, body: Value) -> Res {
        self.raw(
            "POST",
            path,
            Some("application/json"),
            Some(&body.to_string()),
            &[],
        )
    }

    fn login(&mut self, user: &str, password: &str) -> Res {
        let r = self.post(
            "/admin/api/login",
            json!({"username": user, "password": password}),
        );
        if r.status == 200 {
            self.csrf = r.json()["csrf"].as_str().map(str::to_owned);
        }
        r
    }

    fn forget_session(&mut self) {
        self.cookies.retain(|(n, _)| n != "scimd_session");
        self.csrf = None;
    }
}

fn sign_in_failures(b: &mut Browser) -> Vec<Value> {
    let r = b.get("/admin/api/activity?action=sign_in&outcome=failure&limit=1000");
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["items"].as_array().unwrap().clone()
}

#[test]
fn admin_api_writes_must_be_json_so_cross_site_posts_are_refused() {
    let s = Server::plain();
    let password = s.first_admin_password();
    let mut attacker = Browser::new(&s.root);
    // What a form on another site can send without a preflight: text/plain, urlencoded, multipart.
    let guess = json!({"username": "admin", "password": "guess"}).to_string();
    for ct in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        for _ in 0..2 {
            let r = attacker.raw("POST", "/admin/api/login", ct, Some(&guess), &[]);
            assert_eq!(r.status, 415, "{ct:?}: {}", r.text);
            assert!(
                r.json()["error"]
                    .as_str()
                    .unwrap()
                    .contains("application/json"),
                "{}",
                r.text
            );
        }
    }
    // None of the ten was checked or counted: the admin signs in at once, and no failure is recorded.
    let mut admin = Browser::new(&s.root);
    assert_eq!(admin.login("admin", &password).status, 200);
    assert!(sign_in_failures(&mut admin).is_empty());
    // Signed in, with the CSRF token: a non-JSON write is still refused, a JSON one is accepted.
    let r = admin.raw(
        "POST",
        "/admin/api/tokens",
        Some("text/plain"),
        Some(r#"{"name":"X"}"#),
        &[],
    );
    assert_eq!(r.status, 415, "{}", r.text);
    let r = admin.post("/admin/api/tokens", json!({"name": "X"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    // A DELETE without a body needs no Content-Type (a form cannot send DELETE).
    let r = admin.raw(
        "DELETE",
        &format!("/admin/api/tokens/{id}"),
        None,
        None,
        &[],
    );
    assert_eq!(r.status, 204, "{}", r.text);
    // JSON with a charset parameter is JSON.
    let r = admin.raw(
        "POST",
        "/admin/api/logout",
        Some("application/json; charset=utf-8"),
        Some("{}"),
        &[],
    );
    assert_eq!(r.status, 204, "{}", r.text);
}

#[test]
fn concurrent_wrong_guesses_are_checked_only_as_far_as_the_throttle_allows() {
    let s = Server::plain();
    let password = s.first_admin_password();
    const GUESSES: usize = 200;
    let barrier = Arc::new(Barrier::new(GUESSES));
    let threads: Vec<_> = (0..GUESSES)
        .map(|i| {
            let root = s.root.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut b = Browser::new(&root);
                barrier.wait();
                b.login("admin", &format!("wrong guess {i}")).status
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    // Five free attempts (in flight or failed) before the first wait: exactly five were checked.
    assert_eq!(checked, 5, "{statuses:?}");
    assert_eq!(checked + throttled, GUESSES, "{statuses:?}");
    // The right password waits too, from this address and for this account.
    let mut late = Browser::new(&s.root);
    assert_eq!(late.login("admin", &password).status, 429);
    // Only the checked ones are recorded.
    let log = s.log();
    assert_eq!(
        log.matches("failed console sign-in").count(),
        5,
        "every checked guess is logged once"
    );
}

#[test]
fn a_browser_that_signed_in_before_keeps_getting_in_while_strangers_flood_the_account() {
    let s = Server::plain();
    let password = s.first_admin_password();
    let mut admin = Browser::new(&s.root);
    let r = admin.login("admin", &password);
    assert_eq!(r.status, 200);
    let device = r
        .set_cookies
        .iter()
        .find(|c| c.starts_with("scimd_device="))
        .unwrap_or_else(|| panic!("{:?}", r.set_cookies));
    assert!(
        device.contains("HttpOnly")
            && device.contains("SameSite=Strict")
            && device.contains("Path=/admin/api/login")
            && device.contains("Max-Age="),
        "{device}"
    );
    assert_eq!(admin.post("/admin/api/logout", json!({})).status, 204);
    admin.forget_session();

    // A stranger (same address, as behind a proxy) floods the account with guesses.
    let mut stranger = Browser::new(&s.root);
    let mut saw_429 = false;
    for i in 0..12 {
        let st = stranger.login("admin", &format!("guess {i}")).status;
        saw_429 |= st == 429;
    }
    assert!(saw_429);
    // Another browser with the right password is locked out with the account…
    assert_eq!(Browser::new(&s.root).login("admin", &password).status, 429);
    // …and a forged device cookie changes nothing…
    let mut forger = Browser::new(&s.root);
    forger.cookies.push((
        "scimd_device".into(),
        format!("{}.99999999999999.{}", "ab".repeat(16), "00".repeat(32)),
    ));
    assert_eq!(forger.login("admin", &password).status, 429);
    // …but the admin's browser, which signed in before, gets in.
    let r = admin.login("admin", &password);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(admin.get("/admin/api/me").json()["username"], "admin");
    // Its cookie is for this account only: another account from it is throttled like anyone.
    admin.forget_session();
    assert_eq!(admin.login("ops", "whatever it is").status, 429);
}

#[test]
fn the_console_can_be_limited_to_addresses_or_moved_to_its_own_listener() {
    let s = Server::plain_with_env(&[("SCIMD_ADMIN_ALLOW", "10.0.0.0/8")]);
    let mut b = Browser::new(&s.root);
    for path in ["/admin/", "/admin/api/me"] {
        let r = b.get(path);
        assert_eq!(r.status, 403, "{path}: {}", r.text);
    }
    assert_eq!(
        b.raw(
            "POST",
            "/admin/api/login",
            Some("application/json"),
            Some("{}"),
            &[]
        )
        .status,
        403
    );
    // SCIM and health are not the console.
    assert_eq!(b.get("/healthz").status, 200);
    let token = s.token("Entra ID");
    assert_eq!(s.call("GET", "/Users", Some(&token), None).status, 200);
    let allowed = Server::plain_with_env(&[("SCIMD_ADMIN_ALLOW", "127.0.0.1, ::1")]);
    assert_eq!(Browser::new(&allowed.root).get("/admin/").status, 200);

    let s = Server::plain_with_env(&[("SCIMD_ADMIN_LISTEN", "127.0.0.1:0")]);
    let console = s
        .console_root
        .clone()
        .expect("the console listener is announced");
    assert_ne!(console, s.root);
    let mut main = Browser::new(&s.root);
    assert_eq!(main.get("/admin/").status, 404);
    assert_eq!(main.get("/admin/api/me").status, 404);
    let token = s.token("Entra ID");
    assert_eq!(s.call("GET", "/Users", Some(&token), None).status, 200);
    let mut own = Browser::new(&console);
    assert_eq!(own.get("/admin/").status, 200);
    assert_eq!(own.login("admin", &s.first_admin_password()).status, 200);
    assert_eq!(own.get("/admin/api/me").status, 200);
    // The console's listener serves nothing else.
    let r = own.raw(
        "GET",
        "/scim/v2/Users",
        None,
        None,
        &[("Authorization", &format!("Bearer {token}"))],
    );
    assert_eq!(r.status, 404);
    assert_eq!(own.get("/healthz").status, 200);
}

#[test]
fn sessions_end_at_a_password_change_at_sign_out_others_and_after_their_lifetime() {
    let s = Server::plain();
    let password = s.first_admin_password();
    let mut a = Browser::new(&s.root);
    let mut b = Browser::new(&s.root);
    assert_eq!(a.login("admin", &password).status, 200);
    assert_eq!(b.login("admin", &password).status, 200);
    let list = a.get("/admin/api/sessions").json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items.iter().filter(|i| i["current"] == true).count(), 1);
    // The list never shows a usable session id.
    let session_id = a
        .cookies
        .iter()
        .find(|(k, _)| k == "scimd_session")
        .unwrap()
        .1
        .clone();
    assert!(!list.to_string().contains(&session_id));

    // A wrong current password or a short new one changes nothing (and is not a sign-out).
    let r = a.post(
        "/admin/api/password",
        json!({"current": "not it at all", "new": "a brand new password"}),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    let r = a.post(
        "/admin/api/password",
        json!({"current": password, "new": "short"}),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(b.get("/admin/api/me").status, 200);
    let r = a.post(
        "/admin/api/password",
        json!({"current": password, "new": "a brand new password"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["signed_out"], 1);
    // The other session is over; this one goes on; the old password no longer works.
    assert_eq!(b.get("/admin/api/me").status, 401);
    assert_eq!(a.get("/admin/api/me").status, 200);
    assert_eq!(Browser::new(&s.root).login("admin", &password).status, 401);

    // Sign out the others.
    let mut c = Browser::new(&s.root);
    assert_eq!(c.login("admin", "a brand new password").status, 200);
    let r = a.post("/admin/api/sessions/sign-out-others", json!({}));
    assert_eq!(r.json()["signed_out"], 1, "{}", r.text);
    assert_eq!(c.get("/admin/api/me").status, 401);
    assert_eq!(a.get("/admin/api/me").status, 200);

    // A password set from the command line (through the running server) ends every session.
    let mut child = std::process::Command::new(common::bin())
        .env("SCIMD_CONFIG", "")
        .args(["admin", "set-password", "admin", "--data-dir"])
        .arg(&s.data_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"set from the shell!\n").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(a.get("/admin/api/me").status, 401);

    // An absolute lifetime ends a session in constant use.
    let s = Server::plain_with_env(&[
        ("SCIMD_ADMIN_SESSION_LIFETIME", "3s"),
        ("SCIMD_ADMIN_SESSION_IDLE", "1h"),
    ]);
    let mut busy = Browser::new(&s.root);
    assert_eq!(busy.login("admin", &s.first_admin_password()).status, 200);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        assert_eq!(busy.get("/admin/api/me").status, 200);
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(busy.get("/admin/api/me").status, 401);
}

/// Open the live tail; lines arrive on the channel, and `None` when the stream ends.
fn tail(b: &Browser) -> std::sync::mpsc::Receiver<Option<String>> {
    let url = format!("{}/admin/api/activity/stream", b.root);
    let cookie = b.cookie_header().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let res = ureq::get(&url).set("Cookie", &cookie).call().unwrap();
        for line in BufReader::new(res.into_reader()).lines() {
            let Ok(line) = line else { break };
            if let Some(data) = line.strip_prefix("data: ") {
                let _ = tx.send(Some(data.to_owned()));
            }
        }
        let _ = tx.send(None);
    });
    rx
}

#[test]
fn the_live_tail_stops_at_sign_out_and_at_idle_expiry() {
    let s = Server::plain_with_env(&[("SCIMD_ADMIN_SESSION_IDLE", "3s")]);
    let password = s.first_admin_password();
    let token = s.token("Entra ID");
    let mut b = Browser::new(&s.root);
    assert_eq!(b.login("admin", &password).status, 200);
    let rx = tail(&b);
    std::thread::sleep(Duration::from_millis(300));
    s.call(
        "POST",
        "/Users",
        Some(&token),
        Some(&json!({"schemas": [USER], "userName": "before@x"})),
    );
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert!(first.contains("before@x"), "{first}");
    assert_eq!(b.post("/admin/api/logout", json!({})).status, 204);
    s.call(
        "POST",
        "/Users",
        Some(&token),
        Some(&json!({"schemas": [USER], "userName": "after@x"})),
    );
    // The stream ends, and what was written after the sign-out never arrives.
    let end = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(end, None, "a signed-out tail delivered {end:?}");

    // Idle expiry: nobody uses the session, the tail ends with it.
    assert_eq!(b.login("admin", &password).status, 200);
    let rx = tail(&b);
    let end = rx.recv_timeout(Duration::from_secs(8)).unwrap();
    assert_eq!(end, None);
}

#[test]
fn sign_in_names_are_escaped_and_capped_in_the_log_and_the_record_and_counted_apart() {
    let s = Server::plain();
    let password = s.first_admin_password();
    let mut b = Browser::new(&s.root);
    let forged = "x\n2026-12-01T09:00:00.000000Z  INFO scimd: console sign-in username=admin";
    assert_eq!(b.login(forged, "nope").status, 401);
    let huge = "u".repeat(200_000);
    assert_eq!(b.login(&huge, "nope").status, 401);
    let log = s.log();
    assert!(
        !log.lines().any(|l| l.starts_with("2026-12-01T09:00:00")),
        "a forged line:\n{log}"
    );
    assert!(log.contains("username=x\\n2026-12-01T09:00:00"), "{log}");
    assert!(
        log.lines().all(|l| l.len() < 2_000),
        "a line carries the 200,000-character name"
    );
    assert_eq!(b.login("admin", &password).status, 200);
    let failures = sign_in_failures(&mut b);
    assert_eq!(failures.len(), 2);
    for f in &failures {
        let detail = f["detail"].as_str().unwrap();
        assert!(detail.len() < 200, "{}", detail.len());
        assert!(!detail.contains('\n'), "{detail}");
    }
    assert!(failures[0]["detail"]
        .as_str()
        .unwrap()
        .contains("(199936 more characters)"));

    // The charts count failed sign-ins apart from provisioning failures.
    let token = s.token("Entra ID");
    s.call(
        "POST",
        "/Users",
        Some(&token),
        Some(&json!({"schemas": [USER], "userName": "dup@x"})),
    );
    s.call(
        "POST",
        "/Users",
        Some(&token),
        Some(&json!({"schemas": [USER], "userName": "dup@x"})),
    );
    let stats = b.get("/admin/api/stats").json();
    let sum = |key: &str| -> u64 {
        stats["hourly"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h[key].as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum("sign_in_failure"), 2, "{stats}");
    assert_eq!(sum("failure"), 1, "{stats}");
    let entra = stats["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == "Entra ID")
        .unwrap();
    assert_eq!(entra["failures_24h"], 1);
}

fn assert_private(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}: {mode:o}", dir.display());
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        if meta.file_type().is_symlink() {
            continue;
        }
        if meta.is_dir() {
            assert_private(&e.path());
        } else {
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{}: {mode:o}", e.path().display());
        }
    }
}

#[test]
fn every_command_creates_the_data_directory_and_its_files_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str], dir: &std::path::Path, stdin: &[u8]| {
        let mut child = std::process::Command::new(common::bin())
            .env("SCIMD_CONFIG", "")
            .args(args)
            .arg("--data-dir")
            .arg(dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let tokens = tmp.path().join("by-token-add/data");
    run(&["token", "add", "--name", "Entra ID"], &tokens, b"");
    assert_private(&tokens);
    let admins = tmp.path().join("by-set-password");
    run(
        &["admin", "set-password", "ops"],
        &admins,
        b"a long ops password\n",
    );
    assert_private(&admins);
    // A backup, and a restore into a fresh directory.
    let backup = tmp.path().join("scimd.backup");
    let out = std::process::Command::new(common::bin())
        .env("SCIMD_CONFIG", "")
        .args(["backup", "--out"])
        .arg(&backup)
        .arg("--data-dir")
        .arg(&tokens)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = tmp.path().join("restored");
    let out = std::process::Command::new(common::bin())
        .env("SCIMD_CONFIG", "")
        .arg("restore")
        .arg(&backup)
        .arg("--data-dir")
        .arg(&restored)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_private(&restored);
    // A data directory left world-readable by an older scimd is tightened when opened.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&admins, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(admins.join("db"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    }
    run(&["token", "add", "--name", "Okta"], &admins, b"");
    let mut s = Server::plain();
    s.terminate();
    assert_private(&s.data_dir);
}

#[test]
fn forwarded_headers_count_only_from_trusted_proxies() {
    let spoof: &[(&str, &str)] = &[
        ("X-Forwarded-Host", "evil.example"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-For", "203.0.113.9"),
        ("Forwarded", "for=203.0.113.9;host=evil.example;proto=https"),
    ];
    for (trusted, believed) in [(None, false), (Some("127.0.0.1"), true)] {
        let env: Vec<(&str, &str)> = trusted
            .map(|t| vec![("SCIMD_TRUSTED_PROXIES", t)])
            .unwrap_or_default();
        let s = Server::plain_with_env(&env);
        let mut b = Browser::new(&s.root);
        let r = b.raw(
            "POST",
            "/admin/api/login",
            Some("application/json"),
            Some(&json!({"username": "admin", "password": s.first_admin_password()}).to_string()),
            spoof,
        );
        assert_eq!(r.status, 200);
        b.csrf = r.json()["csrf"].as_str().map(str::to_owned);
        let session = r
            .set_cookies
            .iter()
            .find(|c| c.starts_with("scimd_session="))
            .unwrap();
        assert_eq!(session.contains("Secure"), believed, "{session}");
        let tokens = b.raw("GET", "/admin/api/tokens", None, None, spoof).json();
        let url = tokens["scim_url"].as_str().unwrap();
        assert_eq!(url.contains("evil.example"), believed, "{url}");
        assert_eq!(url.starts_with("https://"), believed, "{url}");
        // The address in the log is the forwarded one only from a trusted proxy.
        let wrong = json!({"username": "admin", "password": "wrong!"}).to_string();
        let r = b.raw(
            "POST",
            "/admin/api/login",
            Some("application/json"),
            Some(&wrong),
            spoof,
        );
        assert_eq!(r.status, 401);
        let mut fresh = Browser::new(&s.root);
        assert_eq!(fresh.login("admin", &s.first_admin_password()).status, 200);
        let failures = sign_in_failures(&mut fresh);
        let addr = failures[0]["client_addr"].as_str().unwrap();
        assert_eq!(addr == "203.0.113.9", believed, "{addr}");
    }
}
