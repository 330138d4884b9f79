//! Stand-ins for the services a Discord bot talks to, on loopback: a Discord-compatible
//! server (REST, gateway and voice), an OpenAI-compatible LLM endpoint with scripted
//! answers, and an HTTP server standing in for remote audio hosts.
//!
//! Used by `minstrel dev` and `minstrel demo` (the host's `dev` feature), the tests and
//! the benchmarks. The production bot does not link this crate.
//!
//! - [`discord`]: the local Discord server the real poise/serenity/songbird client runs against.
//! - [`llm`]: the local chat-completions endpoint.
//! - [`http`]: the local audio host.

pub mod discord;
pub mod http;
pub mod llm;
