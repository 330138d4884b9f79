//! [`PluginHost`]: the loaded plugins, by name, and the calls into them.
//!
//! Each plugin name has a slot whose current version is an `ArcSwapOption`. A call
//! takes a reference to the current version and keeps it for its whole duration, so a
//! reload (an atomic store into the slot) never disturbs calls in flight: they finish on
//! the version they started on, and the old version is freed when the last one ends. A
//! load that fails leaves the slot's version alone and records the error.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwapOption;
use wasmtime::Store;
use wasmtime::component::Resource;

use super::api::v0_2_0::types::{
    CommandSpec, Context, Invocation, Message, PlayerEvent, Press, PressAnswer, Reply, Timer, Track,
};
use super::bundled::{self, Bundled};
use super::cache::Origin;
use super::call::{self, Finished};
use super::command_specs::{self, Declared, Refused};
use super::engine::PluginEngine;
use super::error::{CallError, LoadError};
use super::host::audio::AudioSink;
use super::host::kv::KvSpace;
use super::host_services::{Asker, HostServices};
use super::loader::{self, CommandPre, Inspection, Loaded, MentionPre, Prepared, SourcePre, World};
use super::state::{CallState, PluginContext};
use super::stats::{CounterSnapshot, Counters};
use super::{adapt, components};
use crate::config::plugins::{EffectiveGrant, PluginsConfig};
use crate::media::AudioWriter;

/// The plugin runtime. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Inner>,
}

struct Inner {
    config: PluginsConfig,
    engine: PluginEngine,
    cache_dir: Option<PathBuf>,
    services: Arc<dyn HostServices>,
    /// Where plugins' kv entries live; in memory when `None`.
    kv_store: Option<crate::store::Store>,
    slots: RwLock<BTreeMap<String, Arc<Slot>>>,
    /// Command names plugins may not take (the bot's built-ins).
    reserved: RwLock<BTreeSet<String>>,
    /// Why Discord has none of the plugin commands, when it refused them.
    unregistered: RwLock<Option<String>>,
}

/// One plugin name.
struct Slot {
    current: ArcSwapOption<Version>,
    /// The context of a file from the plugins folder: the operator's grant.
    context: Arc<PluginContext>,
    /// The context of the bundled plugin of this name, if there is one: its default
    /// grant unless the operator wrote one. Both share the plugin's kv space.
    bundled: Option<Arc<PluginContext>>,
    counters: Counters,
    last_error: Mutex<Option<String>>,
    /// Load attempts so far (successful or not); lets watchers of the slot see that a
    /// change was processed.
    attempts: std::sync::atomic::AtomicU64,
}

/// One loaded version of a plugin.
struct Version {
    loaded: Loaded,
    /// The file it came from; `None` for the bundled plugin.
    path: Option<PathBuf>,
    /// Its name, grant, kv and settings: what its calls run with.
    context: Arc<PluginContext>,
    loaded_at: SystemTime,
    load_millis: u64,
    /// A command plugin's commands, checked at load (empty for other worlds).
    commands: Declared,
}

/// Where a plugin's bytes come from.
#[derive(Clone, Copy)]
enum Input<'a> {
    File(&'a Path),
    Bundled(&'static Bundled),
}

/// How a load went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    pub name: String,
    pub world: World,
    pub origin: Origin,
    /// From reading the file to serving the new version.
    pub millis: u64,
}

/// What `minstrel plugin list` shows about one plugin.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginStatus {
    pub name: String,
    /// `loaded`, `failed` (no version serving) or `degraded` (serving, but the last
    /// load of a newer file failed).
    pub state: &'static str,
    pub path: Option<PathBuf>,
    /// Whether the serving version is the one built into the binary.
    pub bundled: bool,
    pub world: Option<World>,
    pub api_version: Option<String>,
    pub version: Option<String>,
    pub hash: Option<String>,
    /// Interfaces the plugin imports.
    pub asks: Vec<String>,
    pub granted: EffectiveGrant,
    /// HTTP hosts the plugin asked for that the operator did not grant.
    pub http_hosts_not_granted: Vec<String>,
    pub last_error: Option<String>,
    pub load_attempts: u64,
    /// When the serving version was loaded (seconds since the Unix epoch).
    pub loaded_at_unix: Option<u64>,
    /// How long loading the serving version took.
    pub load_millis: Option<u64>,
    pub counters: CounterSnapshot,
    /// The commands this plugin serves (command plugins).
    pub commands: Vec<String>,
    /// Its commands that are not served, with the reason: Discord would reject them,
    /// or their name is taken (see [`command_specs::resolve`]).
    pub refused_commands: Vec<Refused>,
    /// The settings it reads and whether the operator set each (values are never
    /// shown: some are secrets).
    pub settings: Vec<SettingStatus>,
}

/// One setting a plugin reads, as `minstrel plugin list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SettingStatus {
    pub name: String,
    pub secret: bool,
    pub required: bool,
    pub set: bool,
}

impl PluginHost {
    /// Builds the runtime, with the plugins' kv entries in memory. Compiled plugins are
    /// cached under `data_dir/plugin-cache` when `config.compiled_cache` is on.
    pub fn new(
        config: PluginsConfig,
        data_dir: &Path,
        services: Arc<dyn HostServices>,
    ) -> wasmtime::Result<Self> {
        Self::build(config, data_dir, services, None)
    }

    /// [`PluginHost::new`], with the plugins' kv entries in `store`'s database: durable,
    /// and shared by every process on it. What the bot uses.
    pub fn with_store(
        config: PluginsConfig,
        data_dir: &Path,
        services: Arc<dyn HostServices>,
        store: crate::store::Store,
    ) -> wasmtime::Result<Self> {
        Self::build(config, data_dir, services, Some(store))
    }

    fn build(
        config: PluginsConfig,
        data_dir: &Path,
        services: Arc<dyn HostServices>,
        kv_store: Option<crate::store::Store>,
    ) -> wasmtime::Result<Self> {
        let largest = config
            .grants
            .values()
            .filter_map(|g| g.memory_bytes)
            .chain(config.defaults.memory_bytes)
            .fold(config.memory_bytes, u64::max);
        let engine = PluginEngine::new(&config, largest)?;
        let cache_dir = config.compiled_cache.then(|| data_dir.join("plugin-cache"));
        for name in config.unknown_interfaces() {
            tracing::warn!(interface = %name, "grant names an interface that does not exist");
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                engine,
                cache_dir,
                services,
                kv_store,
                slots: RwLock::new(BTreeMap::new()),
                reserved: RwLock::default(),
                unregistered: RwLock::default(),
            }),
        })
    }

    pub fn config(&self) -> &PluginsConfig {
        &self.inner.config
    }

    pub fn engine(&self) -> &PluginEngine {
        &self.inner.engine
    }

    /// The plugin name of a file: its stem (`radio.wasm` -> `radio`).
    pub fn name_of(path: &Path) -> Option<String> {
        if path.extension()? != "wasm" {
            return None;
        }
        Some(path.file_stem()?.to_str()?.to_string())
    }

    /// Loads every `*.wasm` in the plugins folder. Failures are reported, not fatal.
    pub async fn load_dir(&self) -> Vec<(PathBuf, Result<LoadReport, LoadError>)> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.inner.config.dir) else {
            tracing::info!(dir = %self.inner.config.dir.display(), "no plugins folder");
            return out;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| Self::name_of(p).is_some())
            .collect();
        paths.sort();
        for path in paths {
            let result = self.load_file(&path).await;
            out.push((path, result));
        }
        out
    }

    /// Loads (or reloads) the plugin in `path`. On failure the version already serving,
    /// if any, keeps serving, and the error is recorded for `list`.
    pub async fn load_file(&self, path: &Path) -> Result<LoadReport, LoadError> {
        let started = Instant::now();
        let name = Self::name_of(path).ok_or_else(|| {
            LoadError::Io(std::io::Error::other("plugin files must end in .wasm"))
        })?;
        self.load(&name, Input::File(path), started).await
    }

    /// Loads the bundled plugins (when `bundled` is on), except those a file in the
    /// plugins folder replaces. Failures are reported, not fatal.
    pub async fn load_bundled(&self) -> Vec<(String, Result<LoadReport, LoadError>)> {
        let mut out = Vec::new();
        if !self.inner.config.bundled {
            return out;
        }
        for plugin in bundled::all() {
            if self.folder_file(plugin.name).is_file() {
                continue;
            }
            let result = self
                .load(plugin.name, Input::Bundled(plugin), Instant::now())
                .await;
            out.push((plugin.name.to_string(), result));
        }
        out
    }

    /// Loads plugin `name` alone: its file in the plugins folder, or else the bundled
    /// plugin of that name.
    pub async fn load_one(&self, name: &str) -> Result<LoadReport, LoadError> {
        let file = self.folder_file(name);
        if !file.exists()
            && self.inner.config.bundled
            && let Some(plugin) = bundled::find(name)
        {
            return self
                .load(name, Input::Bundled(plugin), Instant::now())
                .await;
        }
        self.load_file(&file).await
    }

    /// The file of plugin `name` in the plugins folder.
    fn folder_file(&self, name: &str) -> PathBuf {
        self.inner.config.dir.join(format!("{name}.wasm"))
    }

    /// The file of plugin `name` left the plugins folder: the bundled plugin of that
    /// name serves again if there is one, otherwise the plugin is unloaded.
    pub async fn removed(&self, name: &str) {
        let plugin = bundled::find(name).filter(|_| self.inner.config.bundled);
        match plugin {
            Some(plugin) => {
                let _ = self
                    .load(name, Input::Bundled(plugin), Instant::now())
                    .await;
            }
            None => {
                self.unload(name);
            }
        }
    }

    async fn load(
        &self,
        name: &str,
        input: Input<'_>,
        started: Instant,
    ) -> Result<LoadReport, LoadError> {
        let slot = self.slot(name);
        let result = self.load_into(&slot, input, started).await;
        slot.attempts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match &result {
            Ok(report) => {
                *slot.last_error.lock().expect("slot lock") = None;
                tracing::info!(
                    plugin = %name,
                    bundled = matches!(input, Input::Bundled(_)),
                    world = report.world.name(),
                    origin = ?report.origin,
                    millis = report.millis,
                    "plugin loaded"
                );
            }
            Err(error) => {
                *slot.last_error.lock().expect("slot lock") = Some(error.to_string());
                let serving = slot.current.load().is_some();
                tracing::error!(plugin = %name, %error, serving_previous = serving, "plugin failed to load");
            }
        }
        result
    }

    async fn load_into(
        &self,
        slot: &Arc<Slot>,
        input: Input<'_>,
        started: Instant,
    ) -> Result<LoadReport, LoadError> {
        let (bytes, path, context) = match input {
            Input::File(path) => (
                Cow::Owned(tokio::fs::read(path).await?),
                Some(path.to_path_buf()),
                slot.context.clone(),
            ),
            Input::Bundled(plugin) => (
                Cow::Borrowed(plugin.bytes),
                None,
                slot.bundled
                    .clone()
                    .expect("a bundled plugin's slot has its context"),
            ),
        };
        let engine = self.inner.engine.clone();
        let cache_dir = self.inner.cache_dir.clone();
        let compile_context = context.clone();
        // Compiling takes milliseconds to seconds of CPU: keep it off the async workers.
        let loaded = tokio::task::spawn_blocking(move || {
            loader::load(&engine, &bytes, cache_dir.as_deref(), &compile_context)
        })
        .await
        .map_err(|e| LoadError::Compile(format!("compiler task failed: {e}")))??;
        let mut loaded = loaded;
        loader::describe(
            &self.inner.engine,
            &context,
            &slot.counters,
            self.host_calls(),
            &mut loaded,
        )
        .await?;
        if let Some(missing) = loaded
            .inspection
            .manifest
            .settings
            .iter()
            .find(|key| key.required && !context.settings.contains_key(&key.name))
        {
            return Err(LoadError::MissingSetting {
                plugin: context.name.clone(),
                key: missing.name.clone(),
            });
        }
        let report = LoadReport {
            name: context.name.clone(),
            world: loaded.inspection.world,
            origin: loaded.inspection.origin,
            millis: started.elapsed().as_millis() as u64,
        };
        let not_granted: Vec<&String> = loaded
            .inspection
            .manifest
            .http_hosts
            .iter()
            .filter(|h| !context.grant.allows_host(h))
            .collect();
        if !not_granted.is_empty() {
            tracing::warn!(plugin = %report.name, hosts = ?not_granted, "plugin asks for HTTP hosts that are not granted");
        }
        if loaded.inspection.manifest.player_events && !context.grant.allows("player-events") {
            tracing::warn!(plugin = %report.name, "plugin asks for player events, which are not granted");
        }
        for ask in &loaded.inspection.asks {
            if !context.grant.allows(ask) {
                tracing::warn!(plugin = %report.name, interface = %ask, "plugin imports an interface that is not granted; its use will fail");
            }
        }
        let commands = self.declared_commands(slot, &context, &loaded).await?;
        for refused in &commands.refused {
            tracing::warn!(plugin = %report.name, command = %refused.name, reason = %refused.reason, "plugin command refused");
        }
        slot.current.store(Some(Arc::new(Version {
            loaded,
            path,
            context,
            loaded_at: SystemTime::now(),
            load_millis: report.millis,
            commands,
        })));
        Ok(report)
    }

    /// Asks a command plugin for its commands, once per load, and checks them against
    /// Discord's rules. A plugin whose `commands` export fails does not load.
    async fn declared_commands(
        &self,
        slot: &Arc<Slot>,
        context: &Arc<PluginContext>,
        loaded: &Loaded,
    ) -> Result<Declared, LoadError> {
        let Some(pre) = CommandPre::of(&loaded.prepared) else {
            return Ok(Declared::default());
        };
        let (specs, _) = call::run(
            &self.inner.engine,
            context,
            &slot.counters,
            self.host_calls(),
            "commands",
            async |store| match pre {
                CommandPre::V1(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    let specs = bindings.call_commands(&mut *store).await?;
                    Ok(Ok(specs.into_iter().map(adapt::command_spec).collect()))
                }
                CommandPre::V2(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    Ok(Ok(bindings.call_commands(&mut *store).await?))
                }
            },
        )
        .await;
        let specs = specs.map_err(|e| LoadError::Commands(e.to_string()))?;
        Ok(command_specs::check(specs))
    }

    /// Command names no plugin may serve: the bot's built-in commands.
    pub fn reserve_commands(&self, names: impl IntoIterator<Item = String>) {
        self.inner
            .reserved
            .write()
            .expect("reserved lock")
            .extend(names);
    }

    /// Marks the plugin commands as not registered with Discord (`Some(reason)`), or as
    /// registered again (`None`); [`PluginHost::list`] shows them as refused meanwhile.
    pub fn set_commands_unregistered(&self, reason: Option<String>) {
        *self.inner.unregistered.write().expect("unregistered lock") = reason;
    }

    /// Which plugin serves each command name, and what each plugin has refused (see
    /// [`commands`] for the rules).
    pub fn command_table(&self) -> (command_specs::Table, BTreeMap<String, Vec<Refused>>) {
        let versions: Vec<(String, Arc<Version>)> = {
            let slots = self.inner.slots.read().expect("slots lock");
            slots
                .iter()
                .filter_map(|(name, slot)| Some((name.clone(), slot.current.load_full()?)))
                .collect()
        };
        let reserved = self.inner.reserved.read().expect("reserved lock").clone();
        let (table, mut refused) = command_specs::resolve(
            versions.iter().map(|(n, v)| (n.as_str(), &v.commands)),
            &reserved,
        );
        for (name, version) in &versions {
            if !version.commands.refused.is_empty() {
                let mut all = version.commands.refused.clone();
                all.extend(refused.remove(name).unwrap_or_default());
                refused.insert(name.clone(), all);
            }
        }
        (table, refused)
    }

    /// Stops serving `name` (its file was removed). Calls in flight finish.
    pub fn unload(&self, name: &str) -> bool {
        let removed = self.inner.slots.write().expect("slots lock").remove(name);
        match removed {
            Some(slot) => {
                slot.current.store(None);
                tracing::info!(plugin = %name, "plugin unloaded");
                true
            }
            None => false,
        }
    }

    fn slot(&self, name: &str) -> Arc<Slot> {
        if let Some(slot) = self.inner.slots.read().expect("slots lock").get(name) {
            return slot.clone();
        }
        let mut slots = self.inner.slots.write().expect("slots lock");
        slots
            .entry(name.to_string())
            .or_insert_with(|| {
                let config = &self.inner.config;
                let kv = KvSpace::new(name, self.inner.kv_store.clone());
                let context = |grant, kv| {
                    Arc::new(PluginContext {
                        name: name.to_string(),
                        grant,
                        kv,
                        services: self.inner.services.clone(),
                        settings: config.settings_for(name),
                        store: self.inner.kv_store.clone(),
                    })
                };
                let bundled = bundled::find(name).map(|_| {
                    let grant =
                        config.bundled_grant_for(name, &bundled::default_grant(name, config));
                    context(grant, kv.clone())
                });
                Arc::new(Slot {
                    current: ArcSwapOption::empty(),
                    context: context(config.grant_for(name), kv),
                    bundled,
                    counters: Counters::default(),
                    last_error: Mutex::new(None),
                    attempts: Default::default(),
                })
            })
            .clone()
    }

    /// Status of every plugin the runtime knows, by name.
    pub fn list(&self) -> Vec<PluginStatus> {
        let (table, mut refused) = self.command_table();
        let unregistered = self
            .inner
            .unregistered
            .read()
            .expect("unregistered lock")
            .clone();
        let slots = self.inner.slots.read().expect("slots lock");
        slots
            .values()
            .map(|slot| {
                let current = slot.current.load_full();
                let last_error = slot.last_error.lock().expect("slot lock").clone();
                let inspection: Option<&Inspection> =
                    current.as_ref().map(|v| &v.loaded.inspection);
                let state = match (&current, &last_error) {
                    (Some(_), None) => "loaded",
                    (Some(_), Some(_)) => "degraded",
                    (None, _) => "failed",
                };
                let context = current.as_ref().map_or(&slot.context, |v| &v.context);
                let grant = context.grant.clone();
                let mut commands: Vec<String> = table
                    .iter()
                    .filter(|(_, (plugin, _))| *plugin == slot.context.name)
                    .map(|(name, _)| name.clone())
                    .collect();
                let mut refused_commands = refused.remove(&slot.context.name).unwrap_or_default();
                if let Some(reason) = &unregistered {
                    refused_commands.extend(commands.drain(..).map(|name| Refused {
                        name,
                        reason: reason.clone(),
                    }));
                }
                PluginStatus {
                    name: slot.context.name.clone(),
                    state,
                    path: current.as_ref().and_then(|v| v.path.clone()),
                    bundled: current.as_ref().is_some_and(|v| v.path.is_none()),
                    world: inspection.map(|i| i.world),
                    api_version: inspection.map(|i| i.manifest.api_version.clone()),
                    version: inspection.and_then(|i| i.manifest.version.clone()),
                    hash: inspection.map(|i| i.hash.clone()),
                    asks: inspection
                        .map(|i| i.asks.iter().cloned().collect())
                        .unwrap_or_default(),
                    http_hosts_not_granted: inspection
                        .map(|i| {
                            i.manifest
                                .http_hosts
                                .iter()
                                .filter(|h| !grant.allows_host(h))
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default(),
                    granted: grant,
                    last_error,
                    load_attempts: slot.attempts.load(std::sync::atomic::Ordering::SeqCst),
                    loaded_at_unix: current.as_ref().and_then(|v| {
                        v.loaded_at
                            .duration_since(SystemTime::UNIX_EPOCH)
                            .ok()
                            .map(|d| d.as_secs())
                    }),
                    load_millis: current.as_ref().map(|v| v.load_millis),
                    counters: slot.counters.snapshot(),
                    commands,
                    refused_commands,
                    settings: inspection
                        .map(|i| {
                            i.manifest
                                .settings
                                .iter()
                                .map(|key| SettingStatus {
                                    name: key.name.clone(),
                                    secret: key.secret,
                                    required: key.required,
                                    set: slot.context.settings.contains_key(&key.name),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect()
    }

    /// The status of one plugin.
    pub fn status(&self, name: &str) -> Option<PluginStatus> {
        self.list().into_iter().find(|s| s.name == name)
    }

    /// Names of the plugins currently serving `world`.
    pub fn names(&self, world: World) -> Vec<String> {
        let slots = self.inner.slots.read().expect("slots lock");
        slots
            .iter()
            .filter(|(_, slot)| {
                slot.current
                    .load()
                    .as_ref()
                    .is_some_and(|v| v.loaded.inspection.world == world)
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Whether the version of `name` serving is the one built into the binary.
    pub fn is_bundled(&self, name: &str) -> bool {
        self.current(name).is_ok_and(|(_, v)| v.path.is_none())
    }

    fn current(&self, name: &str) -> Result<(Arc<Slot>, Arc<Version>), CallError> {
        let slot = self
            .inner
            .slots
            .read()
            .expect("slots lock")
            .get(name)
            .cloned()
            .ok_or_else(|| CallError::NotLoaded(name.to_string()))?;
        let version = slot
            .current
            .load_full()
            .ok_or_else(|| CallError::NotLoaded(name.to_string()))?;
        Ok((slot, version))
    }

    fn host_calls(&self) -> u32 {
        self.inner.config.host_calls_per_call
    }

    fn wrong_kind(name: &str, expected: World, actual: World) -> CallError {
        CallError::WrongKind {
            plugin: name.to_string(),
            expected: expected.name(),
            actual: actual.name(),
        }
    }

    /// Calls plugin `name`'s current version, which must be of `P`'s world, with a fresh
    /// store under the plugin's limits (see [`call::run`]). The call's final state is
    /// `None` when it never started (no such plugin, or one of another world).
    async fn call<P: WorldPre, R>(
        &self,
        name: &str,
        what: &'static str,
        body: impl AsyncFnOnce(&P, &mut Store<CallState>) -> wasmtime::Result<Result<R, String>>,
    ) -> (Result<R, CallError>, Option<Finished>) {
        let (slot, version) = match self.current(name) {
            Ok(found) => found,
            Err(error) => return (Err(error), None),
        };
        let Some(pre) = P::of(&version.loaded.prepared) else {
            let actual = version.loaded.inspection.world;
            return (Err(Self::wrong_kind(name, P::WORLD, actual)), None);
        };
        let (result, finished) = call::run(
            &self.inner.engine,
            &version.context,
            &slot.counters,
            self.host_calls(),
            what,
            async |store| body(pre, store).await,
        )
        .await;
        (result, Some(finished))
    }

    // ---- command ----

    /// The commands a command plugin offers that pass Discord's rules, as declared when
    /// it was loaded (name collisions aside: see [`PluginHost::command_table`]).
    pub async fn commands(&self, name: &str) -> Result<Vec<CommandSpec>, CallError> {
        let (_, version) = self.current(name)?;
        match version.loaded.inspection.world {
            World::Command => Ok(version.commands.specs.clone()),
            actual => Err(Self::wrong_kind(name, World::Command, actual)),
        }
    }

    /// Runs one command invocation, as the plugin itself (no member's rules apply to
    /// its player calls: see [`PluginHost::run_command_as`]).
    pub async fn run_command(
        &self,
        name: &str,
        invocation: &Invocation,
    ) -> Result<Reply, CallError> {
        self.run_command_as(name, invocation, None).await
    }

    /// Runs one command invocation for `asker`, whose rights its player calls have.
    pub async fn run_command_as(
        &self,
        name: &str,
        invocation: &Invocation,
        asker: Option<Asker>,
    ) -> Result<Reply, CallError> {
        self.call(name, "run", async |pre: &CommandPre, store| {
            let state = store.data_mut();
            state.user = Some(invocation.context.user_id);
            state.guild = invocation.context.guild_id;
            state.asker = asker.clone();
            match pre {
                CommandPre::V1(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    let old = adapt::invocation(invocation);
                    Ok(bindings
                        .call_run(&mut *store, &old)
                        .await?
                        .map(adapt::reply))
                }
                CommandPre::V2(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    let reply = bindings.call_run(&mut *store, invocation).await?;
                    Ok(reply.and_then(|reply| components::prepare(name, reply)))
                }
            }
        })
        .await
        .0
    }

    /// Autocomplete suggestions for a command option.
    pub async fn autocomplete(
        &self,
        name: &str,
        command: &str,
        option: &str,
        partial: &str,
        context: &Context,
    ) -> Result<Vec<String>, CallError> {
        self.call(name, "autocomplete", async |pre: &CommandPre, store| {
            let state = store.data_mut();
            state.user = Some(context.user_id);
            // No guild: a keystroke is not a command, so it may not drive the player.
            state.guild = None;
            Ok(Ok(match pre {
                CommandPre::V1(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    let old = adapt::context(context);
                    bindings
                        .call_autocomplete(&mut *store, command, option, partial, &old)
                        .await?
                }
                CommandPre::V2(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    bindings
                        .call_autocomplete(&mut *store, command, option, partial, context)
                        .await?
                }
            }))
        })
        .await
        .0
    }

    /// Tells command plugin `name` about a player event (0.2.0 plugins only; a 0.1.0
    /// plugin has no `on-player-event` and is not called).
    pub async fn player_event(&self, name: &str, event: &PlayerEvent) -> Result<(), CallError> {
        self.call(name, "on-player-event", async |pre: &CommandPre, store| {
            store.data_mut().guild = Some(event.guild_id);
            match pre {
                CommandPre::V1(_) => Ok(Ok(())),
                CommandPre::V2(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    Ok(Ok(bindings
                        .call_on_player_event(&mut *store, event)
                        .await?))
                }
            }
        })
        .await
        .0
    }

    /// Whether `name` is a plugin built against 0.2.0 or later (it has `on-press`,
    /// `on-timer` and, for commands, `on-player-event`).
    pub fn interactive(&self, name: &str) -> bool {
        self.current(name).is_ok_and(|(_, version)| {
            matches!(
                version.loaded.prepared,
                Prepared::Command(CommandPre::V2(_)) | Prepared::Mention(MentionPre::V2(_))
            )
        })
    }

    /// The 0.2.0 command plugins granted `player-events`: who [`PluginHost::player_event`]
    /// is for.
    pub fn listeners(&self) -> Vec<String> {
        let slots = self.inner.slots.read().expect("slots lock");
        slots
            .iter()
            .filter(|(_, slot)| {
                slot.current.load().as_ref().is_some_and(|v| {
                    v.context.grant.allows("player-events")
                        && matches!(v.loaded.prepared, Prepared::Command(CommandPre::V2(_)))
                })
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Hands a press on one of its components to plugin `name` (command or mention), as
    /// the plugin itself (see [`PluginHost::press_as`]).
    pub async fn press(&self, name: &str, press: &Press) -> Result<PressAnswer, CallError> {
        self.press_as(name, press, None).await
    }

    /// Hands a press by `asker` to plugin `name`; its player calls have `asker`'s rights.
    pub async fn press_as(
        &self,
        name: &str,
        press: &Press,
        asker: Option<Asker>,
    ) -> Result<PressAnswer, CallError> {
        let answer = self
            .call_any(name, "on-press", async |prepared, store| {
                let state = store.data_mut();
                state.user = Some(press.context.user_id);
                state.guild = press.context.guild_id;
                state.asker = asker.clone();
                match prepared {
                    Prepared::Command(CommandPre::V2(pre)) => {
                        let bindings = pre.instantiate_async(&mut *store).await?;
                        bindings.call_on_press(&mut *store, press).await
                    }
                    Prepared::Mention(MentionPre::V2(pre)) => {
                        let bindings = pre.instantiate_async(&mut *store).await?;
                        bindings.call_on_press(&mut *store, press).await
                    }
                    _ => Ok(Err(
                        "this plugin takes no presses (built against API 0.1)".into()
                    )),
                }
            })
            .await?;
        let prepare = |reply| components::prepare(name, reply).map_err(CallError::Plugin);
        Ok(match answer {
            PressAnswer::Update(reply) => PressAnswer::Update(prepare(reply)?),
            PressAnswer::Reply(reply) => PressAnswer::Reply(prepare(reply)?),
            PressAnswer::Nothing => PressAnswer::Nothing,
        })
    }

    /// Fires a due timer of plugin `name` (command or mention).
    pub async fn timer(&self, name: &str, timer: &Timer) -> Result<(), CallError> {
        self.call_any(name, "on-timer", async |prepared, store| {
            store.data_mut().guild = timer.guild_id;
            match prepared {
                Prepared::Command(CommandPre::V2(pre)) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    Ok(Ok(bindings.call_on_timer(&mut *store, timer).await?))
                }
                Prepared::Mention(MentionPre::V2(pre)) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    Ok(Ok(bindings.call_on_timer(&mut *store, timer).await?))
                }
                _ => Ok(Err(
                    "this plugin has no timers (built against API 0.1)".into()
                )),
            }
        })
        .await
    }

    /// Calls plugin `name`'s current version, whatever its world.
    async fn call_any<R>(
        &self,
        name: &str,
        what: &'static str,
        body: impl AsyncFnOnce(&Prepared, &mut Store<CallState>) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<R, CallError> {
        let (slot, version) = self.current(name)?;
        call::run(
            &self.inner.engine,
            &version.context,
            &slot.counters,
            self.host_calls(),
            what,
            async |store| body(&version.loaded.prepared, store).await,
        )
        .await
        .0
    }

    // ---- mention ----

    /// Whether mention plugin `name` takes `message` (its `claims` export).
    pub async fn mention_claims(&self, name: &str, message: &Message) -> Result<bool, CallError> {
        self.call(name, "claims", async |pre: &MentionPre, store| {
            store.data_mut().user = Some(message.context.user_id);
            Ok(Ok(match pre {
                MentionPre::V1(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    let old = adapt::message(message);
                    bindings.call_claims(&mut *store, &old).await?
                }
                MentionPre::V2(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    bindings.call_claims(&mut *store, message).await?
                }
            }))
        })
        .await
        .0
    }

    /// Handles a mention, publishing the draft into `draft` as the plugin appends to it
    /// (watch its receiver to show the reply while it is written). Returns the final
    /// reply; the draft's last value stays readable from the receiver, also when the
    /// call failed.
    pub async fn handle_mention_live(
        &self,
        name: &str,
        message: &Message,
        draft: tokio::sync::watch::Sender<String>,
    ) -> Result<Reply, CallError> {
        self.call(name, "handle", async |pre: &MentionPre, store| {
            let state = store.data_mut();
            state.draft = draft;
            state.user = Some(message.context.user_id);
            state.guild = message.context.guild_id;
            match pre {
                MentionPre::V1(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    let old = adapt::message(message);
                    Ok(bindings
                        .call_handle(&mut *store, &old)
                        .await?
                        .map(adapt::reply))
                }
                MentionPre::V2(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    let reply = bindings.call_handle(&mut *store, message).await?;
                    Ok(reply.and_then(|reply| components::prepare(name, reply)))
                }
            }
        })
        .await
        .0
    }

    /// Handles a mention. Returns the final reply and the draft text appended during
    /// the call (also when the call failed).
    pub async fn handle_mention(
        &self,
        name: &str,
        message: &Message,
    ) -> (Result<Reply, CallError>, String) {
        let (draft, watch) = tokio::sync::watch::channel(String::new());
        let result = self.handle_mention_live(name, message, draft).await;
        let text = watch.borrow().clone();
        (result, text)
    }

    // ---- source ----

    /// Whether a source plugin claims `url`.
    pub async fn claims(&self, name: &str, url: &str) -> Result<bool, CallError> {
        self.call(name, "claims", async |pre: &SourcePre, store| {
            Ok(Ok(match pre {
                SourcePre::V1(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    bindings.call_claims(&mut *store, url).await?
                }
                SourcePre::V2(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    bindings.call_claims(&mut *store, url).await?
                }
            }))
        })
        .await
        .0
    }

    /// Tracks a source plugin finds for `query`, each with its stream URL if the plugin
    /// marked it live.
    pub async fn resolve(&self, name: &str, query: &str) -> Result<Vec<Resolved>, CallError> {
        let (result, finished) = self
            .call(name, "resolve", async |pre: &SourcePre, store| match pre {
                SourcePre::V1(pre) => {
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    let found = bindings.call_resolve(&mut *store, query).await?;
                    Ok(found.map(|tracks| tracks.into_iter().map(adapt::track).collect()))
                }
                SourcePre::V2(pre) => {
                    store.data_mut().live = Some(Vec::new());
                    let bindings = pre.instantiate_async(&mut *store).await?;
                    bindings.call_resolve(&mut *store, query).await
                }
            })
            .await;
        let tracks: Vec<Track> = result?;
        let marks = finished.and_then(|f| f.state.live).unwrap_or_default();
        Ok(tracks
            .into_iter()
            .map(|track| {
                // A mark names a track of this answer; marks of other ids mean nothing.
                let live = marks
                    .iter()
                    .find(|(id, _)| *id == track.id)
                    .map(|(_, url)| url.clone());
                Resolved { track, live }
            })
            .collect())
    }

    /// Streams track `id` from a source plugin into `writer`; hands the writer back.
    pub async fn fetch(
        &self,
        name: &str,
        id: &str,
        writer: Box<dyn AudioWriter>,
    ) -> (Result<u64, CallError>, Option<Box<dyn AudioWriter>>) {
        let mut writer = Some(writer);
        let mut sink_rep: Option<u32> = None;
        let (result, finished) = self
            .call(name, "fetch", async |pre: &SourcePre, store| {
                let sink = AudioSink::new(writer.take().expect("writer taken once"));
                let handle = store.data_mut().table().push(sink)?;
                sink_rep = Some(handle.rep());
                let into = Resource::new_borrow(handle.rep());
                let result = match pre {
                    SourcePre::V1(pre) => {
                        let bindings = pre.instantiate_async(&mut *store).await?;
                        bindings.call_fetch(&mut *store, id, into).await?
                    }
                    SourcePre::V2(pre) => {
                        let bindings = pre.instantiate_async(&mut *store).await?;
                        bindings.call_fetch(&mut *store, id, into).await?
                    }
                };
                Ok(result.map(|()| 0u64))
            })
            .await;
        // A call that never started leaves the writer here; one that did left it in the
        // sink, in the store's resource table.
        let Some(Finished { mut state }) = finished else {
            return (result, writer);
        };
        let mut written = 0;
        let writer = sink_rep.and_then(|rep| {
            let sink = state
                .table()
                .delete(Resource::<AudioSink>::new_own(rep))
                .ok()?;
            written = sink.written;
            sink.writer
        });
        (result.map(|_| written), writer)
    }
}

/// A track a source plugin found.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub track: Track,
    /// Where it streams from, when the plugin marked it live (`live.mark`).
    pub live: Option<String>,
}

/// A found track reads as the track itself.
impl std::ops::Deref for Resolved {
    type Target = Track;
    fn deref(&self) -> &Track {
        &self.track
    }
}

/// The prepared component of one world, picked out of a loaded version.
trait WorldPre {
    const WORLD: World;
    fn of(prepared: &Prepared) -> Option<&Self>;
}

impl WorldPre for CommandPre {
    const WORLD: World = World::Command;
    fn of(prepared: &Prepared) -> Option<&Self> {
        match prepared {
            Prepared::Command(pre) => Some(pre),
            _ => None,
        }
    }
}

impl WorldPre for MentionPre {
    const WORLD: World = World::Mention;
    fn of(prepared: &Prepared) -> Option<&Self> {
        match prepared {
            Prepared::Mention(pre) => Some(pre),
            _ => None,
        }
    }
}

impl WorldPre for SourcePre {
    const WORLD: World = World::Source;
    fn of(prepared: &Prepared) -> Option<&Self> {
        match prepared {
            Prepared::Source(pre) => Some(pre),
            _ => None,
        }
    }
}
