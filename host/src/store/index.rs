//! The store's index: which tracks and blobs exist, their use, leases, claims and
//! cached metadata. [`Index`] is the seam between the store and its database; SQLite
//! ([`super::sqlite::SqliteIndex`]) is the embedded default, and a Postgres backend
//! implements the same trait without touching callers.
//!
//! Every method is one atomic statement (or one transaction), so concurrent callers in
//! any number of processes never lose an update. Times are unix milliseconds, passed
//! in by the caller so that every backend agrees on the clock.

use async_trait::async_trait;

use super::access::Access;
use super::error::Result;
use super::key::TrackKey;
use crate::shards::Owned;

/// A blob as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRow {
    pub hash: String,
    pub size: u64,
}

/// Counts for `minstrel cache stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndexStats {
    pub tracks: u64,
    pub blobs: u64,
    pub bytes: u64,
    pub active_leases: u64,
    pub hits: u64,
}

/// Loudness measured for a rendition (see `player::rendition`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoudnessRow {
    pub integrated_lufs: Option<f64>,
    pub true_peak_db: Option<f64>,
    pub range_lu: Option<f64>,
    /// The gain the rendition carries, dB (0 when normalisation was off).
    pub gain_db: f64,
    pub duration_ms: Option<u64>,
}

#[async_trait]
pub trait Index: Send + Sync + 'static {
    /// The blob a track maps to, without counting an access. Read-only, so a crowd of
    /// callers missing the cache never queues for the write lock.
    async fn peek(&self, key: &TrackKey) -> Result<Option<BlobRow>>;
    /// Adds accesses counted in memory (see `store::access`), in one transaction: each
    /// track's count grows by its `count`, and its last access becomes the later of the
    /// stored one and `last`. Tracks no longer indexed are skipped.
    async fn add_accesses(&self, batch: &[(TrackKey, Access)]) -> Result<()>;
    /// Records that `key`'s content is blob `hash` (upserting both rows).
    async fn record(&self, key: &TrackKey, blob: &BlobRow, now: i64) -> Result<()>;
    async fn stats(&self, now: i64) -> Result<IndexStats>;
    async fn blobs(&self) -> Result<Vec<BlobRow>>;
    async fn blob_exists(&self, hash: &str) -> Result<bool>;
    /// Deletes a blob row (and its tracks) regardless of leases: reconcile's repair.
    async fn delete_blob(&self, hash: &str) -> Result<()>;
    /// Deletes a blob row unless a live lease holds it; true if deleted.
    async fn delete_blob_unleased(&self, hash: &str, now: i64) -> Result<bool>;
    /// Least recently used blobs with no live lease, oldest first.
    async fn eviction_candidates(&self, now: i64, limit: u32) -> Result<Vec<BlobRow>>;

    /// Inserts a lease if the blob is indexed; false if it is not (evicted).
    async fn insert_lease(
        &self,
        id: &str,
        hash: &str,
        holder: &str,
        expires_at: i64,
    ) -> Result<bool>;
    /// Extends every lease of `holder`.
    async fn renew_leases(&self, holder: &str, expires_at: i64) -> Result<()>;
    async fn delete_lease(&self, id: &str) -> Result<()>;
    async fn is_leased(&self, hash: &str, now: i64) -> Result<bool>;

    /// For each `(kind, id)`, in one transaction: true exactly once per (kind, id) until
    /// the claim expires (a pair twice in `claims` is won by its first).
    async fn claim_many(
        &self,
        claims: &[(&str, &str)],
        now: i64,
        expires_at: i64,
    ) -> Result<Vec<bool>>;

    /// A cached metadata value and when it expires.
    async fn meta_get(&self, key: &str) -> Result<Option<(Vec<u8>, i64)>>;
    async fn meta_put(&self, key: &str, value: &[u8], expires_at: i64) -> Result<()>;

    /// Removes expired leases, claims and kv entries, and metadata cache entries that
    /// expired before `meta_before`.
    async fn purge_expired(&self, now: i64, meta_before: i64) -> Result<()>;

    /// Stores the loudness of blob `hash` (a no-op if the blob left the index).
    async fn loudness_put(&self, hash: &str, row: &LoudnessRow) -> Result<()>;
    async fn loudness_get(&self, hash: &str) -> Result<Option<LoudnessRow>>;

    /// Saves a guild player's state (JSON), replacing the previous one.
    async fn player_save(&self, guild_id: u64, state: &str, now: i64) -> Result<()>;
    async fn player_delete(&self, guild_id: u64) -> Result<()>;
    /// Every saved guild player.
    async fn player_load_all(&self) -> Result<Vec<(u64, String)>>;

    /// A guild's settings (JSON), if it has any.
    async fn guild_settings_get(&self, guild_id: u64) -> Result<Option<String>>;
    /// Replaces a guild's settings.
    async fn guild_settings_put(&self, guild_id: u64, settings: &str, now: i64) -> Result<()>;

    /// Plugin `plugin`'s live value for `key`.
    async fn kv_get(&self, plugin: &str, key: &str, now: i64) -> Result<Option<Vec<u8>>>;
    /// Sets `key` unless that would make more than `quota` live entries for `plugin`
    /// (false then). Atomic across processes: the quota holds however many write at once.
    async fn kv_set(
        &self,
        plugin: &str,
        key: &str,
        value: &[u8],
        expires_at: Option<i64>,
        now: i64,
        quota: u32,
    ) -> Result<bool>;
    /// Removes `key`; true if it held a live value.
    async fn kv_delete(&self, plugin: &str, key: &str, now: i64) -> Result<bool>;

    /// Adds a timer unless `plugin` already has `limit` pending (None then).
    async fn timer_add(&self, timer: &TimerRow, limit: u32) -> Result<Option<i64>>;
    /// Removes a pending timer of `plugin`; true if there was one.
    async fn timer_cancel(&self, plugin: &str, id: i64) -> Result<bool>;
    /// Claims up to `limit` timers due at `now` that no live claim holds, until
    /// `claimed_until`: each due timer is returned by one call only while its claim lasts.
    /// Only timers of guilds in `owned`, or of no guild, are claimed.
    async fn timers_claim(
        &self,
        now: i64,
        claimed_until: i64,
        limit: u32,
        owned: Owned,
    ) -> Result<Vec<TimerRow>>;
    /// Forgets a timer that has fired.
    async fn timer_done(&self, id: i64) -> Result<()>;
}

/// A plugin's timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerRow {
    /// Set by the database.
    pub id: i64,
    pub plugin: String,
    /// Unix milliseconds.
    pub due_at: i64,
    pub payload: Vec<u8>,
    pub guild_id: Option<u64>,
}
