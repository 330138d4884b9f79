//! `minstrel:plugin/llm`: the operator's chat endpoint, through [`HostServices`].
//!
//! [`HostServices`]: crate::plugins::host_services::HostServices

use wasmtime::component::Resource;

use crate::llm;
use crate::plugins::host_services::ChatStream;
use crate::plugins::state::CallState;

/// A streamed answer held in the call's resource table.
pub struct CompletionStream(Box<dyn ChatStream>);

/// The interface is the same in every served version: one implementation, per version.
macro_rules! serve {
    ($v:ident) => {
        mod $v {
            use super::*;
            use crate::plugins::api::$v::llm::{
                ChatMessage, ChatRequest, Host, HostCompletion, Role,
            };

            fn request(request: ChatRequest) -> llm::ChatRequest {
                llm::ChatRequest {
                    model: request.model,
                    messages: request.messages.into_iter().map(message).collect(),
                    max_tokens: request.max_tokens,
                    temperature: request.temperature,
                }
            }

            fn message(message: ChatMessage) -> llm::ChatMessage {
                llm::ChatMessage {
                    role: match message.role {
                        Role::System => llm::Role::System,
                        Role::User => llm::Role::User,
                        Role::Assistant => llm::Role::Assistant,
                    },
                    content: message.content,
                }
            }

            impl Host for CallState {
                async fn chat(
                    &mut self,
                    chat: ChatRequest,
                ) -> wasmtime::Result<Result<String, String>> {
                    self.enter("llm")?;
                    let plugin = self.plugin.clone();
                    Ok(plugin
                        .services
                        .chat(&plugin.name, self.user, request(chat))
                        .await
                        .map_err(|e| e.to_string()))
                }

                async fn chat_stream(
                    &mut self,
                    chat: ChatRequest,
                ) -> wasmtime::Result<Result<Resource<CompletionStream>, String>> {
                    self.enter("llm")?;
                    let plugin = self.plugin.clone();
                    match plugin
                        .services
                        .chat_stream(&plugin.name, self.user, request(chat))
                        .await
                    {
                        Ok(stream) => Ok(Ok(self.table().push(CompletionStream(stream))?)),
                        Err(error) => Ok(Err(error.to_string())),
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
                    Ok(stream.0.next().await.map_err(|e| e.to_string()))
                }

                async fn drop(
                    &mut self,
                    completion: Resource<CompletionStream>,
                ) -> wasmtime::Result<()> {
                    self.table().delete(completion)?;
                    Ok(())
                }
            }
        }
    };
}

serve!(v0_1_0);
serve!(v0_2_0);
