//! Reconcile: make the blob files and the index agree again after a crash or outside
//! damage, safely while other processes keep fetching.
//!
//! - Temp files are removed only when no writer holds their lock (and they are older
//!   than `temp_grace_secs`, covering the instant between create and lock): the file's
//!   `flock`, and with PostgreSQL the advisory lock its name's tag names.
//! - A blob file without a row, or a row without a file, is re-checked under the blob's
//!   lock, which a writer holds from rename until its row is written: a live writer's
//!   fresh blob is never mistaken for an orphan.
//! - `deep` re-hashes every blob; a corrupt blob loses its row and file on repair
//!   unless it is leased (then it is reported and left for its holder to finish).

use std::collections::HashMap;

use super::blobs::{BLOB_LOCK, temp_tag, valid_hash};
use super::{Result, Store, StoreError, now_ms};

/// Counts of problems found (and fixed, when repairing).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub temp_files: u64,
    pub orphan_files: u64,
    pub missing_blobs: u64,
    pub corrupt: u64,
    pub checked_blobs: u64,
    pub repaired: bool,
}

impl Report {
    pub fn problems(&self) -> u64 {
        self.temp_files + self.orphan_files + self.missing_blobs + self.corrupt
    }
}

impl Store {
    pub async fn reconcile(&self, deep: bool, repair: bool) -> Result<Report> {
        let inner = &self.inner;
        let mut report = Report {
            repaired: repair,
            ..Report::default()
        };

        let store = self.clone();
        let grace = inner.config.temp_grace();
        let unlocked = blocking(move || Ok(store.inner.blobs.dead_temp_files(grace)?)).await?;
        for (name, _file_lock) in unlocked {
            // With PostgreSQL, the writer's lock on the server decides too. A new writer
            // never reuses a name, so the lock need not be held while removing.
            if let Some(tag) = temp_tag(&name)
                && inner.locks.tag_held(tag).await?
            {
                continue;
            }
            report.temp_files += 1;
            if repair {
                inner.blobs.remove_temp(&name)?;
            }
        }

        let rows: HashMap<String, u64> = inner
            .index
            .blobs()
            .await?
            .into_iter()
            .map(|b| (b.hash, b.size))
            .collect();
        let store = self.clone();
        let files = blocking(move || Ok(store.inner.blobs.list()?)).await?;
        let on_disk: HashMap<String, u64> = files
            .iter()
            .map(|(n, size, _)| (n.clone(), *size))
            .collect();

        for (name, _, _) in &files {
            if !valid_hash(name) {
                report.orphan_files += 1;
                if repair {
                    inner.blobs.remove_stray(name)?;
                }
                continue;
            }
            if rows.contains_key(name) {
                continue;
            }
            let _lock = inner.locks.lock_async(BLOB_LOCK, name).await?;
            if inner.index.blob_exists(name).await? || !inner.blobs.exists(name) {
                continue; // a writer finished (or another reconcile removed it)
            }
            report.orphan_files += 1;
            if repair {
                inner.blobs.remove(name)?;
            }
        }

        for (hash, size) in &rows {
            let healthy = match on_disk.get(hash) {
                None => None,
                Some(disk_size) if disk_size != size => Some(false),
                Some(_) if deep => {
                    let store = self.clone();
                    let h = hash.clone();
                    let actual = blocking(move || Ok(store.inner.blobs.hash_of(&h)?)).await?;
                    Some(&actual == hash)
                }
                Some(_) => Some(true),
            };
            report.checked_blobs += 1;
            match healthy {
                Some(true) => {}
                None => {
                    let _lock = inner.locks.lock_async(BLOB_LOCK, hash).await?;
                    if inner.blobs.exists(hash) || !inner.index.blob_exists(hash).await? {
                        continue;
                    }
                    report.missing_blobs += 1;
                    if repair {
                        inner.index.delete_blob(hash).await?;
                        self.index_changed().await?;
                    }
                }
                Some(false) => {
                    report.corrupt += 1;
                    if repair {
                        let _lock = inner.locks.lock_async(BLOB_LOCK, hash).await?;
                        if inner.index.delete_blob_unleased(hash, now_ms()).await? {
                            self.index_changed().await?;
                            inner.blobs.remove(hash)?;
                        } else {
                            tracing::warn!(%hash, "corrupt blob is leased; left in place");
                        }
                    }
                }
            }
        }
        if report.problems() > 0 {
            tracing::info!(?report, "reconcile");
        }
        Ok(report)
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Aborted(e.to_string()))?
}
