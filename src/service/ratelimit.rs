//! Rate limits, kept in memory: a token bucket per bearer token (`rate_limit_per_token`, holding
//! `rate_limit_burst` requests), and one per source address for SCIM requests that carry no valid
//! token (`rate_limit_unauthenticated`, holding one period's worth). The two kinds never share a
//! bucket, so a flood of bad tokens from an address costs the clients with good tokens nothing, even
//! from the same address.
//!
//! A refused request gets `429` with `Retry-After`; it is counted in `/metrics` at once, and in the
//! activity log at most once per client per minute, as one `Refused` record carrying the count
//! ([`RateLimiter::due`], written by [`record_due`]), so a client hammering the server cannot fill
//! the log. Unauthenticated requests are counted in `/metrics` per address and per presented token
//! id, whether throttled or not (the metrics bound the number of label values).
//!
//! Memory is bounded: a bucket that has refilled is the same as a new one and is dropped when the
//! tables grow; past [`MAX_ADDRESSES`] busy addresses, new ones share one overflow bucket.
//!
//! The same aggregated records carry every other SCIM request refused before it could become a
//! write ([`RateLimiter::note`]): 401s (no, a malformed, an unknown, a revoked or an expired token;
//! action `unauthorized`, per address, or per token when the presented token exists), 429s of
//! requests without a valid token (per address) and failed reads (400 `invalidFilter`, 404, …;
//! action `read_failed`, per client). Each is one record per who, kind and minute with the count
//! and one example request line, at most [`MAX_PENDING`] pending at once (the rest share one
//! overflow entry per kind), so a flood cannot fill the log either.
//! Must not import actix.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain::command::Command;
use crate::domain::error::Rejection;
use crate::domain::event::Action;
use crate::domain::ids::TokenId;
use crate::domain::write::{Actor, Answer, Envelope};
use crate::scim::resource::format_time_ms;

use super::commands::{Commands, WriteRequest};
use super::metrics::Metrics;
use super::tokens::Caller;
use super::ServiceError;

/// Default `rate_limit_per_token`: far above Entra ID's ≥25 requests/s per tenant.
pub const DEFAULT_PER_TOKEN: Rate = Rate {
    requests: 200,
    per: Duration::from_secs(1),
};
/// Default `rate_limit_burst`: room for Okta's bursts on top of the rate.
pub const DEFAULT_BURST: u32 = 400;
/// Default `rate_limit_unauthenticated`, per source address.
pub const DEFAULT_UNAUTHENTICATED: Rate = Rate {
    requests: 20,
    per: Duration::from_secs(1),
};
/// Address buckets kept before new addresses share the overflow bucket.
pub const MAX_ADDRESSES: usize = 10_000;
/// Token buckets kept before idle ones are swept.
const SWEEP_TOKENS_ABOVE: usize = 1_000;
/// At most one activity-log record per client per this many milliseconds.
pub const REPORT_EVERY_MS: i64 = 60_000;
/// The action the aggregated record carries (`rate_limited`).
pub const REFUSED_ACTION: Action = Action::RateLimited;
/// Pending aggregated refusals kept (besides the per-token rate-limit counts) before new ones
/// share an overflow entry.
pub const MAX_PENDING: usize = 10_000;
/// Longest example request line kept in a record.
pub const MAX_EXAMPLE_CHARS: usize = 200;

/// What kind of refusal an aggregated record counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalKind {
    /// 429: over a rate limit (`rate_limited`).
    RateLimited,
    /// 401: no valid token (`unauthorized`).
    Unauthorized,
    /// A read that failed with this status and `scimType` (`read_failed`).
    ReadFailed {
        /// Its status.
        status: u16,
        /// Its `scimType`.
        scim_type: Option<&'static str>,
    },
}

impl RefusalKind {
    /// The action of its records.
    pub fn action(self) -> Action {
        match self {
            Self::RateLimited => Action::RateLimited,
            Self::Unauthorized => Action::Unauthorized,
            Self::ReadFailed { .. } => Action::ReadFailed,
        }
    }
}

/// Whom an aggregated refusal is counted for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    /// A token (it authenticated, or was presented and exists but is revoked or expired).
    Token(TokenId),
    /// A source address (no usable token).
    Address(String),
}

/// One refused request, as [`RateLimiter::note`] counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Whom it is counted for.
    pub who: Who,
    /// What kind.
    pub kind: RefusalKind,
    /// The client name recorded (the token's, or `unauthenticated`).
    pub client: String,
    /// The token, when known.
    pub token_id: Option<TokenId>,
    /// The source address.
    pub client_addr: Option<String>,
    /// The request line (`GET /scim/v2/Users?filter=…`), capped and escaped by the caller.
    pub example: String,
    /// Why, in words (`revoked token 1f0e…`), when the kind alone does not say.
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
struct Pending {
    first: Refused,
    count: u64,
    since_ms: i64,
}

/// A rate: `requests` per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// How many requests …
    pub requests: u32,
    /// … per this long.
    pub per: Duration,
}

impl Rate {
    /// Parse `200`, `200/s`, `600/m`, `1/h` (also `/sec`, `/min`, `/hour`); `Some(None)` for `0`
    /// (no limit); `None` for anything else.
    pub fn parse(text: &str) -> Option<Option<Self>> {
        let text = text.trim();
        let (count, unit) = text.split_once('/').unwrap_or((text, "s"));
        let requests: u32 = count.trim().parse().ok()?;
        let secs = match unit.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            _ => return None,
        };
        Some((requests > 0).then(|| Self {
            requests,
            per: Duration::from_secs(secs),
        }))
    }

    /// Tokens added per millisecond.
    fn per_ms(self) -> f64 {
        let ms = self.per.as_secs_f64() * 1000.0;
        f64::from(self.requests) / ms.max(1.0)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            3600 => "h",
            60 => "m",
            _ => "s",
        };
        write!(f, "{}/{unit}", self.requests)
    }
}

/// The configured limits; `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Per bearer token.
    pub per_token: Option<Rate>,
    /// How many requests a token's bucket holds.
    pub burst: u32,
    /// Per source address, for requests without a valid token.
    pub unauthenticated: Option<Rate>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_token: Some(DEFAULT_PER_TOKEN),
            burst: DEFAULT_BURST,
            unauthenticated: Some(DEFAULT_UNAUTHENTICATED),
        }
    }
}

/// Why a request was refused: 429, no `scimType`, `Retry-After: retry_after_secs`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.detail())]
pub struct Throttled {
    /// Seconds until the bucket holds a request again.
    pub retry_after_secs: u64,
    /// Which limit.
    pub limit: Limit,
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The token's.
    Token {
        /// Its rate.
        rate: Rate,
        /// Its burst.
        burst: u32,
    },
    /// The source address's, for requests without a valid token.
    Address {
        /// Its rate.
        rate: Rate,
    },
}

impl Throttled {
    /// The `detail` the client sees.
    pub fn detail(&self) -> String {
        let secs = self.retry_after_secs;
        match self.limit {
            Limit::Token { rate, burst } => format!(
                "too many requests with this token: the limit is {rate} with bursts of {burst}; retry in {secs} s"
            ),
            Limit::Address { rate } => format!(
                "too many requests without a valid bearer token from this address: the limit is {rate}; retry in {secs} s"
            ),
        }
    }
}

/// A token bucket: `level` requests available as of `at_ms`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at_ms: i64,
}

impl Bucket {
    fn full(capacity: u32, now_ms: i64) -> Self {
        Self {
            level: f64::from(capacity),
            at_ms: now_ms,
        }
    }

    fn refill(&mut self, rate: Rate, capacity: u32, now_ms: i64) {
        // A clock stepping back refills nothing (and does not drain).
        #[allow(clippy::cast_precision_loss)]
        let elapsed = (now_ms - self.at_ms).max(0) as f64;
        self.level = (self.level + elapsed * rate.per_ms()).min(f64::from(capacity));
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Take one request, or say how many seconds until one is there.
    fn take(&mut self, rate: Rate, capacity: u32, now_ms: i64) -> Result<(), u64> {
        self.refill(rate, capacity, now_ms);
        if self.level >= 1.0 {
            self.level -= 1.0;
            return Ok(());
        }
        let wait_ms = (1.0 - self.level) / rate.per_ms();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let secs = (wait_ms / 1000.0).ceil().max(1.0) as u64;
        Err(secs)
    }

    /// Whether it would be full by `now_ms` (then it is the same as a new one).
    fn idle(&self, rate: Rate, capacity: u32, now_ms: i64) -> bool {
        let mut b = *self;
        b.refill(rate, capacity, now_ms);
        b.level >= f64::from(capacity)
    }
}

/// A token's bucket and its refusals not yet in the log.
#[derive(Debug, Clone)]
struct TokenState {
    bucket: Bucket,
    client: String,
    client_addr: Option<String>,
    /// Refusals since `since_ms`, not yet recorded.
    refused: u64,
    since_ms: i64,
}

#[derive(Debug, Default)]
struct Addresses {
    buckets: HashMap<IpAddr, Bucket>,
    /// Shared by new addresses while `buckets` is full of busy ones.
    overflow: Option<Bucket>,
    /// When the full table was last swept (at most once a second: a sweep walks it all).
    swept_ms: i64,
}

/// Refusals of one client (or address) and kind, due for the activity log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusals {
    /// The token, when known.
    pub token_id: Option<TokenId>,
    /// Its client (`unauthenticated` without a token).
    pub client: String,
    /// The address of the last refused request.
    pub client_addr: Option<String>,
    /// How many requests were refused …
    pub count: u64,
    /// … since then (ms since the epoch).
    pub since_ms: i64,
    /// What kind of refusal.
    pub kind: RefusalKind,
    /// One of the requests (its request line), when known.
    pub example: Option<String>,
    /// Why, in words, when the kind alone does not say.
    pub reason: Option<String>,
}

impl Refusals {
    /// The rejection the record carries: the status, the count, and an example.
    pub fn rejection(&self) -> Rejection {
        let n = self.count;
        let requests = if n == 1 { "request" } else { "requests" };
        let since = format_time_ms(self.since_ms);
        let mut tail = String::new();
        if let Some(r) = &self.reason {
            tail.push_str(&format!(" ({r})"));
        }
        if let Some(e) = &self.example {
            tail.push_str(&format!("; for example {e}"));
        }
        match self.kind {
            RefusalKind::RateLimited => Rejection::RateLimited(format!(
                "{n} {requests} refused by the rate limit since {since}{tail}"
            )),
            RefusalKind::Unauthorized => Rejection::Aggregated {
                status: 401,
                scim_type: None,
                detail: format!("{n} {requests} without a valid bearer token since {since}{tail}"),
            },
            RefusalKind::ReadFailed { status, scim_type } => Rejection::Aggregated {
                status,
                scim_type,
                detail: format!(
                    "{n} {} failed with {status}{} since {since}{tail}",
                    if n == 1 { "read" } else { "reads" },
                    scim_type.map(|t| format!(" {t}")).unwrap_or_default()
                ),
            },
        }
    }

    /// The refusal to record and who it is about.
    pub fn record(&self) -> (Envelope, Command) {
        let prefix = match self.kind {
            RefusalKind::RateLimited => "rate-limit",
            RefusalKind::Unauthorized => "unauthorized",
            RefusalKind::ReadFailed { .. } => "read-failed",
        };
        let envelope = Envelope {
            actor: Actor {
                token_id: self.token_id,
                client: self.client.clone(),
            },
            request_id: format!("{prefix}-{}", self.since_ms),
            client_addr: self.client_addr.clone(),
        };
        let command = Command::Refused {
            action: self.kind.action(),
            target_id: self.token_id.map(|t| t.to_string()),
            rejection: self.rejection(),
        };
        (envelope, command)
    }
}

pub use crate::report::stats::UNAUTHENTICATED_CLIENT;

/// The limiter; shared by every worker.
#[derive(Debug)]
pub struct RateLimiter {
    limits: Limits,
    metrics: Arc<Metrics>,
    tokens: Mutex<HashMap<TokenId, TokenState>>,
    addresses: Mutex<Addresses>,
    pending: Mutex<HashMap<(Who, RefusalKind), Pending>>,
}

fn address_label(addr: Option<IpAddr>) -> String {
    addr.map_or_else(|| "unknown".to_owned(), |a| a.to_string())
}

impl RateLimiter {
    /// A limiter with these limits, counting into `metrics`.
    pub fn new(limits: Limits, metrics: Arc<Metrics>) -> Self {
        Self {
            limits,
            metrics,
            tokens: Mutex::default(),
            addresses: Mutex::default(),
            pending: Mutex::default(),
        }
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Admit one request of an authenticated caller, or refuse it (counted at once, recorded
    /// later by [`RateLimiter::due`]).
    pub fn admit(
        &self,
        caller: &Caller,
        addr: Option<IpAddr>,
        now_ms: i64,
    ) -> Result<(), Throttled> {
        let Some(rate) = self.limits.per_token else {
            return Ok(());
        };
        let burst = self.limits.burst.max(1);
        let Ok(mut tokens) = self.tokens.lock() else {
            return Ok(());
        };
        if tokens.len() > SWEEP_TOKENS_ABOVE && !tokens.contains_key(&caller.token_id) {
            tokens.retain(|_, t| t.refused > 0 || !t.bucket.idle(rate, burst, now_ms));
        }
        let state = tokens.entry(caller.token_id).or_insert_with(|| TokenState {
            bucket: Bucket::full(burst, now_ms),
            client: caller.client.clone(),
            client_addr: None,
            refused: 0,
            since_ms: now_ms,
        });
        match state.bucket.take(rate, burst, now_ms) {
            Ok(()) => Ok(()),
            Err(retry_after_secs) => {
                if state.refused == 0 {
                    state.since_ms = now_ms;
                }
                state.refused += 1;
                state.client.clone_from(&caller.client);
                state.client_addr = addr.map(|a| a.to_string());
                drop(tokens);
                self.metrics.rate_limited(&caller.client);
                Err(Throttled {
                    retry_after_secs,
                    limit: Limit::Token { rate, burst },
                })
            }
        }
    }

    /// A SCIM request from `addr` that carries no valid token (`presented`: the id part of the
    /// token it did carry, see [`super::tokens::presented_id`]): counted, then refused with 429
    /// when the address is over its limit (otherwise the caller answers 401).
    pub fn unauthenticated(
        &self,
        addr: Option<IpAddr>,
        presented: &str,
        now_ms: i64,
    ) -> Option<Throttled> {
        let label = address_label(addr);
        self.metrics.unauthenticated(&label, presented);
        let rate = self.limits.unauthenticated?;
        let capacity = rate.requests;
        let ip = addr.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let taken = {
            let mut a = self.addresses.lock().ok()?;
            if !a.buckets.contains_key(&ip)
                && a.buckets.len() >= MAX_ADDRESSES
                && (now_ms - a.swept_ms).abs() >= 1_000
            {
                a.swept_ms = now_ms;
                a.buckets.retain(|_, b| !b.idle(rate, capacity, now_ms));
            }
            if a.buckets.contains_key(&ip) || a.buckets.len() < MAX_ADDRESSES {
                a.buckets
                    .entry(ip)
                    .or_insert_with(|| Bucket::full(capacity, now_ms))
                    .take(rate, capacity, now_ms)
            } else {
                a.overflow
                    .get_or_insert_with(|| Bucket::full(capacity, now_ms))
                    .take(rate, capacity, now_ms)
            }
        };
        let retry_after_secs = taken.err()?;
        self.metrics.rate_limited_address(&label);
        Some(Throttled {
            retry_after_secs,
            limit: Limit::Address { rate },
        })
    }

    /// Count a SCIM request refused before it could become a write (other than a token over its
    /// rate, which [`RateLimiter::admit`] counts), for an aggregated record.
    pub fn note(&self, refused: Refused, now_ms: i64) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        let mut key = (refused.who.clone(), refused.kind);
        if !pending.contains_key(&key) && pending.len() >= MAX_PENDING {
            key.0 = Who::Address("overflow".into());
        }
        let e = pending.entry(key).or_insert_with(|| Pending {
            first: refused.clone(),
            count: 0,
            since_ms: now_ms,
        });
        e.count += 1;
        // The latest address; the first request stays the example.
        e.first.client_addr = refused.client_addr;
    }

    /// Refusals due for the activity log: each client's (or address's) per kind, once its oldest
    /// unrecorded refusal is [`REPORT_EVERY_MS`] old (`all`: every pending one, when the server
    /// stops). Taking them resets the counts.
    pub fn due(&self, now_ms: i64, all: bool) -> Vec<Refusals> {
        let is_due = |since_ms: i64| all || now_ms - since_ms >= REPORT_EVERY_MS;
        let mut due: Vec<Refusals> = match self.tokens.lock() {
            Ok(mut tokens) => tokens
                .iter_mut()
                .filter(|(_, t)| t.refused > 0 && is_due(t.since_ms))
                .map(|(id, t)| {
                    let r = Refusals {
                        token_id: Some(*id),
                        client: t.client.clone(),
                        client_addr: t.client_addr.clone(),
                        count: t.refused,
                        since_ms: t.since_ms,
                        kind: RefusalKind::RateLimited,
                        example: None,
                        reason: None,
                    };
                    t.refused = 0;
                    r
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        if let Ok(mut pending) = self.pending.lock() {
            let keys: Vec<(Who, RefusalKind)> = pending
                .iter()
                .filter(|(_, p)| is_due(p.since_ms))
                .map(|(k, _)| k.clone())
                .collect();
            for key in keys {
                if let Some(p) = pending.remove(&key) {
                    due.push(Refusals {
                        token_id: p.first.token_id,
                        client: p.first.client,
                        client_addr: p.first.client_addr,
                        count: p.count,
                        since_ms: p.since_ms,
                        kind: p.first.kind,
                        example: Some(p.first.example),
                        reason: p.first.reason,
                    });
                }
            }
        }
        due.sort_by_key(|r| r.since_ms);
        due
    }

    /// Refused requests of `token` counted but not yet in the log (so the token page can add them
    /// to what the log says).
    pub fn pending_for(&self, token: TokenId) -> u64 {
        let rate_limited = self
            .tokens
            .lock()
            .map_or(0, |t| t.get(&token).map_or(0, |s| s.refused));
        let others = self.pending.lock().map_or(0, |p| {
            p.iter()
                .filter(|((who, _), _)| *who == Who::Token(token))
                .map(|(_, e)| e.count)
                .sum()
        });
        rate_limited + others
    }

    /// How many address buckets are kept (for tests of the bound).
    pub fn address_buckets(&self) -> usize {
        self.addresses.lock().map_or(0, |a| a.buckets.len())
    }
}

/// Write the refusals that are due into the log, through the write service like every refusal.
pub async fn record_due(limiter: &RateLimiter, commands: &Commands, now_ms: i64, all: bool) {
    for refusals in limiter.due(now_ms, all) {
        let (envelope, command) = refusals.record();
        match commands
            .execute(&envelope, WriteRequest::Command(command), Answer::default())
            .await
        {
            // Recording a refusal answers with that refusal.
            Err(ServiceError::Rejected(_)) => {}
            Ok(_) => tracing::warn!("a rate-limit record was recorded as accepted"),
            Err(e) => tracing::warn!(error = %e, "cannot record rate-limited requests"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(name: &str) -> Caller {
        Caller {
            token_id: TokenId::random(),
            client: name.into(),
            scopes: crate::domain::scope::Scopes::default(),
        }
    }

    fn limiter(per_token: Option<Rate>, burst: u32, unauthenticated: Option<Rate>) -> RateLimiter {
        RateLimiter::new(
            Limits {
                per_token,
                burst,
                unauthenticated,
            },
            Arc::default(),
        )
    }

    const PER_SECOND: Rate = Rate {
        requests: 2,
        per: Duration::from_secs(1),
    };

    #[test]
    fn rates_parse_with_units_and_zero_is_off() {
        let r = |requests, secs| {
            Some(Some(Rate {
                requests,
                per: Duration::from_secs(secs),
            }))
        };
        assert_eq!(Rate::parse("200"), r(200, 1));
        assert_eq!(Rate::parse(" 200 / s "), r(200, 1));
        assert_eq!(Rate::parse("600/min"), r(600, 60));
        assert_eq!(Rate::parse("1/h"), r(1, 3600));
        assert_eq!(Rate::parse("0"), Some(None));
        assert_eq!(Rate::parse("0/m"), Some(None));
        for bad in ["", "fast", "-5", "5/d", "1.5/s", "/s"] {
            assert_eq!(Rate::parse(bad), None, "{bad}");
        }
        assert_eq!(DEFAULT_PER_TOKEN.to_string(), "200/s");
        assert_eq!(Rate::parse("7/m").unwrap().unwrap().to_string(), "7/m");
    }

    #[test]
    fn a_token_gets_its_burst_then_its_rate() {
        let l = limiter(Some(PER_SECOND), 3, None);
        let c = caller("Okta");
        let t0 = 1_000_000;
        for _ in 0..3 {
            assert_eq!(l.admit(&c, None, t0), Ok(()));
        }
        let refused = l.admit(&c, None, t0).unwrap_err();
        assert_eq!(refused.retry_after_secs, 1);
        assert!(
            refused.to_string().contains("2/s with bursts of 3"),
            "{refused}"
        );
        // Half a second later one request has come back, not two.
        assert_eq!(l.admit(&c, None, t0 + 500), Ok(()));
        assert!(l.admit(&c, None, t0 + 500).is_err());
        // Other tokens have their own buckets.
        assert_eq!(l.admit(&caller("Entra ID"), None, t0), Ok(()));
        // A clock stepping back neither refills nor panics.
        assert!(l.admit(&c, None, t0 - 10_000).is_err());
        // No limit, no refusal.
        let off = limiter(None, 1, None);
        for _ in 0..100 {
            assert_eq!(off.admit(&c, None, t0), Ok(()));
        }
    }

    #[test]
    fn refusals_are_recorded_once_a_minute_per_client_with_their_count() {
        let l = limiter(
            Some(Rate {
                requests: 1,
                per: Duration::from_secs(3600),
            }),
            1,
            None,
        );
        let (a, b) = (caller("Entra ID"), caller("Okta"));
        let t0 = 5_000_000;
        assert!(l.admit(&a, None, t0).is_ok());
        assert!(l.admit(&b, None, t0).is_ok());
        for i in 0..5 {
            assert!(l
                .admit(&a, Some(IpAddr::from([10, 0, 0, 1])), t0 + i)
                .is_err());
        }
        assert!(l.admit(&b, None, t0 + 30_000).is_err());
        // Nothing is due before a minute has passed since a client's first unrecorded refusal.
        assert!(l.due(t0 + 59_999, false).is_empty());
        let due = l.due(t0 + 60_000, false);
        assert_eq!(due.len(), 1);
        assert_eq!(
            (due[0].client.as_str(), due[0].count, due[0].since_ms),
            ("Entra ID", 5, t0)
        );
        assert_eq!(due[0].client_addr.as_deref(), Some("10.0.0.1"));
        let Rejection::RateLimited(detail) = due[0].rejection() else {
            panic!()
        };
        assert!(
            detail.starts_with("5 requests refused by the rate limit since "),
            "{detail}"
        );
        assert_eq!(due[0].rejection().status(), 429);
        assert_eq!(due[0].rejection().scim_type(), None);
        // Taken means reset; the other client comes due in its own minute, or at a stop.
        assert!(l.due(t0 + 60_001, false).is_empty());
        assert!(l.admit(&a, None, t0 + 70_000).is_err());
        let all = l.due(t0 + 70_001, true);
        assert_eq!(
            all.iter()
                .map(|r| (r.client.as_str(), r.count))
                .collect::<Vec<_>>(),
            [("Okta", 1), ("Entra ID", 1)]
        );
    }

    #[test]
    fn refusals_before_a_write_are_aggregated_per_who_and_kind_with_an_example() {
        let l = limiter(None, 1, None);
        let t0 = 9_000_000;
        let bad_filter = RefusalKind::ReadFailed {
            status: 400,
            scim_type: Some("invalidFilter"),
        };
        let entra = TokenId::random();
        let read = |i: i64| Refused {
            who: Who::Token(entra),
            kind: bad_filter,
            client: "Entra ID".into(),
            token_id: Some(entra),
            client_addr: Some("10.0.0.9".into()),
            example: format!("GET /scim/v2/Users?filter=bad{i}"),
            reason: None,
        };
        for i in 0..3 {
            l.note(read(i), t0 + i);
        }
        let stranger = Refused {
            who: Who::Address("192.0.2.5".into()),
            kind: RefusalKind::Unauthorized,
            client: UNAUTHENTICATED_CLIENT.into(),
            token_id: None,
            client_addr: Some("192.0.2.5".into()),
            example: "GET /scim/v2/Users".into(),
            reason: Some("missing Authorization header".into()),
        };
        l.note(stranger.clone(), t0 + 10);
        l.note(stranger, t0 + 20);
        assert!(l.due(t0 + 59_999, false).is_empty());
        let due = l.due(t0 + 60_010, false);
        assert_eq!(due.len(), 2, "{due:?}");
        assert_eq!((due[0].count, due[0].kind), (3, bad_filter));
        let Rejection::Aggregated {
            status,
            scim_type,
            detail,
        } = due[0].rejection()
        else {
            panic!()
        };
        assert_eq!((status, scim_type), (400, Some("invalidFilter")));
        assert!(
            detail.starts_with("3 reads failed with 400 invalidFilter since "),
            "{detail}"
        );
        assert!(
            detail.ends_with("for example GET /scim/v2/Users?filter=bad0"),
            "{detail}"
        );
        let (envelope, command) = due[0].record();
        assert_eq!(envelope.actor.client, "Entra ID");
        assert_eq!(command.action(), Action::ReadFailed);
        assert_eq!(due[1].rejection().status(), 401);
        assert!(due[1]
            .rejection()
            .to_string()
            .starts_with("2 requests without a valid bearer token since "));
        assert!(due[1]
            .rejection()
            .to_string()
            .contains("(missing Authorization header)"));
        assert!(l.due(t0 + 120_000, true).is_empty());

        // Bounded: past MAX_PENDING, new addresses share one overflow entry per kind.
        for i in 0..u32::try_from(MAX_PENDING + 5).unwrap() {
            let ip = IpAddr::from(i.to_be_bytes()).to_string();
            l.note(
                Refused {
                    who: Who::Address(ip.clone()),
                    client_addr: Some(ip),
                    ..read(0)
                },
                t0,
            );
        }
        let all = l.due(t0, true);
        assert_eq!(all.len(), MAX_PENDING + 1);
        assert_eq!(
            all.iter().map(|r| r.count).sum::<u64>(),
            (MAX_PENDING + 5) as u64
        );
    }

    #[test]
    fn addresses_without_a_valid_token_have_their_own_bounded_buckets() {
        let l = limiter(Some(PER_SECOND), 2, Some(PER_SECOND));
        let t0 = 1_000_000;
        let flood = Some(IpAddr::from([192, 0, 2, 1]));
        assert!(l.unauthenticated(flood, "none", t0).is_none());
        assert!(l.unauthenticated(flood, "none", t0).is_none());
        let refused = l.unauthenticated(flood, "none", t0).unwrap();
        assert!(
            refused.to_string().contains("without a valid bearer token"),
            "{refused}"
        );
        // The token bucket of a good client at the same address is untouched.
        let good = caller("Entra ID");
        assert!(l.admit(&good, flood, t0).is_ok());
        assert!(l.admit(&good, flood, t0).is_ok());
        // Another address is not throttled.
        assert!(l
            .unauthenticated(Some(IpAddr::from([192, 0, 2, 2])), "none", t0)
            .is_none());

        // Many addresses: the table stops at MAX_ADDRESSES (busy ones are kept, idle ones go).
        let many = limiter(None, 1, Some(PER_SECOND));
        for i in 0..u32::try_from(MAX_ADDRESSES + 50).unwrap() {
            let _ = many.unauthenticated(Some(IpAddr::from(i.to_be_bytes())), "none", t0);
        }
        assert_eq!(many.address_buckets(), MAX_ADDRESSES);
        // A second later they have all refilled, and a new address sweeps them.
        let _ = many.unauthenticated(Some(IpAddr::from([198, 51, 100, 1])), "none", t0 + 1_000);
        assert_eq!(many.address_buckets(), 1);
    }
}
