//! Audio files from the folder the operator grants this plugin (`files_dir` in its
//! grant), which the plugin sees read-only at [`ROOT`]. Without that grant it sees no
//! files at all.
//!
//! Queries: `local:<path>` names a file (relative to the folder); any other text
//! searches file names (every word must appear, case-insensitively). Track ids are
//! `local:<path>`.
//!
//! The plugin does not filter paths itself: the sandbox is the boundary. The granted
//! folder is the only directory WASI opens for it, read-only; `..`, absolute paths and
//! symlinks that lead outside it are refused by the host (tests/sources.rs proves it
//! through this plugin). Symlinks inside the folder work when they are relative;
//! absolute ones are refused even when they point inside.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use minstrel_sdk::{Source, Track, audio::Sink};

/// Where the granted folder appears inside the sandbox.
pub const ROOT: &str = "/files";
const PREFIX: &str = "local:";
/// Results of a name search.
const RESULTS: usize = 10;
/// Bounds of a search walk: folder depth and entries looked at.
const MAX_DEPTH: usize = 8;
const MAX_SEEN: usize = 20_000;
/// Bytes read and written per sink write.
const CHUNK: usize = 256 << 10;
const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "ogg", "oga", "opus", "m4a", "aac", "flac", "wav", "webm", "weba",
];

struct Local;

impl Source for Local {
    fn claims(url: String) -> bool {
        url.starts_with(PREFIX)
    }

    fn resolve(query: String) -> Result<Vec<Track>, String> {
        let query = query.trim();
        if let Some(path) = query.strip_prefix(PREFIX) {
            let meta = fs::metadata(full(path)).map_err(|e| explain(path, &e))?;
            if !meta.is_file() {
                return Err(format!("{path} is not a file"));
            }
            return Ok(vec![track(path)]);
        }
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        if words.is_empty() {
            return Err("nothing to search for".into());
        }
        let mut found = Vec::new();
        let mut seen = 0;
        walk(Path::new(ROOT), 0, &mut seen, &mut |relative| {
            let name = relative.to_lowercase();
            if is_audio(relative) && words.iter().all(|w| name.contains(w.as_str())) {
                found.push(relative.to_string());
            }
        })
        .map_err(|e| format!("cannot list the music folder: {e}"))?;
        found.sort();
        Ok(found.iter().take(RESULTS).map(|p| track(p)).collect())
    }

    fn fetch(id: String, into: &Sink) -> Result<(), String> {
        let path = id
            .strip_prefix(PREFIX)
            .ok_or_else(|| format!("not a local track id: {id}"))?;
        let mut file = fs::File::open(full(path)).map_err(|e| explain(path, &e))?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = file.read(&mut buf).map_err(|e| explain(path, &e))?;
            if n == 0 {
                return Ok(());
            }
            into.write(&buf[..n])?;
        }
    }
}

/// `path` inside the granted folder. Not cleaned: see the crate docs.
fn full(path: &str) -> PathBuf {
    Path::new(ROOT).join(path)
}

fn explain(path: &str, error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => format!("{path}: no such file in the music folder"),
        _ => format!("{path}: {error}"),
    }
}

fn track(path: &str) -> Track {
    let title = Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(path)
        .to_string();
    Track {
        id: format!("{PREFIX}{path}"),
        title,
        duration_ms: None,
        artwork_url: None,
        page_url: None,
    }
}

fn is_audio(path: &str) -> bool {
    Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Calls `found` with each file's path relative to [`ROOT`], `/`-separated.
fn walk(
    dir: &Path,
    depth: usize,
    seen: &mut usize,
    found: &mut dyn FnMut(&str),
) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        *seen += 1;
        if *seen > MAX_SEEN {
            return Ok(());
        }
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() && depth < MAX_DEPTH {
            walk(&path, depth + 1, seen, found)?;
        } else if kind.is_file()
            && let Ok(relative) = path.strip_prefix(ROOT)
            && let Some(relative) = relative.to_str()
        {
            found(relative);
        }
    }
    Ok(())
}

minstrel_sdk::export_source!(Local);
