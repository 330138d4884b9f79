//! Cross-process locks, named by a namespace and a key.
//!
//! - With the embedded SQLite database: advisory file locks (`flock`) on files under
//!   `locks/`. Keys are striped over a fixed set of lock files, so the number of files
//!   never grows with the number of distinct keys and no lock file is ever deleted
//!   (deleting a lock file races with a process that has just opened it). Two keys
//!   sharing a stripe only serialise each other briefly. The kernel drops a killed
//!   holder's lock, so a waiter takes over.
//! - With PostgreSQL: the server's session advisory locks (see `advisory`),
//!   which hold across hosts sharing the data dir on a network filesystem, where `flock`
//!   cannot be trusted. The server drops a dead holder's locks with its connection.

use std::fs::File;
use std::io;

use cap_std::fs::{Dir, OpenOptions};

use super::advisory::{PgLock, PgLocks};
use super::error::{Result, StoreError};

/// Stripes per namespace.
const STRIPES: u64 = 1024;

/// Where a store's locks live.
#[derive(Debug)]
pub enum Locks {
    /// The data dir's `locks/` folder.
    Files(Dir),
    Postgres(PgLocks),
}

/// A held lock; released on drop (or when the process dies).
#[derive(Debug)]
pub enum LockGuard {
    File(File),
    Postgres(PgLock),
}

impl Locks {
    fn open(dir: &Dir, name: &str) -> io::Result<File> {
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true);
        Ok(dir.open_with(name, &opts)?.into_std())
    }

    fn stripe_name(namespace: &str, key: &str) -> String {
        let h = blake3::hash(key.as_bytes());
        let n = u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes")) % STRIPES;
        format!("{namespace}-{n:03x}.lock")
    }

    /// Blocks until the exclusive lock for `key` in `namespace` is held. Call from a
    /// blocking context (see [`Locks::lock_async`]).
    pub fn lock(&self, namespace: &str, key: &str) -> Result<LockGuard> {
        match self {
            Self::Files(dir) => {
                let file = Self::open(dir, &Self::stripe_name(namespace, key))?;
                file.lock()?;
                Ok(LockGuard::File(file))
            }
            Self::Postgres(pg) => tokio::runtime::Handle::current()
                .block_on(pg.lock(namespace, key))
                .map(LockGuard::Postgres),
        }
    }

    /// Takes the exclusive lock if it is free right now.
    pub async fn try_lock(&self, namespace: &str, key: &str) -> Result<Option<LockGuard>> {
        match self {
            Self::Files(dir) => {
                let file = Self::open(dir, &Self::stripe_name(namespace, key))?;
                match file.try_lock() {
                    Ok(()) => Ok(Some(LockGuard::File(file))),
                    Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                    Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
                }
            }
            Self::Postgres(pg) => Ok(pg.try_lock(namespace, key).await?.map(LockGuard::Postgres)),
        }
    }

    /// Waits for the exclusive lock without blocking a worker thread.
    pub async fn lock_async(&self, namespace: &str, key: &str) -> Result<LockGuard> {
        match self {
            Self::Files(dir) => {
                let dir = Locks::Files(dir.try_clone()?);
                let (namespace, key) = (namespace.to_string(), key.to_string());
                tokio::task::spawn_blocking(move || dir.lock(&namespace, &key))
                    .await
                    .map_err(|e| StoreError::Aborted(e.to_string()))?
            }
            Self::Postgres(pg) => pg.lock(namespace, key).await.map(LockGuard::Postgres),
        }
    }

    /// A tag naming `key`'s lock, for a file written under that lock whose liveness
    /// is the lock (PostgreSQL); None with files, where the writer `flock`s the file.
    pub fn tag(&self, namespace: &str, key: &str) -> Option<String> {
        match self {
            Self::Files(_) => None,
            Self::Postgres(pg) => Some(format!("{:016x}", pg.id(namespace, key))),
        }
    }

    /// Whether the lock a [`Locks::tag`] names is held by anyone (false for a tag this
    /// store cannot have made).
    pub async fn tag_held(&self, tag: &str) -> Result<bool> {
        let (Self::Postgres(pg), Ok(id)) = (self, u64::from_str_radix(tag, 16)) else {
            return Ok(false);
        };
        pg.is_held(id as i64).await
    }
}
