//! The host subsystems behind the plugin interfaces `llm`, `player` and `media`, wired
//! into one [`HostServices`] implementation.
//!
//! Each subsystem is optional: one that is not configured (or not started yet) answers
//! with the "not configured" error of [`HostServices`]'s default methods. The player is
//! set once the bot is connected, because it needs the plugin host, which needs these
//! services.

use std::sync::OnceLock;

use async_trait::async_trait;

use crate::player::{Command, Outcome, Players, Song};
use crate::plugins::HostServices;
use crate::plugins::types::Track;

/// The host's services, shared by every plugin call.
#[derive(Default)]
pub struct Services {
    /// Guild players; set once the bot is connected.
    pub player: OnceLock<Players>,
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

impl Services {
    fn players(&self) -> Result<&Players, String> {
        self.player
            .get()
            .ok_or_else(|| "no player is running on this bot".to_string())
    }
}

#[async_trait]
impl HostServices for Services {
    async fn enqueue(&self, plugin: &str, guild_id: u64, query: String) -> Result<Track, String> {
        let players = self.players()?;
        let mut songs = players
            .resolve(&query, 0)
            .await
            .map_err(|e| e.to_string())?;
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
}
