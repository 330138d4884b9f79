//! Minstrel: a Discord bot host that owns the hard, concurrent parts (cache store,
//! locks, de-duplication, playback) and runs features as sandboxed WebAssembly plugins.
//!
//! # Layout
//! - [`cli`]: the command line (`minstrel cache ...`, `minstrel demo`); thin, calls into the rest.
//! - [`config`]: `minstrel.toml` plus `MINSTREL_*` environment overrides.
//! - [`store`]: the cache store. Canonical track keys, content-addressed blobs written
//!   atomically, the SQLite index behind a backend seam, single-flight fetches (in process
//!   and across processes), leases, eviction, per-guild scratch space, reconcile,
//!   event claims and the TTL metadata cache.
//! - [`fetch`]: fetchers that fill the store (the built-in HTTP fetcher).
//! - [`app`]: starting the whole host (store, plugins, bot) for `run` and `dev`.
//! - [`discord`]: the bot: poise commands, plugin commands, mentions, exactly-once claims.
//! - [`local`]: the local Discord-compatible server used by `minstrel dev` and the tests.
//! - [`dev`]: `minstrel dev`, the local server plus a terminal to chat with the bot.
//! - [`demo`]: the self-contained demonstration run by `minstrel demo`.
//! - [`localhttp`]: a loopback HTTP server standing in for remote audio hosts.
//! - [`player`]: playback: per-guild queues on songbird, leased renditions from the cache.
//! - [`llm`]: the client of the operator's OpenAI-compatible chat endpoint.
//! - [`localllm`]: a loopback OpenAI-compatible endpoint with scripted answers.
//! - [`plugins`]: the plugin runtime. WebAssembly components of the `minstrel:plugin`
//!   WIT package, sandboxed (deadline, memory cap, deny-by-default capabilities), loaded
//!   from a folder and hot-reloaded; `minstrel plugin check|list|new`.
//! - [`media`]: yt-dlp with fixed argument templates, behind the plugins' `media`.
//! - [`sources`]: `minstrel source resolve|fetch`, a source plugin from the command line.
//! - [`services`]: the host subsystems behind the plugins' `llm`, `player` and `media`.
//! - [`children`]: what yt-dlp and ffmpeg inherit, and what of their errors users see.
//! - [`address`]: which addresses plugin traffic may reach (globally routable unicast).
//! - [`markdown`]: escaping text shown as data (song titles, plugin names and errors) in
//!   the bot's messages; used by the Discord front and the player's announcements.
//!
//! Read `ARCHITECTURE.md` at the repository root first.

pub mod address;
pub mod app;
pub mod children;
pub mod cli;
pub mod config;
pub mod demo;
pub mod dev;
pub mod discord;
pub mod fetch;
pub mod llm;
pub mod local;
pub mod localhttp;
pub mod localllm;
pub mod markdown;
pub mod media;
pub mod player;
pub mod plugins;
pub mod services;
pub mod sources;
pub mod store;
