//! The TTL metadata cache (search results, a provider's catalogue), shared through the
//! database by every process. A stale entry is refreshed by one caller at a time
//! across processes (in-process single-flight, then the entry's file lock); while a
//! refresh runs elsewhere, callers holding a stale value get it at once; if a refresh
//! fails, the stale value is served.

use std::future::Future;
use std::time::Duration;

use super::{Result, Store, StoreError, now_ms};

const META_LOCK: &str = "meta";

impl Store {
    /// The cached value for `key`, calling `refresh` when it is missing or older than
    /// `ttl`.
    pub async fn cached_meta<F, Fut>(&self, key: &str, ttl: Duration, refresh: F) -> Result<Vec<u8>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Vec<u8>, String>> + Send + 'static,
    {
        let stale = match self.inner.index.meta_get(key).await? {
            Some((value, expires)) if expires > now_ms() => return Ok(value),
            other => other.map(|(v, _)| v),
        };
        let store = self.clone();
        let owned_key = key.to_string();
        let (result, _) = self
            .inner
            .meta_flights
            .run(key.to_string(), move || async move {
                store.refresh_meta(&owned_key, ttl, stale, refresh).await
            })
            .await;
        result
    }

    async fn refresh_meta<F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        stale: Option<Vec<u8>>,
        refresh: F,
    ) -> Result<Vec<u8>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Vec<u8>, String>>,
    {
        let inner = &self.inner;
        let _lock = match &stale {
            Some(value) => match inner.locks.try_lock(META_LOCK, key)? {
                Some(lock) => lock,
                None => return Ok(value.clone()), // another process is refreshing
            },
            None => inner.locks.lock_async(META_LOCK, key).await?,
        };
        if let Some((value, expires)) = inner.index.meta_get(key).await?
            && expires > now_ms()
        {
            return Ok(value);
        }
        match refresh().await {
            Ok(value) => {
                let expires = now_ms() + ttl.as_millis() as i64;
                inner.index.meta_put(key, &value, expires).await?;
                Ok(value)
            }
            Err(e) => match stale {
                Some(value) => {
                    tracing::warn!(%key, error = %e, "refresh failed; serving the stale value");
                    Ok(value)
                }
                None => Err(StoreError::Fetch(e)),
            },
        }
    }
}
