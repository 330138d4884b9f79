//! Cache hits counted in memory and written in batches, so that a hit is one read.
//!
//! Each hit adds one to this process's pending count for its track and raises the
//! track's pending last-use time; [`Store::flush_accesses`] writes them as increments in
//! one transaction: every [`FLUSH_EVERY`], before eviction and stats, and at close.
//! Increments from any number of processes add up exactly. A process killed outright
//! loses at most its last interval's counts, and until a flush, eviction (in another
//! process) may see a track as up to one interval less recently used than it is; a
//! track being played is leased, which eviction respects whatever the times say.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::key::TrackKey;
use super::{Result, Store};

/// How often pending accesses are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Accesses of one track not yet written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub count: u64,
    /// Unix milliseconds of the latest.
    pub last: i64,
}

/// This process's pending accesses, by track.
#[derive(Default)]
pub(super) struct Pending(Mutex<HashMap<TrackKey, Access>>);

impl Pending {
    pub fn add(&self, key: &TrackKey, now: i64) {
        let mut pending = self.0.lock().expect("pending accesses lock");
        merge(
            &mut pending,
            key.clone(),
            Access {
                count: 1,
                last: now,
            },
        );
    }

    fn take(&self) -> Vec<(TrackKey, Access)> {
        std::mem::take(&mut *self.0.lock().expect("pending accesses lock"))
            .into_iter()
            .collect()
    }

    /// Puts back a batch whose write failed, merged with what arrived since.
    fn restore(&self, batch: Vec<(TrackKey, Access)>) {
        let mut pending = self.0.lock().expect("pending accesses lock");
        for (key, access) in batch {
            merge(&mut pending, key, access);
        }
    }
}

/// Adds `access` to what `pending` holds for `key`: counts add up, the later time wins.
fn merge(pending: &mut HashMap<TrackKey, Access>, key: TrackKey, access: Access) {
    let entry = pending.entry(key).or_insert(Access {
        count: 0,
        last: access.last,
    });
    entry.count += access.count;
    entry.last = entry.last.max(access.last);
}

impl Store {
    /// Writes this process's pending cache accesses (see the module docs).
    pub async fn flush_accesses(&self) -> Result<()> {
        let batch = self.inner.accesses.take();
        if batch.is_empty() {
            return Ok(());
        }
        let written = self.inner.index.add_accesses(&batch).await;
        if written.is_err() {
            self.inner.accesses.restore(batch);
        }
        written
    }
}

/// Flushes `store`'s accesses every [`FLUSH_EVERY`] until it closes (close flushes the
/// rest itself).
pub(super) fn spawn_flusher(store: &Store) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(&store.inner);
    let closed = store.inner.closed.clone();
    rt.spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = closed.cancelled() => return,
            }
            let Some(inner) = weak.upgrade() else { return };
            if let Err(e) = (Store { inner }).flush_accesses().await {
                tracing::warn!(error = %e, "writing cache access counts failed; kept for the next try");
            }
        }
    });
}
