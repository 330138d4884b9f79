//! Small records the host keeps beside the cache: the loudness of renditions, the saved
//! state of guild players, guild settings, and plugins' kv entries. Callers reach them here, through
//! [`Store`], never through the [`Index`](super::Index) directly, so a second database
//! backend implements one seam.

use std::time::Duration;

use super::{LoudnessRow, Result, Store, TimerRow, now_ms};
use crate::shards::Owned;

impl Store {
    /// The measured loudness of blob `hash`, stored with the blob and removed with it.
    pub async fn loudness(&self, hash: &str) -> Result<Option<LoudnessRow>> {
        self.inner.index.loudness_get(hash).await
    }

    /// Records the loudness of blob `hash` (a no-op if the blob left the index).
    pub async fn set_loudness(&self, hash: &str, row: &LoudnessRow) -> Result<()> {
        self.inner.index.loudness_put(hash, row).await
    }

    /// Saves a guild player's state (JSON), replacing the previous one.
    pub async fn save_player(&self, guild_id: u64, state: &str) -> Result<()> {
        self.inner
            .index
            .player_save(guild_id, state, now_ms())
            .await
    }

    /// Forgets a guild player's saved state.
    pub async fn forget_player(&self, guild_id: u64) -> Result<()> {
        self.inner.index.player_delete(guild_id).await
    }

    /// Every saved guild player: (guild, state JSON).
    pub async fn saved_players(&self) -> Result<Vec<(u64, String)>> {
        self.inner.index.player_load_all().await
    }

    /// Guild `guild_id`'s settings (JSON), if it has any.
    /// Read on every command in a guild, so remembered (see [`super::known`]).
    pub async fn guild_settings(&self, guild_id: u64) -> Result<Option<String>> {
        let read = self.inner.index.guild_settings_get(guild_id);
        self.remembered(&self.inner.settings_rows, &guild_id, |_| true, read)
            .await
    }

    /// Replaces guild `guild_id`'s settings.
    pub async fn set_guild_settings(&self, guild_id: u64, settings: &str) -> Result<()> {
        self.inner
            .index
            .guild_settings_put(guild_id, settings, now_ms())
            .await?;
        self.index_changed().await
    }

    /// Plugin `plugin`'s live value for `key`.
    pub async fn kv_get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner.index.kv_get(plugin, key, now_ms()).await
    }

    /// Sets `key` (expiring after `ttl`) unless that would make more than `quota` live
    /// entries for `plugin` (false then); atomic across processes.
    pub async fn kv_set(
        &self,
        plugin: &str,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        quota: u32,
    ) -> Result<bool> {
        let now = now_ms();
        let expires = ttl.map(|ttl| now + ttl.as_millis() as i64);
        self.inner
            .index
            .kv_set(plugin, key, value, expires, now, quota)
            .await
    }

    /// Removes `key`; true if it held a live value.
    pub async fn kv_delete(&self, plugin: &str, key: &str) -> Result<bool> {
        self.inner.index.kv_delete(plugin, key, now_ms()).await
    }

    /// Schedules a timer for `plugin`; None when it already has `limit` pending.
    pub async fn timer_add(
        &self,
        plugin: &str,
        due_at: i64,
        payload: &[u8],
        guild_id: Option<u64>,
        limit: u32,
    ) -> Result<Option<i64>> {
        let row = TimerRow {
            id: 0,
            plugin: plugin.to_string(),
            due_at,
            payload: payload.to_vec(),
            guild_id,
        };
        self.inner.index.timer_add(&row, limit).await
    }

    /// Cancels `plugin`'s timer `id`; true if it was pending.
    pub async fn timer_cancel(&self, plugin: &str, id: i64) -> Result<bool> {
        self.inner.index.timer_cancel(plugin, id).await
    }

    /// Claims up to `limit` due timers for `lease` (see [`Index::timers_claim`]).
    ///
    /// [`Index::timers_claim`]: super::Index::timers_claim
    pub async fn timers_due(
        &self,
        lease: Duration,
        limit: u32,
        owned: Owned,
    ) -> Result<Vec<TimerRow>> {
        let now = now_ms();
        let until = now + lease.as_millis() as i64;
        self.inner
            .index
            .timers_claim(now, until, limit, owned)
            .await
    }

    /// Forgets a fired timer.
    pub async fn timer_done(&self, id: i64) -> Result<()> {
        self.inner.index.timer_done(id).await
    }
}
