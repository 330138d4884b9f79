//! `minstrel:plugin/player`: the guild's queue, through [`HostServices`].
//!
//! A call may use the player of the guild its invocation came from, and no other: the
//! `guild-id` a plugin passes must be that guild (a command used in one server cannot
//! queue or skip in another). Calls serving no guild (direct messages) have no player.
//!
//! [`HostServices`]: crate::plugins::host_services::HostServices

use crate::plugins::api::v0_1_0::player::Host;
use crate::plugins::api::v0_1_0::types::Track;
use crate::plugins::host_services;
use crate::plugins::state::CallState;

fn track(track: host_services::Track) -> Track {
    Track {
        id: track.id,
        title: track.title,
        duration_ms: track.duration_ms,
        artwork_url: None,
        page_url: track.page_url,
    }
}

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
}

impl Host for CallState {
    async fn enqueue(
        &mut self,
        guild_id: u64,
        query: String,
    ) -> wasmtime::Result<Result<Track, String>> {
        self.enter("player")?;
        let guild = match self.own_guild(guild_id) {
            Ok(guild) => guild,
            Err(e) => return Ok(Err(e)),
        };
        let plugin = self.plugin.clone();
        Ok(plugin
            .services
            .enqueue(&plugin.name, guild, query)
            .await
            .map(track)
            .map_err(|e| e.to_string()))
    }

    async fn skip(&mut self, guild_id: u64) -> wasmtime::Result<Result<Option<Track>, String>> {
        self.enter("player")?;
        let guild = match self.own_guild(guild_id) {
            Ok(guild) => guild,
            Err(e) => return Ok(Err(e)),
        };
        let plugin = self.plugin.clone();
        Ok(plugin
            .services
            .skip(&plugin.name, guild)
            .await
            .map(|now| now.map(track))
            .map_err(|e| e.to_string()))
    }

    async fn queue(&mut self, guild_id: u64) -> wasmtime::Result<Result<Vec<Track>, String>> {
        self.enter("player")?;
        let guild = match self.own_guild(guild_id) {
            Ok(guild) => guild,
            Err(e) => return Ok(Err(e)),
        };
        let plugin = self.plugin.clone();
        Ok(plugin
            .services
            .queue(&plugin.name, guild)
            .await
            .map(|queue| queue.into_iter().map(track).collect())
            .map_err(|e| e.to_string()))
    }
}
