//! `minstrel:plugin/llm`: the operator's chat endpoint, through [`HostServices`].
//!
//! [`HostServices`]: crate::plugins::services::HostServices

use wasmtime::component::Resource;

use crate::plugins::api::v0_1_0::llm::{ChatRequest, Host, HostCompletion};
use crate::plugins::services::ChatStream;
use crate::plugins::state::CallState;

/// A streamed answer held in the call's resource table.
pub struct CompletionStream(Box<dyn ChatStream>);

impl Host for CallState {
    async fn chat(&mut self, request: ChatRequest) -> wasmtime::Result<Result<String, String>> {
        self.enter("llm")?;
        let plugin = self.plugin.clone();
        Ok(plugin.services.chat(&plugin.name, self.user, request).await)
    }

    async fn chat_stream(
        &mut self,
        request: ChatRequest,
    ) -> wasmtime::Result<Result<Resource<CompletionStream>, String>> {
        self.enter("llm")?;
        let plugin = self.plugin.clone();
        match plugin
            .services
            .chat_stream(&plugin.name, self.user, request)
            .await
        {
            Ok(stream) => Ok(Ok(self.table().push(CompletionStream(stream))?)),
            Err(error) => Ok(Err(error)),
        }
    }
}

impl HostCompletion for CallState {
    async fn next(
        &mut self,
        completion: Resource<CompletionStream>,
    ) -> wasmtime::Result<Result<Option<String>, String>> {
        self.enter("llm")?;
        let stream = self.table().get_mut(&completion)?;
        Ok(stream.0.next().await)
    }

    async fn drop(&mut self, completion: Resource<CompletionStream>) -> wasmtime::Result<()> {
        self.table().delete(completion)?;
        Ok(())
    }
}
