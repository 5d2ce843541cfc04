//! `scimd-bench`: the load benchmark. It starts the release `scimd` beside it on a fresh data
//! directory (plain HTTP on loopback), plays Entra-shaped traffic at a chosen concurrency and
//! population, measures the machine's ceilings in the same run (a bare actix-web handler, sled's
//! raw batch write), and prints medians of several runs with p50/p99, errors, the server's peak
//! RSS and CPU time, and each rate as a ratio to its ceiling. See README "Performance".
//!
//! ```text
//! cargo build --release && target/release/scimd-bench --users 2000
//! ```

mod bodies;
mod ceilings;
mod client;
mod load;
mod scenarios;
mod server;

use std::path::PathBuf;
use std::rc::Rc;

use clap::Parser;

use load::Load;
use scenarios::Target;
use server::{Proc, Server};

/// Load benchmark for scimd (release build; see README "Performance").
#[derive(Debug, Parser)]
#[command(name = "scimd-bench")]
struct Args {
    /// Users in the population the operations run against.
    #[arg(long, default_value_t = 2000)]
    users: usize,
    /// Members of the big group [default: the population, at most 100,000].
    #[arg(long)]
    group_members: Option<usize>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    conns: usize,
    /// Measured runs per figure (medians are reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Requests per run of each bare-handler ceiling.
    #[arg(long, default_value_t = 20_000)]
    ceiling_requests: usize,
    /// Requests per run of the create, lookup, PATCH and group-read figures (lookups: 2.5 times).
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Users of the initial sync [default: the population, at most 100,000; 0 skips it].
    #[arg(long)]
    sync_users: Option<usize>,
    /// Groups of the initial sync [default: one per 100 sync users].
    #[arg(long)]
    sync_groups: Option<usize>,
    /// Initial syncs (each on a fresh server) [default: 3, or 1 above 20,000 users].
    #[arg(long)]
    sync_runs: Option<usize>,
    /// Where the data directories go (on the disk under test) [default: ./scimd-bench-data].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the data directories afterwards.
    #[arg(long)]
    keep: bool,
    /// Extra server setting, e.g. SCIMD_CACHE_MB=64 (repeatable).
    #[arg(long = "server-env", value_name = "NAME=VALUE")]
    server_env: Vec<String>,
    /// Skip the offline part (verify, rebuild-views, restart to ready).
    #[arg(long)]
    skip_offline: bool,
    /// Also create this many users on a fresh server (one log record each) and time restarts of
    /// it until `/healthz` answers (issue 9 asks for 1,000,000) [default: 0, skipped].
    #[arg(long, default_value_t = 0)]
    restart_records: usize,
    /// Record a CPU profile of the server during one phase (`create`, `lookup` or `patch`) with
    /// `perf record --call-graph dwarf` into `scimd-<phase>.perf.data` (needs linux-perf).
    #[arg(long, value_name = "PHASE")]
    perf: Option<String>,
}

/// `perf record` attached to the server for the length of one phase.
struct Profile(Option<std::process::Child>);

impl Profile {
    fn start(wanted: Option<&str>, phase: &str, pid: u32) -> Self {
        if wanted != Some(phase) {
            return Self(None);
        }
        let child = std::process::Command::new("perf")
            .args(["record", "-F", "499", "--call-graph", "dwarf,16384", "-p"])
            .arg(pid.to_string())
            .arg("-o")
            .arg(format!("scimd-{phase}.perf.data"))
            .stdout(std::process::Stdio::null())
            .spawn();
        match child {
            Ok(c) => {
                // perf needs a moment to attach to every thread.
                std::thread::sleep(std::time::Duration::from_millis(500));
                Self(Some(c))
            }
            Err(e) => fail("perf record", e),
        }
    }

    fn stop(self) {
        if let Some(mut c) = self.0 {
            let _ = std::process::Command::new("kill")
                .arg("-INT")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }
}

/// A fresh scimd on `dir` with a token for `client`, and the load target that uses it.
fn start_target(
    dir: &std::path::Path,
    env: &[(String, String)],
    client: &str,
    conns: usize,
    runs: usize,
) -> (Server, Target) {
    let srv = Server::start(dir, env).unwrap_or_else(|e| fail("start scimd", e));
    let token = srv
        .token(client)
        .unwrap_or_else(|e| fail("issue a token", e));
    let t = Target {
        addr: srv.addr,
        token,
        conns,
        runs,
    };
    (srv, t)
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("scimd-bench: {what}: {e}");
    std::process::exit(1);
}

/// One printed row.
struct Row {
    what: String,
    value: String,
    ratio: String,
}

fn rate_row(what: &str, l: &Load, ceiling: Option<(f64, &str)>) -> Row {
    Row {
        what: what.to_owned(),
        value: format!(
            "{:.0}/s (p50 {:.2} ms, p99 {:.2} ms, {} errors of {})",
            l.rate, l.p50_ms, l.p99_ms, l.errors, l.requests
        ),
        ratio: ceiling.map_or_else(String::new, |(c, name)| {
            format!("{:.0}% of {name}", 100.0 * l.rate / c.max(1e-9))
        }),
    }
}

fn latency_row(what: &str, l: &Load) -> Row {
    Row {
        what: what.to_owned(),
        value: format!(
            "p50 {:.2} ms, p99 {:.2} ms ({} errors of {})",
            l.p50_ms, l.p99_ms, l.errors, l.requests
        ),
        ratio: String::new(),
    }
}

fn plain_row(what: &str, value: String) -> Row {
    Row {
        what: what.to_owned(),
        value,
        ratio: String::new(),
    }
}

fn main() {
    let args = Args::parse();
    let env: Vec<(String, String)> = args
        .server_env
        .iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    let root = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("scimd-bench-data"));
    let root = root.join(format!("run-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&root) {
        fail("cannot create the data directory", e);
    }
    let members = args
        .group_members
        .unwrap_or(args.users.min(100_000))
        .min(args.users);
    let sync_users = args.sync_users.unwrap_or(args.users.min(100_000));
    let sync_groups = args.sync_groups.unwrap_or((sync_users / 100).max(1));
    let sync_runs = args
        .sync_runs
        .unwrap_or(if sync_users > 20_000 { 1 } else { 3 });
    let mut rows = Vec::new();

    // Ceilings first, on an idle machine.
    let bare = ceilings::Bare::start().unwrap_or_else(|e| fail("bare server", e));
    let bare_runs = |make: Rc<dyn Fn(usize) -> client::Request>, ok: fn(u16) -> bool| {
        let runs: Vec<Load> = (0..args.runs)
            .map(|_| {
                load::block_on(load::load(
                    bare.addr,
                    None,
                    args.conns,
                    args.ceiling_requests,
                    make.clone(),
                    load::status(ok),
                ))
            })
            .collect();
        load::median_of(&runs)
    };
    let bare_post = bare_runs(
        Rc::new(|i| {
            client::Request::with_body("POST", "/echo".into(), bodies::create_user("bare", i))
        }),
        |s| s == 201,
    );
    let bare_get = bare_runs(Rc::new(|_| client::Request::get("/user".into())), |s| {
        s == 200
    });
    bare.stop();
    let sled_runs: Vec<f64> = (0..args.runs)
        .map(|r| {
            let d = root.join(format!("sled-{r}"));
            let v = ceilings::sled_batches(&d, 200).unwrap_or_else(|e| fail("raw sled batch", e));
            let _ = std::fs::remove_dir_all(&d);
            v
        })
        .collect();
    let sled_rate = load::median(sled_runs);
    rows.push(rate_row(
        "ceiling: bare actix handler, parse + serialise a user body (POST)",
        &bare_post,
        None,
    ));
    rows.push(rate_row(
        "ceiling: bare actix handler, parse + serialise a one-user ListResponse (GET)",
        &bare_get,
        None,
    ));
    rows.push(plain_row(
        "ceiling: sled, one 3-tree transaction + flush per batch of 64",
        format!("{sled_rate:.0} durable writes/s"),
    ));

    // The population.
    let data = root.join("main");
    let (mut srv, t) = start_target(&data, &env, "bench", args.conns, args.runs);
    let pid = srv.pid().unwrap_or(0);
    let cpu0 = Proc::read(pid).unwrap_or_default().cpu_secs;
    let (ids, pop) = t.populate("p", args.users);
    if pop.errors > 0 {
        fail(
            "populate",
            format!("{} of {} creates failed", pop.errors, pop.requests),
        );
    }
    rows.push(rate_row(
        &format!("populate: {} creates", args.users),
        &pop,
        Some((sled_rate, "sled batch")),
    ));
    let group = t
        .big_group("Big group", &ids[..members])
        .unwrap_or_else(|| fail("big group", "could not create it"));
    let ids = Rc::new(ids);

    let per = args.requests.max(1);
    let cpu = |rows: &mut Vec<Row>, what: &str, l: &Load, last: &mut f64| {
        let now = Proc::read(pid).unwrap_or_default().cpu_secs;
        let used = now - *last;
        *last = now;
        rows.push(plain_row(
            &format!("  server CPU per request, {what}"),
            format!("{:.0} µs", 1e6 * used / (l.requests.max(1) as f64)),
        ));
    };
    let mut last = Proc::read(pid).unwrap_or_default().cpu_secs;
    let commits_before = t.commits();
    let prof = Profile::start(args.perf.as_deref(), "create", pid);
    let creates = t.creates(per);
    prof.stop();
    rows.push(rate_row(
        "POST /Users (durable, Entra body)",
        &creates,
        Some((sled_rate, "sled batch")),
    ));
    rows.push(rate_row(
        "  … the same vs. the bare handler",
        &creates,
        Some((bare_post.rate, "bare POST")),
    ));
    cpu(&mut rows, "create", &creates, &mut last);
    let prof = Profile::start(args.perf.as_deref(), "lookup", pid);
    let lookups = t.lookups("p", args.users, per * 5 / 2);
    prof.stop();
    rows.push(rate_row(
        "GET /Users?filter=userName eq \"…\"",
        &lookups,
        Some((bare_get.rate, "bare GET")),
    ));
    cpu(&mut rows, "lookup", &lookups, &mut last);
    let prof = Profile::start(args.perf.as_deref(), "patch", pid);
    let patches = t.patches(ids.clone(), per);
    prof.stop();
    rows.push(rate_row(
        "PATCH /Users/{id} (Entra legacy Replace)",
        &patches,
        Some((bare_post.rate, "bare POST")),
    ));
    cpu(&mut rows, "PATCH", &patches, &mut last);
    let commits_after = t.commits();
    let flushes = commits_after.0 - commits_before.0;
    rows.push(plain_row(
        "  group commit during create + lookup + PATCH",
        format!(
            "{flushes:.0} flushes, mean {:.2} ms each, mean {:.1} commands per flush",
            1000.0 * (commits_after.1 - commits_before.1) / flushes.max(1.0),
            (commits_after.2 - commits_before.2) / flushes.max(1.0)
        ),
    ));
    // Users created by the create runs are in no group.
    let outsiders: Vec<String> = t.populate("o", 200).0;
    let changes = t.member_changes(&group, Rc::new(outsiders), 100);
    rows.push(latency_row(
        &format!("add or remove one member, group of {members}"),
        &changes,
    ));
    let with = t.group_with_members(&group, members, 5);
    rows.push(latency_row(
        &format!("GET /Groups/{{id}} with all {members} members"),
        &with,
    ));
    let without = t.group_without_members(&group, per);
    rows.push(rate_row(
        "GET /Groups/{id}?excludedAttributes=members",
        &without,
        Some((bare_get.rate, "bare GET")),
    ));
    let total = args.users + 200 + args.runs * per;
    let page = t.unfiltered_page(total, 50);
    rows.push(latency_row(
        &format!("GET /Users?count=100 (no filter, totalResults {total})"),
        &page,
    ));
    let metrics = t.metrics(20);
    rows.push(latency_row("GET /metrics", &metrics));
    let proc_ = Proc::read(pid).unwrap_or_default();
    rows.push(plain_row(
        "server peak RSS / CPU time (whole run)",
        format!(
            "{:.0} MiB / {:.1} s",
            proc_.peak_rss_mib,
            proc_.cpu_secs - cpu0
        ),
    ));
    let records = t.log_records().unwrap_or(0);
    srv.stop();
    let bytes = server::dir_bytes(&data);
    rows.push(plain_row(
        "data directory",
        format!(
            "{:.1} MB for {records} log records ({:.0} bytes per record)",
            bytes as f64 / 1e6,
            bytes as f64 / (records.max(1) as f64)
        ),
    ));

    if !args.skip_offline {
        for cmd in ["verify", "rebuild-views"] {
            match srv.offline(&[cmd]) {
                Ok((d, rss, _)) => rows.push(plain_row(
                    &format!("scimd {cmd}"),
                    format!(
                        "{:.1} s, {:.0} records/s, peak RSS {rss:.0} MiB",
                        d.as_secs_f64(),
                        records as f64 / d.as_secs_f64().max(1e-9)
                    ),
                )),
                Err(e) => fail(cmd, e),
            }
        }
        match srv.restart_to_ready() {
            Ok(d) => rows.push(plain_row(
                &format!("restart until /healthz answers ({records} log records)"),
                format!("{:.2} s", d.as_secs_f64()),
            )),
            Err(e) => fail("restart", e),
        }
        srv.stop();
    }
    drop(srv);

    if args.restart_records > 0 {
        let d = root.join("restart");
        let (mut s, r) = start_target(&d, &env, "bench", args.conns, 1);
        let (_, pop) = r.populate("r", args.restart_records);
        if pop.errors > 0 {
            fail(
                "populate for the restart",
                format!("{} of {} creates failed", pop.errors, pop.requests),
            );
        }
        let records = r.log_records().unwrap_or(0);
        let mut secs: Vec<f64> = (0..args.runs.max(1))
            .map(|_| {
                s.restart_to_ready()
                    .unwrap_or_else(|e| fail("restart", e))
                    .as_secs_f64()
            })
            .collect();
        s.stop();
        secs.sort_by(f64::total_cmp);
        rows.push(plain_row(
            &format!("restart until /healthz answers ({records} log records, fresh directory)"),
            format!(
                "{:.2} s median of {} (created at {:.0}/s, {:.0} bytes per record)",
                secs[secs.len() / 2],
                secs.len(),
                pop.rate,
                server::dir_bytes(&d) as f64 / (records.max(1) as f64)
            ),
        ));
        drop(s);
    }

    if sync_users > 0 {
        let mut secs = Vec::new();
        let mut errors = 0;
        let mut requests = 0;
        let mut peak = 0.0f64;
        for run in 0..sync_runs {
            let d = root.join(format!("sync-{run}"));
            let (s, st) = start_target(&d, &env, "Entra ID", args.conns, 1);
            let r = scenarios::initial_sync(&st, sync_users, sync_groups, "s");
            peak = peak.max(
                s.pid()
                    .and_then(Proc::read)
                    .unwrap_or_default()
                    .peak_rss_mib,
            );
            secs.push(r.secs);
            errors += r.errors;
            requests += r.requests;
            drop(s);
            let _ = std::fs::remove_dir_all(&d);
        }
        rows.push(plain_row(
            &format!("initial sync, Entra-shaped: {sync_users} users + {sync_groups} groups (two groups per user)"),
            format!(
                "{:.2} s median of {sync_runs} ({errors} errors of {requests} requests, peak RSS {peak:.0} MiB)",
                load::median(secs)
            ),
        ));
    }

    if !args.keep {
        let _ = std::fs::remove_dir_all(&root);
    }
    println!(
        "scimd-bench: {} users, big group of {members}, {} connections, medians of {} runs",
        args.users, args.conns, args.runs
    );
    println!();
    println!("| measure | figure | vs. ceiling |");
    println!("|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} |", r.what, r.value, r.ratio);
    }
}
