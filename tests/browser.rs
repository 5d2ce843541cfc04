//! The admin console in a real browser: Debian's headless Chromium driven through chromedriver
//! (W3C WebDriver over HTTP) against a real scimd on 127.0.0.1:0. Signs in, adds a token through
//! the page, provisions a user and a group with that token, sees both in the activity report (also
//! through the live tail), opens the user's history, revokes the token and sees the next SCIM call
//! fail. Also: the activity table above the fold at 1366×900, and a failure's detail with its
//! masked request body. Screenshots go to `target/browser-screenshots/`.
//!
//! Without a browser the test is skipped, except with `CI=true`, where a missing browser fails it.
// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Server, GROUP, USER};
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    shots: PathBuf,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self
            .agent
            .delete(&format!("{}/session/{}", self.base, self.session))
            .call();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Driver {
    fn start() -> Option<Self> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but {CHROMIUM} or {CHROMEDRIVER} is missing: install chromium and chromium-driver"
            );
            eprintln!("skipping the browser test: install Debian's chromium and chromium-driver to run it");
            return None;
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1280,800",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let res: Value = agent
            .post(&format!("{base}/session"))
            .send_json(caps)
            .unwrap()
            .into_json()
            .unwrap();
        let session = res["value"]["sessionId"].as_str().unwrap().to_owned();
        let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Self {
            child,
            base,
            session,
            agent,
            shots,
            _profile: profile,
        })
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = self.agent.request(method, &url);
        let res = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match res {
            Ok(r) | Err(ureq::Error::Status(_, r)) => {
                r.into_json::<Value>().unwrap()["value"].clone()
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url})));
    }

    /// The first element matching `css`, waiting up to 15 s for it to exist.
    fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v = self.cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            );
            if let Some(id) = v.get(ELEMENT).and_then(Value::as_str) {
                return id.to_owned();
            }
            if Instant::now() > deadline {
                self.screenshot("failure");
                let src = self.cmd("GET", "/source", None);
                let src = src.as_str().unwrap_or_default();
                panic!(
                    "no element {css} ({v}); page source starts:\n{}",
                    &src[..src.len().min(300)]
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let id = self.find(css);
            let v = self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})));
            if v.is_null() {
                return;
            }
            assert!(Instant::now() < deadline, "cannot click {css}: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        );
    }

    fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.cmd("GET", &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn value(&self, css: &str) -> String {
        let id = self.find(css);
        self.cmd("GET", &format!("/element/{id}/property/value"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Wait until the text of `css` contains `needle`.
    fn wait_text(&self, css: &str, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let t = self.text(css);
            if t.contains(needle) {
                return;
            }
            if Instant::now() > deadline {
                self.screenshot("failure");
                panic!("'{css}' never showed '{needle}'; it shows:\n{t}");
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn wait_value(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v = self.value(css);
            if !v.is_empty() {
                return v;
            }
            assert!(Instant::now() < deadline, "{css} stayed empty");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Run `script` (a function body) in the page and return what it returns.
    fn eval(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Open a folding panel (`<details>`) if it is closed.
    fn open_panel(&self, id: &str) {
        self.find(&format!("#{id}"));
        self.eval(&format!(
            "const p = document.getElementById('{id}'); if (!p.open) p.querySelector('summary').click();"
        ));
    }

    fn screenshot(&self, name: &str) {
        let png = self.cmd("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .unwrap_or_default();
        std::fs::write(self.shots.join(format!("{name}.png")), bytes).unwrap();
    }
}

#[test]
fn admin_adds_a_token_sees_provisioning_live_opens_history_and_revokes() {
    let Some(b) = Driver::start() else { return };
    let s = Server::plain();
    let password = s.first_admin_password();

    // Sign in.
    b.goto(&format!("{}/admin/", s.root));
    b.type_into("#login-username", "admin");
    b.type_into("#login-password", "wrong password");
    b.click("#login-submit");
    b.wait_text("#login-error", "wrong user name or password");
    b.type_into("#login-password", &password);
    b.click("#login-submit");
    b.wait_text("#current-user", "admin");
    b.screenshot("01-signed-in");

    // Add Token through the page: the SCIM Server URL and the token are shown once.
    b.goto(&format!("{}/admin/#/tokens", s.root));
    b.click("#add-token");
    b.type_into("#token-name", "Entra ID");
    b.click("#token-create");
    let token = b.wait_value("#new-token");
    let scim_url = b.value("#new-scim-url");
    assert!(token.starts_with("scimd_"), "{token}");
    assert_eq!(scim_url, s.scim());
    b.screenshot("02-token-created");
    b.click("#token-done");
    b.wait_text("#tokens-table", "Entra ID");
    // The default scope of a token made on the page is what an identity provider needs.
    b.wait_text("#tokens-table", "scim:write");

    // Provision with that token.
    let t = Some(token.as_str());
    let u = s.call(
        "POST",
        "/Users",
        t,
        Some(&json!({"schemas": [USER], "userName": "alice@contoso.com", "title": "Engineer"})),
    );
    assert_eq!(u.status, 201);
    let uid = u.body["id"].as_str().unwrap().to_owned();
    let g = s.call(
        "POST",
        "/Groups",
        t,
        Some(
            &json!({"schemas": [GROUP], "displayName": "Sales EMEA", "members": [{"value": uid}]}),
        ),
    );
    assert_eq!(g.status, 201);

    // Both in the activity report.
    b.goto(&format!("{}/admin/#/activity", s.root));
    b.wait_text("#activity-table", "alice@contoso.com");
    b.wait_text("#activity-table", "Sales EMEA");
    // The cards start folded (the table comes first); their summary line names the client.
    b.wait_text("#sync-summary", "Entra ID");
    b.open_panel("sync-panel");
    b.wait_text("#sync-details", "Entra ID");
    b.screenshot("03-activity");

    // Live tail: a new write appears without reloading.
    b.click("#live-tail");
    std::thread::sleep(Duration::from_millis(500));
    let patch = json!({"Operations": [{"op": "Replace", "path": "title", "value": "Manager"}]});
    assert_eq!(
        s.call("PATCH", &format!("/Users/{uid}"), t, Some(&patch))
            .status,
        200
    );
    assert_eq!(
        s.call(
            "POST",
            "/Users",
            t,
            Some(&json!({"schemas": [USER], "userName": "bob.live@contoso.com"}))
        )
        .status,
        201
    );
    b.wait_text("#activity-table", "bob.live@contoso.com");
    b.screenshot("04-live-tail");

    // The user's history, with the title change.
    b.goto(&format!("{}/admin/#/history/{uid}", s.root));
    b.wait_text("#history-table", "alice@contoso.com");
    b.click("#history-table tbody tr:last-child");
    b.wait_text("#history-detail", "Manager");
    b.screenshot("05-history");

    // Revoke with confirmation; the next SCIM call fails.
    b.goto(&format!("{}/admin/#/tokens", s.root));
    b.click("#tokens-table .revoke");
    b.click("#confirm-yes");
    b.wait_text("#tokens-table", "revoked");
    b.screenshot("06-revoked");
    assert_eq!(s.call("GET", "/Users", t, None).status, 401);

    // A webhook through the Webhooks page: its secret is shown once, it is listed, it pauses.
    b.goto(&format!("{}/admin/#/webhooks", s.root));
    b.click("#add-webhook");
    b.type_into("#webhook-url", "http://127.0.0.1:9/hook");
    b.click("#webhook-create");
    let secret = b.wait_value("#new-webhook-secret");
    assert_eq!(secret.len(), 64, "{secret}");
    b.click("#webhook-done");
    b.wait_text("#webhooks-table", "http://127.0.0.1:9/hook");
    b.wait_text("#webhooks-table", "active");
    b.click("#webhooks-table tbody tr button");
    b.wait_text("#webhooks-table", "paused");
    b.screenshot("07-webhooks");
}

#[test]
fn admin_sees_invisible_characters_and_changes_the_password_ending_other_sessions() {
    let Some(b) = Driver::start() else { return };
    let s = Server::plain();
    let password = s.first_admin_password();
    let token = s.token("Entra ID");
    let spoof = "admin\u{202e}gnp.exe@contoso.com";
    let u = s.call(
        "POST",
        "/Users",
        Some(&token),
        Some(&json!({"schemas": [USER], "userName": spoof, "displayName": "Zero\u{200b}Width"})),
    );
    assert_eq!(u.status, 201);
    let uid = u.body["id"].as_str().unwrap().to_owned();

    // Another session of the account, opened outside the browser.
    let cookie = common::console::Console::sign_in(&s).cookie;
    let me = |c: &str| match ureq::get(&format!("{}/admin/api/me", s.root))
        .set("Cookie", c)
        .call()
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(me(&cookie), 200);

    b.goto(&format!("{}/admin/", s.root));
    b.type_into("#login-username", "admin");
    b.type_into("#login-password", &password);
    b.click("#login-submit");
    b.wait_text("#current-user", "admin");

    // A bidi override is shown as what it is, not drawn reversed; so is a zero-width space.
    b.goto(&format!("{}/admin/#/users", s.root));
    b.wait_text("#users-table", "U+202E");
    b.wait_text("#users-total", "1 user in all");
    let row = b.text("#users-table");
    assert!(row.contains("gnp.exe@contoso.com"), "{row}");
    assert!(!row.contains('\u{202e}'), "{row}");
    b.goto(&format!("{}/admin/#/users/{uid}", s.root));
    b.wait_text("#user-title", "U+202E");
    b.wait_text("#view-user", "U+200B");
    b.screenshot("11-invisible-characters");

    // Change my password: the other session ends, this one stays.
    b.click("#account-link");
    b.wait_text("#sessions-table", "this session");
    b.type_into("#password-current", &password);
    b.type_into("#password-new", "a new console password");
    b.type_into("#password-repeat", "a new console password");
    b.click("#password-submit");
    b.wait_text("#password-done", "1 other session was signed out");
    b.screenshot("12-password-changed");
    assert_eq!(me(&cookie), 401);
    b.goto(&format!("{}/admin/#/tokens", s.root));
    b.wait_text("#tokens-table", "Entra ID");

    // Sign out, and in again with the new password.
    b.click("#logout");
    b.wait_text("#login-title", "Sign in");
    b.type_into("#login-username", "admin");
    b.type_into("#login-password", "a new console password");
    b.click("#login-submit");
    b.wait_text("#current-user", "admin");
}

#[test]
fn admin_finds_everything_about_a_user_opens_a_sync_run_and_a_failure_detail() {
    let Some(b) = Driver::start() else { return };
    let s = Server::plain();
    let password = s.first_admin_password();
    let token = s.token("Entra ID");
    let t = Some(token.as_str());
    let g = s.call(
        "POST",
        "/Groups",
        t,
        Some(&json!({"schemas": [GROUP], "displayName": "All Employees"})),
    );
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let emily = json!({"schemas": [USER], "userName": "emily.braun@contoso.com"});
    let u = s.call("POST", "/Users", t, Some(&emily));
    let uid = u.body["id"].as_str().unwrap().to_owned();
    let bad = json!({"Operations": [{"op": "replace", "path": "nosuchattribute", "value": "x"}]});
    assert_eq!(
        s.call("PATCH", &format!("/Users/{uid}"), t, Some(&bad))
            .status,
        400
    );
    let add = json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]});
    let added = s
        .call("PATCH", &format!("/Groups/{gid}"), t, Some(&add))
        .status;
    assert!(added == 200 || added == 204);
    let again = json!({"schemas": [USER], "userName": "emily.braun@contoso.com",
        "password": "Emily-Pa55word-x9", "title": "Sales"});
    assert_eq!(s.call("POST", "/Users", t, Some(&again)).status, 409);

    b.goto(&format!("{}/admin/", s.root));
    b.type_into("#login-username", "admin");
    b.type_into("#login-password", &password);
    b.click("#login-submit");
    b.wait_text("#current-user", "admin");

    // One filter, every record about her: her writes, her failures, her group membership.
    b.type_into("#filter-identity", "emily.braun@contoso.com");
    b.click("#activity-apply");
    b.wait_text("#activity-table", "added to All Employees");
    b.wait_text("#activity-count", "Showing 4 entries");
    let table = b.text("#activity-table");
    assert!(
        table.contains("Patch user") && table.contains("409"),
        "{table}"
    );
    b.screenshot("21-identity-filter");

    // The refused create: what to do about it, with the user holding the name.
    b.click("#activity-table tbody tr.outcome-failure");
    b.wait_text("#activity-detail", "What to do");
    b.wait_text("#activity-detail", "already taken");
    b.wait_text("#activity-detail", "POST /scim/v2/Users");
    // The body it sent, pretty-printed, the password masked.
    b.wait_text("#activity-detail .request-body", "\"title\": \"Sales\"");
    let body = b.text("#activity-detail .request-body");
    assert!(
        body.contains("\"password\": \"********\"") && !body.contains("Emily-Pa55word-x9"),
        "{body}"
    );
    b.wait_text("#activity-detail", "secrets masked");
    b.screenshot("22-failure-detail");

    // The sync card opens the latest run in one click.
    b.goto(&format!("{}/admin/#/activity", s.root));
    b.open_panel("sync-panel");
    b.wait_text("#sync-cards", "Latest run");
    b.click("#sync-cards .run-open");
    b.wait_text("#activity-count", "Showing 5 entries");
    assert_eq!(b.value("#filter-client"), "Entra ID");
    assert!(!b.value("#filter-since").is_empty());
    b.screenshot("23-sync-run");
}

#[test]
fn the_activity_table_is_above_the_fold_at_1366_by_900() {
    let Some(b) = Driver::start() else { return };
    let s = Server::plain();
    let password = s.first_admin_password();
    let token = s.token("Entra ID");
    let t = Some(token.as_str());
    for i in 0..12 {
        let body = json!({"schemas": [USER], "userName": format!("user{i:02}@contoso.com")});
        assert_eq!(s.call("POST", "/Users", t, Some(&body)).status, 201);
    }
    let taken = json!({"schemas": [USER], "userName": "user00@contoso.com"});
    assert_eq!(s.call("POST", "/Users", t, Some(&taken)).status, 409);

    b.cmd(
        "POST",
        "/window/rect",
        Some(json!({"width": 1366, "height": 900})),
    );
    b.goto(&format!("{}/admin/", s.root));
    b.type_into("#login-username", "admin");
    b.type_into("#login-password", &password);
    b.click("#login-submit");
    b.wait_text("#current-user", "admin");
    b.wait_text("#activity-table", "user11@contoso.com");
    // The folded panels still say what matters in one line: the client, and that it failed.
    b.wait_text("#sync-summary", "Entra ID");
    b.wait_text("#sync-summary", "1 failed");
    let fold = b.eval(
        "const t = document.querySelector('#activity-table');
         const rows = [...t.querySelectorAll('tbody tr')];
         return {outer: window.outerHeight, inner: window.innerHeight,
                 table: t.getBoundingClientRect().top,
                 visible: rows.filter((r) => r.getBoundingClientRect().bottom <= window.innerHeight).length};",
    );
    b.screenshot("31-above-the-fold");
    eprintln!("{fold}");
    let table = fold["table"].as_f64().unwrap();
    assert!(fold["outer"].as_f64().unwrap() <= 900.0, "{fold}");
    assert!(
        table < 900.0 && table < fold["inner"].as_f64().unwrap(),
        "{fold}"
    );
    assert!(fold["visible"].as_u64().unwrap() >= 5, "{fold}");

    // Opened, a panel stays open across a reload (the admin's choice wins).
    b.open_panel("sync-panel");
    b.wait_text("#sync-cards", "Entra ID");
    b.goto(&format!("{}/admin/#/activity", s.root));
    b.wait_text("#sync-cards", "Entra ID");
    assert_eq!(
        b.eval("return document.getElementById('sync-panel').open;"),
        true
    );
}
