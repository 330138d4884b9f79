//! Per-plugin counters: calls, failures by kind, time spent. Kept per plugin name, so
//! they survive reloads of the file.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::error::CallError;

#[derive(Debug, Default)]
pub struct Counters {
    calls: AtomicU64,
    failures: AtomicU64,
    timeouts: AtomicU64,
    traps: AtomicU64,
    denials: AtomicU64,
    micros: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CounterSnapshot {
    pub calls: u64,
    /// Calls that did not return a value (including the plugin's own errors).
    pub failures: u64,
    pub timeouts: u64,
    /// Calls the sandbox stopped: memory cap, stack overflow, panic, host-call budget.
    pub traps: u64,
    pub denials: u64,
    /// Total wall-clock time spent in calls.
    pub micros: u64,
}

impl Counters {
    pub(crate) fn record(&self, elapsed: Duration, error: Option<&CallError>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        let Some(error) = error else { return };
        self.failures.fetch_add(1, Ordering::Relaxed);
        let counter = match error {
            CallError::Timeout { .. } => &self.timeouts,
            CallError::Denied { .. } => &self.denials,
            CallError::MemoryCap { .. }
            | CallError::StackOverflow { .. }
            | CallError::HostCallBudget { .. }
            | CallError::Trap { .. } => &self.traps,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            traps: self.traps.load(Ordering::Relaxed),
            denials: self.denials.load(Ordering::Relaxed),
            micros: self.micros.load(Ordering::Relaxed),
        }
    }
}
