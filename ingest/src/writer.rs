//! Group commit: one writer thread applies pending writes as they come; a flusher thread makes
//! everything applied so far durable with one blocking `flush()`, and only then answers the
//! requests that asked for those writes.
//!
//! The two run side by side: while one flush waits on the disk, the writes that arrive meanwhile
//! are already applied, and the next flush makes them all durable at once.
//!
//! Invariant: a reply is sent only after a flush that began after its write was applied, so
//! every acknowledged lead survives a process crash.

use std::sync::mpsc as std_mpsc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::{ErasurePlan, LeadOutcome, NewLead, Store, StoreError};

/// Most writes applied before they are handed to the flusher.
const MAX_GROUP: usize = 512;

/// A durable write the writer performs.
#[derive(Debug)]
pub enum WriteOp {
    Lead(Box<NewLead>),
    /// Erases one address's leads (planned by `Store::erasure_plan`) in one atomic batch.
    Erase(Box<ErasurePlan>),
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

/// Handle to the writer. Cloneable; its threads end once every handle is dropped and the
/// queue is drained and flushed.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Pending>,
}

impl Writer {
    /// Starts the writer and flusher threads over `store`.
    pub fn spawn(store: Store, metrics: Metrics) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(4096);
        let (applied_tx, applied_rx) = std_mpsc::channel();
        let flusher_store = store.clone();
        std::thread::Builder::new().name("lodestone-flusher".into()).spawn(move || {
            crate::sched::batch_policy_for_this_thread();
            flush_loop(&flusher_store, &metrics, &applied_rx)
        })?;
        std::thread::Builder::new().name("lodestone-writer".into()).spawn(move || {
            crate::sched::batch_policy_for_this_thread();
            apply_loop(&store, rx, &applied_tx)
        })?;
        Ok(Self { tx })
    }

    /// Queues `op` and waits until it is durable.
    pub async fn write(&self, op: WriteOp) -> Result<WriteDone, WriteError> {
        let (reply, done) = oneshot::channel();
        self.tx.send(Pending { op, reply }).await.map_err(|_| WriteError::Stopped)?;
        done.await.map_err(|_| WriteError::Stopped)?
    }
}

/// A write applied, not yet durable, with the request waiting for it.
type Applied = (oneshot::Sender<Result<WriteDone, WriteError>>, Result<WriteDone, StoreError>);

fn apply(store: &Store, op: &WriteOp) -> Result<WriteDone, StoreError> {
    match op {
        WriteOp::Lead(new) => store.insert_lead(new).map(WriteDone::Lead),
        WriteOp::Erase(plan) => store.erase(plan).map(WriteDone::Erased),
    }
}

/// Applies writes in arrival order and hands them to the flusher in groups (whatever arrived
/// while the previous group was being applied).
fn apply_loop(store: &Store, mut rx: mpsc::Receiver<Pending>, flusher: &std_mpsc::Sender<Vec<Applied>>) {
    while let Some(first) = rx.blocking_recv() {
        let mut group = Vec::with_capacity(64);
        let mut next = Some(first);
        while let Some(Pending { op, reply }) = next {
            group.push((reply, apply(store, &op)));
            next = if group.len() < MAX_GROUP { rx.try_recv().ok() } else { None };
        }
        if flusher.send(group).is_err() {
            return;
        }
    }
}

/// Flushes once for every group applied since the last flush, then answers them. On a failed
/// flush, every write it covered reports the error: nothing unflushed is acknowledged.
fn flush_loop(store: &Store, metrics: &Metrics, applied: &std_mpsc::Receiver<Vec<Applied>>) {
    while let Ok(mut group) = applied.recv() {
        while let Ok(more) = applied.try_recv() {
            group.extend(more);
        }
        let started = Instant::now();
        let flushed = store.flush();
        metrics.observe_commit(group.len(), started.elapsed());
        if let Err(e) = &flushed {
            tracing::error!(error = %e, "flush failed; the writes it covered are not acknowledged");
        }
        for (reply, result) in group {
            let result = match &flushed {
                Ok(_) => result,
                Err(e) => Err(StoreError::Sled(sled::Error::Unsupported(e.to_string()))),
            };
            if matches!(result, Ok(WriteDone::Lead(LeadOutcome { created: true, .. }))) {
                metrics.lead_stored();
            }
            let _ = reply.send(result.map_err(WriteError::from));
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_writer_and_flusher_threads_run_under_the_batch_policy() {
        let writer = Writer::spawn(Store::temporary().unwrap(), Metrics::default()).unwrap();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let policies = loop {
            // Each thread sets its policy as it starts: wait until both are seen under it.
            let mut policies = Vec::new();
            for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
                let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
                if ["lodestone-write", "lodestone-flush"].contains(&comm.trim()) {
                    let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
                    policies.push((comm.trim().to_owned(), crate::sched::policy_of(&stat)));
                }
            }
            let batch = policies.iter().filter(|(_, p)| *p == Some(3)).count();
            if (batch >= 2 && batch == policies.len()) || Instant::now() > deadline {
                break policies;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        assert!(policies.len() >= 2 && policies.iter().all(|(_, p)| *p == Some(3)), "{policies:?}");
        drop(writer);
    }
}
