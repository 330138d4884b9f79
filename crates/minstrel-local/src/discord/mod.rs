//! A local Discord-compatible server: REST under `/api/v10` and a plain `ws://` gateway
//! on 127.0.0.1, speaking the payloads the real poise/serenity client needs. Used by the
//! tests and by `minstrel dev`; no Discord is reachable from either.
//!
//! - [`world`]: the guild, its channels and members, messages, registered commands,
//!   every REST call received, the "act as a user" API, and Discord's failures on
//!   demand (a required token, refused command registrations).
//! - [`payloads`]: Discord object shapes (users, members, messages, guilds, interactions).
//! - [`rest`]: the REST routes.
//! - [`gateway`]: the gateway websocket (HELLO, IDENTIFY/RESUME, heartbeats, dispatch,
//!   and the bot's voice state updates).
//! - [`voice`]: the voice endpoint songbird's driver connects to (wss + UDP), which
//!   decrypts, counts and records what the bot plays.
//!
//! ## Voice
//!
//! The bot sends op 4 with a channel; its gateway session (only) gets
//! VOICE_STATE_UPDATE (its session id) and VOICE_SERVER_UPDATE (a fresh token, endpoint
//! `localhost:PORT`). songbird connects to `wss://localhost:PORT`, which presents a
//! self-signed certificate made at run time; the client trusts it through
//! `SSL_CERT_FILE` = [`voice::trust_bundle`] (system roots + that certificate). A child
//! process gets the variable in its environment; an in-process client needs
//! [`voice::trust_in_this_process`] before its runtime starts (see its safety note).
//! What arrives is in [`World::voice_stats`], and, when the server was started with a
//! recordings folder, in `guild-<id>-<n>.ogg` there. Test users join voice with
//! [`World::join_voice`]; [`World::grant_voice`] issues a grant without a gateway, for a
//! bare `songbird::Driver`.
//!
//! Shapes follow Discord's published API description (`shared/reference`) and what
//! serenity 0.12's models require (a payload serenity cannot parse is dropped silently,
//! so `tests/local_discord.rs` parses every shape with serenity's own types).

pub mod gateway;
pub mod payloads;
pub mod process;
pub mod rest;
pub mod voice;
pub mod world;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use voice::{VoiceGrant, VoiceStats};
pub use world::{RealTime, RestCall, World};

/// A running local server; stops when dropped.
pub struct LocalDiscord {
    addr: SocketAddr,
    world: Arc<World>,
    task: tokio::task::JoinHandle<()>,
    _voice: voice::VoiceServer,
}

impl LocalDiscord {
    /// Starts on an ephemeral loopback port; voice is counted but not recorded.
    pub async fn start() -> std::io::Result<Self> {
        Self::bind_with("127.0.0.1:0", None).await
    }

    /// Starts on an ephemeral loopback port, writing each guild's voice audio to an Ogg
    /// Opus file under `recordings`.
    pub async fn start_recording(recordings: PathBuf) -> std::io::Result<Self> {
        Self::bind_with("127.0.0.1:0", Some(recordings)).await
    }

    pub async fn bind(addr: &str) -> std::io::Result<Self> {
        Self::bind_with(addr, None).await
    }

    pub async fn bind_with(addr: &str, recordings: Option<PathBuf>) -> std::io::Result<Self> {
        let voice_server = voice::VoiceServer::start(recordings).await?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let world = Arc::new(World::new(addr, Arc::clone(voice_server.voice())));
        let app = rest::router(Arc::clone(&world));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "local Discord server stopped");
            }
        });
        Ok(Self {
            addr,
            world,
            task,
            _voice: voice_server,
        })
    }

    /// Base URL for serenity's `HttpBuilder::proxy`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn world(&self) -> &Arc<World> {
        &self.world
    }
}

impl Drop for LocalDiscord {
    fn drop(&mut self) {
        self.task.abort();
    }
}
