//! What the bench plays against scimd: a population of users and one big group, then each
//! measured operation `runs` times (create, `userName eq` lookup, PATCH, member add/remove in the
//! big group, the big group with and without members, an unfiltered page, `/metrics`), and an
//! Entra-shaped initial sync on a fresh server.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Instant;

use serde_json::Value;

use crate::bodies;
use crate::client::{Conn, Request, Response};
use crate::load::{self, load, median_of, Load};

/// Where and how hard to play.
#[derive(Clone)]
pub struct Target {
    /// The server.
    pub addr: SocketAddr,
    /// A `scim:write` bearer token.
    pub token: String,
    /// Concurrent connections.
    pub conns: usize,
    /// Measured runs per figure.
    pub runs: usize,
}

fn created(_: usize, r: &Response) -> bool {
    r.status == 201
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn json_id(r: &Response) -> Option<String> {
    serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
}

impl Target {
    fn run(
        &self,
        conns: usize,
        total: usize,
        make: Rc<dyn Fn(usize) -> Request>,
        check: load::Check,
    ) -> Load {
        load::block_on(load(
            self.addr,
            Some(&self.token),
            conns,
            total,
            make,
            check,
        ))
    }

    /// `runs` repetitions of one load (`make(run, i)`), and their median.
    fn measured(
        &self,
        conns: usize,
        total: usize,
        make: impl Fn(usize, usize) -> Request + Clone + 'static,
        check: load::Check,
    ) -> Load {
        let runs: Vec<Load> = (0..self.runs)
            .map(|run| {
                let make = make.clone();
                self.run(conns, total, Rc::new(move |i| make(run, i)), check.clone())
            })
            .collect();
        median_of(&runs)
    }

    /// Create `n` users of population `tag`; returns their ids (in creation order) and the load.
    pub fn populate(&self, tag: &str, n: usize) -> (Vec<String>, Load) {
        let ids = Rc::new(RefCell::new(vec![String::new(); n]));
        let tag2 = tag.to_owned();
        let keep = ids.clone();
        let l = self.run(
            self.conns,
            n,
            Rc::new(move |i| {
                Request::with_body(
                    "POST",
                    "/scim/v2/Users".into(),
                    bodies::create_user(&tag2, i),
                )
            }),
            Rc::new(move |i, r| {
                if let (201, Some(id)) = (r.status, json_id(r)) {
                    keep.borrow_mut()[i] = id;
                    true
                } else {
                    false
                }
            }),
        );
        let ids = ids.take();
        (ids, l)
    }

    /// Create a group with `members` (added in PATCHes of 500); returns its id.
    pub fn big_group(&self, name: &str, members: &[String]) -> Option<String> {
        let addr = self.addr;
        let token = self.token.clone();
        let body = bodies::create_group(name);
        let id = load::block_on(async move {
            let mut c = Conn::new(addr, Some(&token));
            let r = c
                .send(&Request::with_body("POST", "/scim/v2/Groups".into(), body))
                .await
                .ok()?;
            json_id(&r)
        })?;
        let chunks: Vec<Vec<String>> = members.chunks(500).map(<[String]>::to_vec).collect();
        let n = chunks.len();
        let path = format!("/scim/v2/Groups/{id}");
        let l = self.run(
            self.conns.min(4),
            n,
            Rc::new(move |i| {
                Request::with_body("PATCH", path.clone(), bodies::add_members(&chunks[i]))
            }),
            load::status(|s| s == 204),
        );
        (l.errors == 0).then_some(id)
    }

    /// Durable creates of fresh users.
    pub fn creates(&self, per_run: usize) -> Load {
        self.measured(
            self.conns,
            per_run,
            |run, i| {
                Request::with_body(
                    "POST",
                    "/scim/v2/Users".into(),
                    bodies::create_user(&format!("c{run}"), i),
                )
            },
            Rc::new(created),
        )
    }

    /// `userName eq` lookups of existing users of population `tag` (`n` of them).
    pub fn lookups(&self, tag: &str, n: usize, per_run: usize) -> Load {
        let tag = tag.to_owned();
        self.measured(
            self.conns,
            per_run,
            move |run, i| {
                Request::get(bodies::user_lookup(&bodies::user_name(
                    &tag,
                    (i * 7919 + run * 104_729) % n,
                )))
            },
            Rc::new(|_, r| r.status == 200 && contains(&r.body, b"\"totalResults\":1,")),
        )
    }

    /// Entra's legacy Replace PATCH of existing users.
    pub fn patches(&self, ids: Rc<Vec<String>>, per_run: usize) -> Load {
        self.measured(
            self.conns,
            per_run,
            move |run, i| {
                let id = &ids[(i * 7919 + run * 104_729) % ids.len()];
                Request::with_body(
                    "PATCH",
                    format!("/scim/v2/Users/{id}"),
                    bodies::patch_user(run * per_run + i),
                )
            },
            load::status(|s| s == 200),
        )
    }

    /// One member added, then removed, in the big group (one connection: latency).
    pub fn member_changes(&self, group: &str, outsiders: Rc<Vec<String>>, per_run: usize) -> Load {
        let path = format!("/scim/v2/Groups/{group}");
        self.measured(
            1,
            per_run * 2,
            move |run, i| {
                let user = outsiders[(run * per_run + i / 2) % outsiders.len()].clone();
                let body = if i % 2 == 0 {
                    bodies::add_members(&[user])
                } else {
                    bodies::remove_members(&[user])
                };
                Request::with_body("PATCH", path.clone(), body)
            },
            load::status(|s| s == 204),
        )
    }

    /// `GET /Groups/{id}` with all members, checking the member count.
    pub fn group_with_members(&self, group: &str, expect: usize, per_run: usize) -> Load {
        let path = format!("/scim/v2/Groups/{group}");
        self.measured(
            1,
            per_run,
            move |_, _| Request::get(path.clone()),
            Rc::new(move |_, r| {
                r.status == 200
                    && serde_json::from_slice::<Value>(&r.body)
                        .ok()
                        .and_then(|v| v["members"].as_array().map(Vec::len))
                        == Some(expect)
            }),
        )
    }

    /// `GET /Groups/{id}?excludedAttributes=members` (how Entra reads groups).
    pub fn group_without_members(&self, group: &str, per_run: usize) -> Load {
        let path = format!("/scim/v2/Groups/{group}?excludedAttributes=members");
        self.measured(
            self.conns,
            per_run,
            move |_, _| Request::get(path.clone()),
            load::status(|s| s == 200),
        )
    }

    /// An unfiltered page of 100 users with its `totalResults` (one connection: latency).
    pub fn unfiltered_page(&self, expect_total: usize, per_run: usize) -> Load {
        let needle = format!("\"totalResults\":{expect_total},");
        self.measured(
            1,
            per_run,
            |_, _| Request::get("/scim/v2/Users?count=100".into()),
            Rc::new(move |_, r| r.status == 200 && contains(&r.body, needle.as_bytes())),
        )
    }

    /// `GET /metrics` (one connection: latency).
    pub fn metrics(&self, per_run: usize) -> Load {
        self.measured(
            1,
            per_run,
            |_, _| Request::get("/metrics".into()),
            load::status(|s| s == 200),
        )
    }

    /// One value `/metrics` reports (`name` with its labels, as printed).
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metric_text(name).and_then(|v| v.parse().ok())
    }

    fn metric_text(&self, name: &str) -> Option<String> {
        let addr = self.addr;
        let prefix = format!("{name} ");
        load::block_on(async move {
            let mut c = Conn::new(addr, None);
            let r = c.send(&Request::get("/metrics".into())).await.ok()?;
            let text = String::from_utf8_lossy(&r.body).into_owned();
            text.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .map(|v| v.trim().to_owned())
        })
    }

    /// The log length `/metrics` reports.
    pub fn log_records(&self) -> Option<u64> {
        self.metric_text("scimd_log_records")
            .and_then(|v| v.parse().ok())
    }

    /// Group commits so far: (flushes, seconds flushing, commands committed).
    pub fn commits(&self) -> (f64, f64, f64) {
        let get = |n: &str| self.metric(n).unwrap_or(0.0);
        (
            get("scimd_flush_duration_seconds_count"),
            get("scimd_flush_duration_seconds_sum"),
            get("scimd_commit_batch_size_sum"),
        )
    }
}

/// The outcome of one initial sync.
#[derive(Debug, Clone, Copy)]
pub struct Sync {
    /// Wall time, seconds.
    pub secs: f64,
    /// Requests that did not get the answer Entra expects (member counts included).
    pub errors: usize,
    /// Requests sent.
    pub requests: usize,
}

/// One unit of work on a connection: it takes the connection and gives it back, so that units
/// can run as local tasks.
type Step = Rc<dyn Fn(usize, Conn) -> Pin<Box<dyn Future<Output = Conn>>>>;

/// Run units `0..count` of `step` over `conns` connections, each taking the next unit.
async fn on_conns(addr: SocketAddr, token: &str, conns: usize, count: usize, step: Step) {
    let next = Rc::new(Cell::new(0usize));
    let tasks: Vec<_> = (0..conns.max(1))
        .map(|_| {
            let (next, step) = (next.clone(), step.clone());
            let mut c = Conn::new(addr, Some(token));
            tokio::task::spawn_local(async move {
                loop {
                    let i = next.get();
                    if i >= count {
                        break;
                    }
                    next.set(i + 1);
                    c = step(i, c).await;
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

/// Requests sent and those that did not get the answer Entra expects.
#[derive(Default)]
struct Tally {
    requests: Cell<usize>,
    errors: Cell<usize>,
}

impl Tally {
    fn sent(&self, n: usize, ok: bool) {
        self.requests.set(self.requests.get() + n);
        if !ok {
            self.errors.set(self.errors.get() + 1);
        }
    }
}

/// Entra's initial sync on an empty server: its probe, then per user a `userName eq` lookup and
/// a create; per group a `displayName eq` lookup and a create; then each user added to two
/// groups in PATCHes of 50 members; at the end every group's member count is checked.
pub fn initial_sync(t: &Target, users: usize, groups: usize, tag: &str) -> Sync {
    let start = Instant::now();
    let tally = Rc::new(Tally::default());
    let (addr, token, conns) = (t.addr, t.token.clone(), t.conns);
    let groups = groups.max(1);
    let synced = Rc::new(Cell::new(0.0f64));
    let (done, out) = (synced.clone(), tally.clone());
    let tag: Rc<str> = Rc::from(tag);
    load::block_on(async move {
        let mut probe = Conn::new(addr, Some(&token));
        let guid = uuid::Uuid::new_v4().to_string();
        let probe_ok = matches!(probe.send(&Request::get(bodies::user_lookup(&guid))).await, Ok(r) if r.status == 200);
        tally.sent(1, probe_ok);

        // Users, then groups: lookup, then create, as Entra does for objects it has not seen.
        let user_ids = Rc::new(RefCell::new(vec![String::new(); users]));
        let group_ids = Rc::new(RefCell::new(vec![String::new(); groups]));
        for (count, is_user) in [(users, true), (groups, false)] {
            let ids = if is_user { &user_ids } else { &group_ids }.clone();
            let (tally, tag) = (tally.clone(), tag.clone());
            let step: Step = Rc::new(move |i, mut c| {
                let (tally, ids, tag) = (tally.clone(), ids.clone(), tag.clone());
                Box::pin(async move {
                    let (lookup, create) = if is_user {
                        (
                            Request::get(bodies::user_lookup(&bodies::user_name(&tag, i))),
                            Request::with_body(
                                "POST",
                                "/scim/v2/Users".into(),
                                bodies::create_user(&tag, i),
                            ),
                        )
                    } else {
                        let name = format!("{tag} group {i}");
                        (
                            Request::get(bodies::group_lookup(&name)),
                            Request::with_body(
                                "POST",
                                "/scim/v2/Groups".into(),
                                bodies::create_group(&name),
                            ),
                        )
                    };
                    let found_none = matches!(c.send(&lookup).await, Ok(r) if r.status == 200
                        && contains(&r.body, b"\"totalResults\":0,"));
                    let id = match c.send(&create).await {
                        Ok(r) if r.status == 201 && found_none => json_id(&r),
                        _ => None,
                    };
                    tally.sent(2, id.is_some());
                    if let Some(id) = id {
                        ids.borrow_mut()[i] = id;
                    }
                    c
                })
            });
            on_conns(addr, &token, conns, count, step).await;
        }

        // Memberships: user i joins groups i mod G and (i + G/2) mod G.
        let mut per_group: Vec<Vec<String>> = vec![Vec::new(); groups];
        for (i, id) in user_ids.borrow().iter().enumerate() {
            per_group[i % groups].push(id.clone());
            let other = (i + groups / 2) % groups;
            if other != i % groups {
                per_group[other].push(id.clone());
            }
        }
        let gids = group_ids.borrow().clone();
        let mut patches = Vec::new();
        for (g, members) in per_group.iter().enumerate() {
            for chunk in members.chunks(50) {
                patches.push((gids[g].clone(), chunk.to_vec()));
            }
        }
        let patches = Rc::new(patches);
        let count = patches.len();
        let step: Step = {
            let tally = tally.clone();
            Rc::new(move |i, mut c| {
                let (tally, patches) = (tally.clone(), patches.clone());
                Box::pin(async move {
                    let (g, members) = &patches[i];
                    let req = Request::with_body(
                        "PATCH",
                        format!("/scim/v2/Groups/{g}"),
                        bodies::add_members(members),
                    );
                    let ok = matches!(c.send(&req).await, Ok(r) if r.status == 204);
                    tally.sent(1, ok);
                    c
                })
            })
        };
        on_conns(addr, &token, conns, count, step).await;

        // The sync is over; every group must have the members it was given.
        done.set(start.elapsed().as_secs_f64());
        let mut c = Conn::new(addr, Some(&token));
        for (g, members) in gids.iter().zip(&per_group) {
            let n = match c.send(&Request::get(format!("/scim/v2/Groups/{g}"))).await {
                Ok(r) if r.status == 200 => serde_json::from_slice::<Value>(&r.body)
                    .ok()
                    .and_then(|v| v["members"].as_array().map(Vec::len)),
                _ => None,
            };
            tally.sent(1, n == Some(members.len()));
        }
    });
    Sync {
        secs: synced.get(),
        errors: out.errors.get(),
        requests: out.requests.get(),
    }
}
