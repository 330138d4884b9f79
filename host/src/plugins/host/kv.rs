//! `minstrel:plugin/kv`: a small store private to each plugin, with TTLs and a quota.
//!
//! In memory, per plugin name, shared by every call and kept across reloads of the
//! file. Durable kv belongs in the store's database once it exposes a namespaced
//! key-value table; the interface would not change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::plugins::api::v0_1_0::kv::Host;
use crate::plugins::state::CallState;

/// Longest key, in bytes.
pub const MAX_KEY: usize = 256;
/// Largest value, in bytes.
pub const MAX_VALUE: usize = 64 << 10;

/// One plugin's entries.
#[derive(Clone, Default)]
pub struct KvSpace {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
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
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("kv lock");
        match entries.get(key) {
            Some(entry) if entry.live(now) => Some(entry.value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn set(
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
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("kv lock");
        if !entries.contains_key(key) && entries.len() >= quota as usize {
            entries.retain(|_, entry| entry.live(now));
            if entries.len() >= quota as usize {
                return Err(format!("kv quota of {quota} entries reached"));
            }
        }
        let expires = ttl.map(|ttl| now + ttl);
        entries.insert(key.to_string(), Entry { value, expires });
        Ok(())
    }

    pub fn delete(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("kv lock");
        entries.remove(key).is_some_and(|entry| entry.live(now))
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        let entries = self.entries.lock().expect("kv lock");
        entries.values().filter(|entry| entry.live(now)).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Host for CallState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        self.enter("kv")?;
        Ok(Ok(self.plugin.kv.get(&key)))
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
        Ok(self.plugin.kv.set(&key, value, ttl, quota))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, String>> {
        self.enter("kv")?;
        Ok(Ok(self.plugin.kv.delete(&key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_expires_and_quota_counts_live_entries() {
        let kv = KvSpace::default();
        kv.set("a", b"1".to_vec(), Some(Duration::from_millis(1)), 2)
            .unwrap();
        kv.set("b", b"2".to_vec(), None, 2).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(kv.get("a"), None);
        // "a" expired, so a third key fits in a quota of two.
        kv.set("c", b"3".to_vec(), None, 2).unwrap();
        assert!(kv.set("d", b"4".to_vec(), None, 2).is_err());
        assert_eq!(kv.get("b").as_deref(), Some(&b"2"[..]));
        assert!(kv.delete("b") && !kv.delete("b"));
    }
}
