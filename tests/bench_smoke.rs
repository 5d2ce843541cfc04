//! `scimd-bench` runs end to end on a tiny population: it starts scimd, prints every figure of
//! the README's table, no request of any phase failed (member counts after the initial sync
//! included), and it removes its data directories. Its figures are not checked: speed is the
//! benchmark's business, not a test's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn the_benchmark_runs_every_phase_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scimd-bench"))
        .args([
            "--users",
            "120",
            "--runs",
            "1",
            "--conns",
            "4",
            "--ceiling-requests",
            "300",
            "--requests",
            "100",
            "--sync-users",
            "100",
            "--sync-groups",
            "4",
            "--sync-runs",
            "1",
            "--restart-records",
            "60",
            "--dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "ceiling: bare actix handler, parse + serialise a user body (POST)",
        "ceiling: bare actix handler, parse + serialise a one-user ListResponse (GET)",
        "ceiling: sled",
        "POST /Users (durable, Entra body)",
        "GET /Users?filter=userName eq",
        "PATCH /Users/{id}",
        "group commit",
        "add or remove one member, group of 120",
        "GET /Groups/{id} with all 120 members",
        "GET /Groups/{id}?excludedAttributes=members",
        "GET /Users?count=100",
        "GET /metrics",
        "server peak RSS",
        "data directory",
        "scimd verify",
        "scimd rebuild-views",
        "restart until /healthz answers",
        "restart until /healthz answers (6",
        "initial sync, Entra-shaped: 100 users + 4 groups",
    ] {
        assert!(text.contains(row), "no row '{row}' in:\n{text}");
    }
    let mut counted = 0;
    for (at, _) in text.match_indices(" errors of ") {
        let errors = text[..at].rsplit([' ', '(']).next().unwrap();
        assert_eq!(errors, "0", "a phase had errors:\n{text}");
        counted += 1;
    }
    assert!(counted >= 10, "{text}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the benchmark leaves no data behind"
    );
}
