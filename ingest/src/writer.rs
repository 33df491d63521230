//! Group commit: one task applies pending writes in batches, makes each batch durable with one
//! blocking `flush()`, and only then answers the requests that asked for them.
//!
//! Invariant: a reply is sent only after the write it reports on has been flushed, so every
//! acknowledged lead survives a process crash.

use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::metrics::Metrics;
use crate::store::{LeadOutcome, NewLead, Store, StoreError};

/// Most writes applied before one flush.
const MAX_BATCH: usize = 512;

/// A durable write the writer task performs.
#[derive(Debug)]
pub enum WriteOp {
    Lead(Box<NewLead>),
    Erase { site: String, email_key: String },
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

/// Handle to the writer task. Cloneable; the task ends once every handle is dropped and the
/// queue is drained.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Pending>,
}

impl Writer {
    /// Starts the writer task over `store`.
    pub fn spawn(store: Store, metrics: Metrics) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4096);
        (Self { tx }, tokio::spawn(run(store, metrics, rx)))
    }

    /// Queues `op` and waits until it is durable.
    pub async fn write(&self, op: WriteOp) -> Result<WriteDone, WriteError> {
        let (reply, done) = oneshot::channel();
        self.tx.send(Pending { op, reply }).await.map_err(|_| WriteError::Stopped)?;
        done.await.map_err(|_| WriteError::Stopped)?
    }
}

fn apply(store: &Store, op: &WriteOp) -> Result<WriteDone, StoreError> {
    match op {
        WriteOp::Lead(new) => store.insert_lead(new).map(WriteDone::Lead),
        WriteOp::Erase { site, email_key } => store.erase_email(site, email_key).map(WriteDone::Erased),
    }
}

async fn run(store: Store, metrics: Metrics, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results: Vec<_> = batch.iter().map(|p| apply(&store, &p.op)).collect();
        let started = Instant::now();
        let flushing = store.clone();
        let flushed = tokio::task::spawn_blocking(move || flushing.flush()).await;
        metrics.observe_commit(batch.len(), started.elapsed());
        let flush_error = match flushed {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(e) = &flush_error {
            tracing::error!(error = %e, "flush failed; the batch is not acknowledged");
        }
        for (pending, result) in batch.drain(..).zip(results) {
            let reply = match (&flush_error, result) {
                (None, Ok(done)) => {
                    if matches!(done, WriteDone::Lead(LeadOutcome { created: true, .. })) {
                        metrics.lead_stored();
                    }
                    Ok(done)
                }
                (_, Err(e)) => Err(e.into()),
                (Some(e), Ok(_)) => Err(StoreError::Sled(sled::Error::Unsupported(e.clone())).into()),
            };
            let _ = pending.reply.send(reply);
        }
    }
}
