//! `minstrel:plugin/player`: the guild's queue, through [`HostServices`].
//!
//! [`HostServices`]: crate::plugins::services::HostServices

use crate::plugins::api::v0_1_0::player::Host;
use crate::plugins::api::v0_1_0::types::Track;
use crate::plugins::state::CallState;

impl Host for CallState {
    async fn enqueue(
        &mut self,
        guild_id: u64,
        query: String,
    ) -> wasmtime::Result<Result<Track, String>> {
        self.enter("player")?;
        let plugin = self.plugin.clone();
        Ok(plugin.services.enqueue(&plugin.name, guild_id, query).await)
    }

    async fn skip(&mut self, guild_id: u64) -> wasmtime::Result<Result<Option<Track>, String>> {
        self.enter("player")?;
        let plugin = self.plugin.clone();
        Ok(plugin.services.skip(&plugin.name, guild_id).await)
    }

    async fn queue(&mut self, guild_id: u64) -> wasmtime::Result<Result<Vec<Track>, String>> {
        self.enter("player")?;
        let plugin = self.plugin.clone();
        Ok(plugin.services.queue(&plugin.name, guild_id).await)
    }
}
