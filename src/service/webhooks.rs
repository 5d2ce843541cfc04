//! Webhooks: subscriptions (URL, the events and resource types wanted, full or notice SETs, a
//! secret) and their delivery. Each subscription has its own delivery thread, which reads the log
//! behind the subscription's cursor (never past the durable end) and POSTs one SET at a time
//! ([`crate::feed::push`]), in log order; the cursor moves only when the receiver accepted the
//! SET, so delivery is at least once and in order. Failures are retried with exponential backoff
//! and jitter; a SET that keeps failing for `webhook_dead_letter_after` puts the subscription in
//! the dead-letter state (resume starts it again where it stopped). Pause, resume and replay from
//! a cursor are admin operations. The writer never waits for any of this: a receiver that is down
//! only makes its own subscription lag.
//!
//! The subscriptions and their cursors live in the store (`webhooks` tree), so they survive a
//! restart and travel in backups.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

use crate::feed::cursor::Cursor;
use crate::feed::push::{self, Attempt};
use crate::feed::set::{self, Context, Detail};
use crate::feed::sign::Signer;
use crate::feed::{page, FeedError};
use crate::scim::resource::format_time_ms;
use crate::scim::schema::Registry;
use crate::store::codec::{WebhookRecord, WebhookState};
use crate::store::{Store, StoreError};

use super::writer::now_ms;

/// How often an idle delivery thread looks for new records (and a paused one for a resume).
const IDLE_POLL: Duration = Duration::from_millis(200);

/// Failures of webhook administration.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No such subscription (404).
    #[error("no webhook subscription {0}")]
    NotFound(String),
    /// A bad URL, filter or cursor (400).
    #[error("{0}")]
    Invalid(String),
    /// Storage failed (500).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FeedError> for WebhookError {
    fn from(e: FeedError) -> Self {
        match e {
            FeedError::Store(s) => Self::Store(s),
            other => Self::Invalid(other.to_string()),
        }
    }
}

/// Result of webhook administration.
pub type Result<T, E = WebhookError> = std::result::Result<T, E>;

/// Retry timing: the n-th failed attempt of one SET waits a random time in
/// `[d/2, d]`, `d = min(base · 2^(n-1), max)`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The delay after the `attempts`-th failure (jittered).
    pub fn delay(&self, attempts: u32, rng: &mut impl Rng) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        let d = exp.min(self.max);
        let half = d / 2;
        half + d.saturating_sub(half).mul_f64(rng.gen_range(0.0..=1.0))
    }
}

/// A subscription to make (from the admin API, or the CLI through the admin socket).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhook {
    /// Where to POST (`https://…`, or `http://…`).
    pub url: String,
    /// The HMAC secret; `None`: scimd makes one (shown once).
    #[serde(default)]
    pub secret: Option<String>,
    /// Event names wanted (`prov:create`, `prov:patch`, `prov:put`, `prov:delete`,
    /// `prov:activate`, `prov:deactivate`); empty: all.
    #[serde(default)]
    pub events: Vec<String>,
    /// `User`, `Group`; empty: both.
    #[serde(default)]
    pub resource_types: Vec<String>,
    /// `full` (the default) or `notice`.
    #[serde(default)]
    pub detail: Detail,
    /// Where to start: a cursor of the feed, `start` (the whole log), or `None`: from now.
    #[serde(default)]
    pub from: Option<String>,
}

/// A subscription as the admin sees it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookInfo {
    /// Its id.
    pub id: String,
    /// Where SETs go.
    pub url: String,
    /// Events wanted (empty: all).
    pub events: Vec<String>,
    /// Resource types wanted (empty: both).
    pub resource_types: Vec<String>,
    /// `full` or `notice`.
    pub detail: String,
    /// `active`, `paused` or `dead_letter`.
    pub state: String,
    /// The last delivered position, as a feed cursor.
    pub cursor: String,
    /// Log records not yet delivered or passed over.
    pub lag: u64,
    /// When a SET was last accepted (RFC 3339).
    pub last_delivered: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
    /// Since when the next SET has been failing (RFC 3339).
    pub failing_since: Option<String>,
    /// Attempts of that SET so far.
    pub attempts: u32,
    /// SETs accepted in total.
    pub delivered: u64,
    /// Failed attempts in total.
    pub failures: u64,
    /// When it was made (RFC 3339).
    pub created: String,
}

/// A new subscription: its id and the secret (shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedWebhook {
    /// The subscription.
    pub id: String,
    /// The HMAC secret.
    pub secret: String,
    /// Where delivery starts, as a feed cursor.
    pub cursor: String,
}

/// A delivery thread and its stop flag.
type Worker = (Arc<AtomicBool>, JoinHandle<()>);

struct Inner {
    store: Store,
    reg: Arc<Registry>,
    durable: watch::Receiver<u64>,
    signer: Option<Arc<Signer>>,
    issuer: String,
    dead_letter_after: Duration,
    backoff: Backoff,
    /// One lock per subscription: a delivery's cursor update and an admin change never interleave.
    locks: Mutex<HashMap<[u8; 16], Arc<Mutex<()>>>>,
    /// Whether this instance delivers (the server) or only administers (the offline CLI).
    deliver: bool,
    workers: Mutex<HashMap<[u8; 16], Worker>>,
}

/// The webhook service; cheap to clone.
#[derive(Clone)]
pub struct Webhooks(Arc<Inner>);

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks").finish_non_exhaustive()
    }
}

/// What [`Webhooks::start`] needs besides the store.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `iss` of pushed SETs (the SCIM base URL).
    pub issuer: String,
    /// The signing key, when `events_signed` is on.
    pub signer: Option<Arc<Signer>>,
    /// `webhook_dead_letter_after`.
    pub dead_letter_after: Duration,
    /// Retry timing.
    pub backoff: Backoff,
}

fn hex_id(id: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*id).to_string()
}

fn parse_id(text: &str) -> Result<[u8; 16]> {
    uuid::Uuid::parse_str(text.trim())
        .map(|u| *u.as_bytes())
        .map_err(|_| WebhookError::NotFound(text.to_owned()))
}

/// The short event names a subscription may filter on.
pub const EVENT_FILTERS: [&str; 6] = [
    "prov:create",
    "prov:put",
    "prov:patch",
    "prov:delete",
    "prov:activate",
    "prov:deactivate",
];

fn wanted(rec: &WebhookRecord, s: &Value) -> bool {
    let types_ok = rec.resource_types.is_empty()
        || set::resource_type(s).is_some_and(|t| rec.resource_types.iter().any(|w| w == t));
    let events_ok = rec.events.is_empty()
        || set::event_names(s).iter().any(|n| {
            rec.events
                .iter()
                .any(|w| n == w || n.starts_with(&format!("{w}:")))
        });
    types_ok && events_ok
}

impl Webhooks {
    /// Start delivering to every stored subscription.
    pub fn start(
        store: Store,
        reg: Arc<Registry>,
        durable: watch::Receiver<u64>,
        options: Options,
    ) -> Result<Self> {
        Self::new(store, reg, durable, options, true)
    }

    /// Administer subscriptions without delivering (the CLI while no server runs; the server
    /// delivers when it starts).
    pub fn offline(
        store: Store,
        reg: Arc<Registry>,
        durable: watch::Receiver<u64>,
        options: Options,
    ) -> Result<Self> {
        Self::new(store, reg, durable, options, false)
    }

    fn new(
        store: Store,
        reg: Arc<Registry>,
        durable: watch::Receiver<u64>,
        options: Options,
        deliver: bool,
    ) -> Result<Self> {
        let w = Self(Arc::new(Inner {
            deliver,
            store,
            reg,
            durable,
            signer: options.signer,
            issuer: options.issuer,
            dead_letter_after: options.dead_letter_after,
            backoff: options.backoff,
            locks: Mutex::default(),
            workers: Mutex::default(),
        }));
        for (id, _) in w.0.store.webhooks()? {
            w.spawn(id);
        }
        Ok(w)
    }

    fn lock(&self, id: [u8; 16]) -> Arc<Mutex<()>> {
        let mut locks = self
            .0
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(id).or_default().clone()
    }

    fn spawn(&self, id: [u8; 16]) {
        if !self.0.deliver {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let me = self.clone();
        let flag = stop.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("scimd-webhook-{}", &hex_id(&id)[..8]))
            .spawn(move || me.deliver_loop(id, &flag));
        match spawned {
            Ok(join) => {
                let mut workers = self
                    .0
                    .workers
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                workers.insert(id, (stop, join));
            }
            Err(e) => tracing::error!(error = %e, "cannot start a webhook delivery thread"),
        }
    }

    /// Stop every delivery thread (at shutdown); cursors are in the store already.
    pub fn stop(&self) {
        let workers: Vec<_> = {
            let mut w = self
                .0
                .workers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            w.drain().map(|(_, v)| v).collect()
        };
        for (stop, _) in &workers {
            stop.store(true, Ordering::SeqCst);
        }
        for (_, join) in workers {
            let _ = join.join();
        }
        if let Err(e) = self.0.store.flush() {
            tracing::warn!(error = %e, "cannot flush webhook cursors");
        }
    }

    /// Make a subscription and start delivering to it.
    pub fn add(&self, new: NewWebhook) -> Result<CreatedWebhook> {
        let url = new.url.trim().to_owned();
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok || url.contains(char::is_whitespace) || url.len() > 2048 {
            return Err(WebhookError::Invalid(format!(
                "'{url}' is not an http:// or https:// URL"
            )));
        }
        for e in &new.events {
            if !EVENT_FILTERS.contains(&e.as_str()) {
                return Err(WebhookError::Invalid(format!(
                    "unknown event '{e}' (known: {})",
                    EVENT_FILTERS.join(", ")
                )));
            }
        }
        for t in &new.resource_types {
            if t != "User" && t != "Group" {
                return Err(WebhookError::Invalid(format!(
                    "unknown resource type '{t}' (User or Group)"
                )));
            }
        }
        let secret = match new.secret.filter(|s| !s.is_empty()) {
            Some(s) if s.len() < 16 => {
                return Err(WebhookError::Invalid(
                    "a webhook secret needs at least 16 characters".into(),
                ))
            }
            Some(s) => s,
            None => {
                let mut b = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
                hex::encode(b)
            }
        };
        let head = *self.0.durable.borrow();
        let cursor = match new.from.as_deref().map(str::trim) {
            None | Some("") => head,
            Some("start") => 0,
            Some(c) => {
                let c = Cursor::decode(c)?;
                let first = crate::store::read::log_bounds(self.0.store.trees())?.map(|(f, _)| f);
                c.check(first, head)?;
                c.0
            }
        };
        let id = *uuid::Uuid::new_v4().as_bytes();
        let rec = WebhookRecord {
            url,
            secret: secret.clone(),
            events: new.events,
            resource_types: new.resource_types,
            full: new.detail == Detail::Full,
            created_ms: now_ms(),
            state: WebhookState::Active,
            cursor,
            last_delivered_ms: None,
            last_error: None,
            failing_since_ms: None,
            attempts: 0,
            delivered: 0,
            failures: 0,
        };
        self.0.store.put_webhook(id, &rec)?;
        self.0.store.flush()?;
        self.spawn(id);
        Ok(CreatedWebhook {
            id: hex_id(&id),
            secret,
            cursor: Cursor(cursor).encode(),
        })
    }

    /// Every subscription, oldest first.
    pub fn list(&self) -> Result<Vec<WebhookInfo>> {
        let head = *self.0.durable.borrow();
        let mut all = self.0.store.webhooks()?;
        all.sort_by_key(|(_, r)| r.created_ms);
        Ok(all.iter().map(|(id, r)| info(id, r, head)).collect())
    }

    /// Change a subscription under its lock and store it durably.
    fn change(&self, id: &str, f: impl FnOnce(&mut WebhookRecord) -> Result<()>) -> Result<()> {
        let id = parse_id(id)?;
        let lock = self.lock(id);
        let _held = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut rec = self
            .0
            .store
            .webhook(id)?
            .ok_or_else(|| WebhookError::NotFound(hex_id(&id)))?;
        f(&mut rec)?;
        self.0.store.put_webhook(id, &rec)?;
        self.0.store.flush()?;
        Ok(())
    }

    /// Stop delivering (until resumed).
    pub fn pause(&self, id: &str) -> Result<()> {
        self.change(id, |r| {
            r.state = WebhookState::Paused;
            Ok(())
        })
    }

    /// Deliver again (after a pause or the dead-letter state), from where it stopped, at once.
    pub fn resume(&self, id: &str) -> Result<()> {
        self.change(id, |r| {
            r.state = WebhookState::Active;
            r.attempts = 0;
            r.failing_since_ms = None;
            Ok(())
        })
    }

    /// Deliver again from `cursor` (a feed cursor, or `start`): everything after it is sent again.
    pub fn replay(&self, id: &str, cursor: &str) -> Result<()> {
        let head = *self.0.durable.borrow();
        let c = if cursor.trim() == "start" {
            Cursor(0)
        } else {
            Cursor::decode(cursor.trim())?
        };
        let first = crate::store::read::log_bounds(self.0.store.trees())?.map(|(f, _)| f);
        c.check(first, head)?;
        self.change(id, |r| {
            r.cursor = c.0;
            r.attempts = 0;
            r.failing_since_ms = None;
            Ok(())
        })
    }

    /// Delete a subscription (its thread ends).
    pub fn remove(&self, id: &str) -> Result<()> {
        let raw = parse_id(id)?;
        let lock = self.lock(raw);
        let _held = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !self.0.store.remove_webhook(raw)? {
            return Err(WebhookError::NotFound(id.to_owned()));
        }
        self.0.store.flush()?;
        let worker = self
            .0
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&raw);
        if let Some((stop, _)) = worker {
            // The thread ends on its own (it finds the record gone); no join under the lock.
            stop.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Prometheus text of every subscription's state (appended to `/metrics`).
    pub fn metrics(&self) -> String {
        use std::fmt::Write as _;
        let Ok(list) = self.list() else {
            return String::new();
        };
        let mut out = String::new();
        let families: [(&str, &str, &str); 7] = [
            (
                "scimd_webhook_lag_records",
                "gauge",
                "Log records a subscription has not delivered or passed over yet.",
            ),
            (
                "scimd_webhook_cursor_sequence",
                "gauge",
                "The log sequence number a subscription has delivered (or passed over) up to.",
            ),
            (
                "scimd_webhook_delivered_total",
                "counter",
                "SETs a subscription's receiver accepted.",
            ),
            (
                "scimd_webhook_failures_total",
                "counter",
                "Failed delivery attempts of a subscription.",
            ),
            (
                "scimd_webhook_up",
                "gauge",
                "1 while a subscription is active and its last attempt did not fail.",
            ),
            (
                "scimd_webhook_state",
                "gauge",
                "1 for the state a subscription is in (active, paused, dead_letter).",
            ),
            (
                "scimd_webhook_last_delivered_timestamp_seconds",
                "gauge",
                "When a subscription's receiver last accepted a SET.",
            ),
        ];
        for (name, kind, help) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for w in &list {
                let l = format!("subscription=\"{}\"", w.id);
                match name {
                    "scimd_webhook_lag_records" => {
                        let _ = writeln!(out, "{name}{{{l}}} {}", w.lag);
                    }
                    "scimd_webhook_cursor_sequence" => {
                        let seq = Cursor::decode(&w.cursor).map_or(0, |c| c.0);
                        let _ = writeln!(out, "{name}{{{l}}} {seq}");
                    }
                    "scimd_webhook_delivered_total" => {
                        let _ = writeln!(out, "{name}{{{l}}} {}", w.delivered);
                    }
                    "scimd_webhook_failures_total" => {
                        let _ = writeln!(out, "{name}{{{l}}} {}", w.failures);
                    }
                    "scimd_webhook_up" => {
                        let up = w.state == "active" && w.failing_since.is_none();
                        let _ = writeln!(out, "{name}{{{l}}} {}", u8::from(up));
                    }
                    "scimd_webhook_state" => {
                        for s in ["active", "paused", "dead_letter"] {
                            let _ = writeln!(
                                out,
                                "{name}{{{l},state=\"{s}\"}} {}",
                                u8::from(w.state == s)
                            );
                        }
                    }
                    _ => {
                        if let Some(t) = w.last_delivered.as_deref().and_then(rfc3339_secs) {
                            let _ = writeln!(out, "{name}{{{l}}} {t}");
                        }
                    }
                }
            }
        }
        out
    }

    fn deliver_loop(&self, id: [u8; 16], stop: &AtomicBool) {
        let agent = push::agent();
        let mut rng = rand::thread_rng();
        let label = hex_id(&id);
        while !stop.load(Ordering::SeqCst) {
            let rec = match self.0.store.webhook(id) {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %e, webhook = %label, "cannot read a webhook subscription");
                    pause_for(IDLE_POLL * 5, stop);
                    continue;
                }
            };
            let head = *self.0.durable.borrow();
            if rec.state != WebhookState::Active || rec.cursor >= head {
                pause_for(IDLE_POLL, stop);
                continue;
            }
            let detail = if rec.full {
                Detail::Full
            } else {
                Detail::Notice
            };
            let cx = Context {
                reg: &self.0.reg,
                issuer: &self.0.issuer,
                detail,
            };
            let next = page::page(
                self.0.store.trees(),
                &cx,
                Cursor(rec.cursor),
                1,
                head,
                |s| wanted(&rec, s),
            );
            let next = match next {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, webhook = %label, "cannot read the feed for a webhook");
                    self.record(id, &rec, |r| {
                        r.last_error = Some(format!("reading the feed failed: {e}"));
                    });
                    pause_for(IDLE_POLL * 5, stop);
                    continue;
                }
            };
            let Some((seq, s)) = next.sets.into_iter().next() else {
                // Nothing wanted up to here: move past what was read.
                let to = next.next.0;
                self.record(id, &rec, |r| r.cursor = to);
                continue;
            };
            let body = match push::jwt(&s, self.0.signer.as_deref()) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "cannot sign a SET");
                    pause_for(IDLE_POLL * 5, stop);
                    continue;
                }
            };
            let now = now_ms();
            let attempt = push::post(
                &agent,
                &rec.url,
                &rec.secret,
                &label,
                &body,
                now.div_euclid(1000),
            );
            let dead_after =
                i64::try_from(self.0.dead_letter_after.as_millis()).unwrap_or(i64::MAX);
            let mut failed_attempts = None;
            self.record(id, &rec, |r| match &attempt {
                Attempt::Accepted => {
                    r.cursor = seq;
                    r.last_delivered_ms = Some(now_ms());
                    r.attempts = 0;
                    r.failing_since_ms = None;
                    r.delivered += 1;
                }
                Attempt::Failed(why) => {
                    r.failures += 1;
                    r.attempts = r.attempts.saturating_add(1);
                    let since = *r.failing_since_ms.get_or_insert(now);
                    r.last_error = Some(why.clone());
                    if now_ms().saturating_sub(since) >= dead_after {
                        r.state = WebhookState::DeadLetter;
                        tracing::warn!(webhook = %label, error = %why, "webhook dead-lettered");
                    }
                    failed_attempts = Some(r.attempts);
                }
            });
            if let Some(n) = failed_attempts {
                tracing::info!(webhook = %label, attempts = n, "webhook delivery failed; retrying");
                pause_for(self.0.backoff.delay(n, &mut rng), stop);
            }
        }
    }

    /// Apply `f` to the stored record if nobody moved its position meanwhile: a replay from the
    /// admin wins over a delivery that was under way. A pause or resume meanwhile keeps its state,
    /// but what the delivery did still counts: a receiver that accepted a SET must not get it
    /// again after the resume.
    fn record(&self, id: [u8; 16], seen: &WebhookRecord, f: impl FnOnce(&mut WebhookRecord)) {
        let lock = self.lock(id);
        let _held = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Ok(Some(mut cur)) = self.0.store.webhook(id) else {
            return;
        };
        if cur.cursor != seen.cursor {
            return;
        }
        let set_by_admin = (cur.state != seen.state).then_some(cur.state);
        f(&mut cur);
        if let Some(state) = set_by_admin {
            cur.state = state;
        }
        if let Err(e) = self.0.store.put_webhook(id, &cur) {
            tracing::error!(error = %e, "cannot store a webhook's progress");
        }
    }
}

/// Sleep for `d`, waking early when `stop` is set.
fn pause_for(d: Duration, stop: &AtomicBool) {
    let until = Instant::now() + d;
    while !stop.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

fn rfc3339_secs(t: &str) -> Option<i64> {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

fn info(id: &[u8; 16], r: &WebhookRecord, head: u64) -> WebhookInfo {
    WebhookInfo {
        id: hex_id(id),
        url: r.url.clone(),
        events: r.events.clone(),
        resource_types: r.resource_types.clone(),
        detail: if r.full { "full" } else { "notice" }.into(),
        state: match r.state {
            WebhookState::Active => "active",
            WebhookState::Paused => "paused",
            WebhookState::DeadLetter => "dead_letter",
        }
        .into(),
        cursor: Cursor(r.cursor).encode(),
        lag: head.saturating_sub(r.cursor),
        last_delivered: r.last_delivered_ms.map(format_time_ms),
        last_error: r.last_error.clone(),
        failing_since: r.failing_since_ms.map(format_time_ms),
        attempts: r.attempts,
        delivered: r.delivered,
        failures: r.failures,
        created: format_time_ms(r.created_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let b = Backoff::default();
        let mut rng = rand::thread_rng();
        for _ in 0..100 {
            let d1 = b.delay(1, &mut rng);
            assert!(
                d1 >= Duration::from_millis(500) && d1 <= Duration::from_secs(1),
                "{d1:?}"
            );
            let d4 = b.delay(4, &mut rng);
            assert!(
                d4 >= Duration::from_secs(4) && d4 <= Duration::from_secs(8),
                "{d4:?}"
            );
            let d30 = b.delay(30, &mut rng);
            assert!(
                d30 >= Duration::from_secs(150) && d30 <= Duration::from_secs(300),
                "{d30:?}"
            );
        }
    }

    #[test]
    fn filters_match_event_prefixes_and_resource_types() {
        let rec = |events: &[&str], types: &[&str]| WebhookRecord {
            url: String::new(),
            secret: String::new(),
            events: events.iter().map(|s| (*s).to_owned()).collect(),
            resource_types: types.iter().map(|s| (*s).to_owned()).collect(),
            full: true,
            created_ms: 0,
            state: WebhookState::Active,
            cursor: 0,
            last_delivered_ms: None,
            last_error: None,
            failing_since_ms: None,
            attempts: 0,
            delivered: 0,
            failures: 0,
        };
        let s = serde_json::json!({"sub_id": {"uri": "/Users/x"},
            "events": {"urn:ietf:params:scim:event:prov:put:full": {}, "urn:ietf:params:scim:event:prov:deactivate": {}}});
        assert!(wanted(&rec(&[], &[]), &s));
        assert!(wanted(&rec(&["prov:deactivate"], &["User"]), &s));
        assert!(wanted(&rec(&["prov:put"], &[]), &s));
        assert!(!wanted(&rec(&["prov:pu"], &[]), &s));
        assert!(!wanted(&rec(&["prov:delete"], &[]), &s));
        assert!(!wanted(&rec(&[], &["Group"]), &s));
    }
}
