//! Load runs: `conns` connections on one current-thread runtime, each taking the next request
//! number until `total` are done, timing every request. Medians and percentiles come from here.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use crate::client::{Conn, Request, Response};

/// Says whether request `i` got the answer it should (and may keep what it needs from it).
pub type Check = Rc<dyn Fn(usize, &Response) -> bool>;

/// A check that accepts exactly the statuses `ok` names.
pub fn status(ok: fn(u16) -> bool) -> Check {
    Rc::new(move |_, r: &Response| ok(r.status))
}

/// What one load run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Load {
    /// Completed requests per second (all of them, errors included).
    pub rate: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Requests whose status was not the expected one, or that failed on the wire.
    pub errors: usize,
    /// Requests sent.
    pub requests: usize,
}

/// Run `f` to completion on a fresh current-thread runtime (the client uses one core at most).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scimd-bench: cannot start a runtime: {e}");
            std::process::exit(2);
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, f)
}

/// The quantile `per_mille`/1000 of `v` (sorted in place; nearest rank).
pub fn quantile(v: &mut [f64], per_mille: usize) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let last = v.len() - 1;
    v[((last * per_mille.min(1000)) + 500) / 1000]
}

/// The median of `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    quantile(&mut v, 500)
}

/// Send `total` requests made by `make(i)` over `conns` connections; `check` says which answers
/// count as success.
pub async fn load(
    addr: SocketAddr,
    token: Option<&str>,
    conns: usize,
    total: usize,
    make: Rc<dyn Fn(usize) -> Request>,
    check: Check,
) -> Load {
    let next = Rc::new(Cell::new(0usize));
    let latencies = Rc::new(RefCell::new(Vec::with_capacity(total)));
    let errors = Rc::new(Cell::new(0usize));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns.max(1) {
        let (next, latencies, errors, make, check) = (
            next.clone(),
            latencies.clone(),
            errors.clone(),
            make.clone(),
            check.clone(),
        );
        let mut conn = Conn::new(addr, token);
        tasks.push(tokio::task::spawn_local(async move {
            loop {
                let i = next.get();
                if i >= total {
                    break;
                }
                next.set(i + 1);
                let req = make(i);
                let t = Instant::now();
                let answer = conn.send(&req).await;
                // The latency ends with the answer: the check is the bench's own work (parsing
                // a 100,000-member group takes longer than serving it).
                latencies
                    .borrow_mut()
                    .push(t.elapsed().as_secs_f64() * 1000.0);
                let good = match answer {
                    Ok(r) => check(i, &r),
                    Err(_) => false,
                };
                if !good {
                    errors.set(errors.get() + 1);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    let mut lat = latencies.take();
    Load {
        rate: total as f64 / secs.max(1e-9),
        p50_ms: quantile(&mut lat, 500),
        p99_ms: quantile(&mut lat, 990),
        errors: errors.get(),
        requests: total,
    }
}

/// The median of several runs, field by field.
pub fn median_of(runs: &[Load]) -> Load {
    let pick = |f: fn(&Load) -> f64| median(runs.iter().map(f).collect());
    Load {
        rate: pick(|l| l.rate),
        p50_ms: pick(|l| l.p50_ms),
        p99_ms: pick(|l| l.p99_ms),
        errors: runs.iter().map(|l| l.errors).sum(),
        requests: runs.iter().map(|l| l.requests).sum(),
    }
}
