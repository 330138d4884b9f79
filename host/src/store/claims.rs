//! Claims, group-committed: [`Store::claim`] hands its `(kind, id)` to one committer task,
//! which writes every claim waiting when it is free in one transaction, and answers each.
//!
//! Under load (a burst of gateway events, each claimed by every process that receives
//! it) claims share transactions instead of queueing for the database's write lock one
//! by one; alone, a claim waits for nothing but its own transaction. Each claim is still
//! its own conditional upsert inside the transaction, so it is true exactly once across
//! tasks and processes, also when the same event appears twice in one batch.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::index::Index;
use super::{Result, StoreError, now_ms};

/// Most claims written in one transaction.
const MAX_BATCH: usize = 256;

struct Request {
    kind: String,
    id: String,
    answer: oneshot::Sender<Result<bool>>,
}

/// The committer's queue. Dropping it ends the task.
pub(super) struct Claimer {
    tx: mpsc::UnboundedSender<Request>,
}

impl Claimer {
    /// Starts the committer on the current runtime.
    pub fn spawn(index: Arc<dyn Index>, ttl_ms: i64) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(commit(index, ttl_ms, rx));
        Self { tx }
    }

    pub async fn claim(&self, kind: &str, id: &str) -> Result<bool> {
        let (answer, answered) = oneshot::channel();
        let request = Request {
            kind: kind.to_string(),
            id: id.to_string(),
            answer,
        };
        let stopped = || StoreError::Aborted("the claim committer stopped".into());
        self.tx.send(request).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

async fn commit(index: Arc<dyn Index>, ttl_ms: i64, mut rx: mpsc::UnboundedReceiver<Request>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let keys: Vec<(&str, &str)> = batch
            .iter()
            .map(|r| (r.kind.as_str(), r.id.as_str()))
            .collect();
        let now = now_ms();
        let result = index.claim_many(&keys, now, now + ttl_ms).await;
        metrics::histogram!(crate::metrics::CLAIM_BATCH).record(batch.len() as f64);
        match result {
            Ok(won) => {
                for (request, won) in batch.drain(..).zip(won) {
                    let _ = request.answer.send(Ok(won));
                }
            }
            Err(error) => {
                for request in batch.drain(..) {
                    let _ = request.answer.send(Err(error.clone()));
                }
            }
        }
    }
}
