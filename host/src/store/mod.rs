//! The cache store: everything that must stay correct when many tasks and many
//! processes share one data dir.
//!
//! - [`key`]: canonical `(source, id)` track keys and YouTube id extraction.
//! - [`access`]: cache hits counted in memory and written in batches.
//! - [`known`]: index reads remembered in memory, so that a hit skips the database;
//!   [`pg_changes`]: how processes on PostgreSQL tell each other to forget them.
//! - `claims`: event claims, group-committed.
//! - [`blobs`]: content-addressed files, written atomically through a cap-std `Dir`.
//! - [`index`]: the database seam ([`Index`]); [`sqlite`] is the embedded backend,
//!   [`postgres`] the shared one (`[store] database_url`).
//! - [`locks`]: cross-process locks: striped file locks, or PostgreSQL advisory locks.
//! - [`flights`]: in-process single-flight; [`filling`]: fills followed as they happen.
//! - [`leases`]: blobs in use, renewed by their holder, respected by eviction.
//! - [`evict`], [`reconcile`], [`scratch`], [`meta`] (TTL metadata cache).
//!
//! A fetch goes: index hit? -> join or start the in-process flight for the key -> take
//! the key's file lock (other processes) -> index hit again? -> run the fetcher into a
//! temp file -> persist under the blob's lock -> index -> release.

pub mod access;
pub mod advisory;
pub mod blobs;
mod claims;
pub mod error;
pub mod evict;
pub mod fetcher;
pub mod filling;
pub mod flights;
pub mod index;
pub mod key;
pub mod known;
pub mod leases;
pub mod locks;
pub mod meta;
pub mod migrate;
pub mod pg_changes;
pub mod postgres;
pub mod reconcile;
mod records;
pub mod scratch;
pub mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use cap_std::fs::Dir;

pub use blobs::Blob;
pub use error::{Result, StoreError};
pub use fetcher::{BlobSink, Fetch};
pub use filling::Follower;
pub use index::{Index, IndexStats, LoudnessRow, TimerRow};
pub use key::TrackKey;
pub use leases::Lease;
pub use reconcile::Report;
pub use scratch::Scratch;

use crate::config::StoreConfig;
use blobs::Blobs;
use flights::Flights;
use locks::Locks;

/// Lock namespace for fetches, keyed by track key.
pub const KEY_LOCK: &str = "key";
const DB_FILE: &str = "minstrel.db";

/// The result of [`Store::get_or_fetch`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fetched {
    #[serde(flatten)]
    pub blob: Blob,
    /// True when the blob was already cached, false when this request (or a request it
    /// joined) downloaded it.
    pub hit: bool,
}

/// Store statistics for `minstrel cache stats`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stats {
    #[serde(flatten)]
    pub index: IndexStats,
    pub max_cache_bytes: u64,
    pub flights_in_progress: usize,
    /// Lookups by `get_or_fetch` in this process since it opened the store: found in
    /// the cache, or not.
    pub process_hits: u64,
    pub process_misses: u64,
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    config: StoreConfig,
    index: Arc<dyn Index>,
    blobs: Blobs,
    locks: Locks,
    scratch: Dir,
    /// Absolute path of `scratch`.
    scratch_root: PathBuf,
    flights: Flights<TrackKey, (Fetched, Arc<Lease>)>,
    meta_flights: Flights<String, Vec<u8>>,
    fillings: filling::Fillings,
    /// Identifies this store instance's leases in the database.
    holder: String,
    /// Stops the keeper (see [`Store::close`]).
    closed: tokio_util::sync::CancellationToken,
    /// Writes claims (see `claims`).
    claimer: claims::Claimer,
    /// Hits not yet written to the index (see [`access`]).
    accesses: access::Pending,
    /// The index's generation, and what was read at it (see [`known`]).
    generation: known::Generation,
    cached_rows: known::Remembered<TrackKey, Option<index::BlobRow>>,
    settings_rows: known::Remembered<u64, Option<String>>,
    /// See [`Stats::process_hits`].
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

impl Store {
    /// Opens the store in `data_dir` (created if missing): its index in the data dir's
    /// SQLite database, or in PostgreSQL when `config.database_url` names one (then
    /// the cross-process locks are the server's advisory locks too).
    pub async fn open(data_dir: &Path, config: StoreConfig) -> Result<Self> {
        let blobs = Blobs::open(data_dir)?;
        let root = blobs.root();
        let scratch_rel = scratch::folder(config.database_url.is_some());
        root.create_dir_all(&scratch_rel)?;
        let scratch = root.open_dir(&scratch_rel)?;
        let (index, locks, generation): (Arc<dyn Index>, Locks, _) = match &config.database_url {
            None => {
                root.create_dir_all("locks")?;
                let locks = Locks::Files(root.open_dir("locks")?);
                let db_path = blobs.root_path().join(DB_FILE);
                let index = sqlite::SqliteIndex::open(&db_path, &locks).await?;
                (Arc::new(index), locks, known::Generation::open(root)?)
            }
            Some(url) if postgres::is_postgres_url(url) => {
                let (index, locks) = postgres::PgIndex::open(url).await?;
                let generation = known::Generation::Heard(index.changes());
                (Arc::new(index), Locks::Postgres(locks), generation)
            }
            Some(_) => {
                return Err(StoreError::Config(
                    "store.database_url must be a postgres:// URL (leave it unset for the \
                     embedded SQLite database)"
                        .into(),
                ));
            }
        };
        let scratch = (scratch, blobs.root_path().join(scratch_rel));
        Ok(Self::with_index(
            config, index, blobs, locks, scratch, generation,
        ))
    }

    fn with_index(
        config: StoreConfig,
        index: Arc<dyn Index>,
        blobs: Blobs,
        locks: Locks,
        (scratch, scratch_root): (Dir, PathBuf),
        generation: known::Generation,
    ) -> Self {
        let claimer =
            claims::Claimer::spawn(Arc::clone(&index), config.claim_ttl().as_millis() as i64);
        let store = Self {
            inner: Arc::new(Inner {
                config,
                index,
                blobs,
                locks,
                scratch,
                scratch_root,
                flights: Flights::default(),
                meta_flights: Flights::default(),
                fillings: Default::default(),
                holder: uuid::Uuid::new_v4().to_string(),
                closed: Default::default(),
                claimer,
                accesses: Default::default(),
                generation,
                cached_rows: Default::default(),
                settings_rows: Default::default(),
                hits: Default::default(),
                misses: Default::default(),
            }),
        };
        leases::spawn_keeper(&store);
        access::spawn_flusher(&store);
        store
    }

    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    pub fn data_dir(&self) -> &Path {
        self.inner.blobs.root_path()
    }

    /// Stops the keeper task (lease renewal, purges, scratch sweeps) and the fetches in
    /// flight (their callers get an error; a dead fetch's temp file is swept by the next
    /// reconcile), and writes the pending cache accesses. The store still answers calls;
    /// its leases lapse at their expiry unless released. Called once the host has
    /// stopped playing.
    pub async fn close(&self) {
        self.inner.closed.cancel();
        self.inner.flights.abort_all();
        self.inner.meta_flights.abort_all();
        if let Err(e) = self.flush_accesses().await {
            tracing::warn!(error = %e, "writing cache access counts at close failed");
        }
    }

    /// The database seam itself, for benchmarks of a backend. Host code uses `Store`'s
    /// methods (`records.rs` for the small records), never the index directly.
    pub fn index(&self) -> &dyn Index {
        &*self.inner.index
    }

    /// The cached blob for `key`, if any (counts as an access, written later: see
    /// [`access`]). One read, hit or miss; a key seen before skips the database (see
    /// [`known`]).
    pub async fn lookup(&self, key: &TrackKey) -> Result<Option<Blob>> {
        let Some(row) = self.indexed(key).await? else {
            return Ok(None);
        };
        self.inner.accesses.add(key, now_ms());
        // A row whose file vanished (damage from outside) is a miss; the next fetch
        // re-records the track and reconcile removes the stale row.
        Ok(self
            .inner
            .blobs
            .exists(&row.hash)
            .then(|| self.inner.blobs.handle(&row.hash, row.size)))
    }

    /// The blob `key` maps to in the index, remembered or read.
    async fn indexed(&self, key: &TrackKey) -> Result<Option<index::BlobRow>> {
        let read = self.inner.index.peek(key);
        self.remembered(&self.inner.cached_rows, key, Option::is_some, read)
            .await
    }

    /// What `read` reads from the index for `key`, or what was remembered of it at the
    /// index's generation (see [`known`]); `keep` says which values to remember.
    async fn remembered<K, V>(
        &self,
        values: &known::Remembered<K, V>,
        key: &K,
        keep: impl Fn(&V) -> bool,
        read: impl std::future::Future<Output = Result<V>>,
    ) -> Result<V>
    where
        K: Eq + std::hash::Hash + Clone,
        V: Clone,
    {
        let Some(seen) = self.inner.generation.read()? else {
            return read.await;
        };
        if let Some(value) = values.get(key, seen) {
            return Ok(value);
        }
        let value = read.await?;
        if keep(&value) {
            values.remember(key, &value, seen);
        }
        Ok(value)
    }

    /// Whether index reads are remembered now: always with SQLite; with PostgreSQL
    /// while other processes' changes can be heard (see [`pg_changes`]).
    pub fn remembering(&self) -> Result<bool> {
        Ok(self.inner.generation.read()?.is_some())
    }

    /// Tells every process that what it remembers may be stale (see [`known`]):
    /// called once a change to tracks, blobs or guild settings has committed.
    async fn index_changed(&self) -> Result<()> {
        self.inner.generation.bump().await
    }

    /// The blob for `key`, running `fetcher` only if it is not cached. However many
    /// callers ask at once, in this process or others sharing the data dir, the fetcher
    /// runs once; a failure reaches every waiter and leaves nothing behind.
    pub async fn get_or_fetch<F: Fetch>(&self, key: &TrackKey, fetcher: F) -> Result<Fetched> {
        if let Some(blob) = self.hit(key).await? {
            return Ok(Fetched { blob, hit: true });
        }
        let (fetched, held) = self.fly(key, fetcher).await?;
        let_go(held).await?;
        Ok(fetched)
    }

    /// [`Store::get_or_fetch`] and a lease on the result. A blob evicted between the
    /// lookup and the lease is fetched again, through the flight, which hands its
    /// blob out already leased: so this never fails with `Evicted`, however hard
    /// eviction presses.
    pub async fn acquire<F: Fetch>(&self, key: &TrackKey, fetcher: F) -> Result<(Fetched, Lease)> {
        if let Some(blob) = self.hit(key).await? {
            match self.lease(&blob).await {
                Ok(lease) => return Ok((Fetched { blob, hit: true }, lease)),
                Err(StoreError::Evicted(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let (fetched, held) = self.fly(key, fetcher).await?;
        // The flight's lease lives until `held` drops, so eviction cannot come between.
        let lease = self.lease(&fetched.blob).await?;
        let_go(held).await?;
        Ok((fetched, lease))
    }

    /// [`Store::acquire`] in the background, and a reader of the blob's bytes as they
    /// arrive: from this process's fill while it fetches the key, else from the cached
    /// blob once it is there (fetched by another process, or cached already).
    pub fn follow<F: Fetch>(
        &self,
        key: &TrackKey,
        fetcher: F,
    ) -> (Follower, tokio::task::JoinHandle<Result<(Fetched, Lease)>>) {
        let filling = self.inner.fillings.get(key);
        let follower = filling.follow();
        let (store, key) = (self.clone(), key.clone());
        let task = tokio::spawn(async move {
            let result = store.acquire(&key, fetcher).await;
            // A hit wrote nothing into the fill: its followers read the blob (leased).
            match &result {
                Ok((fetched, _)) => {
                    let opened = store.inner.blobs.open_blob(&fetched.blob.hash);
                    if let Err(e) = opened.and_then(|file| filling.cached(file)) {
                        filling.failed(e.to_string());
                    }
                }
                Err(e) => filling.failed(e.to_string()),
            }
            result
        });
        (follower, task)
    }

    /// A cache hit for `key`, counted as one (or as a miss).
    async fn hit(&self, key: &TrackKey) -> Result<Option<Blob>> {
        use std::sync::atomic::Ordering::Relaxed;
        let blob = self.lookup(key).await?;
        if blob.is_some() {
            self.inner.hits.fetch_add(1, Relaxed);
            metrics::counter!(crate::metrics::CACHE_HITS).increment(1);
        } else {
            self.inner.misses.fetch_add(1, Relaxed);
            metrics::counter!(crate::metrics::CACHE_MISSES).increment(1);
        }
        Ok(blob)
    }

    /// Joins or starts the flight for `key`. Its blob comes with the flight's lease,
    /// shared by every waiter and released once the last of them lets go.
    async fn fly<F: Fetch>(&self, key: &TrackKey, fetcher: F) -> Result<(Fetched, Arc<Lease>)> {
        let store = self.clone();
        let flight_key = key.clone();
        let (result, _) = self
            .inner
            .flights
            .run(key.clone(), move || async move {
                store.fetch_locked(&flight_key, fetcher).await
            })
            .await;
        result
    }

    /// The leader of a flight: serialise with other processes, re-check, fetch; the
    /// blob is leased before anyone may evict it.
    async fn fetch_locked<F: Fetch>(
        &self,
        key: &TrackKey,
        fetcher: F,
    ) -> Result<(Fetched, Arc<Lease>)> {
        let inner = &self.inner;
        let fill = Fill {
            fillings: &inner.fillings,
            key,
            filling: inner.fillings.get(key),
        };
        let _key_lock = inner.locks.lock_async(KEY_LOCK, &key.to_string()).await?;
        if let Some(blob) = self.lookup(key).await? {
            match self.lease(&blob).await {
                Ok(lease) => {
                    fill.filling.cached(inner.blobs.open_blob(&blob.hash)?)?;
                    return Ok((Fetched { blob, hit: true }, Arc::new(lease)));
                }
                Err(StoreError::Evicted(_)) => {} // gone since the lookup: fetch it again
                Err(e) => return Err(e),
            }
        }
        // The temp file is named after the key lock, held until it is renamed, so that
        // reconcile on another host spares it (see `reconcile`).
        let tag = inner.locks.tag(KEY_LOCK, &key.to_string());
        let writer = inner
            .blobs
            .writer(inner.config.max_fetch_bytes, tag.as_deref())?;
        fill.filling.writing(writer.reader()?);
        let mut sink = BlobSink::new(writer, Some(Arc::clone(&fill.filling)));
        let limit = inner.config.fetch_timeout();
        let started = std::time::Instant::now();
        let fetched = match tokio::time::timeout(limit, fetcher.fetch(&mut sink)).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Timeout(limit)),
        };
        let kind = fetcher.kind();
        let outcome = crate::metrics::outcome(&fetched);
        metrics::counter!(crate::metrics::FETCHES, "kind" => kind, "outcome" => outcome)
            .increment(1);
        if let Err(e) = &fetched {
            fill.filling.failed(e.to_string());
        }
        fetched?;
        metrics::counter!(crate::metrics::FETCH_BYTES, "kind" => kind).increment(sink.written());
        metrics::histogram!(crate::metrics::FETCH_SECONDS, "kind" => kind)
            .record(started.elapsed().as_secs_f64());
        let store = self.clone();
        let (blob, blob_lock) = tokio::task::spawn_blocking(move || {
            sink.into_writer()
                .persist(&store.inner.blobs, &store.inner.locks)
        })
        .await
        .map_err(|e| StoreError::Aborted(e.to_string()))??;
        let row = index::BlobRow {
            hash: blob.hash.clone(),
            size: blob.size,
        };
        inner.index.record(key, &row, now_ms()).await?;
        self.index_changed().await?;
        // Leased under the blob's lock, which eviction takes too.
        let lease = self.lease(&blob).await?;
        drop(blob_lock);
        fill.filling.finished();
        fetcher.recorded(self, &blob).await?;
        tracing::info!(%key, hash = %blob.hash, size = blob.size, "cached");
        self.evict_in_background();
        Ok((Fetched { blob, hit: false }, Arc::new(lease)))
    }

    /// True exactly once per `(kind, id)` across tasks and processes, until the claim
    /// expires (`claim_ttl_secs`). Claims waiting together share one transaction.
    pub async fn claim(&self, kind: &str, id: &str) -> Result<bool> {
        let won = self.inner.claimer.claim(kind, id).await?;
        let outcome = if won { "won" } else { "lost" };
        metrics::counter!(crate::metrics::CLAIMS, "kind" => kind.to_string(), "outcome" => outcome)
            .increment(1);
        Ok(won)
    }

    /// Counts, with this process's pending accesses written first.
    pub async fn stats(&self) -> Result<Stats> {
        self.flush_accesses().await?;
        Ok(Stats {
            index: self.inner.index.stats(now_ms()).await?,
            max_cache_bytes: self.inner.config.max_cache_bytes,
            flights_in_progress: self.inner.flights.len(),
            process_hits: self.inner.hits.load(std::sync::atomic::Ordering::Relaxed),
            process_misses: self.inner.misses.load(std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// Flights running in this process (for tests and stats).
    pub fn flights_in_progress(&self) -> usize {
        self.inner.flights.len() + self.inner.meta_flights.len()
    }

    /// Absolute path of this store's scratch folder (see `scratch::folder`).
    pub fn scratch_root(&self) -> PathBuf {
        self.inner.scratch_root.clone()
    }
}

/// Releases a flight's lease if this is its last holder, waiting for it (a lease
/// dropped is released in the background, a write after the caller's own).
async fn let_go(held: Arc<Lease>) -> Result<()> {
    match Arc::into_inner(held) {
        Some(lease) => lease.release().await,
        None => Ok(()),
    }
}

/// This process's fill of a key while its flight runs: ended (as failed, unless it
/// finished) and forgotten however the flight ends, aborts included.
struct Fill<'a> {
    fillings: &'a filling::Fillings,
    key: &'a TrackKey,
    filling: Arc<filling::Filling>,
}

impl Drop for Fill<'_> {
    fn drop(&mut self) {
        self.filling.failed("the download stopped".into());
        self.fillings.remove(self.key, &self.filling);
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
