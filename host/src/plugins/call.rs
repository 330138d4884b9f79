//! One call into one plugin version: a fresh store and a fresh instance from the
//! pre-instantiated component, the limits set, the call made, the store dropped.
//!
//! A fresh instance per call is what makes "a trapped instance is never entered again"
//! hold by construction: no instance outlives its call. With the pooling allocator that
//! costs microseconds (see BENCHMARKS.md). Plugins keep state across calls in `kv`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;
use wasmtime::{Store, UpdateDeadline};

use super::engine;
use super::error::{CallError, classify};
use super::state::{CallState, PluginContext};
use super::stats::Counters;

/// What a finished call leaves behind besides its result.
pub(crate) struct Finished {
    pub state: CallState,
}

/// Runs `body` against a fresh store of `context`'s plugin, under its limits.
///
/// `body` instantiates and calls; its `Ok(Err(text))` is the plugin's own error.
pub(crate) async fn run<R>(
    engine: &engine::PluginEngine,
    context: &Arc<PluginContext>,
    counters: &Counters,
    host_calls: u32,
    what: &'static str,
    body: impl AsyncFnOnce(&mut Store<CallState>) -> wasmtime::Result<Result<R, String>>,
) -> (Result<R, CallError>, Finished) {
    let span = tracing::info_span!("plugin", plugin = %context.name, call = what);
    async {
        let limit = context.grant.call_timeout();
        let mut store = Store::new(engine.engine(), CallState::new(context.clone(), host_calls));
        store.limiter(|state| &mut state.limiter);
        // The deadline is per store, so "reset before every call" is automatic: every
        // call gets its own store and its own clock. Guest code runs in slices of
        // `SLICE_TICKS`; at the end of each slice it yields to the async runtime (so a
        // plugin spinning in a loop does not hold a worker thread) and, once the call's
        // time is spent, traps with `Trap::Interrupt`.
        let started = Instant::now();
        store.set_epoch_deadline(engine::SLICE_TICKS);
        store.epoch_deadline_callback(move |_| {
            Ok(if started.elapsed() >= limit {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(engine::SLICE_TICKS)
            })
        });
        // The wall clock also covers time spent awaiting host calls (HTTP, LLM), which
        // the epoch deadline does not count as guest time once it traps on return.
        let outcome =
            tokio::time::timeout(limit + Duration::from_millis(50), body(&mut store)).await;
        let elapsed = started.elapsed();
        let result = match outcome {
            Err(_) => Err(CallError::Timeout {
                plugin: context.name.clone(),
                limit,
            }),
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(text))) => Err(CallError::Plugin(text)),
            Ok(Err(error)) => {
                if is_pool_exhausted(&error) {
                    Err(CallError::Busy)
                } else {
                    let stderr =
                        String::from_utf8_lossy(&store.data().stderr.contents()).into_owned();
                    Err(classify(&context.name, &error, limit, &stderr))
                }
            }
        };
        let state = store.into_data();
        if state.log_dropped > 0 {
            tracing::warn!(
                dropped = state.log_dropped,
                "plugin log lines dropped (rate limit)"
            );
        }
        counters.record(elapsed, result.as_ref().err());
        let outcome = result.as_ref().map_or_else(CallError::kind, |_| "ok");
        let plugin = context.name.clone();
        metrics::counter!(crate::metrics::PLUGIN_CALLS, "plugin" => plugin.clone(), "call" => what, "outcome" => outcome)
            .increment(1);
        metrics::histogram!(crate::metrics::PLUGIN_CALL_SECONDS, "plugin" => plugin, "call" => what)
            .record(elapsed.as_secs_f64());
        match &result {
            Ok(_) => tracing::debug!(elapsed_us = elapsed.as_micros() as u64, "plugin call"),
            Err(CallError::Plugin(text)) => {
                tracing::info!(error = %text, "plugin call returned an error")
            }
            Err(error) => tracing::warn!(%error, kind = error.kind(), "plugin call failed"),
        }
        (result, Finished { state })
    }
    .instrument(span)
    .await
}

fn is_pool_exhausted(error: &wasmtime::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
            .is_some()
    })
}
