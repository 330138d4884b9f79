//! The host's LLM client: any OpenAI-compatible `chat/completions` endpoint, whole
//! answers and streamed ones (server-sent events), behind the plugins' `llm` interface.
//!
//! - [`error`]: what can fail, worded for the user who asked.
//! - [`sse`]: reassembling `data:` events from the byte stream.
//! - [`context`]: fitting a conversation into the configured limits.
//! - [`limit`]: the per-user requests-per-minute limit.
//!
//! The key lives here only: plugins send a [`ChatRequest`] and get text back; no header,
//! URL or error message they see contains it.

pub mod context;
pub mod error;
pub mod limit;
pub mod sse;

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};

pub use error::LlmError;

use crate::config::LlmConfig;
use limit::RateLimit;

/// What a caller asks the endpoint.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// The operator's model when `None`.
    pub model: Option<String>,
    pub messages: Vec<ChatMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

/// Longest error text kept from an endpoint's answer.
const MAX_ERROR_CHARS: usize = 300;

/// A configured endpoint. Cheap to share behind an `Arc`.
pub struct LlmClient {
    http: reqwest::Client,
    url: String,
    model: String,
    key: Option<String>,
    timeout: Duration,
    max_messages: usize,
    max_chars: usize,
    limit: RateLimit,
}

impl LlmClient {
    /// The client for `config`, or `None` when no endpoint is configured.
    pub fn from_config(config: &LlmConfig) -> Result<Option<Self>, LlmError> {
        let Some(base) = &config.base_url else {
            return Ok(None);
        };
        let base = url::Url::parse(base)
            .map_err(|e| LlmError::Config(format!("base_url {base:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(LlmError::Config("base_url must be http(s)".into()));
        }
        let key = match (&config.api_key, &config.api_key_env) {
            (Some(key), _) => Some(key.clone()),
            (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                LlmError::Config(format!("api_key_env names {var}, which is not set"))
            })?),
            (None, None) => None,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeout())
            // A redirect could carry the key elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| LlmError::Config(e.to_string()))?;
        Ok(Some(Self {
            http,
            url: format!("{}/chat/completions", base.as_str().trim_end_matches('/')),
            model: config.model.clone(),
            key,
            timeout: config.timeout(),
            max_messages: config.max_context_messages,
            max_chars: config.max_context_chars,
            limit: RateLimit::new(config.requests_per_minute),
        }))
    }

    /// The whole answer. `who` is the rate-limit key (the Discord user).
    pub async fn chat(&self, who: &str, request: ChatRequest) -> Result<String, LlmError> {
        let started = Instant::now();
        let response = self.send(who, request, false).await?;
        let body = tokio::time::timeout(
            self.timeout.saturating_sub(started.elapsed()),
            response.bytes(),
        )
        .await
        .map_err(|_| LlmError::Timeout(self.timeout))?
        .map_err(|e| LlmError::Connect(e.to_string()))?;
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|e| LlmError::Malformed(format!("not JSON: {e}")))?;
        count_usage(&answer);
        answer["choices"][0]["message"]["content"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| LlmError::Malformed("no choices[0].message.content".into()))
    }

    /// The answer as a stream of pieces.
    pub async fn chat_stream(
        &self,
        who: &str,
        request: ChatRequest,
    ) -> Result<Completion, LlmError> {
        let response = self.send(who, request, true).await?;
        Ok(Completion {
            body: response.bytes_stream().boxed(),
            decoder: sse::EventDecoder::default(),
            pending: std::collections::VecDeque::new(),
            idle: self.timeout,
            finished: false,
            done: false,
        })
    }

    async fn send(
        &self,
        who: &str,
        request: ChatRequest,
        stream: bool,
    ) -> Result<reqwest::Response, LlmError> {
        let result = self.request(who, request, stream).await;
        let outcome = crate::metrics::outcome(&result);
        metrics::counter!(crate::metrics::LLM_REQUESTS, "outcome" => outcome).increment(1);
        result
    }

    async fn request(
        &self,
        who: &str,
        request: ChatRequest,
        stream: bool,
    ) -> Result<reqwest::Response, LlmError> {
        if request.messages.is_empty() {
            return Err(LlmError::NoMessages);
        }
        self.limit
            .check(who, Instant::now())
            .map_err(|retry_after| LlmError::RateLimited {
                per_minute: self.limit.per_minute(),
                retry_after,
            })?;
        let messages: Vec<Value> =
            context::fit(request.messages, self.max_messages, self.max_chars)
                .into_iter()
                .map(|m| json!({"role": role(m.role), "content": m.content}))
                .collect();
        let mut body = json!({
            "model": request.model.unwrap_or_else(|| self.model.clone()),
            "messages": messages,
            "stream": stream,
        });
        if let Some(n) = request.max_tokens {
            body["max_tokens"] = json!(n);
        }
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        let mut builder = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(key) = &self.key {
            builder = builder.bearer_auth(key);
        }
        // Until the status line and headers: a stalled endpoint fails here.
        let response = tokio::time::timeout(self.timeout, builder.send())
            .await
            .map_err(|_| LlmError::Timeout(self.timeout))?
            .map_err(|e| LlmError::Connect(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let text = tokio::time::timeout(self.timeout, response.text())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            return Err(LlmError::Status {
                status: status.as_u16(),
                message: error_message(&text, status),
            });
        }
        Ok(response)
    }
}

/// Tokens an answer (or a streamed chunk) reports in `usage`, if it does.
fn count_usage(answer: &Value) {
    for (field, kind) in [
        ("prompt_tokens", "prompt"),
        ("completion_tokens", "completion"),
    ] {
        if let Some(n) = answer["usage"][field].as_u64() {
            metrics::counter!(crate::metrics::LLM_TOKENS, "kind" => kind).increment(n);
        }
    }
}

fn role(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// The endpoint's own message (`{"error": {"message": ...}}`), else its text, short.
fn error_message(text: &str, status: reqwest::StatusCode) -> String {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| {
            v["error"]["message"]
                .as_str()
                .or_else(|| v["error"].as_str())
                .or_else(|| v["message"].as_str())
        })
        .map(str::to_string)
        .unwrap_or_else(|| text.trim().to_string());
    if message.is_empty() {
        return status.canonical_reason().unwrap_or("error").to_string();
    }
    message.chars().take(MAX_ERROR_CHARS).collect()
}

/// A streamed answer. Each [`Completion::next`] waits at most the configured timeout.
pub struct Completion {
    body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    decoder: sse::EventDecoder,
    pending: std::collections::VecDeque<String>,
    idle: Duration,
    /// A choice reported a `finish_reason`.
    finished: bool,
    /// `[DONE]` seen, or the body ended after a finish.
    done: bool,
}

impl Completion {
    /// The next non-empty piece of text, or `None` at the end of the answer.
    pub async fn next(&mut self) -> Result<Option<String>, LlmError> {
        loop {
            while let Some(event) = self.pending.pop_front() {
                if let Some(piece) = self.event(&event)? {
                    return Ok(Some(piece));
                }
            }
            if self.done {
                return Ok(None);
            }
            let chunk = tokio::time::timeout(self.idle, self.body.next())
                .await
                .map_err(|_| LlmError::Timeout(self.idle))?;
            match chunk {
                Some(Ok(bytes)) => {
                    let events = self.decoder.feed(&bytes).map_err(LlmError::Malformed)?;
                    self.pending.extend(events);
                }
                Some(Err(e)) => return Err(LlmError::Connect(e.without_url().to_string())),
                None => {
                    self.pending.extend(self.decoder.finish());
                    if self.pending.is_empty() {
                        if self.finished {
                            self.done = true;
                        } else {
                            return Err(LlmError::Malformed(
                                "the stream ended before [DONE]".into(),
                            ));
                        }
                    }
                }
            }
        }
    }

    /// One event's text, if it carries any.
    fn event(&mut self, data: &str) -> Result<Option<String>, LlmError> {
        if self.done {
            return Ok(None);
        }
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(None);
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| LlmError::Malformed(format!("an event is not JSON ({e})")))?;
        if let Some(error) = chunk.get("error") {
            let message = error["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| error.to_string());
            return Err(LlmError::Endpoint(
                message.chars().take(MAX_ERROR_CHARS).collect(),
            ));
        }
        let Some(choices) = chunk["choices"].as_array() else {
            return Err(LlmError::Malformed("an event has no choices".into()));
        };
        count_usage(&chunk);
        let Some(choice) = choices.first() else {
            // Usage-only chunks have an empty list.
            return Ok(None);
        };
        if choice["finish_reason"].is_string() {
            self.finished = true;
        }
        Ok(choice["delta"]["content"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string))
    }
}
