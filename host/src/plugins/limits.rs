//! Per-call limits that live in the store: the memory cap and the host-call budget.
//! (The time limits are in [`super::engine`] (epoch ticks) and [`super::call`]
//! (wall clock).)

use wasmtime::ResourceLimiter;

use super::error::{HostCallBudgetExhausted, MemoryCapExceeded};

/// Caps the total linear memory of one store. Growing past the cap traps with
/// [`MemoryCapExceeded`] (rather than making `memory.grow` return -1, which a Rust
/// guest turns into an abort with a less useful message).
#[derive(Debug)]
pub struct MemoryLimiter {
    cap: u64,
    used: u64,
}

impl MemoryLimiter {
    pub fn new(cap: u64) -> Self {
        Self { cap, used: 0 }
    }

    /// Bytes of linear memory currently allocated in the store.
    pub fn used(&self) -> u64 {
        self.used
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let after = self.used - (current as u64).min(self.used) + desired as u64;
        if after > self.cap {
            return Err(MemoryCapExceeded(self.cap).into());
        }
        self.used = after;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// How many host calls one plugin call may make. A plugin flooding an import costs
/// itself the call, not the host.
#[derive(Debug)]
pub struct HostCallBudget {
    limit: u32,
    used: u32,
}

impl HostCallBudget {
    pub fn new(limit: u32) -> Self {
        Self { limit, used: 0 }
    }

    /// Charges one host call; traps once the budget is spent.
    pub fn charge(&mut self) -> wasmtime::Result<()> {
        self.used += 1;
        if self.used > self.limit {
            return Err(HostCallBudgetExhausted(self.limit).into());
        }
        Ok(())
    }

    pub fn used(&self) -> u32 {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_cap_counts_every_memory_of_the_store() {
        let mut limiter = MemoryLimiter::new(100);
        assert!(limiter.memory_growing(0, 60, None).unwrap());
        assert!(limiter.memory_growing(0, 40, None).unwrap());
        assert_eq!(limiter.used(), 100);
        let error = limiter.memory_growing(40, 41, None).unwrap_err();
        assert!(error.downcast_ref::<MemoryCapExceeded>().is_some());
    }

    #[test]
    fn budget_traps_after_the_limit() {
        let mut budget = HostCallBudget::new(2);
        budget.charge().unwrap();
        budget.charge().unwrap();
        assert!(budget.charge().is_err());
    }
}
