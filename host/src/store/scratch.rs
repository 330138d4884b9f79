//! Per-guild scratch folders for transient files (conversions, downloads in progress
//! of other tools). They live in `scratch/<guild>/`, apart from cached blobs, and are
//! swept once a guild has been idle for `scratch_idle_secs`.
//!
//! With a PostgreSQL store each host has its own folder under `scratch/` (see
//! [`folder`]).
//!
//! An active [`Scratch`] holds a shared lock on `scratch/<guild>.lock` (a file that is
//! never deleted); the sweeper removes a folder only while holding that lock
//! exclusively, so it never pulls a folder from under a user, in any process.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cap_std::fs::OpenOptions;

use super::{Result, Store, StoreError};

pub const SCRATCH: &str = "scratch";

/// The scratch folder under the data dir: `scratch/`, or `scratch/<host name>/` when
/// the data dir may be shared by several hosts (a PostgreSQL store), because a
/// network filesystem's `flock` cannot keep one host's sweeper off another's folders,
/// and scratch files are only ever used where they were made.
pub fn folder(shared_by_hosts: bool) -> String {
    if !shared_by_hosts {
        return SCRATCH.to_string();
    }
    let mut name = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it
    // or truncates, and the last byte stays 0.
    let ok = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len() - 1) } == 0;
    let host: String = String::from_utf8_lossy(name.split(|&b| b == 0).next().unwrap_or_default())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .collect();
    let host = if ok && !host.is_empty() && host != "." && host != ".." {
        host
    } else {
        "host".to_string()
    };
    format!("{SCRATCH}/{host}")
}
const LAST_USE: &str = ".last-use";

/// A guild's scratch folder, in use while this value lives.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
    _lock: File,
}

impl Scratch {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // The idle clock starts when the last user leaves.
        let _ = std::fs::write(self.path.join(LAST_USE), b"");
    }
}

impl Store {
    /// The scratch folder of `guild`, created if needed.
    pub async fn scratch(&self, guild: u64) -> Result<Scratch> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let dir = &store.inner.scratch;
            let lock = dir
                .open_with(format!("{guild}.lock"), &lock_options())?
                .into_std();
            lock.lock_shared()?;
            dir.create_dir_all(guild.to_string())?;
            let path = store.scratch_root().join(guild.to_string());
            std::fs::write(path.join(LAST_USE), b"")?;
            Ok(Scratch { path, _lock: lock })
        })
        .await
        .map_err(|e| StoreError::Aborted(e.to_string()))?
    }

    /// Removes the scratch folders of guilds idle for at least `idle`; returns how many.
    pub async fn sweep_scratch(&self, idle: Duration) -> Result<u64> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let dir = &store.inner.scratch;
            let mut swept = 0;
            for entry in dir.entries()? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if !entry.file_type()?.is_dir() || name.parse::<u64>().is_err() {
                    continue;
                }
                let lock = dir.open_with(format!("{name}.lock"), &lock_options())?;
                let lock = lock.into_std();
                if lock.try_lock().is_err() {
                    continue; // in use
                }
                let last_use = match dir.metadata(format!("{name}/{LAST_USE}")) {
                    Ok(m) => m.modified()?,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        entry.metadata()?.modified()?
                    }
                    Err(e) => return Err(e.into()),
                };
                if last_use.into_std().elapsed().unwrap_or_default() >= idle {
                    dir.remove_dir_all(&name)?;
                    swept += 1;
                }
            }
            Ok(swept)
        })
        .await
        .map_err(|e| StoreError::Aborted(e.to_string()))?
    }
}

fn lock_options() -> OpenOptions {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true);
    opts
}
