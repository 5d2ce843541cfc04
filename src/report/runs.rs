//! Synchronization runs: a client's records grouped into the cycles its identity provider works
//! in, so "what did Entra do last night" is one run, not a day of the feed.
//!
//! The heuristic: Entra ID starts every cycle with a probe (a `GET /Users` filtered on a random
//! GUID, like its Test Connection) and then works through its scope, one cycle about every 40
//! minutes; Okta pushes changes as they happen. Reads are not logged, so the probe is not in the
//! log; what is, is the cycle's writes close together and a quiet time between cycles. A run is
//! therefore a client's records (those made with one of its tokens) with no gap of
//! [`RUN_GAP_MS`] or more between two of them; a gap that long starts a new run. Failed reads
//! and refusals (aggregated per minute) belong to the run they fall in.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::scim::resource::format_time_ms;
use crate::store::{read, Result, Trees};

use super::activity::{seq_at_or_after, Item};

/// A quiet time at least this long between two records of a client ends a run (Entra ID's
/// cycles are about 40 minutes apart; a cycle's requests come seconds apart).
pub const RUN_GAP_MS: i64 = 10 * 60_000;
/// Most records one call reads.
pub const RUN_SCAN_BUDGET: u64 = 500_000;

/// Accepted and refused records of one action within a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActionCount {
    /// The action name (as the activity report names it).
    pub action: &'static str,
    /// Accepted.
    pub success: u64,
    /// Refused (by requests: an aggregated refusal counts its requests).
    pub failure: u64,
}

/// One run of one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    /// The client.
    pub client: String,
    /// Its first record (RFC 3339).
    pub start: String,
    /// Its last record.
    pub end: String,
    /// Records in it.
    pub records: u64,
    /// Requests that failed in it.
    pub failures: u64,
    /// Per action, those with failures first, then by how many.
    pub counts: Vec<ActionCount>,
    /// Sequence numbers of its first and last record.
    pub first_seq: u64,
    /// See `first_seq`.
    pub last_seq: u64,
}

struct Open {
    run: Run,
    end_ms: i64,
    counts: BTreeMap<&'static str, (u64, u64)>,
}

impl Open {
    fn close(mut self) -> Run {
        let mut counts: Vec<ActionCount> = self
            .counts
            .into_iter()
            .map(|(action, (success, failure))| ActionCount {
                action,
                success,
                failure,
            })
            .collect();
        counts.sort_by(|a, b| {
            (b.failure > 0)
                .cmp(&(a.failure > 0))
                .then(b.failure.cmp(&a.failure))
                .then((b.success + b.failure).cmp(&(a.success + a.failure)))
        });
        self.run.counts = counts;
        self.run
    }
}

/// The runs with records between `since_ms` and `until_ms` (inclusive), newest first; only
/// `client`'s when given (case-insensitive); a quiet time of `gap_ms` ends a run
/// ([`RUN_GAP_MS`] unless the admin asks otherwise).
pub fn runs(
    t: &Trees,
    client: Option<&str>,
    since_ms: i64,
    until_ms: i64,
    gap_ms: i64,
) -> Result<Vec<Run>> {
    let lo = seq_at_or_after(t, since_ms)?;
    let hi = seq_at_or_after(t, until_ms.saturating_add(1))?;
    let mut open: BTreeMap<String, Open> = BTreeMap::new();
    let mut done: Vec<(i64, Run)> = Vec::new();
    for (scanned, rec) in read::log_from(t, lo).enumerate() {
        let rec = rec?;
        if rec.seq >= hi || u64::try_from(scanned).unwrap_or(u64::MAX) >= RUN_SCAN_BUDGET {
            break;
        }
        // SCIM clients only: what was done with a token (the console and the CLI are not runs).
        if rec.actor.token_id.is_none()
            || client.is_some_and(|c| !c.eq_ignore_ascii_case(&rec.actor.client))
        {
            continue;
        }
        let item = Item::from_record(&rec);
        let name = rec.actor.client.clone();
        if let Some(o) = open.get(&name) {
            if rec.time_ms - o.end_ms >= gap_ms {
                if let Some(o) = open.remove(&name) {
                    done.push((o.end_ms, o.close()));
                }
            }
        }
        let o = open.entry(name.clone()).or_insert_with(|| Open {
            run: Run {
                client: name,
                start: item.time.clone(),
                end: item.time.clone(),
                records: 0,
                failures: 0,
                counts: Vec::new(),
                first_seq: rec.seq,
                last_seq: rec.seq,
            },
            end_ms: rec.time_ms,
            counts: BTreeMap::new(),
        });
        o.run.records += 1;
        o.run.end = format_time_ms(rec.time_ms);
        o.run.last_seq = rec.seq;
        o.end_ms = rec.time_ms;
        let c = o.counts.entry(item.action).or_default();
        if item.outcome == "failure" {
            c.1 += item.count;
            o.run.failures += item.count;
        } else {
            c.0 += 1;
        }
    }
    done.extend(open.into_values().map(|o| (o.end_ms, o.close())));
    done.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.last_seq.cmp(&a.1.last_seq)));
    Ok(done.into_iter().map(|(_, r)| r).collect())
}
