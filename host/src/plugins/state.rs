//! What a store holds during one call: WASI with nothing in it, the resource table, the
//! limits, and the plugin's shared context (its name, grant, kv, services).
//!
//! One store per call, dropped when the call ends, so nothing a call did to its
//! instance (a trap, corrupted memory, leaked resources) reaches the next call.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use super::error::Denied;
use super::host::kv::KvSpace;
use super::host_services::HostServices;
use super::limits::{HostCallBudget, MemoryLimiter};
use crate::config::plugins::{EffectiveGrant, FILES_ROOT};

/// Lines of the plugin's stderr kept per call (to report a panic message).
const STDERR_CAPACITY: usize = 16 << 10;
/// Log lines one call may emit; later lines are counted, not written.
pub const LOG_LINES_PER_CALL: u32 = 200;

/// Everything a plugin's calls share, across calls and versions of the file.
pub struct PluginContext {
    pub name: String,
    pub grant: EffectiveGrant,
    pub kv: KvSpace,
    pub services: Arc<dyn HostServices>,
    /// The operator's settings for this plugin (`[plugins.config.NAME]`).
    pub settings: std::collections::BTreeMap<String, String>,
    /// The bot's database (timers), if it has one.
    pub store: Option<crate::store::Store>,
}

/// The data of one call's store.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) budget: HostCallBudget,
    pub(crate) plugin: Arc<PluginContext>,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) log_lines: u32,
    pub(crate) log_dropped: u32,
    /// Text a mention plugin appended to its draft reply, watched by the Discord front
    /// while the call runs.
    pub(crate) draft: tokio::sync::watch::Sender<String>,
    /// The Discord user the call serves (for per-user limits in host services).
    pub(crate) user: Option<u64>,
    /// The guild the call serves: the only one whose player it may use.
    pub(crate) guild: Option<u64>,
    /// The member the call serves, for the player's rules (see [`super::Asker`]).
    pub(crate) asker: Option<super::Asker>,
    /// Tracks marked live during a `resolve` call, by id, with their stream URLs
    /// (`None` in every other call: only `resolve` may mark).
    pub(crate) live: Option<Vec<(String, String)>>,
}

impl CallState {
    pub fn new(plugin: Arc<PluginContext>, host_calls: u32) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        // No environment, no arguments, no sockets, no name lookups, and no directory
        // but the one the operator granted (read-only): a plugin's only ways out are
        // the granted Minstrel interfaces.
        let mut wasi = WasiCtx::builder();
        wasi.stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        if let Some(dir) = &plugin.grant.files_dir
            && let Err(error) = wasi.preopened_dir(dir, FILES_ROOT, FsPerms::ReadOnly)
        {
            tracing::warn!(
                plugin = %plugin.name,
                dir = %dir.display(),
                %error,
                "the granted files folder cannot be opened; the plugin sees no files"
            );
        }
        let wasi = wasi.build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(plugin.grant.memory_bytes),
            budget: HostCallBudget::new(host_calls),
            plugin,
            stderr,
            log_lines: 0,
            log_dropped: 0,
            draft: tokio::sync::watch::Sender::new(String::new()),
            user: None,
            guild: None,
            asker: None,
            live: None,
        }
    }

    /// The check every host import makes first: is `interface` granted, and is there
    /// budget left? Ungranted interfaces are not even linked (see `loader`); this second
    /// key makes a linking mistake fail closed instead of open.
    pub(crate) fn enter(&mut self, interface: &str) -> wasmtime::Result<()> {
        if !self.plugin.grant.allows(interface) {
            return Err(Denied(interface.to_string()).into());
        }
        self.budget.charge()
    }

    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// What the plugin wrote to stderr during the call.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
