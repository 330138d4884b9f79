//! Cross-process locks: advisory file locks (`flock`) on files under `locks/`.
//!
//! Keys are striped over a fixed set of lock files, so the number of files never grows
//! with the number of distinct keys and no lock file is ever deleted (deleting a lock
//! file races with a process that has just opened it). Two keys sharing a stripe only
//! serialise each other briefly. The kernel drops a killed holder's lock, so a waiter
//! takes over.

use std::fs::File;
use std::io;

use cap_std::fs::{Dir, OpenOptions};

/// Stripes per namespace.
const STRIPES: u64 = 1024;

/// The `locks/` folder.
#[derive(Debug)]
pub struct Locks {
    dir: Dir,
}

/// A held lock; released on drop (or by the kernel when the process dies).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl Locks {
    pub fn new(dir: Dir) -> Self {
        Self { dir }
    }

    fn open(&self, name: &str) -> io::Result<File> {
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true);
        Ok(self.dir.open_with(name, &opts)?.into_std())
    }

    fn stripe_name(namespace: &str, key: &str) -> String {
        let h = blake3::hash(key.as_bytes());
        let n = u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes")) % STRIPES;
        format!("{namespace}-{n:03x}.lock")
    }

    /// Blocks until the exclusive lock for `key` in `namespace` is held. Call from a
    /// blocking context (see [`Locks::lock_async`]).
    pub fn lock(&self, namespace: &str, key: &str) -> io::Result<FileLock> {
        let file = self.open(&Self::stripe_name(namespace, key))?;
        file.lock()?;
        Ok(FileLock { _file: file })
    }

    /// Takes the exclusive lock if it is free right now.
    pub fn try_lock(&self, namespace: &str, key: &str) -> io::Result<Option<FileLock>> {
        let file = self.open(&Self::stripe_name(namespace, key))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(FileLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// [`Locks::lock`] on the blocking pool, so async callers never block a worker.
    pub async fn lock_async(&self, namespace: &str, key: &str) -> io::Result<FileLock> {
        let dir = self.dir.try_clone()?;
        let (namespace, key) = (namespace.to_string(), key.to_string());
        tokio::task::spawn_blocking(move || Locks { dir }.lock(&namespace, &key))
            .await
            .map_err(io::Error::other)?
    }
}
