//! Errors of the plugin runtime, and the one place that turns what a call did into
//! what the operator and the user see.
//!
//! Two layers, as in the WIT: a plugin's own `result<_, string>` error is
//! [`CallError::Plugin`]; everything the sandbox stopped (deadline, memory cap, stack,
//! panic, a capability that was not granted) arrives as a trap and is classified by
//! [`classify`], so the reply can say what happened in one line.

use std::time::Duration;

use thiserror::Error;

use super::api::ApiVersion;

/// Why a plugin file could not be loaded. Each message is one line.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a WebAssembly file (no \\0asm header)")]
    NotWasm,
    #[error(
        "a core WebAssembly module, not a component (build with --target wasm32-wasip2 and minstrel-sdk)"
    )]
    CoreModule,
    #[error("malformed component: {0}")]
    Malformed(String),
    #[error(
        "imports no minstrel:plugin interface, so it cannot be a Minstrel plugin (see `minstrel plugin wit`)"
    )]
    NoApiVersion,
    #[error("imports minstrel:plugin at several versions ({0}); a plugin is built against one")]
    MixedApi(String),
    #[error("its SDK section says plugin API {declared} but it imports {imported}")]
    ApiMismatch { declared: String, imported: String },
    #[error("built against plugin API {found}, this host serves {served}")]
    UnsupportedApi { found: String, served: String },
    #[error("does not compile: {0}")]
    Compile(String),
    #[error("exports no Minstrel world (expected source, command or mention): {0}")]
    WrongWorld(String),
    #[error("manifest says world `{manifest}` but the component exports `{actual}`")]
    WorldMismatch { manifest: String, actual: String },
    #[error("imports something this host does not provide: {0}")]
    UnknownImport(String),
    #[error("cannot be prepared for instantiation: {0}")]
    Link(String),
    #[error("its `commands` export failed: {0}")]
    Commands(String),
    #[error("its `describe` export failed: {0}")]
    Describe(String),
    #[error("it needs the setting `{key}`: set it under [plugins.config.{plugin}]")]
    MissingSetting { plugin: String, key: String },
}

impl LoadError {
    pub(crate) fn unsupported(found: &str) -> Self {
        LoadError::UnsupportedApi {
            found: found.to_string(),
            served: super::api::SERVED
                .iter()
                .map(ApiVersion::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Why the plugin runtime could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("cannot build the WebAssembly engine: {0}")]
    Engine(String),
    #[error("cannot watch the plugins folder: {0}")]
    Watch(#[from] notify::Error),
}

/// Why one call into a plugin failed. The bot and the other plugins are unaffected.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum CallError {
    #[error("no plugin named `{0}` is loaded")]
    NotLoaded(String),
    #[error("plugin `{plugin}` is a {actual} plugin, not a {expected} plugin")]
    WrongKind {
        plugin: String,
        expected: &'static str,
        actual: &'static str,
    },
    #[error("plugin `{plugin}` ran out of time ({limit:?})")]
    Timeout { plugin: String, limit: Duration },
    #[error("plugin `{plugin}` exceeded its memory cap of {limit} bytes")]
    MemoryCap { plugin: String, limit: u64 },
    #[error("plugin `{plugin}` overflowed its stack")]
    StackOverflow { plugin: String },
    #[error("plugin `{plugin}` used `{capability}`, which the operator has not granted it")]
    Denied { plugin: String, capability: String },
    #[error("plugin `{plugin}` made more than {limit} host calls in one call")]
    HostCallBudget { plugin: String, limit: u32 },
    #[error("plugin `{plugin}` crashed: {detail}")]
    Trap { plugin: String, detail: String },
    #[error("too many plugin calls at once; try again")]
    Busy,
    /// The plugin's own error (`Err(String)` from its code).
    #[error("{0}")]
    Plugin(String),
}

impl CallError {
    /// A short stable name for counters and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::NotLoaded(_) => "not-loaded",
            CallError::WrongKind { .. } => "wrong-kind",
            CallError::Timeout { .. } => "timeout",
            CallError::MemoryCap { .. } => "memory-cap",
            CallError::StackOverflow { .. } => "stack-overflow",
            CallError::Denied { .. } => "denied",
            CallError::HostCallBudget { .. } => "host-call-budget",
            CallError::Trap { .. } => "trap",
            CallError::Busy => "busy",
            CallError::Plugin(_) => "plugin-error",
        }
    }
}

/// Raised by a host import for a capability the plugin was not granted. Traps the call.
#[derive(Debug, Error)]
#[error("capability `{0}` not granted")]
pub struct Denied(pub String);

/// Raised by the memory limiter when a store would grow past its cap. Traps the call.
#[derive(Debug, Error)]
#[error("memory cap of {0} bytes exceeded")]
pub struct MemoryCapExceeded(pub u64);

/// Raised by a host import once the call's host-call budget is spent. Traps the call.
#[derive(Debug, Error)]
#[error("host call budget of {0} exhausted")]
pub struct HostCallBudgetExhausted(pub u32);

fn find<E: std::error::Error + Send + Sync + 'static>(error: &wasmtime::Error) -> Option<&E> {
    error
        .downcast_ref::<E>()
        .or_else(|| error.chain().find_map(|e| e.downcast_ref::<E>()))
}

/// Classifies a failed call. `stderr` is what the plugin wrote to stderr during the
/// call (a Rust panic message lands there).
pub fn classify(
    plugin: &str,
    error: &wasmtime::Error,
    timeout: Duration,
    stderr: &str,
) -> CallError {
    let plugin = plugin.to_string();
    if let Some(Denied(capability)) = find::<Denied>(error) {
        return CallError::Denied {
            plugin,
            capability: capability.clone(),
        };
    }
    if let Some(MemoryCapExceeded(limit)) = find::<MemoryCapExceeded>(error) {
        return CallError::MemoryCap {
            plugin,
            limit: *limit,
        };
    }
    if let Some(HostCallBudgetExhausted(limit)) = find::<HostCallBudgetExhausted>(error) {
        return CallError::HostCallBudget {
            plugin,
            limit: *limit,
        };
    }
    if let Some(trap) = find::<wasmtime::Trap>(error) {
        match trap {
            wasmtime::Trap::Interrupt => {
                return CallError::Timeout {
                    plugin,
                    limit: timeout,
                };
            }
            wasmtime::Trap::StackOverflow => return CallError::StackOverflow { plugin },
            _ => {}
        }
    }
    let detail = match last_words(stderr) {
        Some(words) => format!("{words} ({})", root_message(error)),
        None => root_message(error),
    };
    CallError::Trap { plugin, detail }
}

/// The plugin's last words on stderr: a Rust panic is two lines (`thread .. panicked at
/// FILE:LINE:COL:` then the message), joined into one.
fn last_words(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if let Some(at) = lines.iter().rposition(|l| l.contains("panicked at")) {
        let location = lines[at].trim();
        let location = location
            .split_once("panicked at ")
            .map_or(location, |(_, rest)| rest)
            .trim_end_matches(':');
        return Some(match lines.get(at + 1) {
            Some(message) => format!("panicked at {location}: {}", message.trim()),
            None => format!("panicked at {location}"),
        });
    }
    lines.last().map(|l| l.trim().to_string())
}

fn root_message(error: &wasmtime::Error) -> String {
    match find::<wasmtime::Trap>(error) {
        Some(trap) => trap.to_string(),
        None => {
            let text = format!("{error:#}");
            text.lines().next().unwrap_or_default().to_string()
        }
    }
}
