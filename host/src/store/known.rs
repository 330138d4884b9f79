//! Index reads remembered in memory, so that a cache hit, or a guild's settings read
//! on every command, skips the database.
//!
//! What is remembered is tagged with the index's [`Generation`]: a value in the data
//! dir's `index-generation` file that every process replaces, once its change has
//! committed, whenever it records a track, deletes a blob or saves a guild's settings.
//! A read looks at the file (one `pread`) and forgets everything remembered when the
//! value moved, so a change in any process is seen by the next read in every other.
//! The generation is read before the database, so a change that commits after that
//! read can only make a remembered value look stale, never keep a stale one alive.
//!
//! With PostgreSQL the processes may share no file system (or one whose caches could
//! hand back a stale file), so the generation moves with the database's own
//! notifications instead: see [`super::pg_changes`]. A change made to the database by
//! other means than this store (a manual edit) is seen after the next change here or
//! a restart.

use std::collections::HashMap;
use std::fs::File;
use std::hash::Hash;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

use cap_std::fs::{Dir, OpenOptions};

use super::Result;
use super::pg_changes::Changes;

/// The generation file, in the data dir.
pub const GENERATION_FILE: &str = "index-generation";
/// Entries remembered at most per kind; all are forgotten when full (each costs one
/// read to learn again).
const MAX_ENTRIES: usize = 65_536;

/// The index's generation, shared by the processes on one data dir (SQLite) or one
/// schema of a database (PostgreSQL).
pub(super) enum Generation {
    /// The data dir's generation file.
    File(File),
    /// Announced and heard through the database.
    Heard(Changes),
}

impl Generation {
    /// The data dir's generation file, created if missing.
    pub fn open(root: &Dir) -> Result<Self> {
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true);
        Ok(Self::File(
            root.open_with(GENERATION_FILE, &opts)?.into_std(),
        ))
    }

    /// The generation now: read before a database read whose result is then given to
    /// [`Remembered::remember`]. `None` when nothing may be remembered now.
    pub fn read(&self) -> Result<Option<u64>> {
        let file = match self {
            Self::File(file) => file,
            Self::Heard(changes) => return Ok(changes.read()),
        };
        let mut bytes = [0u8; 8];
        let mut read = 0;
        while read < bytes.len() {
            match file.read_at(&mut bytes[read..], read as u64)? {
                0 => break, // a new, empty file: generation 0
                n => read += n,
            }
        }
        Ok(Some(u64::from_le_bytes(bytes)))
    }

    /// Moves the generation on, once a change to what is remembered has committed. Any
    /// value other than the current one will do, and a random one cannot collide with
    /// another process's. (A read torn by this write sees a changed value too.)
    pub async fn bump(&self) -> Result<()> {
        match self {
            Self::File(file) => {
                let next = uuid::Uuid::new_v4().as_u64_pair().0;
                file.write_at(&next.to_le_bytes(), 0)?;
                Ok(())
            }
            Self::Heard(changes) => changes.bump().await,
        }
    }
}

/// Values read from the index at one generation.
pub(super) struct Remembered<K, V>(Mutex<State<K, V>>);

struct State<K, V> {
    generation: u64,
    values: HashMap<K, V>,
}

impl<K, V> Default for Remembered<K, V> {
    fn default() -> Self {
        Self(Mutex::new(State {
            generation: 0,
            values: HashMap::new(),
        }))
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Remembered<K, V> {
    /// The value remembered for `key`, unless the index has moved on to `now`.
    pub fn get(&self, key: &K, now: u64) -> Option<V> {
        let mut state = self.0.lock().expect("remembered lock");
        if state.generation != now {
            state.values.clear();
            state.generation = now;
            return None;
        }
        state.values.get(key).cloned()
    }

    /// Remembers `value`, read from the database after generation `seen` was.
    pub fn remember(&self, key: &K, value: &V, seen: u64) {
        let mut state = self.0.lock().expect("remembered lock");
        // If the file moved on since `seen`, the next `get` sees it and forgets this.
        if state.generation != seen || state.values.len() >= MAX_ENTRIES {
            state.values.clear();
            state.generation = seen;
        }
        state.values.insert(key.clone(), value.clone());
    }
}
