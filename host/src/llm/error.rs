//! What can go wrong talking to the LLM endpoint. The `Display` text is what a plugin
//! (and through it, the user) sees: short, and never containing the key.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    #[error("no LLM endpoint is configured on this bot")]
    NotConfigured,
    #[error("LLM configuration: {0}")]
    Config(String),
    #[error("the request has no messages")]
    NoMessages,
    #[error(
        "rate limit: at most {per_minute} LLM requests per minute per user; try again in {} s",
        retry_after.as_secs().max(1)
    )]
    RateLimited {
        per_minute: u32,
        retry_after: Duration,
    },
    #[error("the LLM endpoint did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("could not reach the LLM endpoint: {0}")]
    Connect(String),
    /// A non-2xx answer, with the endpoint's own error message.
    #[error("the LLM endpoint answered {status}: {message}")]
    Status { status: u16, message: String },
    /// An error reported inside a stream (`data: {"error": ...}`).
    #[error("the LLM endpoint reported an error: {0}")]
    Endpoint(String),
    #[error("the LLM endpoint sent a malformed answer: {0}")]
    Malformed(String),
}
