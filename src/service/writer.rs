//! The single writer. One thread owns every write: it takes queued commands in batches, decides and
//! appends each batch in as few sled transactions as the batch allows, flushes once (group commit),
//! and only then answers every waiting request. So sequence numbers are contiguous, each decision sees
//! every earlier write, and no 2xx leaves before its events are on disk.
//!
//! A failed flush is fatal, as in the databases that learned it the hard way (PostgreSQL's
//! "fsyncgate"): after it, the views in memory may hold writes the disk does not, and retrying the
//! flush can report success for data the kernel already dropped. So the writer answers the whole
//! batch with an error, stops taking commands (503, `/readyz` not ready) and reports the failure
//! ([`Writer::failure`]), on which the server exits non-zero and systemd restarts it from the disk.

use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::domain::write::{Outcome, Submission};
use crate::scim::schema::Registry;
use crate::store::append::append_batch;
use crate::store::Store;

use super::error::{Result, ServiceError};

/// Most commands decided and flushed together.
pub const MAX_BATCH: usize = 256;

/// Queue length before submitters wait (back-pressure instead of unbounded memory).
pub const QUEUE: usize = 4096;

enum Msg {
    Job(Box<Submission>, oneshot::Sender<Result<Outcome>>),
    Stop,
}

/// A handle for submitting commands; cheap to clone.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
    durable: Arc<tokio::sync::watch::Sender<u64>>,
    failure: Arc<tokio::sync::watch::Sender<Option<String>>>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Job(p, _) => write!(f, "Job({:?})", p.command.action()),
            Self::Stop => f.write_str("Stop"),
        }
    }
}

/// The running writer thread; [`WriterThread::stop`] drains the queue, flushes and joins it.
#[derive(Debug)]
pub struct WriterThread {
    tx: mpsc::Sender<Msg>,
    join: Option<JoinHandle<()>>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Writer {
    /// Start the writer thread over `store`.
    pub fn start(store: Store, reg: Arc<Registry>) -> Result<(Self, WriterThread)> {
        Self::start_with(store, reg, Arc::default())
    }

    /// [`Writer::start`], counting batches, flushes and outcomes in `metrics`.
    pub fn start_with(
        store: Store,
        reg: Arc<Registry>,
        metrics: Arc<super::metrics::Metrics>,
    ) -> Result<(Self, WriterThread)> {
        let next_seq = store.next_seq()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let durable = Arc::new(tokio::sync::watch::Sender::new(next_seq.saturating_sub(1)));
        let notify = durable.clone();
        let failure = Arc::new(tokio::sync::watch::Sender::new(None));
        let fail = failure.clone();
        let join = std::thread::Builder::new()
            .name("scimd-writer".into())
            .spawn(move || run(store, reg, rx, next_seq, &notify, &fail, &metrics))
            .map_err(|e| crate::store::StoreError::Io(format!("cannot start the writer: {e}")))?;
        Ok((
            Self {
                tx: tx.clone(),
                durable,
                failure,
            },
            WriterThread {
                tx,
                join: Some(join),
            },
        ))
    }

    /// Submit a command and wait until it is decided and durable.
    pub async fn submit(&self, submission: Submission) -> Result<Outcome> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Job(Box::new(submission), reply))
            .await
            .map_err(|_| ServiceError::WriterGone)?;
        rx.await.map_err(|_| ServiceError::WriterGone)?
    }

    /// Why the writer stopped taking commands, once a flush has failed (`None` while it is healthy).
    /// The server waits on this to exit non-zero.
    pub fn failure(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.failure.subscribe()
    }

    /// Whether the writer thread still takes commands.
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    /// The sequence number of the last durable log record, updated after every group commit
    /// (the live tail of the activity report waits on it).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.durable.subscribe()
    }

    /// [`Writer::submit`] for callers outside an async runtime (the offline CLI).
    pub fn submit_blocking(&self, submission: Submission) -> Result<Outcome> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .blocking_send(Msg::Job(Box::new(submission), reply))
            .map_err(|_| ServiceError::WriterGone)?;
        rx.blocking_recv().map_err(|_| ServiceError::WriterGone)?
    }
}

impl WriterThread {
    /// Finish every queued command, flush, and wait for the thread to end.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(join) = self.join.take() {
            // The queue may be full of work; a blocking send waits for room, and the thread keeps
            // draining, so this cannot deadlock.
            let _ = self.tx.blocking_send(Msg::Stop);
            if join.join().is_err() {
                tracing::error!("the writer thread panicked");
            }
        }
    }

    /// Async variant of [`WriterThread::stop`] for use inside the runtime.
    pub async fn stop_async(mut self) {
        if let Some(join) = self.join.take() {
            let _ = self.tx.send(Msg::Stop).await;
            let _ = tokio::task::spawn_blocking(move || join.join()).await;
        }
    }
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        if self.join.is_some() && tokio::runtime::Handle::try_current().is_err() {
            self.stop_inner();
        }
    }
}

fn run(
    store: Store,
    reg: Arc<Registry>,
    mut rx: mpsc::Receiver<Msg>,
    mut next_seq: u64,
    durable: &tokio::sync::watch::Sender<u64>,
    failure: &tokio::sync::watch::Sender<Option<String>>,
    metrics: &super::metrics::Metrics,
) {
    let mut last_time = 0i64;
    let mut stopping = false;
    while !stopping {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut jobs = Vec::new();
        match first {
            Msg::Job(p, r) => jobs.push((p, r)),
            Msg::Stop => stopping = true,
        }
        // Take whatever else is queued: these share the transaction(s) and the flush.
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Job(p, r)) => jobs.push((p, r)),
                Ok(Msg::Stop) => stopping = true,
                Err(_) => break,
            }
        }
        if stopping {
            while let Ok(Msg::Job(p, r)) = rx.try_recv() {
                jobs.push((p, r));
            }
        }
        if jobs.is_empty() {
            continue;
        }
        // Wall-clock time, never going backwards along the log.
        let time = now_ms().max(last_time);
        last_time = time;
        let (batch, replies): (Vec<Submission>, Vec<_>) =
            jobs.into_iter().map(|(p, r)| (*p, r)).unzip();
        let mut results: Vec<Result<Outcome>> =
            match append_batch(&store, &reg, &batch, next_seq, time) {
                Ok((outcomes, next)) => {
                    next_seq = next;
                    outcomes.into_iter().map(Ok).collect()
                }
                Err(e) => {
                    // The transaction was rolled back as a whole: nothing of the batch is in the views.
                    tracing::error!(error = %e, commands = batch.len(), "append failed");
                    let msg = e.to_string();
                    batch
                        .iter()
                        .map(|_| {
                            Err(ServiceError::Store(crate::store::StoreError::Io(
                                msg.clone(),
                            )))
                        })
                        .collect()
                }
            };
        let flush_started = std::time::Instant::now();
        let flushed = store.flush();
        metrics.commit(batch.len(), flush_started.elapsed().as_secs_f64());
        for (s, r) in batch.iter().zip(&results) {
            if let Ok(outcome) = r {
                let accepted = matches!(outcome, Outcome::Written(_));
                metrics.write(
                    s.command.action().name(),
                    &s.envelope.actor.client,
                    accepted,
                );
            }
        }
        let failed = flushed.err().map(|e| {
            let why = format!("flushing the log to disk failed: {e}");
            tracing::error!(
                error = %e,
                "{why}; refusing further writes, the server stops so that it restarts from what is on disk"
            );
            for r in &mut results {
                *r = Err(ServiceError::Store(crate::store::StoreError::Io(why.clone())));
            }
            why
        });
        match &failed {
            None => {
                durable.send_replace(next_seq.saturating_sub(1));
            }
            // Stopped and reported before anyone hears of the failure, so a client answered 500
            // already finds the writer closed and the reason known. Closing the queue answers
            // every later submitter with 503.
            Some(why) => {
                rx.close();
                failure.send_replace(Some(why.clone()));
            }
        }
        for (reply, result) in replies.into_iter().zip(results) {
            // A requester that gave up (client disconnected) is not an error.
            let _ = reply.send(result);
        }
        if failed.is_some() {
            while let Ok(Msg::Job(_, reply)) = rx.try_recv() {
                let _ = reply.send(Err(ServiceError::WriterGone));
            }
            return;
        }
    }
    if let Err(e) = store.flush() {
        tracing::error!(error = %e, "final flush failed");
    }
}
