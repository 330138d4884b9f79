//! Leases: a blob in use (queued or playing) is leased, and eviction and reconcile
//! never remove a leased blob, whichever process holds the lease. Leases live in the
//! database with an expiry; a keeper task renews this store's leases at a third of
//! their lifetime, so a crashed holder's leases lapse on their own.

use std::sync::{Arc, Weak};

use super::{Blob, Inner, Result, Store, StoreError, now_ms};

/// A held lease. Dropping it releases the lease in the background; call
/// [`Lease::release`] to wait for that.
pub struct Lease {
    id: String,
    hash: String,
    store: Weak<Inner>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("hash", &self.hash).finish()
    }
}

impl Store {
    /// Leases `blob`. Fails with [`StoreError::Evicted`] if it left the cache since it
    /// was handed out (then fetch it again, see [`Store::acquire`]).
    pub async fn lease(&self, blob: &Blob) -> Result<Lease> {
        let id = uuid::Uuid::new_v4().to_string();
        let expires = now_ms() + self.inner.config.lease_ttl().as_millis() as i64;
        let inserted = self
            .inner
            .index
            .insert_lease(&id, &blob.hash, &self.inner.holder, expires)
            .await?;
        if !inserted {
            return Err(StoreError::Evicted(blob.hash.clone()));
        }
        Ok(Lease {
            id,
            hash: blob.hash.clone(),
            store: Arc::downgrade(&self.inner),
        })
    }

    /// Whether any process holds a live lease on `hash`.
    pub async fn is_leased(&self, hash: &str) -> Result<bool> {
        self.inner.index.is_leased(hash, now_ms()).await
    }
}

impl Lease {
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub async fn release(mut self) -> Result<()> {
        let id = std::mem::take(&mut self.id);
        match self.store.upgrade() {
            Some(inner) => inner.index.delete_lease(&id).await,
            None => Ok(()),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.id.is_empty() {
            return;
        }
        let (Some(inner), Ok(rt)) = (self.store.upgrade(), tokio::runtime::Handle::try_current())
        else {
            return; // the lease lapses at its expiry
        };
        let id = std::mem::take(&mut self.id);
        rt.spawn(async move {
            if let Err(e) = inner.index.delete_lease(&id).await {
                tracing::warn!(error = %e, "releasing lease failed; it will lapse");
            }
        });
    }
}

/// Renews this store's leases, purges expired rows (leases, claims, kv, old metadata)
/// and sweeps idle scratch folders, until the store is closed or dropped.
pub(super) fn spawn_keeper(store: &Store) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(&store.inner);
    let closed = store.inner.closed.clone();
    let period = (store.inner.config.lease_ttl() / 3).max(std::time::Duration::from_millis(100));
    rt.spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = closed.cancelled() => return,
            }
            let Some(inner) = weak.upgrade() else { return };
            let now = now_ms();
            let expires = now + inner.config.lease_ttl().as_millis() as i64;
            if let Err(e) = inner.index.renew_leases(&inner.holder, expires).await {
                tracing::warn!(error = %e, "renewing leases failed");
            }
            let meta_before = now - inner.config.meta_keep_stale().as_millis() as i64;
            if let Err(e) = inner.index.purge_expired(now, meta_before).await {
                tracing::warn!(error = %e, "purging expired rows failed");
            }
            let store = Store { inner };
            if let Err(e) = store.sweep_scratch(store.config().scratch_idle()).await {
                tracing::warn!(error = %e, "sweeping scratch folders failed");
            }
        }
    });
}
