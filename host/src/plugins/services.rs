//! The seam between plugin imports and the rest of the host.
//!
//! `llm`, `player` and `media` are served by host subsystems (the LLM client, the guild
//! players, yt-dlp). The plugin runtime only checks grants and converts types; the work
//! is done by whatever implements [`HostServices`]. [`NoServices`] answers every request
//! with a clear "not configured" error, which is what a bot without those subsystems
//! should say.

use async_trait::async_trait;

use super::api::v0_1_0::llm::ChatRequest;
use super::api::v0_1_0::media::{MediaEntry, MediaInfo, SearchSite};
use super::api::v0_1_0::types::Track;

/// A stream of answer pieces from the LLM.
#[async_trait]
pub trait ChatStream: Send {
    /// The next piece, or `None` at the end.
    async fn next(&mut self) -> Result<Option<String>, String>;
}

/// Where audio bytes go (the store's atomic writer, in the real host).
#[async_trait]
pub trait AudioWriter: Send {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), String>;
}

/// Host services that plugins reach through granted interfaces. Every method gets the
/// calling plugin's name (for logs, quotas and attribution); the LLM methods also get
/// the Discord user the call serves, if any (for the per-user rate limit).
#[async_trait]
pub trait HostServices: Send + Sync + 'static {
    async fn chat(
        &self,
        plugin: &str,
        user: Option<u64>,
        request: ChatRequest,
    ) -> Result<String, String> {
        let _ = (plugin, user, request);
        Err("no LLM endpoint is configured on this bot".into())
    }

    async fn chat_stream(
        &self,
        plugin: &str,
        user: Option<u64>,
        request: ChatRequest,
    ) -> Result<Box<dyn ChatStream>, String> {
        let _ = (plugin, user, request);
        Err("no LLM endpoint is configured on this bot".into())
    }

    async fn enqueue(&self, plugin: &str, guild_id: u64, query: String) -> Result<Track, String> {
        let _ = (plugin, guild_id, query);
        Err("no player is running on this bot".into())
    }

    async fn skip(&self, plugin: &str, guild_id: u64) -> Result<Option<Track>, String> {
        let _ = (plugin, guild_id);
        Err("no player is running on this bot".into())
    }

    async fn queue(&self, plugin: &str, guild_id: u64) -> Result<Vec<Track>, String> {
        let _ = (plugin, guild_id);
        Err("no player is running on this bot".into())
    }

    async fn probe(&self, plugin: &str, url: String) -> Result<MediaInfo, String> {
        let _ = (plugin, url);
        Err("media extraction is not available on this bot".into())
    }

    async fn search(
        &self,
        plugin: &str,
        site: SearchSite,
        query: String,
        limit: u32,
    ) -> Result<Vec<MediaEntry>, String> {
        let _ = (plugin, site, query, limit);
        Err("media extraction is not available on this bot".into())
    }

    async fn download_audio(
        &self,
        plugin: &str,
        url: String,
        into: &mut dyn AudioWriter,
    ) -> Result<(), String> {
        let _ = (plugin, url, into);
        Err("media extraction is not available on this bot".into())
    }
}

/// Answers every service request with "not configured".
pub struct NoServices;

impl HostServices for NoServices {}
