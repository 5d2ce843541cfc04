//! The default serve path is HTTPS: a self-signed certificate is generated into the data directory
//! on first start (its fingerprint logged), reused on the next start, and plain HTTP is refused.
// Tests may unwrap: a panic is a failed test (clippy.toml allows it in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;

#[test]
fn default_serve_answers_https_with_the_generated_certificate() {
    let mut s = Server::tls();
    assert!(s.root.starts_with("https://127.0.0.1:"), "{}", s.root);
    let cert = s.data_dir.join("tls/cert.pem");
    assert!(cert.exists());
    let t = s.token("Entra ID");
    let r = s.call("GET", "/ServiceProviderConfig", Some(&t), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["patch"]["supported"], true);
    assert!(s.log().contains("sha256_fingerprint"), "{}", s.log());

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = s.root.replacen("https://", "http://", 1);
    assert!(ureq::get(&format!("{plain}/healthz")).call().is_err());

    // Restart: the same certificate is reused.
    let before = std::fs::read(&cert).unwrap();
    assert!(s.terminate());
    s.launch();
    assert_eq!(std::fs::read(&cert).unwrap(), before);
    assert_eq!(s.call("GET", "//healthz", None, None).status, 200);
}

#[test]
fn configured_pem_files_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = dir.path().join("c.pem");
    let key = dir.path().join("k.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    let data = dir.path().join("data");
    let mut child = std::process::Command::new(common::bin())
        .env("SCIMD_CONFIG", "")
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let root = line
        .trim()
        .strip_prefix("scimd listening on ")
        .unwrap()
        .to_owned();
    let agent = common::tls_agent(&cert);
    let res = agent.get(&format!("{root}/healthz")).call().unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        !data.join("tls/cert.pem").exists(),
        "no self-signed certificate when PEM files are configured"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
