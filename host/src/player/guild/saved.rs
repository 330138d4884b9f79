//! What of a guild's player survives a restart, and how it is saved: as JSON in the
//! store (`Store::save_player`), on every change and every few seconds while playing.

use serde::{Deserialize, Serialize};

use super::GuildPlayer;
use crate::player::filter::Filter;
use crate::player::queue::Queue;

/// What survives a restart.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(in crate::player) struct Saved {
    pub queue: Queue,
    pub voice_channel: Option<u64>,
    pub text_channel: Option<u64>,
    pub volume: u8,
    pub always_on: bool,
    pub position_ms: u64,
    pub paused: bool,
    pub next_uid: u64,
    /// Older saves have none.
    #[serde(default)]
    pub filter: Filter,
}

impl GuildPlayer {
    pub(super) async fn save(&mut self) {
        let position_ms = match &self.playing {
            Some(p) => p
                .handle
                .get_info()
                .await
                .map(|i| i.position.as_millis() as u64)
                .unwrap_or(0),
            None => 0,
        };
        let saved = Saved {
            queue: self.queue.clone(),
            voice_channel: self
                .voice
                .filter(|_| self.joined || self.resume_at.is_some()),
            text_channel: self.text,
            volume: self.volume,
            always_on: self.always_on,
            position_ms,
            paused: self.playing.as_ref().is_some_and(|p| p.paused),
            next_uid: self.next_uid,
            filter: self.filter,
        };
        let store = &self.shared.store;
        let result = if saved.queue.is_empty()
            && !saved.always_on
            && saved.volume == 100
            && saved.filter == Filter::Off
        {
            store.forget_player(self.guild).await
        } else {
            match serde_json::to_string(&saved) {
                Ok(json) => store.save_player(self.guild, &json).await,
                Err(e) => {
                    tracing::error!(error = %e, "could not serialise the player");
                    return;
                }
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not save the player");
        }
    }
}
