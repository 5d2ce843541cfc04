//! Rate limits with a tiny configured rate (one request an hour, so nothing refills while a test
//! runs): counts, never clocks, decide what is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_scim_error, Server};
use serde_json::Value;

/// The Prometheus sample `name{labels}`, or 0 when absent.
fn sample(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

/// The log records, as exported.
fn log_records(s: &Server) -> Vec<Value> {
    let out = s.cli(&["export-log"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn tokens_get_429_over_their_rate_counted_in_metrics_and_logged_in_aggregate() {
    let mut s = Server::plain_with_env(&[
        ("SCIMD_RATE_LIMIT_PER_TOKEN", "1/h"),
        ("SCIMD_RATE_LIMIT_BURST", "3"),
        ("SCIMD_RATE_LIMIT_UNAUTHENTICATED", "0"),
    ]);
    let entra = s.token("Entra ID");
    let okta = s.token("Okta");
    for _ in 0..3 {
        assert_eq!(s.call("GET", "/Users", Some(&entra), None).status, 200);
    }
    for _ in 0..4 {
        let r = s.request(
            "GET",
            "/Users?filter=userName+eq+%22x%22",
            Some(&entra),
            None,
            &[],
        );
        assert_scim_error(&r, 429, None);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains("1/h with bursts of 3"), "{detail}");
    }
    // Writes are refused too, before any work, and Retry-After says when to come back.
    let r = s.call(
        "POST",
        "/Users",
        Some(&entra),
        Some(&serde_json::json!({"schemas": [common::USER], "userName": "never@contoso.com"})),
    );
    assert_scim_error(&r, 429, None);
    let retry: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
    assert!(retry > 60, "{retry}");
    // Another token has its own bucket.
    assert_eq!(s.call("GET", "/Users", Some(&okta), None).status, 200);

    let metrics = s.raw("GET", "//metrics", None, None).text.unwrap();
    assert_eq!(
        sample(&metrics, "scimd_rate_limited_total{client=\"Entra ID\"}"),
        5
    );
    assert_eq!(
        sample(&metrics, "scimd_rate_limited_total{client=\"Okta\"}"),
        0
    );

    // The log: no record per refused request, but the count, once (the server records at most
    // one per client per minute, and what is pending when it stops).
    assert!(s.terminate());
    let records = log_records(&s);
    let limited: Vec<&Value> = records.iter().filter(|r| r["status"] == 429).collect();
    assert!(!limited.is_empty());
    assert!(
        !records
            .iter()
            .any(|r| r.to_string().contains("never@contoso.com")),
        "a throttled write reached the writer"
    );
    let mut total = 0;
    for r in &limited {
        assert_eq!(r["status"], 429, "{r}");
        assert_eq!(r["scim_type"], Value::Null, "{r}");
        assert_eq!(r["client"], "Entra ID", "{r}");
        assert_eq!(r["outcome"], "failure", "{r}");
        assert_eq!(r["action"], "rate_limited", "{r}");
        let detail = r["detail"].as_str().unwrap();
        let (n, rest) = detail.split_once(' ').unwrap();
        assert!(
            rest.starts_with("requests refused by the rate limit since 20"),
            "{detail}"
        );
        total += n.parse::<u64>().unwrap();
    }
    assert_eq!(total, 5, "{limited:?}");
}

/// The token id (as `token list` shows it) inside a token's text.
fn token_id(token: &str) -> String {
    let hex = token
        .strip_prefix("scimd_")
        .unwrap()
        .split('_')
        .next()
        .unwrap();
    uuid::Uuid::parse_str(hex).unwrap().to_string()
}

#[test]
fn requests_without_a_valid_token_are_throttled_per_address_apart_from_good_tokens() {
    let mut s = Server::plain_with_env(&[
        ("SCIMD_RATE_LIMIT_UNAUTHENTICATED", "2/h"),
        ("SCIMD_RATE_LIMIT_PER_TOKEN", "1/h"),
        ("SCIMD_RATE_LIMIT_BURST", "5"),
    ]);
    let good = s.token("Entra ID");
    let old = s.token("Old");
    assert!(s.cli(&["token", "revoke", "Old"]).status.success());
    let unknown = format!("scimd_{}_{}", "ab".repeat(16), "00".repeat(32));

    // Two requests without a valid token fill this address's bucket: 401 …
    for token in [None, Some("nope")] {
        let r = s.call("GET", "/Users", token, None);
        assert_scim_error(&r, 401, None);
    }
    // … then 429, whatever they present.
    for token in [unknown.as_str(), old.as_str()] {
        let r = s.call("GET", "/Groups", Some(token), None);
        assert_scim_error(&r, 429, None);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains("without a valid bearer token"), "{detail}");
        assert!(r.retry_after.is_some());
    }
    // The good token, from the same address, has its whole burst.
    for _ in 0..5 {
        assert_eq!(s.call("GET", "/Users", Some(&good), None).status, 200);
    }

    let m = s.raw("GET", "//metrics", None, None).text.unwrap();
    let by = |series: &str| sample(&m, series);
    assert_eq!(
        by("scimd_unauthenticated_requests_total{address=\"127.0.0.1\"}"),
        4
    );
    assert_eq!(
        by("scimd_rate_limited_unauthenticated_total{address=\"127.0.0.1\"}"),
        2
    );
    assert_eq!(
        by("scimd_unauthenticated_requests_by_token_total{token_id=\"none\"}"),
        1
    );
    assert_eq!(
        by("scimd_unauthenticated_requests_by_token_total{token_id=\"malformed\"}"),
        1
    );
    for token in [&unknown, &old] {
        let series = format!(
            "scimd_unauthenticated_requests_by_token_total{{token_id=\"{}\"}}",
            token_id(token)
        );
        assert_eq!(by(&series), 1, "{series}\n{m}");
    }
    assert!(!m.contains(&good[20..]), "a secret in the metrics");
    assert_eq!(by("scimd_rate_limited_total{client=\"Entra ID\"}"), 0);

    // Counted, and logged only in aggregate (issue 11: the admin must see what the identity
    // provider saw): one record per address, kind and minute, so a flood of bad tokens cannot
    // fill the log.
    assert!(s.terminate());
    let records = log_records(&s);
    let limited: Vec<&Value> = records.iter().filter(|r| r["status"] == 429).collect();
    assert_eq!(limited.len(), 1, "{limited:?}");
    assert_eq!(limited[0]["count"], 2);
    assert_eq!(limited[0]["client"], "unauthenticated");
    assert_eq!(limited[0]["action"], "rate_limited");
    let unauthorized: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "unauthorized")
        .collect();
    assert_eq!(unauthorized.len(), 1, "{unauthorized:?}");
    assert_eq!(unauthorized[0]["count"], 2);
    assert!(!records.iter().any(|r| r.to_string().contains(&good[20..])));
}

#[test]
fn the_default_limits_let_a_full_burst_through() {
    // The defaults (200/s, bursts of 400): whatever the machine's speed, 400 requests in a row
    // fit the bucket, so a sync's burst never sees a 429.
    let s = Server::plain_with_env(&[
        ("SCIMD_RATE_LIMIT_PER_TOKEN", "200/s"),
        ("SCIMD_RATE_LIMIT_BURST", "400"),
    ]);
    let t = s.token("Entra ID");
    for i in 0..400 {
        let r = s.call("GET", "/Users?filter=userName+eq+%22x%22", Some(&t), None);
        assert_eq!(r.status, 200, "request {i}: {:?}", r.body);
    }
}
