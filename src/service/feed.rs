//! The change feed as the HTTP layer uses it: pages of SETs after a cursor (with the long poll,
//! woken by the writer's "durable up to N" signal after each group commit, so the write path never
//! waits for a consumer), the snapshot as a stream of lines, and the JWKS of signed SETs.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::feed::cursor::Cursor;
use crate::feed::set::{Context, Detail};
use crate::feed::sign::{self, Signer};
use crate::feed::{page, snapshot, FeedError, Result};
use crate::scim::schema::Registry;
use crate::store::Store;

/// Most SETs in one page.
pub const MAX_LIMIT: usize = 1000;
/// SETs in a page when the consumer names no `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// Longest long poll (`wait`), seconds.
pub const MAX_WAIT_SECS: u64 = 60;

/// The feed handle; cheap to clone.
#[derive(Clone, Debug)]
pub struct Feed {
    store: Store,
    reg: Arc<Registry>,
    durable: watch::Receiver<u64>,
    signer: Option<Arc<Signer>>,
}

/// What a consumer asked for.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// `after`: the cursor (absent: from the start of the log).
    pub after: Option<String>,
    /// `limit`: most SETs (clamped to 1..=[`MAX_LIMIT`]).
    pub limit: Option<usize>,
    /// `wait`: seconds to wait for something new when nothing is (clamped to [`MAX_WAIT_SECS`]).
    pub wait: Option<u64>,
    /// Full or notice SETs.
    pub detail: Detail,
}

/// A page as the consumer gets it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedPage {
    /// SET claims objects, or compact JWS strings when signing is on.
    pub events: Vec<Value>,
    /// The cursor to pass as `after` next.
    pub next: String,
    /// Whether more is durable already (ask again at once).
    pub more: bool,
}

impl Feed {
    /// The feed over `store`; `durable` is the writer's last-durable-sequence signal; `signed`
    /// loads (or makes, the first time) the signing key.
    pub fn new(
        store: Store,
        reg: Arc<Registry>,
        durable: watch::Receiver<u64>,
        signed: bool,
    ) -> Result<Self> {
        let signer = if signed {
            Some(Arc::new(Self::load_signer(&store)?))
        } else {
            None
        };
        Ok(Self {
            store,
            reg,
            durable,
            signer,
        })
    }

    /// The signing key of `store` (made and stored the first time).
    pub fn load_signer(store: &Store) -> Result<Signer> {
        let pkcs8 = store.feed_signing_key(|| sign::generate().map_err(|e| e.to_string()))?;
        Signer::from_pkcs8(&pkcs8)
    }

    /// The signing key (`None`: signing is off).
    pub fn signer(&self) -> Option<Arc<Signer>> {
        self.signer.clone()
    }

    /// The public key of signed SETs (`None`: signing is off).
    pub fn jwks(&self) -> Option<Value> {
        self.signer.as_ref().map(|s| s.jwks())
    }

    /// The last durable sequence number.
    pub fn head(&self) -> u64 {
        *self.durable.borrow()
    }

    /// One page after the cursor, waiting up to `wait` seconds for a first SET when none is there
    /// (less when `shutdown` turns true: a stopping server answers its long polls at once).
    pub async fn page(
        &self,
        req: &PageRequest,
        issuer: &str,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<FeedPage> {
        let after = match req.after.as_deref().filter(|a| !a.is_empty()) {
            Some(text) => Cursor::decode(text)?,
            None => Cursor(0),
        };
        let limit = req.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let wait = Duration::from_secs(req.wait.unwrap_or(0).min(MAX_WAIT_SECS));
        let deadline = tokio::time::Instant::now() + wait;
        let mut durable = self.durable.clone();
        let mut from = after;
        loop {
            // Mark the signal seen before reading it: a commit after this point wakes us.
            durable.borrow_and_update();
            let head = self.head();
            let (store, reg, issuer_owned, detail) = (
                self.store.clone(),
                self.reg.clone(),
                issuer.to_owned(),
                req.detail,
            );
            let got = tokio::task::spawn_blocking(move || {
                let cx = Context {
                    reg: &reg,
                    issuer: &issuer_owned,
                    detail,
                };
                page::page(store.trees(), &cx, from, limit, head, |_| true)
            })
            .await
            .map_err(|e| FeedError::Sign(format!("feed reader failed: {e}")))??;
            if !got.sets.is_empty() || got.more || tokio::time::Instant::now() >= deadline {
                return self.finish(got);
            }
            // Nothing yet (rejections and token records move the cursor too, without a SET).
            from = got.next;
            // A timeout, a stopping server, or a writer that stopped (no more commits will come):
            // answer as is.
            let woke = tokio::select! {
                changed = tokio::time::timeout_at(deadline, durable.changed()) => {
                    matches!(changed, Ok(Ok(())))
                }
                _ = async {
                    // A dropped sender is no stop signal: then only the deadline ends the wait.
                    if shutdown.wait_for(|stop| *stop).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                } => false,
            };
            if !woke {
                let mut last = got;
                last.more = false;
                return self.finish(last);
            }
        }
    }

    fn finish(&self, p: page::Page) -> Result<FeedPage> {
        let events = p
            .sets
            .into_iter()
            .map(|(_, s)| match &self.signer {
                Some(k) => k.sign(&s).map(Value::String),
                None => Ok(s),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(FeedPage {
            events,
            next: p.next.encode(),
            more: p.more,
        })
    }

    /// The snapshot as of the durable end of the log, one JSON line per message of the channel.
    pub fn snapshot(&self, issuer: &str) -> mpsc::Receiver<Result<String>> {
        let (tx, rx) = mpsc::channel(64);
        let (store, reg, issuer, head) = (
            self.store.clone(),
            self.reg.clone(),
            issuer.to_owned(),
            self.head(),
        );
        tokio::task::spawn_blocking(move || {
            let mut emit = |v: Value| tx.blocking_send(Ok(format!("{v}\n"))).is_ok();
            if let Err(e) = snapshot::snapshot(store.trees(), &reg, &issuer, head, &mut emit) {
                tracing::error!(error = %e, "snapshot failed");
                let _ = tx.blocking_send(Err(e));
            }
        });
        rx
    }
}
