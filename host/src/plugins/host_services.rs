//! The seam between plugin imports and the rest of the host.
//!
//! `llm`, `player` and `media` are served by host subsystems (the LLM client, the guild
//! players, yt-dlp). The plugin runtime only checks grants and converts between the WIT
//! types of each API version and the host's own types (in `plugins/host/`, the one
//! adapter per interface); the work is done by whatever implements [`HostServices`],
//! which knows nothing of WIT. Errors stay typed up to the WIT boundary, where each
//! becomes the one line the plugin sees. [`NoServices`] answers every request with a
//! clear "not configured" error, which is what a bot without those subsystems should say.

use async_trait::async_trait;

use super::types::Reply;
use crate::llm::{ChatRequest, LlmError};
use crate::media::{self, AudioWriter, MediaError};

/// Why a host service refused or failed a plugin's request.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no LLM endpoint is configured on this bot")]
    NoLlm,
    #[error("no player is running on this bot")]
    NoPlayer,
    #[error("media extraction is not available on this bot")]
    NoMedia,
    #[error("this bot cannot post messages for plugins")]
    NoMessages,
    /// Discord refused or failed (one line, for the plugin).
    #[error("{0}")]
    Discord(String),
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The player refused or failed (its message says why, for the user).
    #[error(transparent)]
    Player(Box<dyn std::error::Error + Send + Sync>),
}

/// The member a plugin call serves (a command, a press), as the player's control rules
/// see them; the Discord front fills it in from its cache. A plugin acting for a member
/// changes playback only as that member could with the built-in commands (see
/// `player::control`): in the bot's voice channel or a DJ, and a listener's skip is a
/// vote. Calls that serve no member (player events, timers) act as the plugin itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asker {
    pub user: u64,
    /// Has the DJ role or Manage Server.
    pub dj: bool,
    /// The voice channel the member is in.
    pub voice: Option<u64>,
    /// The bot's voice channel.
    pub bot_voice: Option<u64>,
    /// The people (not bots) in the bot's voice channel.
    pub listeners: Vec<u64>,
}

/// A song as the `player` interface reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// The source's id, e.g. `youtube:dQw4w9WgXcQ`.
    pub id: String,
    pub title: String,
    pub duration_ms: Option<u64>,
    pub page_url: Option<String>,
}

/// A queued song and who asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub track: Track,
    pub requested_by: u64,
}

/// The song playing now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Playing {
    pub track: Track,
    pub requested_by: u64,
    pub position_ms: u64,
    pub paused: bool,
    /// For a live stream, what the station says plays now (its ICY title).
    pub on_air: Option<String>,
}

/// What repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Off,
    Track,
    Queue,
}

/// A change to playback that reports nothing but success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Seek { position_ms: u64 },
    Pause(bool),
    Stop,
    Repeat(Repeat),
}

/// A stream of answer pieces from the LLM.
#[async_trait]
pub trait ChatStream: Send {
    /// The next piece, or `None` at the end.
    async fn next(&mut self) -> Result<Option<String>, ServiceError>;
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
    ) -> Result<String, ServiceError> {
        let _ = (plugin, user, request);
        Err(ServiceError::NoLlm)
    }

    async fn chat_stream(
        &self,
        plugin: &str,
        user: Option<u64>,
        request: ChatRequest,
    ) -> Result<Box<dyn ChatStream>, ServiceError> {
        let _ = (plugin, user, request);
        Err(ServiceError::NoLlm)
    }

    /// Queues the first result for `query`: last, or at `at` (0: next). For an `asker`,
    /// as their `!play` would: they must be in voice, and the player joins their
    /// channel if it is in none.
    async fn enqueue(
        &self,
        plugin: &str,
        guild_id: u64,
        query: String,
        at: Option<u32>,
        asker: Option<&Asker>,
    ) -> Result<Track, ServiceError> {
        let _ = (plugin, guild_id, query, at, asker);
        Err(ServiceError::NoPlayer)
    }

    /// Skips the current song; for an `asker` who is a listener, votes to (an error
    /// with the tally until the vote passes).
    async fn skip(
        &self,
        plugin: &str,
        guild_id: u64,
        asker: Option<&Asker>,
    ) -> Result<Option<Track>, ServiceError> {
        let _ = (plugin, guild_id, asker);
        Err(ServiceError::NoPlayer)
    }

    /// The songs after the current one.
    async fn queue(&self, plugin: &str, guild_id: u64) -> Result<Vec<QueueEntry>, ServiceError> {
        let _ = (plugin, guild_id);
        Err(ServiceError::NoPlayer)
    }

    async fn now_playing(
        &self,
        plugin: &str,
        guild_id: u64,
    ) -> Result<Option<Playing>, ServiceError> {
        let _ = (plugin, guild_id);
        Err(ServiceError::NoPlayer)
    }

    /// Seeks, pauses, stops or sets the loop mode, if `asker` (when there is one) may.
    async fn control(
        &self,
        plugin: &str,
        guild_id: u64,
        control: Control,
        asker: Option<&Asker>,
    ) -> Result<(), ServiceError> {
        let _ = (plugin, guild_id, control, asker);
        Err(ServiceError::NoPlayer)
    }

    /// Posts `reply` in `channel_id` of `guild_id` (or replaces message `edit` there);
    /// returns the message's id.
    async fn post(
        &self,
        plugin: &str,
        guild_id: u64,
        channel_id: u64,
        edit: Option<u64>,
        reply: Reply,
    ) -> Result<u64, ServiceError> {
        let _ = (plugin, guild_id, channel_id, edit, reply);
        Err(ServiceError::NoMessages)
    }

    async fn probe(&self, plugin: &str, url: String) -> Result<media::Info, ServiceError> {
        let _ = (plugin, url);
        Err(ServiceError::NoMedia)
    }

    async fn search(
        &self,
        plugin: &str,
        site: media::SearchSite,
        query: String,
        limit: u32,
    ) -> Result<Vec<media::Entry>, ServiceError> {
        let _ = (plugin, site, query, limit);
        Err(ServiceError::NoMedia)
    }

    async fn download_audio(
        &self,
        plugin: &str,
        url: String,
        into: &mut dyn AudioWriter,
    ) -> Result<(), ServiceError> {
        let _ = (plugin, url, into);
        Err(ServiceError::NoMedia)
    }
}

/// Answers every service request with "not configured".
pub struct NoServices;

impl HostServices for NoServices {}
