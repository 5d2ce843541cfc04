//! The audit trail of SCIM requests refused before they become writes: 401s (no token, a revoked
//! token), 429s of requests without a valid token, and failed reads (400 `invalidFilter`, 404) are
//! recorded as aggregated records (per client or address, per kind, per minute, with a count and
//! one example request line), shown in the activity report and the synchronization cards, and
//! the token page's failure counter agrees with the report.
// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::console::Console;
use common::{q, Server, USER};
use serde_json::{json, Value};

fn token_failures(c: &Console, client: &str) -> u64 {
    let tokens = c.get("/admin/api/tokens");
    tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == client)
        .unwrap()["failures_24h"]
        .as_u64()
        .unwrap()
}

fn client_card(c: &Console, client: &str) -> Value {
    c.get("/admin/api/stats")["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == client)
        .unwrap_or_else(|| panic!("no card for {client}"))
        .clone()
}

fn token_with_id(s: &Server, name: &str) -> (String, String) {
    let out = s.cli(&["token", "add", "--name", name, "--json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["token"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn refusals_before_a_write_are_recorded_aggregated_and_the_counters_agree() {
    let mut s = Server::plain();
    let entra = s.token("Entra ID");
    let (okta_id, okta) = token_with_id(&s, "Okta");
    assert!(s.cli(&["token", "revoke", &okta_id]).status.success());

    for _ in 0..3 {
        assert_eq!(s.call("GET", "/Users", None, None).status, 401);
    }
    for _ in 0..2 {
        assert_eq!(s.call("GET", "/Users", Some(&okta), None).status, 401);
    }
    let bad = format!("/Users?filter={}", q("userName eq"));
    for _ in 0..3 {
        let r = s.call("GET", &bad, Some(&entra), None);
        assert_eq!(r.status, 400);
        assert_eq!(r.body["scimType"], "invalidFilter");
    }
    assert_eq!(
        s.call(
            "GET",
            "/Users/5b7f8d1e-0000-4000-8000-000000000001",
            Some(&entra),
            None
        )
        .status,
        404
    );
    let dup = json!({"schemas": [USER], "userName": "emily.braun@contoso.com"});
    assert_eq!(
        s.call("POST", "/Users", Some(&entra), Some(&dup)).status,
        201
    );
    assert_eq!(
        s.call("POST", "/Users", Some(&entra), Some(&dup)).status,
        409
    );
    // A good read is no failure.
    assert_eq!(s.call("GET", "/Users", Some(&entra), None).status, 200);

    // The token page counts what was refused even before the aggregated record is written.
    let c = Console::sign_in(&s);
    assert_eq!(token_failures(&c, "Entra ID"), 5);
    assert_eq!(token_failures(&c, "Okta"), 2);

    // Stopping writes the pending records; the restarted server shows them.
    assert!(s.terminate());
    s.launch();
    let c = Console::sign_in(&s);
    let failed_reads = c.items(&format!("action=read_failed&client={}", q("Entra ID")));
    assert_eq!(failed_reads.len(), 2, "{failed_reads:?}");
    let filter = failed_reads
        .iter()
        .find(|i| i["scim_type"] == "invalidFilter")
        .unwrap();
    assert_eq!(filter["count"], 3);
    assert_eq!(filter["status"], 400);
    assert_eq!(filter["outcome"], "failure");
    let detail = filter["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("3 reads failed with 400 invalidFilter since "),
        "{detail}"
    );
    assert!(
        detail.contains("for example GET /scim/v2/Users?filter="),
        "{detail}"
    );
    let missing = failed_reads.iter().find(|i| i["status"] == 404).unwrap();
    assert_eq!(missing["count"], 1);

    let unauthorized = c.items("action=unauthorized");
    assert_eq!(unauthorized.len(), 2, "{unauthorized:?}");
    let stranger = unauthorized
        .iter()
        .find(|i| i["client"] == "unauthenticated")
        .unwrap();
    assert_eq!(stranger["count"], 3);
    assert_eq!(stranger["status"], 401);
    assert_eq!(stranger["client_addr"], "127.0.0.1");
    assert!(stranger["detail"]
        .as_str()
        .unwrap()
        .contains("missing Authorization header"));
    let revoked = unauthorized.iter().find(|i| i["client"] == "Okta").unwrap();
    assert_eq!(revoked["count"], 2);
    let detail = revoked["detail"].as_str().unwrap();
    assert!(
        detail.contains("revoked token") && detail.contains(&okta_id),
        "{detail}"
    );
    assert!(!detail.contains(&okta), "the secret never reaches the log");

    // The token page, the report and the sync cards agree: 3 + 1 failed reads + 1 rejected write.
    let report: u64 = c
        .items(&format!("client={}&outcome=failure", q("Entra ID")))
        .iter()
        .map(|i| i["count"].as_u64().unwrap())
        .sum();
    assert_eq!(report, 5);
    assert_eq!(token_failures(&c, "Entra ID"), 5);
    let card = client_card(&c, "Entra ID");
    assert_eq!(card["failed_requests_24h"], 5, "{card}");
    assert_eq!(card["refused_24h"]["read_failed"], 4);
    assert_eq!(client_card(&c, "Okta")["refused_24h"]["unauthorized"], 2);
    assert_eq!(
        client_card(&c, "unauthenticated")["refused_24h"]["unauthorized"],
        3
    );
}

#[test]
fn requests_without_a_token_over_the_address_limit_are_recorded_as_rate_limited() {
    let mut s = Server::plain_with_env(&[("SCIMD_RATE_LIMIT_UNAUTHENTICATED", "2/m")]);
    let statuses: Vec<u16> = (0..5)
        .map(|_| s.call("GET", "/Groups", None, None).status)
        .collect();
    assert_eq!(statuses, [401, 401, 429, 429, 429]);
    assert!(s.terminate());
    s.launch();
    let c = Console::sign_in(&s);
    let limited = c.items("action=rate_limited");
    assert_eq!(limited.len(), 1, "{limited:?}");
    assert_eq!(limited[0]["count"], 3);
    assert_eq!(limited[0]["client"], "unauthenticated");
    assert!(limited[0]["detail"]
        .as_str()
        .unwrap()
        .contains("for example GET /scim/v2/Groups"));
    assert_eq!(c.items("action=unauthorized")[0]["count"], 2);
}
