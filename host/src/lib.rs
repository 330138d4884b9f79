//! Minstrel: a Discord bot host that owns the hard, concurrent parts (cache store,
//! locks, de-duplication, playback) and runs features as sandboxed WebAssembly plugins.
//!
//! # Layout
//! - [`cli`]: every `minstrel` command (`run`, `cache`, `plugin`, `source`, and with the
//!   `dev` feature `dev` and `demo`); thin, calls into the rest.
//! - [`config`]: `minstrel.toml` plus `MINSTREL_*` environment overrides.
//! - [`store`]: the cache store. Canonical track keys, content-addressed blobs written
//!   atomically, the SQLite index behind a backend seam, single-flight fetches (in process
//!   and across processes), leases, eviction, per-guild scratch space, reconcile,
//!   event claims and the TTL metadata cache.
//! - [`fetch`]: fetchers that fill the store (the built-in HTTP fetcher).
//! - [`app`]: starting the whole host (store, plugins, bot) for `run` and `dev`.
//! - [`admin`]: the operator's listener: `/healthz`, `/metrics` and the `/status` page.
//! - [`metrics`]: the names of what the host counts, and the Prometheus recorder.
//! - [`recent`]: the last warnings and errors logged, for the status page.
//! - [`discord`]: the bot: poise commands, plugin commands, mentions, exactly-once claims.
//! - [`player`]: playback: per-guild queues on songbird, leased renditions from the cache.
//! - [`llm`]: the client of the operator's OpenAI-compatible chat endpoint.
//! - [`plugins`]: the plugin runtime. WebAssembly components of the `minstrel:plugin`
//!   WIT package, sandboxed (deadline, memory cap, deny-by-default capabilities), loaded
//!   from a folder and hot-reloaded; `minstrel plugin check|list|new`.
//! - [`media`]: yt-dlp with fixed argument templates, behind the plugins' `media`.
//! - [`services`]: the host subsystems behind the plugins' `llm`, `player` and `media`.
//! - [`shards`]: which gateway shards a process runs, and so which guilds it owns.
//! - [`children`]: what yt-dlp and ffmpeg inherit, and what of their errors users see.
//! - [`address`]: which addresses plugin traffic may reach (globally routable unicast).
//! - [`markdown`]: escaping text shown as data (song titles, plugin names and errors) in
//!   the bot's messages; used by the Discord front and the player's announcements.
//!
//! The stand-ins `minstrel dev`, `minstrel demo` and the tests run against (a local
//! Discord, LLM endpoint and audio host) are the `minstrel-local` crate.
//!
//! Read `ARCHITECTURE.md` at the repository root first.

pub mod address;
pub mod admin;
pub mod app;
pub mod children;
pub mod cli;
pub mod config;
pub mod discord;
pub mod fetch;
pub mod llm;
pub mod markdown;
pub mod media;
pub mod metrics;
pub mod player;
pub mod plugins;
pub mod recent;
pub mod services;
pub mod shards;
pub mod store;
