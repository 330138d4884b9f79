//! The index's generation with PostgreSQL (see [`super::known`]): every process
//! announces its changes on a channel of the database (`NOTIFY`), and each listens to
//! it on a connection of its own (`LISTEN`), moving its generation on with every
//! announcement it hears.
//!
//! A notification reaches the other processes a moment after the change commits
//! (typically well under a millisecond on one network), so for that moment another
//! process may still answer from what it remembered; a lookup still checks that the
//! blob's file exists, and a lease still checks the database. While the listening
//! connection is down nothing is remembered, and once it is back everything remembered
//! before is forgotten (announcements meanwhile are lost).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use super::error::Result;

/// How long to wait before listening again after the connection failed.
const RETRY: Duration = Duration::from_secs(1);

/// This process's generation, moved on by its own changes and by those it hears.
pub struct Changes {
    heard: Arc<Heard>,
    /// Where changes are announced: the pool of the index's statements.
    pool: PgPool,
    channel: String,
    listener: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Heard {
    generation: AtomicU64,
    listening: AtomicBool,
}

impl Heard {
    fn moved(&self) {
        self.generation.fetch_add(1, SeqCst);
    }

    fn set_listening(&self, listening: bool) {
        self.listening.store(listening, SeqCst);
        self.moved();
    }
}

impl Changes {
    /// Starts listening on `channel` (one per schema) with a connection made from
    /// `options`; changes are announced through `pool`.
    pub fn start(options: &PgConnectOptions, pool: PgPool, channel: String) -> Self {
        let heard = Arc::new(Heard::default());
        let connection = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(options.clone());
        let listener = tokio::spawn(listen(connection, channel.clone(), Arc::clone(&heard)));
        Self {
            heard,
            pool,
            channel,
            listener,
        }
    }

    /// The generation now, or `None` while changes cannot be heard (then nothing may
    /// be remembered).
    pub fn read(&self) -> Option<u64> {
        // Listening is looked at first: a connection lost after that moves the
        // generation on as it is marked, so what is read now is forgotten then.
        if !self.heard.listening.load(SeqCst) {
            return None;
        }
        Some(self.heard.generation.load(SeqCst))
    }

    /// Moves this process's generation on at once, and announces the change to the
    /// others.
    pub async fn bump(&self) -> Result<()> {
        self.heard.moved();
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(&self.channel)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl Drop for Changes {
    fn drop(&mut self) {
        // Closes the listening connection.
        self.listener.abort();
    }
}

async fn listen(connection: PgPool, channel: String, heard: Arc<Heard>) {
    loop {
        let lost = hear(&connection, &channel, &heard).await;
        heard.set_listening(false);
        let error = lost.map_or_else(|e| e.to_string(), |()| "the connection dropped".into());
        tracing::warn!(%error, "not hearing other processes' index changes: cache hits and settings are read from the database until this is back");
        tokio::time::sleep(RETRY).await;
    }
}

/// Listens until the connection is lost.
async fn hear(connection: &PgPool, channel: &str, heard: &Heard) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(connection).await?;
    // Reconnecting is [`listen`]'s, which forgets everything first.
    listener.eager_reconnect(false);
    listener.listen(channel).await?;
    heard.set_listening(true);
    while listener.try_recv().await?.is_some() {
        heard.moved();
    }
    Ok(())
}
