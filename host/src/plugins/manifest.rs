//! What a plugin file says about itself, read without compiling or instantiating it.
//!
//! The SDK embeds two custom sections in the component's core module:
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
use super::error::LoadError;

const API_SECTION: &str = "minstrel:api-version";
const MANIFEST_SECTION: &str = "minstrel:manifest";

/// The plugin's own description of itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Manifest {
    pub api_version: String,
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
}

impl Manifest {
    /// The parsed API version, if well formed.
    pub fn api(&self) -> Option<ApiVersion> {
        ApiVersion::parse(&self.api_version)
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
    let mut first = true;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| LoadError::Malformed(e.message().to_string()))?;
        match payload {
            Payload::Version { encoding, .. } if first => {
                first = false;
                if encoding != Encoding::Component {
                    return Err(LoadError::CoreModule);
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
    let api_version = api.ok_or(LoadError::NoApiVersion)?;
    let mut out = Manifest {
        api_version,
        world: None,
        name: None,
        version: None,
        http_hosts: Vec::new(),
        kv_quota: None,
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
