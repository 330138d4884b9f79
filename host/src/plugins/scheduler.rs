//! Fires plugins' timers (the `timers` interface), kept in the bot's database.
//!
//! Every bot process on the database polls for due timers and claims them in one
//! statement ([`Store::timers_due`]), so each timer fires in one process: one that owns
//! the timer's guild, when the bot is sharded over several. The claim is a
//! lease: a process that dies while the plugin runs leaves the timer to be fired again
//! by another once the lease ends. A fired timer is forgotten whatever the plugin did
//! (a trap included), so a failing timer never fires twice. A timer whose plugin is not
//! loaded here waits for its lease to end and is tried again (by whichever process has
//! the plugin loaded by then).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::error::CallError;
use super::runtime::PluginHost;
use super::types::Timer;
use crate::shards::Owned;
use crate::store::Store;

/// How often due timers are looked for (a timer fires at most this late, plus load).
const POLL: Duration = Duration::from_millis(100);
/// How long a claim holds before another process may fire the timer.
const LEASE: Duration = Duration::from_secs(60);
/// Timers claimed per poll.
const BATCH: u32 = 32;
/// Timer calls running at once in this process.
const CONCURRENT: usize = 8;

/// Starts the loop, firing timers of no guild or of a guild in `owned` (see
/// [`crate::shards`]); it stops when `cancel` is cancelled.
pub fn spawn(
    host: PluginHost,
    store: Store,
    owned: Owned,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let running = Arc::new(Semaphore::new(CONCURRENT));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
            // Claim only what can start now, so claimed timers do not wait out a lease
            // in this process while others could run them.
            let free = running.available_permits().min(BATCH as usize) as u32;
            if free == 0 {
                continue;
            }
            let due = match store.timers_due(LEASE, free, owned).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "timers: the store failed");
                    continue;
                }
            };
            for row in due {
                let Ok(permit) = running.clone().acquire_owned().await else {
                    return;
                };
                let (host, store) = (host.clone(), store.clone());
                tokio::spawn(async move {
                    let timer = Timer {
                        id: row.id as u64,
                        payload: row.payload,
                        guild_id: row.guild_id,
                    };
                    match host.timer(&row.plugin, &timer).await {
                        Err(CallError::NotLoaded(_)) => {
                            tracing::debug!(plugin = %row.plugin, id = row.id, "timer of a plugin not loaded here; left for later");
                        }
                        _ => {
                            if let Err(error) = store.timer_done(row.id).await {
                                tracing::warn!(%error, id = row.id, "timers: could not forget a fired timer");
                            }
                        }
                    }
                    drop(permit);
                });
            }
        }
    })
}
