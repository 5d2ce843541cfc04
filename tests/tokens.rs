//! Token lifecycle through the CLI contract: issued offline and against a running server (through the
//! admin socket), used, listed, revoked (the next request fails); missing and garbled headers are 401.
// Tests may unwrap: a panic is a failed test (clippy.toml allows it in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_scim_error, cli_in, Server};
use serde_json::Value;

fn json_out(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(
        text.trim().lines().count(),
        1,
        "exactly one JSON object: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

#[test]
fn tokens_issued_offline_and_online_work_until_revoked() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");

    // Offline: the server is not running, the CLI opens the database itself.
    let offline = json_out(&cli_in(
        &data,
        &["token", "add", "--name", "Okta", "--json"],
    ));
    let keys: Vec<&str> = offline
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "name", "token", "scim_url", "scopes"]);
    assert_eq!(offline["scopes"], serde_json::json!(["scim:write"]));
    assert_eq!(offline["name"], "Okta");
    let okta = offline["token"].as_str().unwrap().to_owned();
    assert!(okta.starts_with("scimd_") && okta.len() > 64, "{okta}");
    assert!(offline["scim_url"].as_str().unwrap().ends_with("/scim/v2"));

    // Human output names both values for Entra.
    let human = cli_in(&data, &["token", "add", "--name", "Spare"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("Tenant URL") && text.contains("Secret Token") && text.contains("scimd_"),
        "{text}"
    );

    // Online: start the server on the same data dir; the CLI goes through the admin socket.
    let mut s = Server::plain();
    s.kill();
    s.data_dir = data.clone();
    s.launch();
    let online = json_out(&s.cli(&["token", "add", "--name", "Entra ID", "--json"]));
    let entra = online["token"].as_str().unwrap().to_owned();
    assert_ne!(entra, okta);
    // The socket is owner-only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("admin.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "admin socket mode {mode:o}");

    for t in [&okta, &entra] {
        assert_eq!(s.call("GET", "/Users", Some(t), None).status, 200);
    }

    let list = json_out(&s.cli(&["token", "list", "--json"]));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Okta", "Spare", "Entra ID"]);
    assert!(list[0]["last_used"].is_string());
    assert!(list[1]["last_used"].is_null());
    assert!(
        list.to_string().find(&okta).is_none(),
        "a listing never shows a token"
    );

    // Revoke by name while running: the very next request fails.
    let out = s.cli(&["token", "revoke", "Okta"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = s.call("GET", "/Users", Some(&okta), None);
    assert_scim_error(&r, 401, None);
    assert!(r.www_authenticate.unwrap().starts_with("Bearer"));
    assert_eq!(s.call("GET", "/Users", Some(&entra), None).status, 200);
    // Unknown name: clear error, non-zero exit.
    let out = s.cli(&["token", "revoke", "Nobody"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Nobody"));

    // Offline revoke by id after a clean stop; the token stays dead after restart.
    assert!(s.terminate());
    let id = online["id"].as_str().unwrap();
    let out = cli_in(&data, &["token", "revoke", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.launch();
    assert_scim_error(&s.call("GET", "/Users", Some(&entra), None), 401, None);
    let list = json_out(&s.cli(&["token", "list", "--json"]));
    assert!(list[0]["revoked"].is_string() && list[2]["revoked"].is_string());
    assert!(list[1]["revoked"].is_null());

    // Issuing and revoking are events in the log: verify sees them projected.
    assert!(s.terminate());
    assert!(cli_in(&data, &["verify"]).status.success());
}

#[test]
fn requests_without_a_valid_token_get_401_with_a_scim_body() {
    let s = Server::plain();
    let good = s.token("Entra ID");
    let fake_secret = format!("{}_{}", &good[..good.rfind('_').unwrap()], "0".repeat(64));
    for header in [
        None,
        Some("".to_owned()),
        Some("garbage".to_owned()),
        Some("scimd_00_11".to_owned()),
        Some(fake_secret),
        Some(format!("{good}x")),
    ] {
        let r = s.call("GET", "/Users", header.as_deref(), None);
        assert_scim_error(&r, 401, None);
        assert_eq!(
            r.www_authenticate.as_deref(),
            Some("Bearer realm=\"scimd\"")
        );
    }
    // Basic or a wrong scheme is not accepted either.
    let r = s.raw("GET", "/Groups", None, None);
    assert_eq!(r.status, 401);
    // Every SCIM endpoint needs the token, discovery included; /healthz does not.
    for path in [
        "/ServiceProviderConfig",
        "/Schemas",
        "/ResourceTypes",
        "/Groups",
    ] {
        assert_eq!(s.call("GET", path, None, None).status, 401, "{path}");
    }
    assert_eq!(s.call("GET", "//healthz", None, None).status, 200);
    assert_eq!(s.call("GET", "/Users", Some(&good), None).status, 200);
}

/// `token add --scope` through the CLI, offline and through the running server's socket: the scopes
/// are listed and enforced over HTTP; an unknown scope is refused with the known ones named.
#[test]
fn scoped_tokens_from_the_cli_are_listed_and_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let reader = json_out(&cli_in(
        &data,
        &[
            "token",
            "add",
            "--name",
            "HR app",
            "--scope",
            "scim:read",
            "--json",
        ],
    ));
    assert_eq!(reader["scopes"], serde_json::json!(["scim:read"]));
    let out = cli_in(
        &data,
        &["token", "add", "--name", "x", "--scope", "scim:admin"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scim:admin") && err.contains("events:read"),
        "{err}"
    );
    let human = cli_in(
        &data,
        &[
            "token",
            "add",
            "--name",
            "Both",
            "--scope",
            "events:read",
            "--scope",
            "scim:read",
        ],
    );
    assert!(String::from_utf8_lossy(&human.stdout).contains("scim:read events:read"));

    let mut s = Server::plain();
    s.kill();
    s.data_dir = data.clone();
    s.launch();
    let feed = json_out(&s.cli(&[
        "token",
        "add",
        "--name",
        "Feed",
        "--scope",
        "events:read",
        "--json",
    ]));
    let list = json_out(&s.cli(&["token", "list", "--json"]));
    let scopes: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["scopes"])
        .collect();
    assert_eq!(scopes[0], &serde_json::json!(["scim:read"]));
    assert_eq!(scopes[2], &serde_json::json!(["events:read"]));
    let reader = reader["token"].as_str().unwrap();
    let feed = feed["token"].as_str().unwrap();
    assert_eq!(s.call("GET", "/Users", Some(reader), None).status, 200);
    let user = serde_json::json!({"schemas": [common::USER], "userName": "no@example.com"});
    let r = s.call("POST", "/Users", Some(reader), Some(&user));
    assert_scim_error(&r, 403, None);
    assert!(r.www_authenticate.unwrap().contains("scope=\"scim:write\""));
    assert_scim_error(&s.call("GET", "/Users", Some(feed), None), 403, None);
    assert_eq!(s.call("GET", "//events", Some(feed), None).status, 200);
    assert!(s.terminate());
}
