//! Eviction: keep the cache within `max_cache_bytes`, least recently used first,
//! never touching a leased blob.
//!
//! Each removal takes the blob's lock (so it cannot race a writer persisting the same
//! content) and deletes the row only if no live lease exists, in one statement; a lease
//! taken a moment earlier wins, one taken a moment later fails with `Evicted`.

use super::blobs::BLOB_LOCK;
use super::{Result, Store, now_ms};

/// What one eviction pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Evicted {
    pub blobs: u64,
    pub bytes: u64,
}

const BATCH: u32 = 64;

impl Store {
    /// Removes least recently used, unleased blobs until the cache fits its budget
    /// (or only leased blobs are left).
    pub async fn evict(&self) -> Result<Evicted> {
        self.evict_to(self.inner.config.max_cache_bytes).await
    }

    /// [`Store::evict`] with an explicit budget (0 clears everything unleased).
    pub async fn evict_to(&self, budget: u64) -> Result<Evicted> {
        // This process's recent hits count in "least recently used".
        self.flush_accesses().await?;
        let inner = &self.inner;
        let mut done = Evicted::default();
        loop {
            let mut bytes = inner.index.stats(now_ms()).await?.bytes;
            if bytes <= budget {
                return Ok(done);
            }
            let candidates = inner.index.eviction_candidates(now_ms(), BATCH).await?;
            let before = done.blobs;
            for blob in candidates {
                if bytes <= budget {
                    break;
                }
                let _lock = inner.locks.lock_async(BLOB_LOCK, &blob.hash).await?;
                if inner
                    .index
                    .delete_blob_unleased(&blob.hash, now_ms())
                    .await?
                {
                    self.index_changed().await?;
                    inner.blobs.remove(&blob.hash)?;
                    tracing::debug!(hash = %blob.hash, size = blob.size, "evicted");
                    metrics::counter!(crate::metrics::CACHE_EVICTIONS).increment(1);
                    metrics::counter!(crate::metrics::CACHE_EVICTED_BYTES).increment(blob.size);
                    bytes = bytes.saturating_sub(blob.size);
                    done.blobs += 1;
                    done.bytes += blob.size;
                }
            }
            if done.blobs == before {
                return Ok(done); // everything left is leased
            }
        }
    }

    /// Runs [`Store::evict`] in the background when the cache is over budget.
    pub(super) fn evict_in_background(&self) {
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(e) = store.evict().await {
                tracing::warn!(error = %e, "eviction failed");
            }
        });
    }
}
