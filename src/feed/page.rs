//! A page of the feed: the SETs of the log records after a cursor, oldest first, never past the
//! last durable record (a record the writer has appended but not yet flushed may still vanish in a
//! crash, so no consumer may see it).

use serde_json::Value;

use crate::store::{read, Trees};

use super::cursor::Cursor;
use super::set::{self, Context};
use super::Result;

/// Records examined per page at most, beyond `limit` (a long run of rejections or token records
/// ends a page early, with `more`, instead of scanning without bound).
const SCAN_SLACK: usize = 4096;

/// What a page holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The SETs, in log order.
    pub sets: Vec<(u64, Value)>,
    /// The cursor after the last record examined.
    pub next: Cursor,
    /// Whether durable records follow `next`.
    pub more: bool,
}

/// The SETs after `after` (at most `limit`) that `wanted` keeps, up to the durable `head`.
pub fn page(
    t: &Trees,
    cx: &Context<'_>,
    after: Cursor,
    limit: usize,
    head: u64,
    wanted: impl Fn(&Value) -> bool,
) -> Result<Page> {
    let first = read::log_bounds(t)?.map(|(f, _)| f);
    after.check(first, head)?;
    let mut sets = Vec::new();
    let mut next = after;
    let scan_limit = limit.saturating_mul(8).saturating_add(SCAN_SLACK);
    let mut scanned = 0usize;
    if after.0 < head {
        for rec in read::log_from(t, after.0 + 1) {
            let rec = rec?;
            if rec.seq > head || sets.len() >= limit || scanned >= scan_limit {
                break;
            }
            scanned += 1;
            next = Cursor(rec.seq);
            if let Some(s) = set::of_record(&rec, cx) {
                if wanted(&s) {
                    sets.push((rec.seq, s));
                }
            }
        }
    }
    Ok(Page {
        sets,
        next,
        more: next.0 < head,
    })
}
