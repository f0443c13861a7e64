//! Group commit of viewer acknowledgements (review M3). A receipt is durable before the relay
//! acknowledges it, and a durable redb commit is an fsync: one commit per receipt would cap
//! every viewer's acknowledgements at the disk's fsync rate, and a session posting receipts
//! that grow by one byte each could spend that rate alone. One writer thread takes every
//! receipt waiting in the queue (up to `MAX_BATCH`) into one commit, then answers each caller;
//! under load the number of fsyncs follows the number of commits the disk can do, not the
//! number of receipts.
use crate::store::Store;
use media_sdk::session::{SessionToken, ViewerReceipt};
use media_service::StoreError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Receipts written in one commit at most.
pub const MAX_BATCH: usize = 1_024;
/// Receipts waiting for the writer at most; past it, handlers wait for room (backpressure).
pub const QUEUE: usize = 8_192;

type Reply = oneshot::Sender<Result<(), StoreError>>;

struct Job {
    token: SessionToken,
    receipt: ViewerReceipt,
    reply: Reply,
}

/// The handlers' end: `save` queues a receipt and resolves once it is committed.
#[derive(Clone)]
pub struct AckWriter {
    queue: mpsc::Sender<Job>,
    commits: Arc<AtomicU64>,
}

/// The writer's end, run on a blocking thread by `AckWriter::start` (or by a test).
pub struct AckWorker {
    store: Arc<Store>,
    jobs: mpsc::Receiver<Job>,
    commits: Arc<AtomicU64>,
}

impl AckWriter {
    /// A writer and its worker, not yet running.
    pub fn new(store: Arc<Store>) -> (AckWriter, AckWorker) {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let commits = Arc::new(AtomicU64::new(0));
        (
            AckWriter {
                queue,
                commits: commits.clone(),
            },
            AckWorker {
                store,
                jobs,
                commits,
            },
        )
    }

    /// A writer whose worker runs on its own blocking thread until every writer is dropped.
    /// A worker that panics is recorded in `health` as a store failure, which stops the relay
    /// (supervised store probe) and turns `/health` to 503, instead of leaving every later
    /// receipt refused while the relay looks healthy.
    pub fn start(store: Arc<Store>, health: Arc<media_service::StoreHealth>) -> AckWriter {
        let (writer, worker) = AckWriter::new(store);
        let running = tokio::task::spawn_blocking(move || worker.run());
        tokio::spawn(async move {
            if let Err(e) = running.await {
                let why = format!("the acknowledgement writer stopped: {e}");
                tracing::error!(error = %why, "viewer receipts can no longer be stored");
                health.fail(why);
            }
        });
        writer
    }

    /// Stores `receipt` (unless a later one of its session is stored) durably.
    pub async fn save(
        &self,
        token: SessionToken,
        receipt: ViewerReceipt,
    ) -> Result<(), StoreError> {
        let (reply, committed) = oneshot::channel();
        let job = Job {
            token,
            receipt,
            reply,
        };
        let stopped = || StoreError::new("relay", "the acknowledgement writer has stopped");
        self.queue.send(job).await.map_err(|_| stopped())?;
        committed.await.map_err(|_| stopped())?
    }

    /// Commits made so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Receipts waiting for the writer.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }
}

impl AckWorker {
    /// Commits what is queued, batch by batch, until every writer is gone.
    pub fn run(mut self) {
        while let Some(first) = self.jobs.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let rows: Vec<_> = batch.iter().map(|j| (j.token, j.receipt)).collect();
            let result = self.store.save_viewer_receipts(&rows);
            self.commits.fetch_add(1, Ordering::Relaxed);
            metrics::histogram!("media_relay_ack_batch_receipts").record(batch.len() as f64);
            for job in batch {
                // A caller that gave up (its connection closed) needs no answer.
                let _ = job.reply.send(result.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::session_row;
    use anchor_lang::prelude::Pubkey;

    /// M3: receipts that arrive while a commit is under way share the next one; a hundred
    /// queued receipts take one commit, and every one of them is stored.
    #[tokio::test]
    async fn m3_receipts_waiting_together_share_one_commit() {
        let stores = media_service::TempStores::new("relay-acks").unwrap();
        let store = Arc::new(Store::open(&stores.path("relay")).unwrap());
        let (writer, worker) = AckWriter::new(store.clone());
        let mut saving = Vec::new();
        for n in 0..100u64 {
            let (token, receipt) = session_row(&Pubkey::new_unique(), 7, 1_000 + n);
            let writer = writer.clone();
            saving.push(tokio::spawn(
                async move { writer.save(token, receipt).await },
            ));
        }
        while writer.queued() < 100 {
            tokio::task::yield_now().await;
        }
        tokio::task::spawn_blocking(move || worker.run());
        for saved in saving {
            saved.await.unwrap().unwrap();
        }
        assert_eq!(writer.commits(), 1);
        assert_eq!(store.viewer_receipts_since(7).unwrap().len(), 100);
        // Later receipts go on being written, batch by batch.
        let (token, receipt) = session_row(&Pubkey::new_unique(), 7, 5);
        writer.save(token, receipt).await.unwrap();
        assert_eq!(writer.commits(), 2);
        drop(writer);
    }
}
