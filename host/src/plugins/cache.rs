//! Compiled plugins on disk, so a restart or a reload of a file seen before skips
//! Cranelift.
//!
//! Key: blake3 of the component's bytes plus the engine's compatibility hash (wasmtime
//! version, target, settings), so an upgraded host never loads an artifact it did not
//! produce. Files are written to a temp name, synced and renamed into place; a corrupt or
//! incompatible file is deleted and recompiled.
//!
//! Loading copies the artifact once, into a sealed memfd that nothing can change or
//! shrink, and wasmtime maps its code and its memory images from there (on other
//! systems: read into memory, which copies the code and each memory image again).
//! Mapping the cache file itself would save that copy, but a file truncated by
//! someone else while mapped would crash the host with SIGBUS.
//!
//! Safety of loading: deserializing trusts its input (it is native code). The cache
//! folder lives under the data folder, which only the host writes; an attacker who can
//! write there can already replace the host's database and binary.

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

/// The key of a component's bytes: the first 32 hex digits of their blake3.
pub fn content_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..32].to_string()
}

/// Compiles `bytes` (whose [`content_hash`] is `hash`), or loads the compiled artifact
/// from `cache_dir`. Blocking: call it from `spawn_blocking`.
pub fn compile(
    engine: &PluginEngine,
    bytes: &[u8],
    hash: &str,
    cache_dir: Option<&Path>,
) -> Result<(Component, Origin), LoadError> {
    let Some(dir) = cache_dir else {
        return fresh(engine, bytes).map(|c| (c, Origin::Compiled));
    };
    let path = artifact_path(dir, engine, hash);
    if path.exists() {
        // SAFETY: the file was written by `store` below from `Component::serialize` of an
        // engine with the same compatibility hash (it is in the file name); see the
        // module docs for why the folder is trusted. wasmtime still checks its header
        // and rejects artifacts of another engine configuration or version.
        match unsafe { deserialize(engine, &path) } {
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

/// The artifact at `path`, copied into a memfd sealed against any change and mapped
/// from there.
///
/// # Safety
/// As [`Component::deserialize_file`]: the file must hold an artifact of this engine.
#[cfg(target_os = "linux")]
unsafe fn deserialize(engine: &PluginEngine, path: &Path) -> wasmtime::Result<Component> {
    use memfd::{FileSeal, MemfdOptions};
    use std::os::fd::AsRawFd;
    let memfd = MemfdOptions::default()
        .close_on_exec(true)
        .allow_sealing(true)
        .create("minstrel-plugin")?;
    // `io::copy` between files is a kernel-side copy (copy_file_range or sendfile).
    std::io::copy(&mut std::fs::File::open(path)?, &mut memfd.as_file())?;
    memfd.add_seals(&[
        FileSeal::SealShrink,
        FileSeal::SealGrow,
        FileSeal::SealWrite,
        FileSeal::SealSeal,
    ])?;
    // wasmtime opens the path and maps it privately; the memfd itself may close after.
    let reopen = format!("/proc/self/fd/{}", memfd.as_file().as_raw_fd());
    // SAFETY: the caller's promise, and the memfd cannot change or shrink (sealed).
    unsafe { Component::deserialize_file(engine.engine(), reopen) }
}

/// The artifact at `path`, read into memory.
///
/// # Safety
/// As [`Component::deserialize`]: the file must hold an artifact of this engine.
#[cfg(not(target_os = "linux"))]
unsafe fn deserialize(engine: &PluginEngine, path: &Path) -> wasmtime::Result<Component> {
    let artifact = std::fs::read(path)?;
    // SAFETY: the caller's promise.
    unsafe { Component::deserialize(engine.engine(), &artifact) }
}

fn fresh(engine: &PluginEngine, bytes: &[u8]) -> Result<Component, LoadError> {
    Component::new(engine.engine(), bytes).map_err(|e| LoadError::Compile(one_line(&e)))
}

/// The artifact file for the component whose [`content_hash`] is `hash`, under `dir`.
pub fn artifact_path(dir: &Path, engine: &PluginEngine, hash: &str) -> PathBuf {
    dir.join(format!("{hash}-{}.cwasm", engine.compatibility()))
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
