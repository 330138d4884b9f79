//! Content-addressed blob files under the data dir, written atomically.
//!
//! Every access goes through a cap-std [`Dir`] opened on the data dir, so no path can
//! escape it. A write goes to `tmp/<random>.part` (same filesystem, so the rename is
//! atomic), is fsynced, then renamed to `blobs/<first two hex>/<blake3 hex>` and the
//! folder is fsynced. If a blob with that hash already exists it wins and the temp file
//! is dropped. The writer holds an exclusive `flock` on its temp file for its whole life,
//! which is how reconcile tells a live writer's temp file from a dead one's; with
//! PostgreSQL the file's name also carries a tag naming the advisory lock its writer
//! holds (`flock` is not to be trusted on a network filesystem).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cap_std::fs::{Dir, OpenOptions};

use super::error::{Result, StoreError};
use super::locks::{LockGuard, Locks};

pub const BLOBS: &str = "blobs";
pub const TMP: &str = "tmp";
/// Lock namespace serialising every change to one blob (persist, evict, reconcile).
pub const BLOB_LOCK: &str = "blob";

/// A cached blob: its content hash, size and absolute path. This is the only handle
/// callers get; it never names a temp file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Blob {
    pub hash: String,
    pub size: u64,
    pub path: PathBuf,
}

/// The blob folder and the temp folder of one data dir.
#[derive(Debug)]
pub struct Blobs {
    root: Dir,
    root_path: PathBuf,
}

impl Blobs {
    /// Opens (creating) the data dir's blob and temp folders.
    pub fn open(root_path: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(root_path)?;
        let root_path = root_path.canonicalize()?;
        let root = Dir::open_ambient_dir(&root_path, cap_std::ambient_authority())?;
        root.create_dir_all(BLOBS)?;
        root.create_dir_all(TMP)?;
        Ok(Self { root, root_path })
    }

    pub fn root(&self) -> &Dir {
        &self.root
    }

    pub fn root_path(&self) -> &Path {
        &self.root_path
    }

    /// `blobs/ab/abcdef...`, relative to the data dir.
    pub fn rel_path(hash: &str) -> String {
        format!("{BLOBS}/{}/{hash}", &hash[..2])
    }

    pub fn handle(&self, hash: &str, size: u64) -> Blob {
        Blob {
            hash: hash.to_string(),
            size,
            path: self.root_path.join(Self::rel_path(hash)),
        }
    }

    pub fn exists(&self, hash: &str) -> bool {
        valid_hash(hash) && self.root.is_file(Self::rel_path(hash))
    }

    /// Starts a new temp file, capped at `limit` bytes. `tag` names the lock its
    /// writer holds throughout, where that lock is its liveness (see [`temp_tag`]).
    pub fn writer(&self, limit: u64, tag: Option<&str>) -> Result<BlobWriter> {
        let id = uuid::Uuid::new_v4().simple();
        let name = match tag {
            Some(tag) => format!("{TMP}/{id}.{tag}.part"),
            None => format!("{TMP}/{id}.part"),
        };
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        let file = self.root.open_with(&name, &opts)?.into_std();
        file.lock()?;
        Ok(BlobWriter {
            root: self.root.try_clone()?,
            temp: Some(name),
            file,
            hasher: blake3::Hasher::new(),
            size: 0,
            limit,
        })
    }

    /// Opens a blob to read it.
    pub fn open_blob(&self, hash: &str) -> io::Result<File> {
        Ok(self.root.open(Self::rel_path(hash))?.into_std())
    }

    /// Removes a blob file. The caller holds the blob's lock.
    pub fn remove(&self, hash: &str) -> io::Result<()> {
        match self.root.remove_file(Self::rel_path(hash)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Every file under `blobs/`, as (name, size, modified). Names that are not hashes
    /// are included: they do not belong there either.
    pub fn list(&self) -> io::Result<Vec<(String, u64, SystemTime)>> {
        let mut out = Vec::new();
        for fan in self.root.read_dir(BLOBS)? {
            let fan = fan?;
            let fan_name = fan.file_name().to_string_lossy().into_owned();
            if !fan.file_type()?.is_dir() {
                let meta = fan.metadata()?;
                out.push((fan_name, meta.len(), meta.modified()?.into_std()));
                continue;
            }
            for entry in fan.open_dir()?.entries()? {
                let entry = entry?;
                let meta = entry.metadata()?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let name = if name.starts_with(&fan_name) && valid_hash(&name) {
                    name
                } else {
                    format!("{fan_name}/{name}")
                };
                out.push((name, meta.len(), meta.modified()?.into_std()));
            }
        }
        Ok(out)
    }

    /// Removes a stray entry reported by [`Blobs::list`] whose name is not a hash.
    pub fn remove_stray(&self, name: &str) -> io::Result<()> {
        let path = format!("{BLOBS}/{name}");
        if self.root.is_dir(&path) {
            self.root.remove_dir_all(&path)
        } else {
            self.root.remove_file(&path)
        }
    }

    /// Hashes a blob's content.
    pub fn hash_of(&self, hash: &str) -> io::Result<String> {
        let mut file = self.root.open(Self::rel_path(hash))?.into_std();
        let mut hasher = blake3::Hasher::new();
        io::copy(&mut file, &mut hasher)?;
        Ok(hasher.finalize().to_hex().to_string())
    }

    /// Temp files whose writer is gone (no lock on them) and that are older than
    /// `grace`. The grace covers the instant between a writer creating its file and
    /// locking it. Each comes with its lock, which the caller holds while removing it.
    pub fn dead_temp_files(&self, grace: Duration) -> io::Result<Vec<(String, File)>> {
        let mut out = Vec::new();
        for entry in self.root.read_dir(TMP)? {
            let entry = entry?;
            let name = format!("{TMP}/{}", entry.file_name().to_string_lossy());
            let age = entry
                .metadata()?
                .modified()?
                .into_std()
                .elapsed()
                .unwrap_or_default();
            if age < grace {
                continue;
            }
            let file = match self.root.open(&name) {
                Ok(f) => f.into_std(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if file.try_lock().is_ok() {
                out.push((name, file));
            }
        }
        Ok(out)
    }

    pub fn remove_temp(&self, name: &str) -> io::Result<()> {
        match self.root.remove_file(name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// The lock tag in a temp file's name (`tmp/<id>.<tag>.part`), if it has one.
pub fn temp_tag(name: &str) -> Option<&str> {
    let stem = name.rsplit('/').next()?.strip_suffix(".part")?;
    stem.split_once('.').map(|(_, tag)| tag)
}

pub fn valid_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A blob being written. Dropping it without [`BlobWriter::persist`] removes the temp file.
#[derive(Debug)]
pub struct BlobWriter {
    root: Dir,
    temp: Option<String>,
    file: File,
    hasher: blake3::Hasher,
    size: u64,
    limit: u64,
}

impl BlobWriter {
    pub fn write(&mut self, buf: &[u8]) -> Result<()> {
        let size = self.size + buf.len() as u64;
        if size > self.limit {
            return Err(StoreError::TooLarge { limit: self.limit });
        }
        self.file.write_all(buf)?;
        self.hasher.update(buf);
        self.size = size;
        Ok(())
    }

    pub fn written(&self) -> u64 {
        self.size
    }

    /// A handle that reads the file being written, whatever becomes of its name.
    pub fn reader(&self) -> io::Result<File> {
        let temp = self
            .temp
            .as_deref()
            .expect("temp file present until persisted");
        Ok(self.root.open(temp)?.into_std())
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Makes the blob durable and visible under its hash. Blocking (fsync). Returns the
    /// blob's lock, held so that the caller can index the blob before anyone may
    /// evict or reconcile it.
    pub fn persist(mut self, blobs: &Blobs, locks: &Locks) -> Result<(Blob, LockGuard)> {
        self.file.sync_all()?;
        let hash = self.hasher.finalize().to_hex().to_string();
        let guard = locks.lock(BLOB_LOCK, &hash)?;
        let fan = format!("{BLOBS}/{}", &hash[..2]);
        if !self.root.is_dir(&fan) {
            self.root.create_dir_all(&fan)?;
            sync_dir(&self.root, BLOBS)?;
        }
        let temp = self.temp.take().expect("temp file present until persisted");
        let dest = Blobs::rel_path(&hash);
        if self.root.is_file(&dest) {
            self.root.remove_file(&temp)?;
        } else {
            self.root.rename(&temp, &self.root, &dest)?;
            sync_dir(&self.root, &fan)?;
        }
        Ok((blobs.handle(&hash, self.size), guard))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = self.root.remove_file(temp);
        }
    }
}

/// Fsyncs a folder so a rename into it is durable. (cap-std opens folders with
/// `O_PATH`, which cannot be fsynced; a plain read-only open can.)
fn sync_dir(root: &Dir, rel: &str) -> io::Result<()> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    root.open_with(rel, &opts)?.into_std().sync_all()
}
