//! From bytes to a plugin ready to serve calls: read the manifest, check the API
//! version, compile (or load from the compiled cache), check imports and exports, link
//! what is granted, and pre-instantiate.
//!
//! Linking is where deny-by-default happens. For every `minstrel:plugin` interface the
//! component imports, the real implementation is linked only if the operator granted
//! it; otherwise each function of that interface is linked to a stub that traps with
//! [`Denied`] (so the plugin still loads, and a call that uses the capability fails
//! with a message naming it). WASI is linked with an empty context (see
//! [`super::state`]). Anything else the component imports makes it unloadable.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker, ResourceType};

use super::api::v0_2_0::types::PluginInfo;
use super::api::{self, ApiVersion, v0_1_0, v0_2_0};
use super::cache::{self, Origin};
use super::call;
use super::engine::PluginEngine;
use super::error::{Denied, LoadError};
use super::host::kv::KvSpace;
use super::host_services::NoServices;
use super::manifest::{self, Manifest};
use super::state::{CallState, PluginContext};
use super::stats::Counters;
use crate::config::plugins::{INTERFACES, PluginsConfig};

/// The plugin kinds, one per WIT world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    Source,
    Command,
    Mention,
}

impl World {
    pub fn name(self) -> &'static str {
        match self {
            World::Source => "source",
            World::Command => "command",
            World::Mention => "mention",
        }
    }

    fn exports(self, version: ApiVersion) -> &'static [&'static str] {
        match (self, version.minor) {
            (World::Source, 1) => &["claims", "resolve", "fetch"],
            (World::Command, 1) => &["commands", "run", "autocomplete"],
            (World::Mention, 1) => &["claims", "handle"],
            (World::Source, _) => &["describe", "claims", "resolve", "fetch"],
            (World::Command, _) => &[
                "describe",
                "commands",
                "run",
                "autocomplete",
                "on-press",
                "on-player-event",
                "on-timer",
            ],
            (World::Mention, _) => &["describe", "claims", "handle", "on-press", "on-timer"],
        }
    }

    /// The one world of `version` whose exports are all among `names`. Other exports
    /// are left alone: some toolchains add their own (componentize-py exports an
    /// `init`), and nothing calls them.
    fn detect(version: ApiVersion, names: &BTreeSet<String>) -> Option<World> {
        let mut found = [World::Source, World::Command, World::Mention]
            .into_iter()
            .filter(|w| w.exports(version).iter().all(|e| names.contains(*e)));
        match (found.next(), found.next()) {
            (Some(world), None) => Some(world),
            _ => None,
        }
    }
}

/// The typed, pre-instantiated plugin for its world.
#[derive(Clone)]
pub(crate) enum Prepared {
    Source(SourcePre),
    Command(CommandPre),
    Mention(MentionPre),
}

/// A `source` plugin, per API version.
#[derive(Clone)]
pub(crate) enum SourcePre {
    V1(v0_1_0::source::SourcePre<CallState>),
    V2(v0_2_0::source::SourcePre<CallState>),
}

/// A `command` plugin, per API version.
#[derive(Clone)]
pub(crate) enum CommandPre {
    V1(v0_1_0::command::CommandPre<CallState>),
    V2(v0_2_0::command::CommandPre<CallState>),
}

/// A `mention` plugin, per API version.
#[derive(Clone)]
pub(crate) enum MentionPre {
    V1(v0_1_0::mention::MentionPre<CallState>),
    V2(v0_2_0::mention::MentionPre<CallState>),
}

/// What a component is, before any grant applies: the result of inspecting it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    pub manifest: Manifest,
    pub world: World,
    /// `minstrel:plugin` interfaces the component imports (short names), i.e. what it
    /// asks for.
    pub asks: BTreeSet<String>,
    /// Other imports (WASI).
    pub wasi: BTreeSet<String>,
    /// blake3 of the file.
    pub hash: String,
    pub origin: Origin,
}

/// A compiled, inspected and linked plugin version.
pub struct Loaded {
    pub inspection: Inspection,
    pub(crate) prepared: Prepared,
}

/// Inspects and compiles `bytes` without linking: what `minstrel plugin check` does.
/// Blocking (compiles).
pub fn inspect(
    engine: &PluginEngine,
    bytes: &[u8],
    cache_dir: Option<&Path>,
) -> Result<(Inspection, Component), LoadError> {
    let manifest = manifest::read(bytes)?;
    let version = manifest
        .api()
        .ok_or_else(|| LoadError::unsupported(&manifest.api_version))?;
    if !api::served(version) {
        return Err(LoadError::unsupported(&manifest.api_version));
    }
    if let Some(imported) = manifest.imported_api.as_deref().and_then(ApiVersion::parse)
        && (imported.major, imported.minor) != (version.major, version.minor)
    {
        return Err(LoadError::ApiMismatch {
            declared: version.to_string(),
            imported: imported.to_string(),
        });
    }
    let hash = cache::content_hash(bytes);
    let (component, origin) = cache::compile(engine, bytes, &hash, cache_dir)?;
    let ty = component.component_type();
    let mut asks = BTreeSet::new();
    let mut wasi = BTreeSet::new();
    for (name, item) in ty.imports(engine.engine()) {
        if matches!(item.ty, ComponentItem::Type(_) | ComponentItem::Resource(_)) {
            // World-level `use` of a type (e.g. `use audio.{sink}`): an alias of a type
            // of an imported interface, nothing to link.
            continue;
        }
        if let Some(interface) = minstrel_interface(name) {
            // Shared types, the sink, the plugin's own settings and live marks need no
            // grant.
            if !matches!(interface, "types" | "audio" | "config" | "live") {
                asks.insert(interface.to_string());
            }
        } else if name.starts_with("wasi:") {
            wasi.insert(name.to_string());
        } else {
            return Err(LoadError::UnknownImport(name.to_string()));
        }
    }
    let exports: BTreeSet<String> = ty
        .exports(engine.engine())
        .map(|(name, _)| name.to_string())
        .collect();
    let world = World::detect(version, &exports).ok_or_else(|| {
        LoadError::WrongWorld(format!(
            "it exports [{}]",
            exports.iter().cloned().collect::<Vec<_>>().join(", ")
        ))
    })?;
    if let Some(declared) = &manifest.world
        && declared != world.name()
    {
        return Err(LoadError::WorldMismatch {
            manifest: declared.clone(),
            actual: world.name().to_string(),
        });
    }
    let inspection = Inspection {
        manifest,
        world,
        asks,
        wasi,
        hash,
        origin,
    };
    Ok((inspection, component))
}

/// Inspects, compiles, links per `context.grant` and pre-instantiates. Blocking.
pub fn load(
    engine: &PluginEngine,
    bytes: &[u8],
    cache_dir: Option<&Path>,
    context: &Arc<PluginContext>,
) -> Result<Loaded, LoadError> {
    let (inspection, component) = inspect(engine, bytes, cache_dir)?;
    let v1 = inspection.manifest.api().is_some_and(|v| v.minor == 1);
    let linker = linker_for(engine, &component, context, v1)?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| LoadError::Link(cache::one_line(&e)))?;
    let wrong = |e: wasmtime::Error| LoadError::WrongWorld(cache::one_line(&e));
    let prepared = match (inspection.world, v1) {
        (World::Source, true) => Prepared::Source(SourcePre::V1(
            v0_1_0::source::SourcePre::new(pre).map_err(wrong)?,
        )),
        (World::Source, false) => Prepared::Source(SourcePre::V2(
            v0_2_0::source::SourcePre::new(pre).map_err(wrong)?,
        )),
        (World::Command, true) => Prepared::Command(CommandPre::V1(
            v0_1_0::command::CommandPre::new(pre).map_err(wrong)?,
        )),
        (World::Command, false) => Prepared::Command(CommandPre::V2(
            v0_2_0::command::CommandPre::new(pre).map_err(wrong)?,
        )),
        (World::Mention, true) => Prepared::Mention(MentionPre::V1(
            v0_1_0::mention::MentionPre::new(pre).map_err(wrong)?,
        )),
        (World::Mention, false) => Prepared::Mention(MentionPre::V2(
            v0_2_0::mention::MentionPre::new(pre).map_err(wrong)?,
        )),
    };
    Ok(Loaded {
        inspection,
        prepared,
    })
}

/// What `minstrel plugin check` reports: the file inspected, compiled, linked as if
/// every interface were granted (it proves this host can serve the file at all; grants
/// are the operator's business), and described (0.2.0).
pub async fn check(config: &PluginsConfig, bytes: Vec<u8>) -> Result<Inspection, String> {
    let engine = PluginEngine::new(config, config.memory_bytes).map_err(|e| e.to_string())?;
    let mut all = config.grant_for("check");
    all.interfaces = INTERFACES.iter().map(|s| s.to_string()).collect();
    let context = Arc::new(PluginContext {
        name: "check".into(),
        grant: all,
        kv: KvSpace::new("check", None),
        services: Arc::new(NoServices),
        settings: Default::default(),
        store: None,
    });
    let (engine2, context2) = (engine.clone(), context.clone());
    let mut loaded = tokio::task::spawn_blocking(move || load(&engine2, &bytes, None, &context2))
        .await
        .map_err(|e| format!("checker failed: {e}"))?
        .map_err(|e| e.to_string())?;
    let counters = Counters::default();
    describe(
        &engine,
        &context,
        &counters,
        config.host_calls_per_call,
        &mut loaded,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(loaded.inspection)
}

/// Asks a 0.2.0 plugin what it is (`describe`) and takes its name, version and asks into
/// the manifest; 0.1.0 plugins keep what their custom sections said. A plugin whose
/// `describe` fails does not load.
pub(crate) async fn describe(
    engine: &PluginEngine,
    context: &Arc<PluginContext>,
    counters: &Counters,
    host_calls: u32,
    loaded: &mut Loaded,
) -> Result<(), LoadError> {
    let prepared = &loaded.prepared;
    if !matches!(
        prepared,
        Prepared::Source(SourcePre::V2(_))
            | Prepared::Command(CommandPre::V2(_))
            | Prepared::Mention(MentionPre::V2(_))
    ) {
        return Ok(()); // 0.1.0: its custom sections said it all
    }
    let (info, _) = call::run(
        engine,
        context,
        counters,
        host_calls,
        "describe",
        async |store| -> wasmtime::Result<Result<Option<PluginInfo>, String>> {
            macro_rules! ask {
                ($pre:expr) => {{
                    let bindings = $pre.instantiate_async(&mut *store).await?;
                    Ok(Ok(Some(bindings.call_describe(&mut *store).await?)))
                }};
            }
            match prepared {
                Prepared::Source(SourcePre::V2(pre)) => ask!(pre),
                Prepared::Command(CommandPre::V2(pre)) => ask!(pre),
                Prepared::Mention(MentionPre::V2(pre)) => ask!(pre),
                _ => Ok(Ok(None)), // not reached: checked above
            }
        },
    )
    .await;
    let info = info.map_err(|e| LoadError::Describe(e.to_string()))?;
    if let Some(info) = info {
        if info.player_events {
            loaded.inspection.asks.insert("player-events".into());
        }
        loaded.inspection.manifest.take_description(info);
    }
    Ok(())
}

/// `minstrel:plugin/kv@0.1.0` -> `kv`.
fn minstrel_interface(import: &str) -> Option<&str> {
    let rest = import.strip_prefix(api::PACKAGE)?;
    Some(rest.split('@').next().unwrap_or(rest))
}

type L = Linker<CallState>;
type Me = HasSelf<CallState>;

/// Links every `minstrel:plugin` import the component has: the real implementation of
/// its API version (`v1`: 0.1.0, else 0.2.0) if granted, else traps naming it.
fn linker_for(
    engine: &PluginEngine,
    component: &Component,
    context: &Arc<PluginContext>,
    v1: bool,
) -> Result<L, LoadError> {
    let link = |e: wasmtime::Error| LoadError::Link(cache::one_line(&e));
    let mut linker: L = Linker::new(engine.engine());
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link)?;
    let ty = component.component_type();
    for (name, item) in ty.imports(engine.engine()) {
        let Some(interface) = minstrel_interface(name) else {
            continue;
        };
        let granted = context.grant.allows(interface);
        let added = match interface {
            "types" => Some(Ok(())),
            "audio" if v1 => Some(v0_1_0::audio::add_to_linker::<CallState, Me>(
                &mut linker,
                |s| s,
            )),
            "audio" => Some(v0_2_0::audio::add_to_linker::<CallState, Me>(
                &mut linker,
                |s| s,
            )),
            // A plugin's own settings need no grant.
            "config" if !v1 => Some(v0_2_0::config::add_to_linker::<CallState, Me>(
                &mut linker,
                |s| s,
            )),
            // Marking a track live needs no grant: the stream is reached under `http`'s.
            "live" if !v1 => Some(v0_2_0::live::add_to_linker::<CallState, Me>(
                &mut linker,
                |s| s,
            )),
            _ if !granted => Some(deny(&mut linker, name, interface, &item.ty)),
            _ if v1 => link_v1(&mut linker, interface),
            _ => link_v2(&mut linker, interface),
        };
        let Some(added) = added else {
            return Err(LoadError::UnknownImport(name.to_string()));
        };
        added.map_err(link)?;
    }
    Ok(linker)
}

/// The 0.1.0 implementation of a granted `interface`; None if 0.1.0 has none.
fn link_v1(linker: &mut L, interface: &str) -> Option<wasmtime::Result<()>> {
    use v0_1_0 as v;
    Some(match interface {
        "log" => v::log::add_to_linker::<CallState, Me>(linker, |s| s),
        "kv" => v::kv::add_to_linker::<CallState, Me>(linker, |s| s),
        "http" => v::http::add_to_linker::<CallState, Me>(linker, |s| s),
        "llm" => v::llm::add_to_linker::<CallState, Me>(linker, |s| s),
        "player" => v::player::add_to_linker::<CallState, Me>(linker, |s| s),
        "media" => v::media::add_to_linker::<CallState, Me>(linker, |s| s),
        "draft" => v::draft::add_to_linker::<CallState, Me>(linker, |s| s),
        _ => return None,
    })
}

/// The 0.2.0 implementation of a granted `interface`; None if there is none.
fn link_v2(linker: &mut L, interface: &str) -> Option<wasmtime::Result<()>> {
    use v0_2_0 as v;
    Some(match interface {
        "log" => v::log::add_to_linker::<CallState, Me>(linker, |s| s),
        "kv" => v::kv::add_to_linker::<CallState, Me>(linker, |s| s),
        "http" => v::http::add_to_linker::<CallState, Me>(linker, |s| s),
        "llm" => v::llm::add_to_linker::<CallState, Me>(linker, |s| s),
        "player" => v::player::add_to_linker::<CallState, Me>(linker, |s| s),
        "media" => v::media::add_to_linker::<CallState, Me>(linker, |s| s),
        "draft" => v::draft::add_to_linker::<CallState, Me>(linker, |s| s),
        "timers" => v::timers::add_to_linker::<CallState, Me>(linker, |s| s),
        "messages" => v::messages::add_to_linker::<CallState, Me>(linker, |s| s),
        _ => return None,
    })
}

/// Links every function of the imported instance `name` to a trap naming `interface`.
fn deny(linker: &mut L, name: &str, interface: &str, item: &ComponentItem) -> wasmtime::Result<()> {
    let ComponentItem::ComponentInstance(instance) = item else {
        return Ok(());
    };
    let engine = linker.engine().clone();
    let mut root = linker.instance(name)?;
    for (export, item) in instance.exports(&engine) {
        match item.ty {
            ComponentItem::ComponentFunc(_) => {
                let capability = interface.to_string();
                root.func_new(export, move |_, _, _, _| {
                    Err(Denied(capability.clone()).into())
                })?;
            }
            // A resource the interface defines gets its real host type (nothing can create
            // one, since every function is a trap); a resource the interface only `use`s
            // (media's `sink`) is defined by its own interface.
            ComponentItem::Resource(_) if export == "completion" => {
                root.resource(
                    export,
                    ResourceType::host::<super::host::llm::CompletionStream>(),
                    |_, _| Ok(()),
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_world_is_the_one_whose_exports_are_all_there() {
        let v1 = ApiVersion::V0_1_0;
        let command = ["commands", "run", "autocomplete"];
        assert_eq!(World::detect(v1, &names(&command)), Some(World::Command));
        // A toolchain's own export beside the world's (componentize-py's `exports`).
        let mut extra = command.to_vec();
        extra.push("exports");
        assert_eq!(World::detect(v1, &names(&extra)), Some(World::Command));
        // One export missing: no world.
        assert_eq!(World::detect(v1, &names(&["commands", "run"])), None);
        // Two whole worlds (`claims` is shared by source and mention): ambiguous.
        let both = ["claims", "resolve", "fetch", "handle"];
        assert_eq!(World::detect(v1, &names(&both)), None);
        assert_eq!(
            World::detect(v1, &names(&["claims", "handle"])),
            Some(World::Mention)
        );
        // 0.2.0 worlds need their new exports too.
        let v2 = ApiVersion::LATEST;
        assert_eq!(World::detect(v2, &names(&command)), None);
        let mut full = command.to_vec();
        full.extend(["describe", "on-press", "on-player-event", "on-timer"]);
        assert_eq!(World::detect(v2, &names(&full)), Some(World::Command));
    }
}
