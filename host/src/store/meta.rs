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

    /// The cached value for `key` if it has not expired; never refreshes.
    pub async fn fresh_meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(match self.inner.index.meta_get(key).await? {
            Some((value, expires)) if expires > now_ms() => Some(value),
            _ => None,
        })
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
            Some(value) => match inner.locks.try_lock(META_LOCK, key).await? {
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::config::StoreConfig;

    async fn store(dir: &std::path::Path, keep_stale_secs: u64) -> Store {
        let config = StoreConfig {
            lease_ttl_secs: 1, // the keeper, which purges, runs every third of this
            meta_keep_stale_secs: keep_stale_secs,
            ..StoreConfig::default()
        };
        Store::open(dir, config).await.unwrap()
    }

    async fn put(store: &Store, key: &str) {
        let value = store
            .cached_meta(key, Duration::from_millis(1), || async {
                Ok(b"v".to_vec())
            })
            .await
            .unwrap();
        assert_eq!(value, b"v");
    }

    #[tokio::test]
    async fn the_keeper_purges_expired_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), 0).await;
        put(&store, "search:a").await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while store
            .inner
            .index
            .meta_get("search:a")
            .await
            .unwrap()
            .is_some()
        {
            assert!(
                Instant::now() < deadline,
                "the expired entry was never purged"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn a_stale_entry_is_kept_for_its_window_and_still_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), 3600).await;
        put(&store, "search:b").await;
        let index = &store.inner.index;
        let now = now_ms() + 1000;
        index.purge_expired(now, now - 3_600_000).await.unwrap();
        assert!(index.meta_get("search:b").await.unwrap().is_some());
        let served = store
            .cached_meta("search:b", Duration::from_secs(60), || async {
                Err("offline".to_string())
            })
            .await
            .unwrap();
        assert_eq!(served, b"v");
        index.purge_expired(now, now).await.unwrap();
        assert!(index.meta_get("search:b").await.unwrap().is_none());
    }
}
