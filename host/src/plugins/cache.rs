//! Compiled plugins on disk, so a restart or a reload of a file seen before skips
//! Cranelift.
//!
//! Key: blake3 of the component's bytes plus the engine's compatibility hash (wasmtime
//! version, target, settings), so an upgraded host never loads an artifact it did not
//! produce. Files are written to a temp name, synced and renamed into place; a corrupt or
//! incompatible file is deleted and recompiled.
//!
//! Safety of loading: `Component::deserialize_file` trusts its input (it is native
//! code). The cache folder lives under the data folder, which only the host writes; an
//! attacker who can write there can already replace the host's database and binary.

use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::component::Component;

use super::engine::PluginEngine;
use super::error::LoadError;

/// Where a compiled component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Loaded from the compiled cache.
    CacheHit,
    /// Compiled now (and stored, when the cache is on).
    Compiled,
}

/// Compiles `bytes`, or loads the compiled artifact from `cache_dir`. Blocking: call it
/// from `spawn_blocking`.
pub fn compile(
    engine: &PluginEngine,
    bytes: &[u8],
    cache_dir: Option<&Path>,
) -> Result<(Component, Origin), LoadError> {
    let Some(dir) = cache_dir else {
        return fresh(engine, bytes).map(|c| (c, Origin::Compiled));
    };
    let path = artifact_path(dir, engine, bytes);
    // Read into memory rather than `deserialize_file` (which maps the file): a mapped
    // file truncated by someone else would crash the host with SIGBUS.
    if let Ok(artifact) = std::fs::read(&path) {
        // SAFETY: the file was written by `store` below from `Component::serialize` of an
        // engine with the same compatibility hash (it is in the file name); see the
        // module docs for why the folder is trusted. wasmtime still checks its header
        // and rejects artifacts of another engine configuration or version.
        match unsafe { Component::deserialize(engine.engine(), &artifact) } {
            Ok(component) => return Ok((component, Origin::CacheHit)),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "discarding unusable compiled plugin");
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let component = fresh(engine, bytes)?;
    if let Err(error) = store(dir, &path, &component) {
        tracing::warn!(path = %path.display(), %error, "could not store compiled plugin");
    }
    Ok((component, Origin::Compiled))
}

fn fresh(engine: &PluginEngine, bytes: &[u8]) -> Result<Component, LoadError> {
    Component::new(engine.engine(), bytes).map_err(|e| LoadError::Compile(one_line(&e)))
}

/// The artifact file for `bytes` under `dir`.
pub fn artifact_path(dir: &Path, engine: &PluginEngine, bytes: &[u8]) -> PathBuf {
    let hash = blake3::hash(bytes).to_hex();
    dir.join(format!("{}-{}.cwasm", &hash[..32], engine.compatibility()))
}

fn store(dir: &Path, path: &Path, component: &Component) -> std::io::Result<()> {
    let bytes = component
        .serialize()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile_in(dir)?;
    temp.1.write_all(&bytes)?;
    temp.1.sync_all()?;
    std::fs::rename(&temp.0, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let path = dir.join(format!(".tmp-{}.cwasm", uuid::Uuid::new_v4()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((path, file))
}

/// The first line of an error chain, for one-line reports.
pub(crate) fn one_line(error: &wasmtime::Error) -> String {
    let text = format!("{error:#}");
    text.lines().next().unwrap_or_default().to_string()
}
