//! The host subsystems behind the plugin interfaces `llm`, `player` and `media`, wired
//! into one [`HostServices`] implementation.
//!
//! Each subsystem is optional: one that is not configured (or not started yet) answers
//! with the "not configured" error of [`HostServices`]'s default methods. The player is
//! set after start because it needs the plugin host, which needs these services.

use std::time::Instant;

use async_trait::async_trait;

use crate::llm::{Completion, LlmClient};
use crate::plugins::types::ChatRequest;
use crate::plugins::{ChatStream, HostServices};

/// The host's services, shared by every plugin call.
#[derive(Default)]
pub struct Services {
    /// The operator's LLM endpoint (`[llm]`), if configured.
    pub llm: Option<LlmClient>,
}

impl Services {
    fn llm(&self) -> Result<&LlmClient, String> {
        self.llm
            .as_ref()
            .ok_or_else(|| crate::llm::LlmError::NotConfigured.to_string())
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
