//! What a plugin file says about itself, read without compiling or instantiating it.
//!
//! A 0.2.0 plugin describes itself through its `describe` export (name, version, HTTP
//! hosts, kv quota, settings), called once per load ([`Manifest::take_description`]):
//! any toolchain can export a function, while custom sections need the Rust SDK.
//!
//! The API version a component was built against is in its own imports: the WIT package
//! version every `minstrel:plugin` interface it imports carries
//! (`minstrel:plugin/types@0.1.0`), whatever toolchain built it. Each world's exports
//! use the package's types, so every plugin imports at least one interface.
//!
//! The Rust SDK also embeds two custom sections in the component's core module:
//! - `minstrel:api-version`: `MAJOR.MINOR.PATCH` of the WIT package it was built against;
//! - `minstrel:manifest`: UTF-8 lines `key=value` (`world`, `name`, `version`, any number
//!   of `http`, at most one `kv-quota`). Unknown keys are ignored so that later SDKs can
//!   add some.
//!
//! The interfaces a plugin asks for are not listed in the manifest: they are the
//! component's imports (a plugin that never calls `http` does not import it), read later
//! from the compiled component's type.

use wasmtime::wasmparser::{Encoding, Parser, Payload};

use super::api::ApiVersion;
use super::api::v0_2_0::types::PluginInfo;
use super::error::LoadError;

const API_SECTION: &str = "minstrel:api-version";
const MANIFEST_SECTION: &str = "minstrel:manifest";

/// The plugin's own description of itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Manifest {
    /// The SDK's declared version if there is one (it names the patch release), else
    /// the version of the component's `minstrel:plugin` imports.
    pub api_version: String,
    /// The version of the component's `minstrel:plugin` imports, if any.
    #[serde(skip)]
    pub imported_api: Option<String>,
    /// The world the SDK macro exported (`source`, `command`, `mention`).
    pub world: Option<String>,
    /// The crate name the plugin was built from.
    pub name: Option<String>,
    /// The crate version the plugin was built from.
    pub version: Option<String>,
    /// HTTP hosts the plugin asks to reach.
    pub http_hosts: Vec<String>,
    /// kv entries the plugin asks to keep.
    pub kv_quota: Option<u32>,
    /// The settings it reads (0.2.0 `describe`).
    pub settings: Vec<SettingSpec>,
    /// It wants player events (0.2.0 `describe`; granted as `player-events`).
    pub player_events: bool,
}

/// A setting a plugin reads through `config`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SettingSpec {
    pub name: String,
    pub description: String,
    /// Never logged or shown (values are never shown anyway; this marks it for people).
    pub secret: bool,
    pub required: bool,
}

impl Manifest {
    /// The parsed API version, if well formed.
    pub fn api(&self) -> Option<ApiVersion> {
        ApiVersion::parse(&self.api_version)
    }

    /// Takes what a 0.2.0 plugin's `describe` said.
    pub(crate) fn take_description(&mut self, info: PluginInfo) {
        self.name = Some(info.name);
        self.version = Some(info.version);
        self.http_hosts = info.http_hosts;
        self.kv_quota = info.kv_quota;
        self.player_events = info.player_events;
        self.settings = info
            .config_keys
            .into_iter()
            .map(|key| SettingSpec {
                name: key.name,
                description: key.description,
                secret: key.secret,
                required: key.required,
            })
            .collect();
    }
}

/// Reads the manifest of `bytes`, which must be a WebAssembly component built with the
/// SDK. Errors name the first thing that is wrong, in one line.
pub fn read(bytes: &[u8]) -> Result<Manifest, LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotWasm);
    }
    let mut api = None;
    let mut manifest = None;
    let mut imported = std::collections::BTreeSet::new();
    // Nesting: 1 inside the component itself, more inside the modules and components it
    // holds (whose imports are not the plugin's).
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| LoadError::Malformed(e.message().to_string()))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding != Encoding::Component {
                    return Err(LoadError::CoreModule);
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(imports) if depth == 1 => {
                for import in imports {
                    let import =
                        import.map_err(|e| LoadError::Malformed(e.message().to_string()))?;
                    if let Some(version) = package_version(import.name.name) {
                        imported.insert(version.to_string());
                    }
                }
            }
            Payload::CustomSection(section) if section.name() == API_SECTION => {
                api = Some(String::from_utf8_lossy(section.data()).trim().to_string());
            }
            Payload::CustomSection(section) if section.name() == MANIFEST_SECTION => {
                manifest = Some(String::from_utf8_lossy(section.data()).into_owned());
            }
            _ => {}
        }
    }
    if imported.len() > 1 {
        let versions: Vec<String> = imported.into_iter().collect();
        return Err(LoadError::MixedApi(versions.join(", ")));
    }
    let imported_api = imported.into_iter().next();
    let api_version = api
        .or_else(|| imported_api.clone())
        .ok_or(LoadError::NoApiVersion)?;
    let mut out = Manifest {
        api_version,
        imported_api,
        world: None,
        name: None,
        version: None,
        http_hosts: Vec::new(),
        kv_quota: None,
        settings: Vec::new(),
        player_events: false,
    };
    for line in manifest.as_deref().unwrap_or("").lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().to_string();
        match key.trim() {
            "world" => out.world = Some(value),
            "name" => out.name = Some(value),
            "version" => out.version = Some(value),
            "http" => out.http_hosts.push(value),
            "kv-quota" => out.kv_quota = value.parse().ok(),
            _ => {}
        }
    }
    Ok(out)
}

/// `minstrel:plugin/types@0.1.0` -> `0.1.0`.
fn package_version(import: &str) -> Option<&str> {
    import
        .strip_prefix(super::api::PACKAGE)?
        .split_once('@')
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_is_not_a_component() {
        assert!(matches!(read(b""), Err(LoadError::NotWasm)));
        assert!(matches!(read(b"hello world!"), Err(LoadError::NotWasm)));
        // The smallest core module: magic + version 1.
        let core = b"\0asm\x01\0\0\0";
        assert!(matches!(read(core), Err(LoadError::CoreModule)));
        // A component header followed by garbage.
        let broken = b"\0asm\x0d\0\x01\0\x07\xff\xff";
        assert!(matches!(read(broken), Err(LoadError::Malformed(_))));
    }
}
