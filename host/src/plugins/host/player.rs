//! `minstrel:plugin/player`: the guild's queue, through [`HostServices`].
//!
//! A call may use the player of the guild it serves, and no other: the `guild-id` a
//! plugin passes must be that guild (a command used in one server cannot queue or skip
//! in another; a press, a player event or a timer serves its own guild). Calls serving
//! no guild (direct messages) have no player.
//!
//! 0.2.0 is the full interface; 0.1.0 (`enqueue`, `skip`, and a `queue` that starts with
//! the current track) is answered from the same services.
//!
//! [`HostServices`]: crate::plugins::host_services::HostServices

use crate::plugins::api::{v0_1_0, v0_2_0};
use crate::plugins::host_services::{self, Control, Repeat, ServiceError};
use std::sync::Arc;

use crate::plugins::state::{CallState, PluginContext};

impl CallState {
    /// `guild_id` if it is the guild this call serves, else the error the plugin gets.
    fn own_guild(&self, guild_id: u64) -> Result<u64, String> {
        match self.guild {
            Some(guild) if guild == guild_id => Ok(guild),
            Some(_) => {
                tracing::warn!(
                    plugin = %self.plugin.name,
                    asked = guild_id,
                    "a plugin asked for the player of another guild"
                );
                Err("a plugin may only use the player of the server it was used in".into())
            }
            None => Err("there is no player here: this was not used in a server".into()),
        }
    }

    /// The grant and guild checks every player call makes: the plugin's context and the
    /// guild, or the error the plugin gets.
    fn player_for(
        &mut self,
        guild_id: u64,
    ) -> wasmtime::Result<Result<(Arc<PluginContext>, u64), String>> {
        self.enter("player")?;
        Ok(self
            .own_guild(guild_id)
            .map(|guild| (self.plugin.clone(), guild)))
    }
}

/// The one line a plugin sees for a failed player request.
fn text(error: ServiceError) -> String {
    error.to_string()
}

/// `let (plugin, guild) = checked!(self, guild_id);`: the checks of [`CallState::player_for`],
/// returning the plugin's error early.
macro_rules! checked {
    ($state:expr, $guild:expr) => {
        match $state.player_for($guild)? {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        }
    };
}

/// The calls that act for the member the call serves (see [`host_services::Asker`]),
/// shared by both API versions, which differ only in their track records.
impl CallState {
    async fn enqueue_as(
        &mut self,
        guild_id: u64,
        query: String,
        at: Option<u32>,
    ) -> wasmtime::Result<Result<host_services::Track, String>> {
        let (p, guild) = checked!(self, guild_id);
        let asker = self.asker.clone();
        let queued = p
            .services
            .enqueue(&p.name, guild, query, at, asker.as_ref());
        Ok(queued.await.map_err(text))
    }

    async fn skip_as(
        &mut self,
        guild_id: u64,
    ) -> wasmtime::Result<Result<Option<host_services::Track>, String>> {
        let (p, guild) = checked!(self, guild_id);
        let asker = self.asker.clone();
        Ok(p.services
            .skip(&p.name, guild, asker.as_ref())
            .await
            .map_err(text))
    }
}

/// The track records are field for field the same in both versions.
macro_rules! track_of {
    ($v:ident) => {
        fn track(track: host_services::Track) -> $v::types::Track {
            $v::types::Track {
                id: track.id,
                title: track.title,
                duration_ms: track.duration_ms,
                artwork_url: None,
                page_url: track.page_url,
            }
        }
    };
}

mod v1 {
    use super::*;
    use v0_1_0::player::Host;
    track_of!(v0_1_0);

    impl Host for CallState {
        async fn enqueue(
            &mut self,
            guild_id: u64,
            query: String,
        ) -> wasmtime::Result<Result<v0_1_0::types::Track, String>> {
            Ok(self.enqueue_as(guild_id, query, None).await?.map(track))
        }

        async fn skip(
            &mut self,
            guild_id: u64,
        ) -> wasmtime::Result<Result<Option<v0_1_0::types::Track>, String>> {
            Ok(self.skip_as(guild_id).await?.map(|now| now.map(track)))
        }

        async fn queue(
            &mut self,
            guild_id: u64,
        ) -> wasmtime::Result<Result<Vec<v0_1_0::types::Track>, String>> {
            let (p, guild) = checked!(self, guild_id);
            Ok((async {
                let now = p.services.now_playing(&p.name, guild).await?;
                let queue = p.services.queue(&p.name, guild).await?;
                Ok(now
                    .map(|now| now.track)
                    .into_iter()
                    .chain(queue.into_iter().map(|entry| entry.track))
                    .map(track)
                    .collect())
            })
            .await
            .map_err(text))
        }
    }
}

mod v2 {
    use super::*;
    use v0_2_0::player::{Host, LoopMode, Playing, Queued};
    use v0_2_0::types::Track;
    track_of!(v0_2_0);

    impl Host for CallState {
        async fn enqueue(
            &mut self,
            guild_id: u64,
            query: String,
        ) -> wasmtime::Result<Result<Track, String>> {
            Ok(self.enqueue_as(guild_id, query, None).await?.map(track))
        }

        async fn enqueue_at(
            &mut self,
            guild_id: u64,
            query: String,
            position: u32,
        ) -> wasmtime::Result<Result<Track, String>> {
            let queued = self.enqueue_as(guild_id, query, Some(position)).await?;
            Ok(queued.map(track))
        }

        async fn skip(&mut self, guild_id: u64) -> wasmtime::Result<Result<Option<Track>, String>> {
            Ok(self.skip_as(guild_id).await?.map(|now| now.map(track)))
        }

        async fn queue(&mut self, guild_id: u64) -> wasmtime::Result<Result<Vec<Queued>, String>> {
            let (p, guild) = checked!(self, guild_id);
            Ok((async {
                let queue = p.services.queue(&p.name, guild).await?;
                Ok(queue
                    .into_iter()
                    .map(|entry| Queued {
                        track: track(entry.track),
                        requested_by: entry.requested_by,
                    })
                    .collect())
            })
            .await
            .map_err(text))
        }

        async fn now_playing(
            &mut self,
            guild_id: u64,
        ) -> wasmtime::Result<Result<Option<Playing>, String>> {
            let (p, guild) = checked!(self, guild_id);
            Ok((async {
                let now = p.services.now_playing(&p.name, guild).await?;
                Ok(now.map(|now| Playing {
                    track: track(now.track),
                    requested_by: now.requested_by,
                    position_ms: now.position_ms,
                    paused: now.paused,
                }))
            })
            .await
            .map_err(text))
        }

        async fn on_air(
            &mut self,
            guild_id: u64,
        ) -> wasmtime::Result<Result<Option<String>, String>> {
            let (p, guild) = checked!(self, guild_id);
            Ok((async {
                let now = p.services.now_playing(&p.name, guild).await?;
                Ok(now.and_then(|now| now.on_air))
            })
            .await
            .map_err(text))
        }

        async fn seek(
            &mut self,
            guild_id: u64,
            position_ms: u64,
        ) -> wasmtime::Result<Result<(), String>> {
            self.control(guild_id, Control::Seek { position_ms }).await
        }

        async fn pause(
            &mut self,
            guild_id: u64,
            paused: bool,
        ) -> wasmtime::Result<Result<(), String>> {
            self.control(guild_id, Control::Pause(paused)).await
        }

        async fn stop(&mut self, guild_id: u64) -> wasmtime::Result<Result<(), String>> {
            self.control(guild_id, Control::Stop).await
        }

        async fn set_loop(
            &mut self,
            guild_id: u64,
            mode: LoopMode,
        ) -> wasmtime::Result<Result<(), String>> {
            let repeat = match mode {
                LoopMode::Off => Repeat::Off,
                LoopMode::Track => Repeat::Track,
                LoopMode::Queue => Repeat::Queue,
            };
            self.control(guild_id, Control::Repeat(repeat)).await
        }
    }

    impl CallState {
        async fn control(
            &mut self,
            guild_id: u64,
            control: Control,
        ) -> wasmtime::Result<Result<(), String>> {
            let (p, guild) = checked!(self, guild_id);
            let asker = self.asker.clone();
            Ok((async {
                p.services
                    .control(&p.name, guild, control, asker.as_ref())
                    .await
            })
            .await
            .map_err(text))
        }
    }
}
