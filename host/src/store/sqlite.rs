//! The SQLite backend of [`Index`]: WAL, a busy timeout, `BEGIN IMMEDIATE` for
//! multi-statement writes (deferred transactions fail under multi-process contention),
//! and single-statement upserts so no counter is ever lost.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::access::Access;
use super::error::Result;
use super::index::{BlobRow, Index, IndexStats, LoudnessRow, TimerRow};
use super::key::TrackKey;
use super::locks::Locks;
use crate::shards::Owned;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Claims per insert statement: 3 bound values each, well within SQLite's limit.
const CLAIMS_PER_STATEMENT: usize = 500;

#[derive(Debug, Clone)]
pub struct SqliteIndex {
    pool: SqlitePool,
}

impl SqliteIndex {
    /// Opens (creating) the database and applies migrations. sqlx's SQLite migrator
    /// takes no lock, so processes starting together on an empty data dir serialise
    /// here on a file lock.
    pub async fn open(path: &Path, locks: &Locks) -> Result<Self> {
        let _guard = locks.lock_async("migrate", "db").await?;
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn blob_row(row: &sqlx::sqlite::SqliteRow) -> Result<BlobRow> {
    Ok(BlobRow {
        hash: row.try_get("hash")?,
        size: row.try_get::<i64, _>("size")? as u64,
    })
}

#[async_trait]
impl Index for SqliteIndex {
    async fn peek(&self, key: &TrackKey) -> Result<Option<BlobRow>> {
        let row = sqlx::query(
            "SELECT b.hash, b.size FROM tracks t JOIN blobs b ON b.hash = t.hash
             WHERE t.source = ?1 AND t.id = ?2",
        )
        .bind(&key.source)
        .bind(&key.id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(blob_row).transpose()
    }

    async fn add_accesses(&self, batch: &[(TrackKey, Access)]) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for (key, access) in batch {
            sqlx::query(
                "UPDATE tracks SET access_count = access_count + ?1,
                                   last_access = MAX(last_access, ?2)
                 WHERE source = ?3 AND id = ?4",
            )
            .bind(access.count as i64)
            .bind(access.last)
            .bind(&key.source)
            .bind(&key.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record(&self, key: &TrackKey, blob: &BlobRow, now: i64) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO blobs (hash, size, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&blob.hash)
        .bind(blob.size as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO tracks (source, id, hash, access_count, last_access, created_at)
             VALUES (?1, ?2, ?3, 1, ?4, ?4)
             ON CONFLICT (source, id) DO UPDATE SET hash = excluded.hash,
                 access_count = tracks.access_count + 1, last_access = excluded.last_access",
        )
        .bind(&key.source)
        .bind(&key.id)
        .bind(&blob.hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn stats(&self, now: i64) -> Result<IndexStats> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM tracks) AS tracks,
                    (SELECT COUNT(*) FROM blobs) AS blobs,
                    (SELECT COALESCE(SUM(size), 0) FROM blobs) AS bytes,
                    (SELECT COUNT(*) FROM leases WHERE expires_at > ?1) AS leases,
                    (SELECT COALESCE(SUM(access_count), 0) FROM tracks) AS accesses",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        let get = |name: &str| -> Result<u64> { Ok(row.try_get::<i64, _>(name)? as u64) };
        let tracks = get("tracks")?;
        Ok(IndexStats {
            tracks,
            blobs: get("blobs")?,
            bytes: get("bytes")?,
            active_leases: get("leases")?,
            // Each track's first access was its fetch; the rest were hits.
            hits: get("accesses")?.saturating_sub(tracks),
        })
    }

    async fn blobs(&self) -> Result<Vec<BlobRow>> {
        let rows = sqlx::query("SELECT hash, size FROM blobs")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(blob_row).collect()
    }

    async fn blob_exists(&self, hash: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM blobs WHERE hash = ?1")
            .bind(hash)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    async fn delete_blob(&self, hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM blobs WHERE hash = ?1")
            .bind(hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_blob_unleased(&self, hash: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM blobs WHERE hash = ?1 AND NOT EXISTS
                 (SELECT 1 FROM leases WHERE hash = ?1 AND expires_at > ?2)",
        )
        .bind(hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn eviction_candidates(&self, now: i64, limit: u32) -> Result<Vec<BlobRow>> {
        let rows = sqlx::query(
            "SELECT b.hash, b.size FROM blobs b LEFT JOIN tracks t ON t.hash = b.hash
             WHERE NOT EXISTS
                 (SELECT 1 FROM leases l WHERE l.hash = b.hash AND l.expires_at > ?1)
             GROUP BY b.hash
             ORDER BY COALESCE(MAX(t.last_access), b.created_at) ASC LIMIT ?2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(blob_row).collect()
    }

    async fn insert_lease(
        &self,
        id: &str,
        hash: &str,
        holder: &str,
        expires_at: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO leases (id, hash, holder, expires_at)
             SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM blobs WHERE hash = ?2)",
        )
        .bind(id)
        .bind(hash)
        .bind(holder)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn renew_leases(&self, holder: &str, expires_at: i64) -> Result<()> {
        sqlx::query("UPDATE leases SET expires_at = ?1 WHERE holder = ?2")
            .bind(expires_at)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_lease(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn is_leased(&self, hash: &str, now: i64) -> Result<bool> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM leases WHERE hash = ?1 AND expires_at > ?2")
                .bind(hash)
                .bind(now)
                .fetch_one(&self.pool)
                .await?;
        Ok(n > 0)
    }

    async fn claim_many(
        &self,
        claims: &[(&str, &str)],
        now: i64,
        expires_at: i64,
    ) -> Result<Vec<bool>> {
        // One statement for the whole batch: each statement is a round trip to sqlx's
        // worker thread, which cost more than the insert itself. The rows it inserted
        // or took over (an expired claim) come back: those pairs were won. A pair twice
        // in the batch conflicts with its own first row, which has not expired.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut taken = std::collections::HashSet::new();
        for chunk in claims.chunks(CLAIMS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::new("INSERT INTO claims (kind, id, expires_at) ");
            insert.push_values(chunk, |mut row, (kind, id)| {
                row.push_bind(*kind).push_bind(*id).push_bind(expires_at);
            });
            insert.push(
                " ON CONFLICT (kind, id) DO UPDATE SET expires_at = excluded.expires_at
                  WHERE claims.expires_at <= ",
            );
            insert.push_bind(now);
            insert.push(" RETURNING kind, id");
            for row in insert.build().fetch_all(&mut *tx).await? {
                taken.insert((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?));
            }
        }
        tx.commit().await?;
        // Won by the first of a pair, once.
        Ok(claims
            .iter()
            .map(|&(kind, id)| taken.remove(&(kind.to_string(), id.to_string())))
            .collect())
    }

    async fn meta_get(&self, key: &str) -> Result<Option<(Vec<u8>, i64)>> {
        let row = sqlx::query("SELECT value, expires_at FROM meta_cache WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("value")?, r.try_get("expires_at")?)))
            .transpose()
    }

    async fn meta_put(&self, key: &str, value: &[u8], expires_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO meta_cache (key, value, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                 expires_at = excluded.expires_at",
        )
        .bind(key)
        .bind(value)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn purge_expired(&self, now: i64, meta_before: i64) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE expires_at <= ?1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM claims WHERE expires_at <= ?1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM kv WHERE expires_at <= ?1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM meta_cache WHERE expires_at <= ?1")
            .bind(meta_before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn loudness_put(&self, hash: &str, row: &LoudnessRow) -> Result<()> {
        // INSERT .. SELECT: nothing is written for a blob that is no longer indexed.
        sqlx::query(
            "INSERT INTO loudness (hash, integrated_lufs, true_peak_db, range_lu, gain_db, duration_ms)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM blobs WHERE hash = ?1)
             ON CONFLICT (hash) DO UPDATE SET integrated_lufs = excluded.integrated_lufs,
                 true_peak_db = excluded.true_peak_db, range_lu = excluded.range_lu,
                 gain_db = excluded.gain_db, duration_ms = excluded.duration_ms",
        )
        .bind(hash)
        .bind(row.integrated_lufs)
        .bind(row.true_peak_db)
        .bind(row.range_lu)
        .bind(row.gain_db)
        .bind(row.duration_ms.map(|d| d as i64))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn loudness_get(&self, hash: &str) -> Result<Option<LoudnessRow>> {
        let row = sqlx::query(
            "SELECT integrated_lufs, true_peak_db, range_lu, gain_db, duration_ms
             FROM loudness WHERE hash = ?1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(LoudnessRow {
                integrated_lufs: r.try_get("integrated_lufs")?,
                true_peak_db: r.try_get("true_peak_db")?,
                range_lu: r.try_get("range_lu")?,
                gain_db: r.try_get("gain_db")?,
                duration_ms: r
                    .try_get::<Option<i64>, _>("duration_ms")?
                    .map(|d| d as u64),
            })
        })
        .transpose()
    }

    async fn player_save(&self, guild_id: u64, state: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO players (guild_id, state, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (guild_id) DO UPDATE SET state = excluded.state,
                 updated_at = excluded.updated_at",
        )
        .bind(guild_id as i64)
        .bind(state)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn player_delete(&self, guild_id: u64) -> Result<()> {
        sqlx::query("DELETE FROM players WHERE guild_id = ?1")
            .bind(guild_id as i64)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn player_load_all(&self) -> Result<Vec<(u64, String)>> {
        let rows = sqlx::query("SELECT guild_id, state FROM players ORDER BY guild_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>("guild_id")? as u64, r.try_get("state")?)))
            .collect()
    }

    async fn guild_settings_get(&self, guild_id: u64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT settings FROM guild_settings WHERE guild_id = ?1")
            .bind(guild_id as i64)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get("settings")?)).transpose()
    }

    async fn guild_settings_put(&self, guild_id: u64, settings: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO guild_settings (guild_id, settings, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (guild_id) DO UPDATE SET settings = excluded.settings,
                 updated_at = excluded.updated_at",
        )
        .bind(guild_id as i64)
        .bind(settings)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn kv_get(&self, plugin: &str, key: &str, now: i64) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query(
            "SELECT value FROM kv WHERE plugin = ?1 AND key = ?2
                 AND (expires_at IS NULL OR expires_at > ?3)",
        )
        .bind(plugin)
        .bind(key)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok(r.try_get("value")?)).transpose()
    }

    async fn kv_set(
        &self,
        plugin: &str,
        key: &str,
        value: &[u8],
        expires_at: Option<i64>,
        now: i64,
        quota: u32,
    ) -> Result<bool> {
        // Count and write under the write lock (BEGIN IMMEDIATE), so two processes
        // adding keys at once cannot both take the last place.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM kv WHERE plugin = ?1 AND expires_at <= ?2")
            .bind(plugin)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let (exists, live): (bool, i64) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM kv WHERE plugin = ?1 AND key = ?2),
                    (SELECT count(*) FROM kv WHERE plugin = ?1)",
        )
        .bind(plugin)
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        if !exists && live >= i64::from(quota) {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO kv (plugin, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value,
                 expires_at = excluded.expires_at",
        )
        .bind(plugin)
        .bind(key)
        .bind(value)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn kv_delete(&self, plugin: &str, key: &str, now: i64) -> Result<bool> {
        let removed: Option<(Option<i64>,)> =
            sqlx::query_as("DELETE FROM kv WHERE plugin = ?1 AND key = ?2 RETURNING expires_at")
                .bind(plugin)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(removed.is_some_and(|(expires_at,)| expires_at.is_none_or(|at| at > now)))
    }

    async fn timer_add(&self, timer: &TimerRow, limit: u32) -> Result<Option<i64>> {
        // Count and insert under the write lock, so the limit holds across processes.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (pending,): (i64,) = sqlx::query_as("SELECT count(*) FROM timers WHERE plugin = ?1")
            .bind(&timer.plugin)
            .fetch_one(&mut *tx)
            .await?;
        if pending >= i64::from(limit) {
            return Ok(None);
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO timers (plugin, due_at, payload, guild_id) VALUES (?1, ?2, ?3, ?4)
             RETURNING id",
        )
        .bind(&timer.plugin)
        .bind(timer.due_at)
        .bind(&timer.payload)
        .bind(timer.guild_id.map(|g| g as i64))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    async fn timer_cancel(&self, plugin: &str, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM timers WHERE plugin = ?1 AND id = ?2")
            .bind(plugin)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn timers_claim(
        &self,
        now: i64,
        claimed_until: i64,
        limit: u32,
        owned: Owned,
    ) -> Result<Vec<TimerRow>> {
        // One statement: SQLite runs it under the write lock, so two processes never
        // claim the same timer.
        let rows: Vec<(i64, String, i64, Vec<u8>, Option<i64>)> = sqlx::query_as(
            "UPDATE timers SET claimed_until = ?2
             WHERE id IN (SELECT id FROM timers
                          WHERE due_at <= ?1 AND (claimed_until IS NULL OR claimed_until <= ?1)
                            AND (guild_id IS NULL OR (guild_id >> 22) % ?4 BETWEEN ?5 AND ?6)
                          ORDER BY due_at, id LIMIT ?3)
             RETURNING id, plugin, due_at, payload, guild_id",
        )
        .bind(now)
        .bind(claimed_until)
        .bind(i64::from(limit))
        .bind(i64::from(owned.count))
        .bind(i64::from(owned.first))
        .bind(i64::from(owned.last))
        .fetch_all(&self.pool)
        .await?;
        let mut timers: Vec<TimerRow> = rows
            .into_iter()
            .map(|(id, plugin, due_at, payload, guild)| TimerRow {
                id,
                plugin,
                due_at,
                payload,
                guild_id: guild.map(|g| g as u64),
            })
            .collect();
        timers.sort_by_key(|t| (t.due_at, t.id));
        Ok(timers)
    }

    async fn timer_done(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM timers WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
