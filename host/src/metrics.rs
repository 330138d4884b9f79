//! What the host counts, named in one place. Code anywhere records through the
//! `metrics` facade (`metrics::counter!(metrics::EVENTS, ...)`), which costs an atomic
//! add once a recorder is installed and nothing before; the admin listener installs the
//! Prometheus recorder ([`install`]) and serves its exposition at `/metrics`.
//!
//! Gauges of state that lives elsewhere (cache bytes, players in voice, plugins
//! loaded) are set when scraped, from the state itself, so they cannot drift.

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Gateway events received, by `kind` (serenity's event name, e.g. `message`).
pub const EVENTS: &str = "minstrel_gateway_events_total";
/// Event claims, by `kind` (message, interaction) and `outcome` (won: this process
/// answers; lost: a duplicate delivery or another process has it).
pub const CLAIMS: &str = "minstrel_claims_total";
/// Claims written per transaction (they are group-committed: see `store::claims`).
pub const CLAIM_BATCH: &str = "minstrel_claim_batch_size";
/// Built-in commands run, by `command` and `outcome` (ok, failed).
pub const COMMANDS: &str = "minstrel_commands_total";
pub const COMMAND_SECONDS: &str = "minstrel_command_duration_seconds";
/// Plugin calls, by `plugin`, `call` (the export) and `outcome` (ok, error: the plugin's
/// own, or the failure's kind: trap, timeout, denied, ...).
pub const PLUGIN_CALLS: &str = "minstrel_plugin_calls_total";
pub const PLUGIN_CALL_SECONDS: &str = "minstrel_plugin_call_duration_seconds";
/// Plugins serving a version (set when scraped), and files that failed to load.
pub const PLUGINS_LOADED: &str = "minstrel_plugins_loaded";
pub const PLUGINS_FAILED: &str = "minstrel_plugins_failed";
/// Cache lookups of a track or rendition.
pub const CACHE_HITS: &str = "minstrel_cache_hits_total";
pub const CACHE_MISSES: &str = "minstrel_cache_misses_total";
/// Bytes of cached blobs and the budget (set when scraped).
pub const CACHE_BYTES: &str = "minstrel_cache_bytes";
pub const CACHE_BUDGET_BYTES: &str = "minstrel_cache_budget_bytes";
pub const CACHE_EVICTIONS: &str = "minstrel_cache_evictions_total";
pub const CACHE_EVICTED_BYTES: &str = "minstrel_cache_evicted_bytes_total";
/// Fills of the cache, by `kind` (download: a source's bytes; render: ffmpeg's
/// rendition) and `outcome` (ok, failed); bytes and duration of those that succeeded.
pub const FETCHES: &str = "minstrel_fetches_total";
pub const FETCH_BYTES: &str = "minstrel_fetch_bytes_total";
pub const FETCH_SECONDS: &str = "minstrel_fetch_duration_seconds";
/// yt-dlp processes run, by `kind` (probe, download) and `outcome`.
pub const YTDLP_RUNS: &str = "minstrel_ytdlp_runs_total";
/// Guilds whose player is in a voice channel (set when scraped).
pub const PLAYERS_IN_VOICE: &str = "minstrel_players_in_voice";
/// Player events, by `kind` (track_started, track_ended, queue_ended, joined_voice,
/// left_voice) and, for track_ended, `reason`.
pub const PLAYER_EVENTS: &str = "minstrel_player_events_total";
/// Requests to the LLM endpoint, by `outcome`; tokens as the endpoint reports them,
/// by `kind` (prompt, completion).
pub const LLM_REQUESTS: &str = "minstrel_llm_requests_total";
pub const LLM_TOKENS: &str = "minstrel_llm_tokens_total";

/// Seconds; from a fast plugin call to a slow render.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder for this process (once; later calls return the
/// same handle).
pub fn install() -> anyhow::Result<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full(CLAIM_BATCH.into()),
            &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
        )?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))?;
    describe();
    Ok(HANDLE.get_or_init(|| handle).clone())
}

fn describe() {
    describe_counter!(EVENTS, "Gateway events received, by kind.");
    describe_counter!(CLAIMS, "Event claims, by kind and outcome (won, lost).");
    describe_histogram!(CLAIM_BATCH, "Claims written per database transaction.");
    describe_counter!(COMMANDS, "Built-in commands run, by command and outcome.");
    describe_histogram!(COMMAND_SECONDS, Unit::Seconds, "Built-in command duration.");
    describe_counter!(PLUGIN_CALLS, "Plugin calls, by plugin, call and outcome.");
    describe_histogram!(PLUGIN_CALL_SECONDS, Unit::Seconds, "Plugin call duration.");
    describe_gauge!(PLUGINS_LOADED, "Plugins serving a version.");
    describe_gauge!(PLUGINS_FAILED, "Plugin files whose last load failed.");
    describe_counter!(CACHE_HITS, "Cache lookups that found the blob.");
    describe_counter!(CACHE_MISSES, "Cache lookups that had to fill the cache.");
    describe_gauge!(CACHE_BYTES, Unit::Bytes, "Bytes of cached blobs.");
    describe_gauge!(
        CACHE_BUDGET_BYTES,
        Unit::Bytes,
        "The cache's eviction budget."
    );
    describe_counter!(CACHE_EVICTIONS, "Blobs evicted.");
    describe_counter!(CACHE_EVICTED_BYTES, Unit::Bytes, "Bytes evicted.");
    describe_counter!(
        FETCHES,
        "Cache fills, by kind (download, render) and outcome."
    );
    describe_counter!(FETCH_BYTES, Unit::Bytes, "Bytes cached by fills, by kind.");
    describe_histogram!(FETCH_SECONDS, Unit::Seconds, "Successful fill duration.");
    describe_counter!(YTDLP_RUNS, "yt-dlp processes run, by kind and outcome.");
    describe_gauge!(
        PLAYERS_IN_VOICE,
        "Guilds whose player is in a voice channel."
    );
    describe_counter!(PLAYER_EVENTS, "Player events, by kind.");
    describe_counter!(LLM_REQUESTS, "Requests to the LLM endpoint, by outcome.");
    describe_counter!(LLM_TOKENS, "LLM tokens reported by the endpoint, by kind.");
}

/// `ok` or `failed`, the outcome label of a result.
pub fn outcome<T, E>(result: &Result<T, E>) -> &'static str {
    if result.is_ok() { "ok" } else { "failed" }
}
