//! The single writer. One thread owns every write: it takes queued commands in batches, decides and
//! appends each batch in as few sled transactions as the batch allows, flushes once (group commit),
//! and only then answers every waiting request. So sequence numbers are contiguous, each decision sees
//! every earlier write, and no 2xx leaves before its events are on disk.

use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::scim::schema::Registry;
use crate::store::append::{append_batch, Applied, Pending};
use crate::store::Store;

use super::error::{Result, ServiceError};

/// Most commands decided and flushed together.
pub const MAX_BATCH: usize = 256;

/// Queue length before submitters wait (back-pressure instead of unbounded memory).
pub const QUEUE: usize = 4096;

enum Msg {
    Job(Box<Pending>, oneshot::Sender<Result<Applied>>),
    Stop,
}

/// A handle for submitting commands; cheap to clone.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
    durable: Arc<tokio::sync::watch::Sender<u64>>,
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
        let join = std::thread::Builder::new()
            .name("scimd-writer".into())
            .spawn(move || run(store, reg, rx, next_seq, &notify, &metrics))
            .map_err(|e| crate::store::StoreError::Io(format!("cannot start the writer: {e}")))?;
        Ok((
            Self {
                tx: tx.clone(),
                durable,
            },
            WriterThread {
                tx,
                join: Some(join),
            },
        ))
    }

    /// Submit a command and wait until it is decided and durable.
    pub async fn submit(&self, pending: Pending) -> Result<Applied> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Job(Box::new(pending), reply))
            .await
            .map_err(|_| ServiceError::WriterGone)?;
        rx.await.map_err(|_| ServiceError::WriterGone)?
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
    pub fn submit_blocking(&self, pending: Pending) -> Result<Applied> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .blocking_send(Msg::Job(Box::new(pending), reply))
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
        let (pendings, replies): (Vec<Pending>, Vec<_>) =
            jobs.into_iter().map(|(p, r)| (*p, r)).unzip();
        let mut results: Vec<Result<Applied>> = Vec::with_capacity(pendings.len());
        let mut i = 0;
        while i < pendings.len() {
            // A command that scans memberships starts its own transaction (see Command::needs_scan).
            let mut j = i + 1;
            while j < pendings.len() && !pendings[j].command.needs_scan() {
                j += 1;
            }
            match append_batch(&store, &reg, &pendings[i..j], next_seq, time) {
                Ok((applied, next)) => {
                    next_seq = next;
                    results.extend(applied.into_iter().map(Ok));
                }
                Err(e) => {
                    tracing::error!(error = %e, commands = j - i, "append failed");
                    let msg = e.to_string();
                    for _ in i..j {
                        results.push(Err(ServiceError::Store(crate::store::StoreError::Io(
                            msg.clone(),
                        ))));
                    }
                }
            }
            i = j;
        }
        let flush_started = std::time::Instant::now();
        let flushed = store.flush();
        metrics.commit(pendings.len(), flush_started.elapsed().as_secs_f64());
        for (p, r) in pendings.iter().zip(&results) {
            if let Ok(applied) = r {
                let accepted = matches!(applied, Applied::Accepted { .. });
                metrics.write(p.command.action().name(), &p.actor.client, accepted);
            }
        }
        if let Err(e) = flushed {
            tracing::error!(error = %e, "flush failed; failing the whole batch");
            let msg = e.to_string();
            for r in &mut results {
                *r = Err(ServiceError::Store(crate::store::StoreError::Io(
                    msg.clone(),
                )));
            }
        } else {
            durable.send_replace(next_seq.saturating_sub(1));
        }
        for (reply, result) in replies.into_iter().zip(results) {
            // A requester that gave up (client disconnected) is not an error.
            let _ = reply.send(result);
        }
    }
    if let Err(e) = store.flush() {
        tracing::error!(error = %e, "final flush failed");
    }
}
