//! Group commit: one writer thread applies pending writes in batches, makes each batch durable
//! with one blocking `flush()`, and only then answers the requests that asked for them.
//!
//! Invariant: a reply is sent only after the write it reports on has been flushed, so every
//! acknowledged lead survives a process crash.

use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::{LeadOutcome, NewLead, Store, StoreError};

/// Most writes applied before one flush.
const MAX_BATCH: usize = 512;

/// A durable write the writer performs.
#[derive(Debug)]
pub enum WriteOp {
    Lead(Box<NewLead>),
    /// Removes these keys (from `Store::erasure_keys`) in one atomic batch.
    Erase {
        keys: Vec<Vec<u8>>,
    },
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteDone {
    Lead(LeadOutcome),
    Erased(usize),
}

/// Why a write was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the writer has stopped")]
    Stopped,
}

struct Pending {
    op: WriteOp,
    reply: oneshot::Sender<Result<WriteDone, WriteError>>,
}

/// Handle to the writer thread. Cloneable; the thread ends once every handle is dropped and
/// the queue is drained.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Pending>,
}

impl Writer {
    /// Starts the writer thread over `store`.
    pub fn spawn(store: Store, metrics: Metrics) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("lodestone-writer".into())
            .spawn(move || run(&store, &metrics, rx))?;
        Ok(Self { tx })
    }

    /// Queues `op` and waits until it is durable.
    pub async fn write(&self, op: WriteOp) -> Result<WriteDone, WriteError> {
        let (reply, done) = oneshot::channel();
        self.tx.send(Pending { op, reply }).await.map_err(|_| WriteError::Stopped)?;
        done.await.map_err(|_| WriteError::Stopped)?
    }
}

/// Applies `ops` in order (leads staged into one atomic batch, an erase committing what came
/// before it), then flushes once. On a failed commit or flush, every write of the group
/// reports the error: nothing unflushed is acknowledged.
fn apply_and_flush(store: &Store, ops: &[WriteOp]) -> Vec<Result<WriteDone, StoreError>> {
    let mut results = Vec::with_capacity(ops.len());
    let mut batch = store.lead_batch();
    let mut failure: Option<String> = None;
    for op in ops {
        match op {
            WriteOp::Lead(new) => results.push(batch.add(new).map(WriteDone::Lead)),
            WriteOp::Erase { keys } => {
                let staged = std::mem::replace(&mut batch, store.lead_batch());
                if let Err(e) = staged.commit() {
                    failure.get_or_insert(e.to_string());
                }
                results.push(store.erase(keys).map(WriteDone::Erased));
            }
        }
    }
    if let Err(e) = batch.commit() {
        failure.get_or_insert(e.to_string());
    }
    if let Err(e) = store.flush() {
        failure.get_or_insert(e.to_string());
    }
    match failure {
        None => results,
        Some(e) => {
            tracing::error!(error = %e, "group commit failed; the batch is not acknowledged");
            ops.iter().map(|_| Err(StoreError::Sled(sled::Error::Unsupported(e.clone())))).collect()
        }
    }
}

fn run(store: &Store, metrics: &Metrics, mut rx: mpsc::Receiver<Pending>) {
    let mut ops = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some(Pending { op, reply }) = next {
            ops.push(op);
            replies.push(reply);
            next = if ops.len() < MAX_BATCH { rx.try_recv().ok() } else { None };
        }
        let started = Instant::now();
        let results = apply_and_flush(store, &ops);
        metrics.observe_commit(ops.len(), started.elapsed());
        ops.clear();
        for (reply, result) in replies.drain(..).zip(results) {
            if matches!(result, Ok(WriteDone::Lead(LeadOutcome { created: true, .. }))) {
                metrics.lead_stored();
            }
            let _ = reply.send(result.map_err(WriteError::from));
        }
    }
}
