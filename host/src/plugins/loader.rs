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

use super::api::v0_1_0::{command, mention, source};
use super::api::{self, ApiVersion, v0_1_0};
use super::cache::{self, Origin};
use super::engine::PluginEngine;
use super::error::{Denied, LoadError};
use super::host::kv::KvSpace;
use super::host_services::NoServices;
use super::manifest::{self, Manifest};
use super::state::{CallState, PluginContext};
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

    fn exports(self) -> &'static [&'static str] {
        match self {
            World::Source => &["claims", "resolve", "fetch"],
            World::Command => &["commands", "run", "autocomplete"],
            World::Mention => &["claims", "handle"],
        }
    }

    /// The one world whose exports are all among `names`. Other exports are left alone:
    /// some toolchains add their own (componentize-py exports an `init`), and nothing
    /// calls them.
    fn detect(names: &BTreeSet<String>) -> Option<World> {
        let mut found = [World::Source, World::Command, World::Mention]
            .into_iter()
            .filter(|w| w.exports().iter().all(|e| names.contains(*e)));
        match (found.next(), found.next()) {
            (Some(world), None) => Some(world),
            _ => None,
        }
    }
}

/// The typed, pre-instantiated plugin for its world.
#[derive(Clone)]
pub(crate) enum Prepared {
    Source(source::SourcePre<CallState>),
    Command(command::CommandPre<CallState>),
    Mention(mention::MentionPre<CallState>),
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
    let (component, origin) = cache::compile(engine, bytes, cache_dir)?;
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
            if interface != "types" && interface != "audio" {
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
    let world = World::detect(&exports).ok_or_else(|| {
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
        hash: blake3::hash(bytes).to_hex()[..32].to_string(),
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
    let linker = linker_for(engine, &component, context)?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| LoadError::Link(cache::one_line(&e)))?;
    let wrong = |e: wasmtime::Error| LoadError::WrongWorld(cache::one_line(&e));
    let prepared = match inspection.world {
        World::Source => Prepared::Source(source::SourcePre::new(pre).map_err(wrong)?),
        World::Command => Prepared::Command(command::CommandPre::new(pre).map_err(wrong)?),
        World::Mention => Prepared::Mention(mention::MentionPre::new(pre).map_err(wrong)?),
    };
    Ok(Loaded {
        inspection,
        prepared,
    })
}

/// What `minstrel plugin check` reports: the file inspected, compiled and linked as if
/// every interface were granted (it proves this host can serve the file at all; grants
/// are the operator's business). Blocking.
pub fn check(config: &PluginsConfig, bytes: &[u8]) -> Result<Inspection, String> {
    let engine = PluginEngine::new(config, config.memory_bytes).map_err(|e| e.to_string())?;
    let mut all = config.grant_for("check");
    all.interfaces = INTERFACES.iter().map(|s| s.to_string()).collect();
    let context = Arc::new(PluginContext {
        name: "check".into(),
        grant: all,
        kv: KvSpace::new("check", None),
        services: Arc::new(NoServices),
    });
    load(&engine, bytes, None, &context)
        .map(|loaded| loaded.inspection)
        .map_err(|e| e.to_string())
}

/// `minstrel:plugin/kv@0.1.0` -> `kv`.
fn minstrel_interface(import: &str) -> Option<&str> {
    let rest = import.strip_prefix(api::PACKAGE)?;
    Some(rest.split('@').next().unwrap_or(rest))
}

type L = Linker<CallState>;
type Me = HasSelf<CallState>;

fn linker_for(
    engine: &PluginEngine,
    component: &Component,
    context: &Arc<PluginContext>,
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
            "types" => Ok(()),
            "audio" => v0_1_0::audio::add_to_linker::<CallState, Me>(&mut linker, |s| s),
            _ if !granted => deny(&mut linker, name, interface, &item.ty),
            "log" => v0_1_0::log::add_to_linker::<CallState, Me>(&mut linker, |s| s),
            "kv" => v0_1_0::kv::add_to_linker::<CallState, Me>(&mut linker, |s| s),
            "http" => v0_1_0::http::add_to_linker::<CallState, Me>(&mut linker, |s| s),
            "llm" => v0_1_0::llm::add_to_linker::<CallState, Me>(&mut linker, |s| s),
            "player" => v0_1_0::player::add_to_linker::<CallState, Me>(&mut linker, |s| s),
            "media" => v0_1_0::media::add_to_linker::<CallState, Me>(&mut linker, |s| s),
            "draft" => v0_1_0::draft::add_to_linker::<CallState, Me>(&mut linker, |s| s),
            _ => return Err(LoadError::UnknownImport(name.to_string())),
        };
        added.map_err(link)?;
    }
    Ok(linker)
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
        let command = ["commands", "run", "autocomplete"];
        assert_eq!(World::detect(&names(&command)), Some(World::Command));
        // A toolchain's own export beside the world's (componentize-py's `exports`).
        let mut extra = command.to_vec();
        extra.push("exports");
        assert_eq!(World::detect(&names(&extra)), Some(World::Command));
        // One export missing: no world.
        assert_eq!(World::detect(&names(&["commands", "run"])), None);
        // Two whole worlds (`claims` is shared by source and mention): ambiguous.
        let both = ["claims", "resolve", "fetch", "handle"];
        assert_eq!(World::detect(&names(&both)), None);
        assert_eq!(
            World::detect(&names(&["claims", "handle"])),
            Some(World::Mention)
        );
    }
}
