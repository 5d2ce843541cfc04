//! Test harness: starts the real `scimd` binary on `127.0.0.1:0` with a temporary data directory,
//! talks to it over HTTP(S), and runs its CLI. Servers are killed when the handle drops.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod console;
pub mod entra;
pub mod inproc;
pub mod okta;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// The schema URI of a ListResponse.
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The core User schema URI, which every User body a test POSTs or PUTs lists in `schemas`
/// (RFC 7643 §3: REQUIRED; the server refuses a body without it).
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema URI, listed by every Group body a test POSTs or PUTs.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension's schema URI.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_scimd")
}

/// A running server.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT` or `https://…`.
    pub root: String,
    /// The console's own listener (`admin_listen`), when it has one.
    pub console_root: Option<String>,
    /// Data directory (kept across restarts).
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    tls: bool,
    extra_env: Vec<(String, String)>,
    agent: ureq::Agent,
}

/// A response: status, headers we care about, parsed body (Null when empty or unreadable; the
/// text as a JSON string when it is not JSON), and the body text as read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub www_authenticate: Option<String>,
    pub retry_after: Option<String>,
    pub body: Value,
    /// The body text, or why it could not be read.
    pub text: std::io::Result<String>,
}

impl Server {
    /// Plain HTTP on loopback (the common case for API tests).
    pub fn plain() -> Self {
        Self::start(false, Vec::new())
    }

    /// HTTPS with the self-signed certificate scimd generates.
    pub fn tls() -> Self {
        Self::start(true, Vec::new())
    }

    /// Plain HTTP with extra `SCIMD_*` environment.
    pub fn plain_with_env(env: &[(&str, &str)]) -> Self {
        Self::start(
            false,
            env.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn start(tls: bool, extra_env: Vec<(String, String)>) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let mut s = Self {
            child: None,
            root: String::new(),
            console_root: None,
            data_dir,
            _tmp: Some(tmp),
            tls,
            extra_env,
            agent: ureq::agent(),
        };
        s.launch();
        s
    }

    fn wants_console_listener(&self) -> bool {
        self.extra_env
            .iter()
            .any(|(k, _)| k == "SCIMD_ADMIN_LISTEN")
    }

    /// Start (or restart) the process on the same data directory.
    pub fn launch(&mut self) {
        let mut cmd = Command::new(bin());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env("SCIMD_CONFIG", "")
            .env("SCIMD_LOG", "info")
            // Loopback clients are faster than any identity provider: with the limits on, a
            // test would pass or fail with the machine's speed. Tests of the limits set them.
            .env("SCIMD_RATE_LIMIT_PER_TOKEN", "0")
            .env("SCIMD_RATE_LIMIT_UNAUTHENTICATED", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.log_path())
                    .unwrap(),
            ));
        if !self.tls {
            cmd.arg("--plain-http");
        }
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        std::fs::create_dir_all(self.log_path().parent().unwrap()).ok();
        let mut child = cmd.spawn().expect("spawn scimd");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("scimd console listening on ") {
                    let _ = tx.send(format!("console {url}"));
                }
                if let Some(url) = line.strip_prefix("scimd listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let root = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("scimd did not start; log:\n{}", self.log()));
        self.root = root;
        // The console's listener is announced right after the main one, when there is one.
        self.console_root = rx
            .recv_timeout(Duration::from_millis(if self.wants_console_listener() {
                10_000
            } else {
                0
            }))
            .ok()
            .and_then(|l| l.strip_prefix("console ").map(str::to_owned));
        self.child = Some(child);
        self.agent = if self.tls {
            tls_agent(&self.data_dir.join("tls/cert.pem"))
        } else {
            ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build()
        };
    }

    fn log_path(&self) -> PathBuf {
        self.data_dir.with_file_name("scimd.log")
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The password of the console account `admin`, as the first start logged it.
    pub fn first_admin_password(&self) -> String {
        let log = self.log();
        let line = log
            .lines()
            .find(|l| l.contains("created the console account"))
            .unwrap_or_else(|| panic!("{log}"));
        let start = line.find("password=").unwrap() + "password=".len();
        line[start..].split_whitespace().next().unwrap().to_owned()
    }

    /// SIGKILL: no clean shutdown, no final flush.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM and wait for a clean exit; returns whether it exited with status 0.
    pub fn terminate(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return true;
        };
        Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()
            .unwrap();
        for _ in 0..600 {
            if let Some(status) = c.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        c.kill().ok();
        false
    }

    /// The SCIM base URL.
    pub fn scim(&self) -> String {
        format!("{}/scim/v2", self.root)
    }

    /// Run the CLI against this server's data directory.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli_in(&self.data_dir, args)
    }

    /// Issue a token through the CLI and return it.
    pub fn token(&self, name: &str) -> String {
        let out = self.cli(&["token", "add", "--name", name, "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    /// A request to a path below the SCIM base (or an absolute path when it starts with `//`).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        self.raw(method, path, token, body.map(|b| b.to_string()))
    }

    /// Like [`Server::call`] with a raw body.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        self.request(method, path, token, body, &[])
    }

    /// Like [`Server::raw`] with extra request headers, set after `Authorization` and
    /// `Content-Type: application/scim+json` (sent with a body): a header spelled the same
    /// replaces those.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = match path.strip_prefix("//") {
            Some(p) => format!("{}/{p}", self.root),
            None => format!("{}{path}", self.scim()),
        };
        let mut req = self.agent.request(method, &url);
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.set("Content-Type", "application/scim+json");
        }
        for (name, value) in headers {
            req = req.set(name, value);
        }
        let res = match body {
            Some(b) => req.send_string(&b),
            None => req.call(),
        };
        let res = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {url}: {e}"),
        };
        let header = |n: &str| res.header(n).map(str::to_owned);
        let status = res.status();
        let content_type = header("content-type").unwrap_or_default();
        let location = header("location");
        let etag = header("etag");
        let www_authenticate = header("www-authenticate");
        let retry_after = header("retry-after");
        let text = res.into_string();
        let body = match &text {
            Ok(t) if !t.is_empty() => {
                serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone()))
            }
            _ => Value::Null,
        };
        Reply {
            status,
            content_type,
            location,
            etag,
            www_authenticate,
            retry_after,
            body,
            text,
        }
    }

    /// A create's answer: 201, a UUID `id`, and `Location` = `{scim}{collection}/{id}`; returns
    /// the id.
    pub fn assert_created(&self, r: &Reply, collection: &str) -> String {
        assert_eq!(r.status, 201, "{:?}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert_eq!(
            r.location.as_deref(),
            Some(format!("{}{collection}/{id}", self.scim()).as_str())
        );
        id
    }

    /// A clean stop (SIGTERM, exit 0), then `scimd verify`: the views equal a rebuild from the log.
    pub fn stop_and_verify(mut self) {
        assert!(self.terminate());
        let out = self.cli(&["verify"]);
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Run the CLI on a data directory.
pub fn cli_in(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("SCIMD_CONFIG", "")
        .output()
        .unwrap()
}

/// An agent that trusts exactly the given PEM certificate.
pub fn tls_agent(cert: &Path) -> ureq::Agent {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut BufReader::new(std::fs::File::open(cert).unwrap())) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    ureq::AgentBuilder::new()
        .tls_config(Arc::new(config))
        .timeout(Duration::from_secs(30))
        .build()
}

/// Assert a SCIM error body: schema, `status` as a string, optional `scimType`.
pub fn assert_scim_error(r: &Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert!(
        r.content_type.starts_with("application/scim+json"),
        "{}",
        r.content_type
    );
    assert_eq!(
        r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{:?}",
        r.body
    );
    assert_eq!(r.body["status"], status.to_string(), "{:?}", r.body);
    match scim_type {
        Some(t) => assert_eq!(r.body["scimType"], t, "{:?}", r.body),
        None => assert!(r.body.get("scimType").is_none(), "{:?}", r.body),
    }
}

/// A PATCH answer: 200 (with the resource) or 204; `what` names the request in the message.
pub fn assert_patch_status(r: &Reply, what: &str) {
    assert!(
        r.status == 200 || r.status == 204,
        "PATCH {what}: {} {:?}",
        r.status,
        r.body
    );
}

/// Load a JSON fixture from `tests/fixtures/`, replacing `{{name}}` placeholders.
pub fn fixture(name: &str, vars: &[(&str, &str)]) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (k, v) in vars {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Percent-encode a query value the way Entra does (`+` for spaces).
pub fn q(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The resource without server-managed parts (`id`, `meta`, `groups`) and without empty arrays
/// (an empty multi-valued attribute is the same as an absent one, RFC 7643 §2.5).
pub fn content(v: &Value) -> Value {
    let mut m = v.as_object().unwrap().clone();
    for k in ["id", "meta", "groups"] {
        m.remove(k);
    }
    m.retain(|_, v| !matches!(v, Value::Array(a) if a.is_empty()));
    Value::Object(m)
}

/// The `id`s of a list of resources.
pub fn ids(resources: &[Value]) -> Vec<String> {
    resources
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The `id`s of a ListResponse body's `Resources` (which must be there).
pub fn list_ids(body: &Value) -> Vec<String> {
    ids(body["Resources"].as_array().unwrap())
}

/// The `value`s of the multi-valued attribute `key` of `resource`; none when it is absent.
pub fn values(resource: &Value, key: &str) -> Vec<String> {
    resource[key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `v` sorted.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
