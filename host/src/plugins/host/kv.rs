//! `minstrel:plugin/kv`: a small store private to each plugin, with TTLs and a quota.
//!
//! In the bot the entries live in the store's database (table `kv`): they survive
//! restarts and reloads, and every process on the database sees the same ones, with the
//! quota held across them. A plugin host without a store (`plugin check`, tests of the
//! runtime alone) keeps them in memory instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::plugins::state::CallState;
use crate::store::Store;

/// Longest key, in bytes.
pub const MAX_KEY: usize = 256;
/// Largest value, in bytes.
pub const MAX_VALUE: usize = 64 << 10;

/// One plugin's entries.
#[derive(Clone)]
pub struct KvSpace {
    plugin: String,
    entries: Entries,
}

#[derive(Clone)]
enum Entries {
    Memory(Arc<Mutex<HashMap<String, Entry>>>),
    Store(Store),
}

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

impl KvSpace {
    /// `plugin`'s entries: in `store` when there is one, else in memory.
    pub fn new(plugin: &str, store: Option<Store>) -> Self {
        let entries = match store {
            Some(store) => Entries::Store(store),
            None => Entries::Memory(Arc::default()),
        };
        Self {
            plugin: plugin.to_string(),
            entries,
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        match &self.entries {
            Entries::Store(store) => store.kv_get(&self.plugin, key).await.map_err(unavailable),
            Entries::Memory(entries) => {
                let mut entries = entries.lock().expect("kv lock");
                match entries.get(key) {
                    Some(entry) if entry.live(Instant::now()) => Ok(Some(entry.value.clone())),
                    Some(_) => {
                        entries.remove(key);
                        Ok(None)
                    }
                    None => Ok(None),
                }
            }
        }
    }

    pub async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
        quota: u32,
    ) -> Result<(), String> {
        if key.len() > MAX_KEY {
            return Err(format!("key longer than {MAX_KEY} bytes"));
        }
        if value.len() > MAX_VALUE {
            return Err(format!("value larger than {MAX_VALUE} bytes"));
        }
        let stored = match &self.entries {
            Entries::Store(store) => store
                .kv_set(&self.plugin, key, &value, ttl, quota)
                .await
                .map_err(unavailable)?,
            Entries::Memory(entries) => {
                let now = Instant::now();
                let mut entries = entries.lock().expect("kv lock");
                let full =
                    |e: &HashMap<String, Entry>| !e.contains_key(key) && e.len() >= quota as usize;
                // Expired entries are swept only when they might be what fills the quota.
                if full(&entries) {
                    entries.retain(|_, entry| entry.live(now));
                }
                let fits = !full(&entries);
                if fits {
                    let expires = ttl.map(|ttl| now + ttl);
                    entries.insert(key.to_string(), Entry { value, expires });
                }
                fits
            }
        };
        match stored {
            true => Ok(()),
            false => Err(format!("kv quota of {quota} entries reached")),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<bool, String> {
        match &self.entries {
            Entries::Store(store) => store
                .kv_delete(&self.plugin, key)
                .await
                .map_err(unavailable),
            Entries::Memory(entries) => {
                let mut entries = entries.lock().expect("kv lock");
                Ok(entries
                    .remove(key)
                    .is_some_and(|entry| entry.live(Instant::now())))
            }
        }
    }
}

/// What a plugin is told when the database fails (the details go to the log).
fn unavailable(error: crate::store::StoreError) -> String {
    tracing::warn!(%error, "kv: the store failed");
    "kv is unavailable right now".to_string()
}

/// The interface is the same in every served version: one implementation, per version.
macro_rules! serve {
    ($v:ident) => {
        mod $v {
            use super::*;
            use crate::plugins::api::$v::kv::Host;

            impl Host for CallState {
                async fn get(
                    &mut self,
                    key: String,
                ) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
                    self.enter("kv")?;
                    Ok(self.plugin.kv.get(&key).await)
                }

                async fn set(
                    &mut self,
                    key: String,
                    value: Vec<u8>,
                    ttl_seconds: Option<u32>,
                ) -> wasmtime::Result<Result<(), String>> {
                    self.enter("kv")?;
                    let ttl = ttl_seconds.map(|s| Duration::from_secs(s.into()));
                    let quota = self.plugin.grant.kv_quota;
                    Ok(self.plugin.kv.set(&key, value, ttl, quota).await)
                }

                async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, String>> {
                    self.enter("kv")?;
                    Ok(self.plugin.kv.delete(&key).await)
                }
            }
        }
    };
}

serve!(v0_1_0);
serve!(v0_2_0);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ttl_expires_and_quota_counts_live_entries() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Default::default()).await.unwrap();
        for kv in [KvSpace::new("p", None), KvSpace::new("p", Some(store))] {
            kv.set("a", b"1".to_vec(), Some(Duration::from_millis(1)), 2)
                .await
                .unwrap();
            kv.set("b", b"2".to_vec(), None, 2).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert_eq!(kv.get("a").await.unwrap(), None);
            // "a" expired, so a third key fits in a quota of two.
            kv.set("c", b"3".to_vec(), None, 2).await.unwrap();
            assert!(kv.set("d", b"4".to_vec(), None, 2).await.is_err());
            // Replacing an existing key is not a new entry.
            kv.set("c", b"33".to_vec(), None, 2).await.unwrap();
            assert_eq!(kv.get("c").await.unwrap().as_deref(), Some(&b"33"[..]));
            assert_eq!(kv.get("b").await.unwrap().as_deref(), Some(&b"2"[..]));
            assert!(kv.delete("b").await.unwrap() && !kv.delete("b").await.unwrap());
        }
    }
}
