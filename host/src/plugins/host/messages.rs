//! `minstrel:plugin/messages`: messages a plugin posts on its own, in the guild the call
//! serves (through [`HostServices::post`], which checks the channel is in that guild).
//!
//! [`HostServices::post`]: crate::plugins::host_services::HostServices::post

use crate::plugins::api::v0_2_0::messages::Host;
use crate::plugins::api::v0_2_0::types::Reply;
use crate::plugins::state::CallState;

impl CallState {
    async fn post(
        &mut self,
        channel_id: u64,
        edit: Option<u64>,
        reply: Reply,
    ) -> wasmtime::Result<Result<u64, String>> {
        self.enter("messages")?;
        let Some(guild) = self.guild else {
            return Ok(Err("there is no server here to post in".into()));
        };
        let plugin = self.plugin.clone();
        let reply = match crate::plugins::components::prepare(&plugin.name, reply) {
            Ok(reply) => reply,
            Err(e) => return Ok(Err(e)),
        };
        Ok(plugin
            .services
            .post(&plugin.name, guild, channel_id, edit, reply)
            .await
            .map_err(|e| e.to_string()))
    }
}

impl Host for CallState {
    async fn send(
        &mut self,
        channel_id: u64,
        reply: Reply,
    ) -> wasmtime::Result<Result<u64, String>> {
        self.post(channel_id, None, reply).await
    }

    async fn edit(
        &mut self,
        channel_id: u64,
        message_id: u64,
        reply: Reply,
    ) -> wasmtime::Result<Result<(), String>> {
        Ok(self
            .post(channel_id, Some(message_id), reply)
            .await?
            .map(|_| ()))
    }
}
