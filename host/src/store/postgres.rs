//! The PostgreSQL backend of [`Index`], for several hosts sharing one store.
//!
//! Statements run in READ COMMITTED. Where SQLite relies on its single writer
//! (`BEGIN IMMEDIATE`), this backend says what it serialises on: the blob's row
//! (`FOR SHARE` to lease, `FOR UPDATE` to delete, so a lease and an eviction of one blob
//! never both succeed), a transaction advisory lock per plugin (kv quota, timer limit),
//! `SKIP LOCKED` for due timers, and a fixed row order in multi-row writes so two
//! processes never deadlock.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Row};

use super::access::Access;
use super::advisory::PgLocks;
use super::error::{Result, StoreError};
use super::index::{BlobRow, Index, IndexStats, LoudnessRow, TimerRow};
use super::key::TrackKey;
use super::pg_changes::Changes;
use crate::shards::Owned;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections for statements; locks have pools of their own (see `advisory`).
const MAX_CONNECTIONS: u32 = 8;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct PgIndex {
    pool: PgPool,
    options: PgConnectOptions,
    /// Where changes to what processes remember are announced (see [`Self::changes`]).
    channel: String,
}

/// `url` as a person may see it: user, host, port and database, never the password.
pub fn describe(url: &str) -> String {
    match PgConnectOptions::from_str(url) {
        Ok(o) => format!(
            "postgres://{}@{}:{}/{}",
            o.get_username(),
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or_default()
        ),
        Err(_) => "an unreadable PostgreSQL URL".into(),
    }
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl PgIndex {
    /// Connects, applies migrations (sqlx's PostgreSQL migrator serialises processes
    /// on an advisory lock) and returns the index with the store's advisory locks.
    pub async fn open(url: &str) -> Result<(Self, PgLocks)> {
        // The server's notices ("already exists, skipping" at every start) are no news.
        let mut options =
            PgConnectOptions::from_str(url)?.options([("client_min_messages", "warning")]);
        // Names this process in pg_stat_activity (and so beside its pg_locks rows).
        if options.get_application_name().is_none() {
            options = options.application_name(&application_name());
        }
        // Set-up on one connection of its own, so a server that is down or refuses the
        // login fails at once with its own error (a pool would retry until its acquire
        // timeout); the pools connect when first used.
        let mut conn = sqlx::PgConnection::connect_with(&options).await?;
        let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&mut conn)
            .await?;
        let Some(schema) = schema else {
            return Err(StoreError::Config(
                "no schema of the database's search_path exists: create it, or drop the \
                 URL's search_path option"
                    .into(),
            ));
        };
        // The migrator serialises every process of the database on one lock: skip it
        // when every migration is already applied (the common start).
        if !migrated(&mut conn).await? {
            MIGRATOR.run(&mut conn).await?;
        }
        conn.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options.clone());
        let index = Self {
            pool,
            options: options.clone(),
            channel: changes_channel(&schema),
        };
        Ok((index, PgLocks::new(options, schema)))
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Starts hearing the index changes of every process on this schema (see
    /// [`super::pg_changes`]).
    pub fn changes(&self) -> Changes {
        Changes::start(&self.options, self.pool.clone(), self.channel.clone())
    }
}

/// Whether the schema has applied exactly the migrations this binary carries.
async fn migrated(conn: &mut sqlx::PgConnection) -> Result<bool> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(false);
    }
    let applied: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version",
    )
    .fetch_all(&mut *conn)
    .await?;
    let ours: Vec<(i64, Vec<u8>)> = MIGRATOR
        .iter()
        .map(|m| (m.version, m.checksum.to_vec()))
        .collect();
    Ok(applied == ours)
}

/// `minstrel/<pid>`: which process holds or waits for a lock, as the server sees it.
/// The channel the stores on `schema` announce their index changes on: one per schema
/// (a name of at most 63 bytes), so stores in other schemas are not disturbed.
pub fn changes_channel(schema: &str) -> String {
    format!(
        "minstrel_index_{}",
        &blake3::hash(schema.as_bytes()).to_hex()[..16]
    )
}

pub fn application_name() -> String {
    format!("minstrel/{}", std::process::id())
}

fn blob_row(row: &PgRow) -> Result<BlobRow> {
    Ok(BlobRow {
        hash: row.try_get("hash")?,
        size: row.try_get::<i64, _>("size")? as u64,
    })
}

#[async_trait]
impl Index for PgIndex {
    async fn peek(&self, key: &TrackKey) -> Result<Option<BlobRow>> {
        let row = sqlx::query(
            "SELECT b.hash, b.size FROM tracks t JOIN blobs b ON b.hash = t.hash
             WHERE t.source = $1 AND t.id = $2",
        )
        .bind(&key.source)
        .bind(&key.id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(blob_row).transpose()
    }

    async fn add_accesses(&self, batch: &[(TrackKey, Access)]) -> Result<()> {
        // Rows are locked in key order, so two processes flushing overlapping batches
        // wait for each other instead of deadlocking.
        let mut sorted: Vec<&(TrackKey, Access)> = batch.iter().collect();
        sorted.sort_by(|a, b| (&a.0.source, &a.0.id).cmp(&(&b.0.source, &b.0.id)));
        let mut tx = self.pool.begin().await?;
        for (key, access) in sorted {
            sqlx::query(
                "UPDATE tracks SET access_count = access_count + $1,
                                   last_access = GREATEST(last_access, $2)
                 WHERE source = $3 AND id = $4",
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO blobs (hash, size, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&blob.hash)
        .bind(blob.size as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO tracks (source, id, hash, access_count, last_access, created_at)
             VALUES ($1, $2, $3, 1, $4, $4)
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
                    (SELECT COALESCE(SUM(size), 0)::BIGINT FROM blobs) AS bytes,
                    (SELECT COUNT(*) FROM leases WHERE expires_at > $1) AS leases,
                    (SELECT COALESCE(SUM(access_count), 0)::BIGINT FROM tracks) AS accesses",
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
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM blobs WHERE hash = $1)")
                .bind(hash)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn delete_blob(&self, hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM blobs WHERE hash = $1")
            .bind(hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_blob_unleased(&self, hash: &str, now: i64) -> Result<bool> {
        // The row lock waits for a lease being inserted (FOR SHARE in `insert_lease`);
        // the lease check after it is a new statement, so it sees that lease.
        let mut tx = self.pool.begin().await?;
        let found = sqlx::query("SELECT 1 FROM blobs WHERE hash = $1 FOR UPDATE")
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Ok(false);
        }
        let leased: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM leases WHERE hash = $1 AND expires_at > $2)",
        )
        .bind(hash)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if leased {
            return Ok(false);
        }
        sqlx::query("DELETE FROM blobs WHERE hash = $1")
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn eviction_candidates(&self, now: i64, limit: u32) -> Result<Vec<BlobRow>> {
        let rows = sqlx::query(
            "SELECT b.hash, b.size FROM blobs b LEFT JOIN tracks t ON t.hash = b.hash
             WHERE NOT EXISTS
                 (SELECT 1 FROM leases l WHERE l.hash = b.hash AND l.expires_at > $1)
             GROUP BY b.hash
             ORDER BY COALESCE(MAX(t.last_access), b.created_at) ASC LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
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
        let mut tx = self.pool.begin().await?;
        let found = sqlx::query("SELECT 1 FROM blobs WHERE hash = $1 FOR SHARE")
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Ok(false);
        }
        sqlx::query("INSERT INTO leases (id, hash, holder, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(hash)
            .bind(holder)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn renew_leases(&self, holder: &str, expires_at: i64) -> Result<()> {
        sqlx::query("UPDATE leases SET expires_at = $1 WHERE holder = $2")
            .bind(expires_at)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_lease(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn is_leased(&self, hash: &str, now: i64) -> Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM leases WHERE hash = $1 AND expires_at > $2)",
        )
        .bind(hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn claim_many(
        &self,
        claims: &[(&str, &str)],
        now: i64,
        expires_at: i64,
    ) -> Result<Vec<bool>> {
        // Written in key order (no deadlock between batches); a pair twice in the batch
        // is won by its first, as the stable sort keeps it first.
        let mut order: Vec<usize> = (0..claims.len()).collect();
        order.sort_by_key(|&i| claims[i]);
        let mut won = vec![false; claims.len()];
        let mut tx = self.pool.begin().await?;
        for i in order {
            let (kind, id) = claims[i];
            let done = sqlx::query(
                "INSERT INTO claims (kind, id, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (kind, id) DO UPDATE SET expires_at = excluded.expires_at
                 WHERE claims.expires_at <= $4",
            )
            .bind(kind)
            .bind(id)
            .bind(expires_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            won[i] = done.rows_affected() == 1;
        }
        tx.commit().await?;
        Ok(won)
    }

    async fn meta_get(&self, key: &str) -> Result<Option<(Vec<u8>, i64)>> {
        let row = sqlx::query("SELECT value, expires_at FROM meta_cache WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("value")?, r.try_get("expires_at")?)))
            .transpose()
    }

    async fn meta_put(&self, key: &str, value: &[u8], expires_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO meta_cache (key, value, expires_at) VALUES ($1, $2, $3)
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
        for (sql, before) in [
            ("DELETE FROM leases WHERE expires_at <= $1", now),
            ("DELETE FROM claims WHERE expires_at <= $1", now),
            ("DELETE FROM kv WHERE expires_at <= $1", now),
            ("DELETE FROM meta_cache WHERE expires_at <= $1", meta_before),
        ] {
            sqlx::query(sql).bind(before).execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn loudness_put(&self, hash: &str, row: &LoudnessRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO loudness (hash, integrated_lufs, true_peak_db, range_lu, gain_db, duration_ms)
             SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM blobs WHERE hash = $1)
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
             FROM loudness WHERE hash = $1",
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
            "INSERT INTO players (guild_id, state, updated_at) VALUES ($1, $2, $3)
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
        sqlx::query("DELETE FROM players WHERE guild_id = $1")
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
        let row = sqlx::query("SELECT settings FROM guild_settings WHERE guild_id = $1")
            .bind(guild_id as i64)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get("settings")?)).transpose()
    }

    async fn guild_settings_put(&self, guild_id: u64, settings: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO guild_settings (guild_id, settings, updated_at) VALUES ($1, $2, $3)
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
            "SELECT value FROM kv WHERE plugin = $1 AND key = $2
                 AND (expires_at IS NULL OR expires_at > $3)",
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
        // Count and write under the plugin's transaction lock, so two processes adding
        // keys at once cannot both take the last place.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('kv/' || $1, 0))")
            .bind(plugin)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM kv WHERE plugin = $1 AND expires_at <= $2")
            .bind(plugin)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let (exists, live): (bool, i64) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM kv WHERE plugin = $1 AND key = $2),
                    (SELECT count(*) FROM kv WHERE plugin = $1)",
        )
        .bind(plugin)
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        if !exists && live >= i64::from(quota) {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO kv (plugin, key, value, expires_at) VALUES ($1, $2, $3, $4)
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
            sqlx::query_as("DELETE FROM kv WHERE plugin = $1 AND key = $2 RETURNING expires_at")
                .bind(plugin)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(removed.is_some_and(|(expires_at,)| expires_at.is_none_or(|at| at > now)))
    }

    async fn timer_add(&self, timer: &TimerRow, limit: u32) -> Result<Option<i64>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('timers/' || $1, 0))")
            .bind(&timer.plugin)
            .execute(&mut *tx)
            .await?;
        let (pending,): (i64,) = sqlx::query_as("SELECT count(*) FROM timers WHERE plugin = $1")
            .bind(&timer.plugin)
            .fetch_one(&mut *tx)
            .await?;
        if pending >= i64::from(limit) {
            return Ok(None);
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO timers (plugin, due_at, payload, guild_id) VALUES ($1, $2, $3, $4)
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
        let done = sqlx::query("DELETE FROM timers WHERE plugin = $1 AND id = $2")
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
        // SKIP LOCKED passes over timers another process is claiming; FOR UPDATE
        // re-checks a timer claimed since this statement began, so none is claimed twice.
        let rows: Vec<(i64, String, i64, Vec<u8>, Option<i64>)> = sqlx::query_as(
            "UPDATE timers SET claimed_until = $2
             WHERE id IN (SELECT id FROM timers
                          WHERE due_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
                            AND (guild_id IS NULL OR (guild_id >> 22) % $4 BETWEEN $5 AND $6)
                          ORDER BY due_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
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
        sqlx::query("DELETE FROM timers WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
