//! A local Discord-compatible server: REST under `/api/v10` and a plain `ws://` gateway
//! on 127.0.0.1, speaking the payloads the real poise/serenity client needs. Used by the
//! tests and by `minstrel dev`; no Discord is reachable from either.
//!
//! - [`world`]: the guild, its channels and members, messages, registered commands,
//!   every REST call received, and the "act as a user" API.
//! - [`payloads`]: Discord object shapes (users, members, messages, guilds, interactions).
//! - [`rest`]: the REST routes.
//! - [`gateway`]: the gateway websocket (HELLO, IDENTIFY/RESUME, heartbeats, dispatch).
//!
//! Shapes follow Discord's published API description (`shared/reference`) and what
//! serenity 0.12's models require (a payload serenity cannot parse is dropped silently,
//! so `tests/local_discord.rs` parses every shape with serenity's own types).

pub mod gateway;
pub mod payloads;
pub mod rest;
pub mod world;

use std::net::SocketAddr;
use std::sync::Arc;

pub use world::{RestCall, World};

/// A running local server; stops when dropped.
pub struct LocalDiscord {
    addr: SocketAddr,
    world: Arc<World>,
    task: tokio::task::JoinHandle<()>,
}

impl LocalDiscord {
    /// Starts on an ephemeral loopback port.
    pub async fn start() -> std::io::Result<Self> {
        Self::bind("127.0.0.1:0").await
    }

    pub async fn bind(addr: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let world = Arc::new(World::new(addr));
        let app = rest::router(Arc::clone(&world));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "local Discord server stopped");
            }
        });
        Ok(Self { addr, world, task })
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
