//! The one wasmtime [`Engine`] of the process, configured for untrusted plugins, and the
//! thread that advances its epoch.
//!
//! - Async, so a plugin blocked in a host call (HTTP, LLM) parks a task, not a thread.
//! - Epoch interruption: the ticker thread increments the epoch every [`TICK`]; every
//!   store checks its call's clock each [`SLICE_TICKS`] ticks, yields to the async
//!   runtime, and traps once the call's time is spent (see [`super::call`]). Guest code
//!   that never calls the host is still stopped, and never holds a worker thread for
//!   more than a slice. (Fuel would count instructions exactly but costs
//!   10-30% of guest speed; the epoch check is a load and a compare.)
//! - Pooling allocator: instance slots, memories and stacks are reserved up front and
//!   reused, so a fresh instance per call costs microseconds. Its size bounds how many
//!   calls run at once ([`super::PluginsConfig::max_concurrent_calls`]). A slot's
//!   memory is zeroed in place for the next call
//!   ([`super::PluginsConfig::keep_resident_bytes`]), not handed back to the kernel.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::config::plugins::PluginsConfig;

/// How often the epoch advances.
pub const TICK: Duration = Duration::from_millis(5);

/// Guest code runs this many ticks between checks of its call's clock (and yields to
/// the async runtime at each check).
pub const SLICE_TICKS: u64 = 2;

/// The engine plus its epoch ticker; the ticker stops when the last clone is dropped.
#[derive(Clone)]
pub struct PluginEngine {
    engine: Engine,
    compat: Arc<str>,
    _ticker: Arc<Ticker>,
}

impl PluginEngine {
    /// Builds the engine. `largest_memory` is the largest memory cap any plugin may get.
    pub fn new(config: &PluginsConfig, largest_memory: u64) -> wasmtime::Result<Self> {
        let calls = config.max_concurrent_calls.max(1);
        let memory = round_up(largest_memory.max(1 << 20), 64 << 10);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(calls)
            .total_core_instances(calls * 8)
            .total_memories(calls * 2)
            .total_tables(calls * 4)
            .total_stacks(calls)
            .max_core_instances_per_component(16)
            .max_memories_per_component(2)
            .max_tables_per_component(4)
            .max_memory_size(memory as usize);
        // Reset in place what a call dirtied (the dirty pages found with PAGEMAP_SCAN
        // where the kernel has it), up to the configured size, rather than madvise it
        // away: each madvise flushes the TLB of every core running the process.
        let keep = usize::try_from(config.keep_resident_bytes).unwrap_or(usize::MAX);
        if keep > 0 {
            pool.linear_memory_keep_resident(keep)
                .table_keep_resident(keep.min(64 << 10))
                .pagemap_scan(Enabled::Auto);
        }
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(config.max_stack_bytes)
            .async_stack_size(config.max_stack_bytes + (1 << 20))
            .memory_reservation(memory)
            .memory_guard_size(64 << 10)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm)?;
        let compat = compat_hash(&engine);
        let ticker = Ticker::start(engine.clone());
        Ok(Self {
            engine,
            compat: compat.into(),
            _ticker: Arc::new(ticker),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A hex digest of everything that makes a compiled artifact usable by this engine
    /// (wasmtime version, target, settings). Part of the compiled-cache key.
    pub fn compatibility(&self) -> &str {
        &self.compat
    }
}

fn round_up(value: u64, to: u64) -> u64 {
    value.div_ceil(to) * to
}

fn compat_hash(engine: &Engine) -> String {
    struct Blake(blake3::Hasher);
    impl Hasher for Blake {
        fn finish(&self) -> u64 {
            let digest = self.0.clone().finalize();
            u64::from_le_bytes(digest.as_bytes()[..8].try_into().expect("8 bytes"))
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = Blake(blake3::Hasher::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.finalize().to_hex()[..16].to_string()
}

/// Advances the engine's epoch every [`TICK`] on a plain thread (the async runtime may
/// be busy; the deadline must not depend on it).
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("minstrel-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
