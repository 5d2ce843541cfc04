//! Counts for the charts and the per-client "Synchronization details", from the `stats_hourly`
//! and `client_last` indexes (maintained with the log, so reading them is a few range scans).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::scim::resource::format_time_ms;
use crate::store::{keys, read, Result, Trees};

/// Entra ID quarantines a provisioning job when more than 40% of its operations fail; the console
/// warns from this ratio on.
pub const QUARANTINE_WARNING_RATIO: f64 = 0.3;
/// …and only with at least this many writes in 24 h (a single failure is not a trend).
pub const QUARANTINE_MIN_WRITES: u64 = 10;

/// The client name of failed console sign-in records: they are counted apart from provisioning.
pub const SIGN_IN_CLIENT: &str = "admin console";

/// The client name of aggregated refusals of requests without a usable token.
pub const UNAUTHENTICATED_CLIENT: &str = "unauthenticated";

/// Successes and failures in one time bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// Start of the bucket (RFC 3339).
    pub start: String,
    /// Accepted writes.
    pub success: u64,
    /// Rejected writes (provisioning and the console's own), without failed sign-ins.
    pub failure: u64,
    /// Failed console sign-ins (a stranger guessing passwords is not a provisioning problem).
    pub sign_in_failure: u64,
}

/// One client's synchronization details.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientStats {
    /// Client name.
    pub client: String,
    /// Last request with one of its tokens (any request, reads too).
    pub last_request: Option<String>,
    /// Last logged write.
    pub last_write: Option<String>,
    /// Logged writes in the last 24 h (accepted and rejected).
    pub writes_24h: u64,
    /// Rejected writes in the last 24 h.
    pub failures_24h: u64,
    /// failures / writes.
    pub failure_ratio: f64,
    /// Whether the ratio nears Entra ID's quarantine threshold.
    pub quarantine_risk: bool,
    /// Failed requests in the last 24 h as the report counts them: rejected writes one by one,
    /// aggregated refusals by their counts (what the token page's failure counter shows too).
    pub failed_requests_24h: u64,
    /// Of those, the requests refused before they could become writes.
    pub refused_24h: Refused,
}

/// Requests refused before they could become writes, by kind (from the aggregated records).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Refused {
    /// 401: no valid token.
    pub unauthorized: u64,
    /// 429: over a rate limit.
    pub rate_limited: u64,
    /// Failed reads (400 `invalidFilter`, 404, …).
    pub read_failed: u64,
}

/// Failed requests of the last 24 h, per client and per token (see [`failures_24h`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failures {
    /// Per client name: failed requests, and the refused ones by kind.
    pub per_client: BTreeMap<String, (u64, Refused)>,
    /// Failed requests per token id.
    pub per_token: BTreeMap<String, u64>,
    /// Whether every record of the 24 h was read (the scan is bounded by [`FAILURE_SCAN_BUDGET`]).
    pub complete: bool,
}

/// Most records [`failures_24h`] reads.
pub const FAILURE_SCAN_BUDGET: u64 = 400_000;

/// The failed requests of the 24 h up to `now_ms`, from the log: rejected writes count one each,
/// aggregated refusals their counts.
pub fn failures_24h(t: &Trees, now_ms: i64) -> Result<Failures> {
    use crate::report::activity::{self, Query};
    let mut out = Failures {
        complete: true,
        ..Failures::default()
    };
    let mut q = Query {
        limit: activity::MAX_LIMIT,
        since_ms: Some(now_ms - 24 * 3_600_000),
        outcome: Some("failure".into()),
        ..Query::default()
    };
    let mut scanned = 0u64;
    loop {
        let page = activity::page(t, &q)?;
        scanned += page.scanned;
        for item in &page.items {
            let (n, refused) = out.per_client.entry(item.client.clone()).or_default();
            *n += item.count;
            match item.action {
                "unauthorized" => refused.unauthorized += item.count,
                "rate_limited" => refused.rate_limited += item.count,
                "read_failed" => refused.read_failed += item.count,
                _ => {}
            }
            if let Some(token) = &item.token_id {
                *out.per_token.entry(token.clone()).or_default() += item.count;
            }
        }
        match page.next {
            Some(next) if scanned < FAILURE_SCAN_BUDGET => q.before = Some(next),
            Some(_) => {
                out.complete = false;
                break;
            }
            None => break,
        }
    }
    Ok(out)
}

/// Everything the charts need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Last 24 hours, oldest first.
    pub hourly: Vec<Bucket>,
    /// Last 30 days, oldest first.
    pub daily: Vec<Bucket>,
    /// Per client.
    pub clients: Vec<ClientStats>,
}

/// Compute the stats as of `now_ms`.
pub fn stats(t: &Trees, now_ms: i64) -> Result<Stats> {
    let now_h = keys::hour_of(now_ms);
    let first_day_h = (now_h / 24).saturating_sub(29) * 24;
    let mut hourly: BTreeMap<u64, (u64, u64, u64)> = BTreeMap::new();
    let mut daily: BTreeMap<u64, (u64, u64, u64)> = BTreeMap::new();
    let mut per_client: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for row in read::hourly_counts_from(t, first_day_h) {
        let (hour, client, s, f) = row?;
        let (f, sign_in) = if client == SIGN_IN_CLIENT {
            (0, f)
        } else {
            (f, 0)
        };
        let d = daily.entry(hour / 24).or_default();
        d.0 += s;
        d.1 += f;
        d.2 += sign_in;
        if hour + 24 > now_h {
            let h = hourly.entry(hour).or_default();
            h.0 += s;
            h.1 += f;
            h.2 += sign_in;
            let c = per_client.entry(client).or_default();
            c.0 += s;
            c.1 += f;
        }
    }
    let hour_ms = |h: u64| i64::try_from(h).unwrap_or(0).saturating_mul(3_600_000);
    let bucket = |start: u64, (s, f, sign_in): (u64, u64, u64)| Bucket {
        start: format_time_ms(hour_ms(start)),
        success: s,
        failure: f,
        sign_in_failure: sign_in,
    };
    let hourly = (now_h.saturating_sub(23)..=now_h)
        .map(|h| bucket(h, hourly.get(&h).copied().unwrap_or_default()))
        .collect();
    let daily = (first_day_h / 24..=now_h / 24)
        .map(|d| bucket(d * 24, daily.get(&d).copied().unwrap_or_default()))
        .collect();
    // Clients: every token's client, also one that only read (Test Connection).
    let mut last_request: BTreeMap<String, i64> = BTreeMap::new();
    for (id, rec) in read::tokens(t)? {
        let used = read::token_last_used(t, id)?;
        let e = last_request.entry(rec.name.to_string()).or_insert(i64::MIN);
        if let Some(u) = used {
            *e = (*e).max(u);
        }
    }
    let last_write: BTreeMap<String, i64> = read::client_last_writes(t)?.into_iter().collect();
    let failures = failures_24h(t, now_ms)?;
    // SCIM clients are the names tokens were issued to; the console and the CLI are not clients.
    // Requests without a usable token get a card of their own when there were any.
    let mut names: Vec<String> = last_request.keys().cloned().collect();
    let stranger = UNAUTHENTICATED_CLIENT;
    if failures.per_client.contains_key(stranger) && !names.iter().any(|n| n == stranger) {
        names.push(stranger.to_owned());
    }
    let clients = names
        .into_iter()
        .map(|client| {
            let (s, f) = per_client.get(&client).copied().unwrap_or_default();
            let writes = s + f;
            #[allow(clippy::cast_precision_loss)]
            let ratio = if writes == 0 {
                0.0
            } else {
                f as f64 / writes as f64
            };
            ClientStats {
                last_request: last_request
                    .get(&client)
                    .filter(|t| **t != i64::MIN)
                    .map(|t| format_time_ms(*t)),
                last_write: last_write.get(&client).map(|t| format_time_ms(*t)),
                writes_24h: writes,
                failures_24h: f,
                failure_ratio: ratio,
                quarantine_risk: writes >= QUARANTINE_MIN_WRITES
                    && ratio >= QUARANTINE_WARNING_RATIO,
                failed_requests_24h: failures.per_client.get(&client).map_or(0, |f| f.0),
                refused_24h: failures
                    .per_client
                    .get(&client)
                    .map_or_else(Refused::default, |f| f.1),
                client,
            }
        })
        .collect();
    Ok(Stats {
        hourly,
        daily,
        clients,
    })
}
