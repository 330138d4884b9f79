//! Stand-ins for the services a Discord bot talks to, on loopback: a Discord-compatible
//! server (REST, gateway and voice), an OpenAI-compatible LLM endpoint with scripted
//! answers, an HTTP server standing in for remote audio hosts, and an internet radio
//! station.
//!
//! Used by `minstrel dev` and `minstrel demo` (the host's `dev` feature), the tests and
//! the benchmarks. The production bot does not link this crate.
//!
//! - [`discord`]: the local Discord server the real poise/serenity/songbird client runs against.
//! - [`llm`]: the local chat-completions endpoint.
//! - [`http`]: the local audio host.
//! - [`radio`]: the local Icecast-style station (ICY metadata, dropped listeners).

pub mod discord;
pub mod http;
pub mod llm;
pub mod radio;
