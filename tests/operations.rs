//! Operating scimd: systemd readiness notifications, online backup while writes continue and
//! restore into a new directory, log export, check-config, SIGHUP certificate reload without
//! dropping connections, client certificates (mTLS) on the SCIM endpoint, /readyz, /metrics, and
//! the journald and JSON log formats. Each against the real binary.
// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{cli_in, q, Server, GROUP, USER};
use serde_json::{json, Value};

fn scimd(args: &[&str]) -> std::process::Output {
    Command::new(common::bin())
        .args(args)
        .env("SCIMD_CONFIG", "")
        .output()
        .unwrap()
}

/// `scimd restore FILE --data-dir DIR`, which must succeed.
fn restore_ok(file: &Path, dir: &Path) {
    let out = scimd(&[
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn spawn(args: &[&str], env: &[(&str, &str)]) -> (std::process::Child, String) {
    let mut cmd = Command::new(common::bin());
    cmd.args(args)
        .env("SCIMD_CONFIG", "")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let root = line
        .trim()
        .strip_prefix("scimd listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    (child, root)
}

fn sigterm(child: &mut std::process::Child) -> bool {
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    child.wait().unwrap().success()
}

#[test]
fn systemd_hears_ready_then_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let data = dir.path().join("data");
    let (mut child, root) = spawn(
        &[
            "serve",
            "--plain-http",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[("NOTIFY_SOCKET", sock_path.to_str().unwrap())],
    );
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(msg.starts_with("READY=1"), "{msg}");
    // Ready means ready: the listener answers and the store is open.
    assert_eq!(
        ureq::get(&format!("{root}/readyz"))
            .call()
            .unwrap()
            .status(),
        200
    );
    assert!(sigterm(&mut child));
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STOPPING=1");
}

fn user_names(s: &Server, t: &str) -> Vec<String> {
    let r = s.call(
        "GET",
        "/Users?count=1000&attributes=userName",
        Some(t),
        None,
    );
    let mut v: Vec<String> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn online_backup_during_writes_restores_into_a_verified_directory() {
    let mut s = Server::plain();
    let t = s.token("Entra ID");
    let g = s.call(
        "POST",
        "/Groups",
        Some(&t),
        Some(&json!({"schemas": [GROUP], "displayName": "Backup Group"})),
    );
    let gid = g.body["id"].as_str().unwrap().to_owned();
    // Writers keep going while the backup runs.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (root, t, stop, gid) = (s.scim(), t.clone(), stop.clone(), gid.clone());
            std::thread::spawn(move || {
                let agent = ureq::agent();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = json!({"schemas": [USER], "userName": format!("w{w}-{i}@x")});
                    let r: Value = agent.post(&format!("{root}/Users")).set("Authorization", &format!("Bearer {t}")).send_string(&body.to_string()).unwrap().into_json().unwrap();
                    let add = json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": r["id"]}]}]});
                    agent.request("PATCH", &format!("{root}/Groups/{gid}")).set("Authorization", &format!("Bearer {t}")).send_string(&add.to_string()).unwrap();
                    i += 1;
                }
                i
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let during = dir.path().join("during.scimd");
    let out = s.cli(&["backup", "--out", during.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&during).unwrap().permissions().mode() & 0o777,
        0o600,
        "backups are owner-only"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written: usize = writers.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(written > 0);

    // The backup taken mid-traffic restores into a consistent, verified directory.
    let restored = dir.path().join("restored-during");
    restore_ok(&during, &restored);
    assert!(cli_in(&restored, &["verify"]).status.success());

    // A backup after the traffic restores to exactly the same users and group members.
    let after = dir.path().join("after.scimd");
    assert!(s
        .cli(&["backup", "--out", after.to_str().unwrap()])
        .status
        .success());
    let names = user_names(&s, &t);
    let members = s
        .call("GET", &format!("/Groups/{gid}"), Some(&t), None)
        .body["members"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(members, names.len());
    // Restoring over a non-empty directory needs --force.
    let out = scimd(&[
        "restore",
        after.to_str().unwrap(),
        "--data-dir",
        restored.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--force"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = scimd(&[
        "restore",
        after.to_str().unwrap(),
        "--force",
        "--data-dir",
        restored.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.terminate());
    let mut copy = Server::plain();
    copy.kill();
    copy.data_dir = restored.clone();
    copy.launch();
    // Tokens and console accounts came along: the same token works on the restored server.
    assert_eq!(user_names(&copy, &t), names);
    let r = copy.call("GET", &format!("/Groups/{gid}"), Some(&t), None);
    assert_eq!(r.body["members"].as_array().unwrap().len(), members);

    // A damaged backup is refused and leaves nothing behind.
    let mut bytes = std::fs::read(&after).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    let bad = dir.path().join("bad.scimd");
    std::fs::write(&bad, bytes).unwrap();
    let target = dir.path().join("from-bad");
    let out = scimd(&[
        "restore",
        bad.to_str().unwrap(),
        "--data-dir",
        target.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    // Nothing half-restored is left (the directory itself stays: the service may own it).
    assert!(std::fs::read_dir(&target).map_or(true, |mut d| d.next().is_none()));

    // export-log: one JSON object per log record, oldest first (offline here).
    assert!(copy.terminate());
    let out = cli_in(&restored, &["export-log", "--format", "ndjson"]);
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[0]["action"], "token_issued");
    assert!(lines
        .windows(2)
        .all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64()));
}

#[test]
fn a_backup_fixture_of_format_1_restores_with_this_binary() {
    // tests/fixtures/backup-format1.scimd was written by `scimd backup` with stored format 1. A
    // future format must keep reading it (through an upcaster in store/codec.rs).
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/backup-format1.scimd");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    restore_ok(&fixture, &data);
    let out = cli_in(&data, &["export-log"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\"action\":\"user_created\""), "{text}");
    assert!(text.contains("fixture.user@contoso.com"));
    assert!(text.contains("\"action\":\"members_added\""));
    let mut s = Server::plain();
    s.kill();
    s.data_dir = data;
    s.launch();
    let t = s.token("after restore");
    let r = s.call(
        "GET",
        &format!(
            "/Users?filter={}",
            q("userName eq \"fixture.user@contoso.com\"")
        ),
        Some(&t),
        None,
    );
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(
        r.body["Resources"][0]["groups"][0]["display"],
        "Fixture Group"
    );
    // Its refused create is from before the log kept request bodies: the failure detail says
    // the body was not recorded (rather than that there was none).
    let mut child = Command::new(common::bin())
        .env("SCIMD_CONFIG", "")
        .args(["admin", "set-password", "ops", "--data-dir"])
        .arg(&s.data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"a long ops password\n").unwrap();
    assert!(child.wait().unwrap().success());
    let login = ureq::post(&format!("{}/admin/api/login", s.root))
        .send_json(json!({"username": "ops", "password": "a long ops password"}))
        .unwrap();
    let cookie = login
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let e: Value = ureq::get(&format!("{}/admin/api/activity/6", s.root))
        .set("Cookie", cookie)
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(e["item"]["status"], 409, "{e}");
    assert!(e["explanation"]["body"].is_null(), "{e}");
    assert_eq!(e["explanation"]["body_recorded"], false, "{e}");
}

#[test]
fn check_config_reports_effective_settings_and_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        format!(
            "data_dir = \"{}\"\nlisten = \"127.0.0.1:9443\"\nmetrics_token = \"s3cret-token\"\n",
            dir.path().join("d").display()
        ),
    )
    .unwrap();
    let out = scimd(&["check-config", good.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("listen = \"127.0.0.1:9443\""), "{stdout}");
    assert!(
        stdout.contains("metrics_token = \"********\"") && !stdout.contains("s3cret"),
        "{stdout}"
    );
    // Unknown key: named.
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "lissen = \"0.0.0.0:8443\"\n").unwrap();
    let out = scimd(&["check-config", typo.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("lissen"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Bad certificate path: named.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "tls_cert = \"/nonexistent/cert.pem\"\ntls_key = \"/nonexistent/key.pem\"\n",
    )
    .unwrap();
    let out = scimd(&["check-config", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/cert.pem"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Secrets from a file (…_FILE).
    let secret = dir.path().join("token");
    std::fs::write(&secret, "from-a-file\n").unwrap();
    let out = Command::new(common::bin())
        .args(["check-config", good.to_str().unwrap()])
        .env("SCIMD_CONFIG", "")
        .env("SCIMD_METRICS_ALLOW", "10.0.0.0/8")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"10.0.0.0/8\""));
    let both = Command::new(common::bin())
        .args(["check-config"])
        .env("SCIMD_CONFIG", "")
        .env("SCIMD_METRICS_TOKEN", "x")
        .env("SCIMD_METRICS_TOKEN_FILE", secret.to_str().unwrap())
        .output()
        .unwrap();
    assert!(!both.status.success());
    assert!(String::from_utf8_lossy(&both.stderr).contains("not both"));
}

#[test]
fn unknown_scimd_environment_variables_are_warned_about_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::bin())
        .args(["check-config"])
        .env("SCIMD_CONFIG", "")
        .env("SCIMD_DATA_DIR", dir.path().join("d"))
        .env("SCIMD_LISTN", "127.0.0.1:9443")
        .env("SCIMD_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A warning, not an error: the environment is shared with other programs.
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("WARN") && stderr.contains("SCIMD_LISTN"),
        "{stderr}"
    );
    // The variables scimd does read are not reported.
    for known in ["SCIMD_CONFIG", "SCIMD_DATA_DIR", "SCIMD_LOG "] {
        assert!(!stderr.contains(known), "{known}: {stderr}");
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("listen = \"0.0.0.0:8443\""));
}

fn write_cert(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (c, k) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&c, ck.cert.pem()).unwrap();
    std::fs::write(&k, ck.key_pair.serialize_pem()).unwrap();
    (c, k)
}

/// The fingerprint of the certificate a fresh TLS connection to `addr` gets.
fn served_fingerprint(addr: &str) -> String {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AcceptAny))
    .with_no_client_auth();
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).unwrap();
    }
    scimd::tls::fingerprint(&conn.peer_certificates().unwrap()[0])
}

#[derive(Debug)]
struct AcceptAny;

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[test]
fn sighup_reloads_the_certificate_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_cert(dir.path(), "live");
    let (c_new, k_new) = write_cert(dir.path(), "next");
    let old_fp = scimd::tls::fingerprint(&scimd::tls::load_certs(&cert).unwrap()[0]);
    let new_fp = scimd::tls::fingerprint(&scimd::tls::load_certs(&c_new).unwrap()[0]);
    let data = dir.path().join("data");
    let (mut child, root) = spawn(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    let addr = root.trim_start_matches("https://").to_owned();
    assert_eq!(served_fingerprint(&addr), old_fp);
    // A kept-alive connection opened before the reload.
    let agent = common::tls_agent(&cert);
    assert_eq!(
        agent
            .get(&format!("{root}/healthz"))
            .call()
            .unwrap()
            .status(),
        200
    );
    std::fs::copy(&c_new, &cert).unwrap();
    std::fs::copy(&k_new, &key).unwrap();
    Command::new("kill")
        .arg("-HUP")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while served_fingerprint(&addr) != new_fp {
        assert!(
            std::time::Instant::now() < deadline,
            "the new certificate was not served"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The old connection still works (it keeps the certificate it was set up with).
    assert_eq!(
        agent
            .get(&format!("{root}/healthz"))
            .call()
            .unwrap()
            .status(),
        200
    );
    // A broken file does not take the server down: the last good certificate stays.
    std::fs::write(&cert, "garbage").unwrap();
    Command::new("kill")
        .arg("-HUP")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(served_fingerprint(&addr), new_fp);
    assert!(sigterm(&mut child));
}

#[test]
fn client_certificates_are_required_on_scim_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_cert(dir.path(), "server");
    // A CA and a client certificate it signed.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let client_key = rcgen::KeyPair::generate().unwrap();
    let client = rcgen::CertificateParams::new(vec!["entra-client".into()])
        .unwrap()
        .signed_by(&client_key, &ca, &ca_key)
        .unwrap();
    let data = dir.path().join("data");
    let token = {
        let out = Command::new(common::bin())
            .args([
                "token",
                "add",
                "--name",
                "mTLS",
                "--json",
                "--data-dir",
                data.to_str().unwrap(),
            ])
            .env("SCIMD_CONFIG", "")
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (mut child, root) = spawn(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[("SCIMD_CLIENT_CA", ca_path.to_str().unwrap())],
    );
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(scimd::tls::load_certs(&cert).unwrap().remove(0))
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let with_cert = builder
        .clone()
        .with_client_auth_cert(
            vec![client.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(client_key.serialize_der()).unwrap(),
        )
        .unwrap();
    let without = builder.with_no_client_auth();
    let agent = |c: rustls::ClientConfig| ureq::AgentBuilder::new().tls_config(Arc::new(c)).build();
    let status = |a: &ureq::Agent, path: &str| match a
        .get(&format!("{root}{path}"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    };
    let (yes, no) = (agent(with_cert), agent(without));
    assert_eq!(status(&yes, "/scim/v2/Users"), 200);
    assert_eq!(status(&no, "/scim/v2/Users"), 401);
    // The console and health checks do not need a client certificate.
    assert_eq!(status(&no, "/healthz"), 200);
    assert_eq!(status(&no, "/admin/"), 200);
    assert!(sigterm(&mut child));
}

#[test]
fn readyz_and_metrics_reflect_traffic() {
    let s = Server::plain();
    let t = s.token("Entra ID");
    assert_eq!(
        s.call("GET", "//readyz", None, None).body["status"],
        "ready"
    );
    let metrics = |s: &Server| -> String {
        ureq::get(&format!("{}/metrics", s.root))
            .call()
            .unwrap()
            .into_string()
            .unwrap()
    };
    let sample = |text: &str, prefix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    let before = metrics(&s);
    // Every line is a comment or `name{labels} value`.
    for line in before.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        assert!(name.starts_with("scimd_"), "{line}");
    }
    for _ in 0..3 {
        s.call(
            "POST",
            "/Users",
            Some(&t),
            Some(&json!({"schemas": [USER], "userName": format!("m{}@x", rand_suffix())})),
        );
    }
    s.call(
        "POST",
        "/Users",
        Some(&t),
        Some(&json!({"schemas": [USER], "userName": 5})),
    );
    let after = metrics(&s);
    let created =
        "scimd_http_requests_total{route=\"/scim/v2/Users\",method=\"POST\",status=\"201\"}";
    assert_eq!(sample(&after, created) - sample(&before, created), 3.0);
    assert_eq!(
        sample(
            &after,
            "scimd_writes_total{action=\"create_user\",client=\"Entra ID\",outcome=\"accepted\"}"
        ),
        3.0
    );
    assert_eq!(
        sample(
            &after,
            "scimd_writes_total{action=\"create_user\",client=\"Entra ID\",outcome=\"rejected\"}"
        ),
        1.0
    );
    assert!(sample(&after, "scimd_commit_batch_size_count") >= 4.0);
    assert_eq!(sample(&after, "scimd_users"), 3.0);
    assert!(after.contains("scimd_token_last_used_timestamp_seconds{"));
    assert!(after.contains(
        "scimd_http_request_duration_seconds_bucket{route=\"/scim/v2/Users\",le=\"+Inf\"}"
    ));
    // Ids never become label values.
    assert!(!after.contains("/Users/"), "route patterns only");
}

#[test]
fn metrics_can_be_limited_to_other_addresses_or_a_token() {
    let s = Server::plain_with_env(&[
        ("SCIMD_METRICS_ALLOW", "10.9.0.0/16"),
        ("SCIMD_METRICS_TOKEN", "scrape-me"),
    ]);
    let url = format!("{}/metrics", s.root);
    match ureq::get(&url).call() {
        Err(ureq::Error::Status(403, _)) => {}
        other => panic!("expected 403 from loopback, got {other:?}"),
    }
    assert_eq!(
        ureq::get(&url)
            .set("Authorization", "Bearer scrape-me")
            .call()
            .unwrap()
            .status(),
        200
    );
}

fn rand_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[test]
fn journald_and_json_log_formats() {
    for (format, check) in [
        (
            "journald",
            (|l: &str| l.starts_with("<6>") || l.starts_with("<4>") || l.starts_with("<3>"))
                as fn(&str) -> bool,
        ),
        ("json", |l: &str| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| v["level"].is_string())
        }),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (mut child, _) = spawn(
            &[
                "serve",
                "--plain-http",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                format,
                "--data-dir",
                data.to_str().unwrap(),
            ],
            &[],
        );
        assert!(sigterm(&mut child));
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        let lines: Vec<&str> = err.lines().collect();
        assert!(!lines.is_empty());
        assert!(lines.iter().all(|l| check(l)), "{format}:\n{err}");
        if format == "journald" {
            // journald stamps lines itself: after the priority comes the module, not a time.
            assert!(
                lines
                    .iter()
                    .all(|l| l[3..].starts_with("scimd") || l[3..].starts_with("actix")),
                "{err}"
            );
        }
    }
}
