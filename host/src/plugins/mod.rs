//! The plugin runtime: sandboxed WebAssembly components that implement the
//! `minstrel:plugin` worlds (see `wit/`), loaded from a folder and reloaded on change.
//!
//! # Layout
//! - `api` (private: the rest of the host sees `types`): generated bindings, one module
//!   per served API version, and the version check.
//! - `crate::config::plugins`: the `[plugins]` config section: folder, limits, grants.
//! - [`bundled`]: the first-party plugins built into the binary, and their default
//!   grants.
//! - [`manifest`]: the API version and manifest a component carries (custom sections).
//! - [`engine`]: the wasmtime engine (async, pooling allocator, epoch interruption) and
//!   its epoch ticker thread.
//! - [`cache`]: compiled components on disk, keyed by content hash + engine.
//! - [`loader`]: bytes -> inspected, linked, pre-instantiated plugin; deny-by-default
//!   linking.
//! - [`state`]: what a store holds during one call (empty WASI, limits, plugin context).
//! - [`limits`]: memory cap and host-call budget.
//! - [`host`]: one file per host interface (`log`, `kv`, `http`, `llm`, `player`,
//!   `media`, `draft`, `audio`).
//! - [`host_services`]: the seam to the host subsystems behind `llm`, `player`, `media`.
//! - [`call`]: one call = fresh store + fresh instance, deadline, timeout, counters.
//! - [`runtime`]: [`PluginHost`], the registry of loaded plugins and the call API.
//! - [`command_specs`]: command plugins' commands checked against Discord's rules at load,
//!   and which plugin serves a name.
//! - [`watcher`]: the hot-reload task.
//! - [`stats`]: per-plugin counters.
//! - [`error`]: load and call errors, and the classification of traps.
//!
//! # Decisions
//! - **A fresh instance per call.** A trapped instance must never run again, and a
//!   plugin must not carry state between calls except through `kv`. Instantiating from
//!   an `InstancePre` with the pooling allocator costs microseconds (BENCHMARKS.md), so
//!   the simple rule wins over pooling warm instances and tracking which ones trapped.
//! - **Deadline per store = per call.** wasmtime's epoch deadline belongs to the store;
//!   one store per call makes "reset before every call" hold by construction. The wall
//!   clock timeout additionally bounds time spent awaiting host calls.
//! - **Ungranted interfaces are linked to traps, not left unlinked.** Leaving them
//!   unlinked would make the plugin fail to load at all; linking each function to a trap
//!   that names the capability lets the plugin load, its other features work, and the
//!   call that tries the capability fail with a precise message. Every real host
//!   implementation also checks the grant first ([`state::CallState::enter`]), so a
//!   mistake in linking fails closed.
//! - **The plugin name is the file stem.** Grants are keyed by it, so renaming a file
//!   cannot inherit another plugin's grants without the operator seeing it in config.

mod adapt;
mod api;
pub mod bundled;
pub mod cache;
pub mod call;
pub mod command_specs;
pub mod components;
pub mod engine;
pub mod error;
pub mod host;
pub mod host_services;
pub mod limits;
pub mod loader;
pub mod manifest;
pub mod runtime;
pub mod scheduler;
pub mod state;
pub mod stats;
pub mod watcher;

pub use crate::config::plugins::{EffectiveGrant, Grant, PluginsConfig};
pub use api::WIT_FILES;
pub use error::{CallError, LoadError, StartError};
pub use host_services::{Asker, ChatStream, HostServices, NoServices, ServiceError, Track};
pub use loader::{Inspection, World, check};
pub use runtime::{LoadReport, PluginHost, PluginStatus, Resolved};

/// Types crossing the plugin boundary: the newest API version's (0.2.0). Plugins built
/// against older versions are adapted to them.
pub mod types {
    pub use super::api::v0_2_0::types::*;
}
