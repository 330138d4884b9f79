//! `minstrel:plugin/timers`: callbacks later, kept in the bot's database (see
//! [`crate::plugins::scheduler`], which fires them).
//!
//! A timer remembers the guild the scheduling call served, so `on-timer` may use that
//! guild's player and post there. A plugin has at most [`MAX_PENDING`] pending timers
//! and payloads of at most [`MAX_PAYLOAD`] bytes: a plugin that schedules thousands is
//! refused with a clear error, not obeyed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::plugins::api::v0_2_0::timers::Host;
use crate::plugins::state::CallState;

/// Pending timers per plugin.
pub const MAX_PENDING: u32 = 1_000;
/// Bytes of payload per timer.
pub const MAX_PAYLOAD: usize = 16 << 10;
/// Furthest ahead a timer may be set.
const MAX_AHEAD: Duration = Duration::from_secs(366 * 24 * 3600);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl CallState {
    async fn schedule(
        &mut self,
        due_ms: u64,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<u64, String>> {
        self.enter("timers")?;
        if payload.len() > MAX_PAYLOAD {
            return Ok(Err(format!(
                "a timer's payload may hold at most {MAX_PAYLOAD} bytes"
            )));
        }
        if due_ms > now_ms() + MAX_AHEAD.as_millis() as u64 {
            return Ok(Err("a timer may be set at most a year ahead".into()));
        }
        let Some(store) = self.plugin.store.clone() else {
            return Ok(Err(
                "timers need the bot's database; this host has none".into()
            ));
        };
        let name = self.plugin.name.clone();
        let added = store
            .timer_add(&name, due_ms as i64, &payload, self.guild, MAX_PENDING)
            .await;
        Ok(match added {
            Ok(Some(id)) => Ok(id as u64),
            Ok(None) => {
                tracing::warn!(plugin = %name, limit = MAX_PENDING, "plugin has too many pending timers; refused one");
                Err(format!(
                    "this plugin already has {MAX_PENDING} pending timers"
                ))
            }
            Err(error) => {
                tracing::warn!(plugin = %name, %error, "timers: the store failed");
                Err("timers are unavailable right now".into())
            }
        })
    }
}

impl Host for CallState {
    async fn after(
        &mut self,
        after_ms: u64,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<u64, String>> {
        let due = now_ms().saturating_add(after_ms);
        self.schedule(due, payload).await
    }

    async fn at(
        &mut self,
        unix_ms: u64,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<u64, String>> {
        self.schedule(unix_ms, payload).await
    }

    async fn cancel(&mut self, id: u64) -> wasmtime::Result<Result<bool, String>> {
        self.enter("timers")?;
        let Some(store) = self.plugin.store.clone() else {
            return Ok(Ok(false));
        };
        Ok(store
            .timer_cancel(&self.plugin.name, id as i64)
            .await
            .map_err(|_| "timers are unavailable right now".to_string()))
    }
}
