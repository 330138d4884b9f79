//! The host subsystems behind the plugin interfaces `llm`, `player` and `media`, wired
//! into one [`HostServices`] implementation.
//!
//! Each subsystem is optional: one that is not configured (or not started yet) answers
//! with the "not configured" error of [`HostServices`]'s default methods. The player is
//! set once the bot is connected, because it needs the plugin host, which needs these
//! services.

use std::sync::OnceLock;
use std::time::Instant;

use async_trait::async_trait;

use crate::llm::{Completion, LlmClient};
use crate::media::{self, Media};
use crate::player::{Command, Outcome, Players, Song};
use crate::plugins::types::{ChatRequest, MediaEntry, MediaInfo, SearchSite, Track};
use crate::plugins::{AudioWriter, ChatStream, HostServices};

/// The host's services, shared by every plugin call.
#[derive(Default)]
pub struct Services {
    /// The operator's LLM endpoint (`[llm]`), if configured.
    pub llm: Option<LlmClient>,
    /// yt-dlp for `media`.
    pub media: Option<Media>,
    /// Guild players; set once the bot is connected.
    pub player: OnceLock<Players>,
}

impl Services {
    pub fn with_media(mut self, media: Media) -> Self {
        self.media = Some(media);
        self
    }

    fn llm(&self) -> Result<&LlmClient, String> {
        self.llm
            .as_ref()
            .ok_or_else(|| crate::llm::LlmError::NotConfigured.to_string())
    }

    fn players(&self) -> Result<&Players, String> {
        self.player
            .get()
            .ok_or_else(|| "no player is running on this bot".to_string())
    }
}

fn track(song: Song) -> Track {
    Track {
        id: song.id,
        title: song.title,
        duration_ms: song.duration_ms,
        artwork_url: None,
        page_url: song.page_url,
    }
}

/// The rate-limit key: the user a call serves, else the plugin itself.
fn who(plugin: &str, user: Option<u64>) -> String {
    match user {
        Some(user) => format!("user:{user}"),
        None => format!("plugin:{plugin}"),
    }
}

#[async_trait]
impl HostServices for Services {
    async fn chat(
        &self,
        plugin: &str,
        user: Option<u64>,
        request: ChatRequest,
    ) -> Result<String, String> {
        let started = Instant::now();
        let result = self.llm()?.chat(&who(plugin, user), request).await;
        match &result {
            Ok(answer) => {
                tracing::info!(%plugin, ?user, chars = answer.len(), millis = started.elapsed().as_millis() as u64, "llm chat")
            }
            Err(error) => tracing::warn!(%plugin, ?user, %error, "llm chat failed"),
        }
        result.map_err(|e| e.to_string())
    }

    async fn chat_stream(
        &self,
        plugin: &str,
        user: Option<u64>,
        request: ChatRequest,
    ) -> Result<Box<dyn ChatStream>, String> {
        match self.llm()?.chat_stream(&who(plugin, user), request).await {
            Ok(completion) => {
                tracing::info!(%plugin, ?user, "llm stream started");
                Ok(Box::new(Streamed(completion)))
            }
            Err(error) => {
                tracing::warn!(%plugin, ?user, %error, "llm stream failed");
                Err(error.to_string())
            }
        }
    }

    async fn enqueue(&self, plugin: &str, guild_id: u64, query: String) -> Result<Track, String> {
        let players = self.players()?;
        let mut songs = players
            .resolve(&query, 0)
            .await
            .map_err(|e| e.to_string())?
            .songs;
        songs.truncate(1);
        let song = songs[0].clone();
        tracing::info!(%plugin, guild_id, title = %song.title, "plugin queued a song");
        players
            .enqueue(guild_id, None, None, songs, None)
            .await
            .map_err(|e| e.to_string())?;
        Ok(track(song))
    }

    async fn skip(&self, _plugin: &str, guild_id: u64) -> Result<Option<Track>, String> {
        match self.players()?.command(guild_id, Command::Skip).await {
            Ok(Outcome::Skipped { now, .. }) => Ok(now.map(track)),
            Ok(_) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn queue(&self, _plugin: &str, guild_id: u64) -> Result<Vec<Track>, String> {
        let queue = self
            .players()?
            .queue(guild_id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(queue
            .current
            .into_iter()
            .chain(queue.upcoming)
            .map(track)
            .collect())
    }

    async fn probe(&self, plugin: &str, url: String) -> Result<MediaInfo, String> {
        let Some(media) = &self.media else {
            return NoMedia.probe(plugin, url).await;
        };
        let info = media.probe(&url).await.map_err(|e| e.to_string())?;
        Ok(MediaInfo {
            title: info.title,
            duration_ms: info.duration_ms,
            artwork_url: info.artwork_url,
            page_url: info.page_url,
            entries: info.entries.into_iter().map(entry).collect(),
        })
    }

    async fn search(
        &self,
        plugin: &str,
        site: SearchSite,
        query: String,
        limit: u32,
    ) -> Result<Vec<MediaEntry>, String> {
        let Some(media) = &self.media else {
            return NoMedia.search(plugin, site, query, limit).await;
        };
        let site = match site {
            SearchSite::Youtube => media::SearchSite::Youtube,
            SearchSite::Soundcloud => media::SearchSite::Soundcloud,
        };
        let entries = media
            .search(site, &query, limit)
            .await
            .map_err(|e| e.to_string())?;
        Ok(entries.into_iter().map(entry).collect())
    }

    async fn download_audio(
        &self,
        plugin: &str,
        url: String,
        into: &mut dyn AudioWriter,
    ) -> Result<(), String> {
        let Some(media) = &self.media else {
            return NoMedia.download_audio(plugin, url, into).await;
        };
        tracing::debug!(plugin, %url, "media download for a plugin");
        media
            .download_audio(&url, into)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// The defaults' "not available" answers.
struct NoMedia;

impl HostServices for NoMedia {}

fn entry(entry: media::Entry) -> MediaEntry {
    MediaEntry {
        title: entry.title,
        duration_ms: entry.duration_ms,
        artwork_url: entry.artwork_url,
        page_url: entry.page_url,
    }
}

struct Streamed(Completion);

#[async_trait]
impl ChatStream for Streamed {
    async fn next(&mut self) -> Result<Option<String>, String> {
        self.0.next().await.map_err(|error| {
            tracing::warn!(%error, "llm stream broke off");
            error.to_string()
        })
    }
}
