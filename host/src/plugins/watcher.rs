//! Hot reload: watch the plugins folder, debounce, reload or unload.
//!
//! A long-lived task with one message enum and an explicit shutdown. `notify` calls back
//! on its own thread; the callback only forwards paths into the task's channel. An event
//! that says a file is complete (closed after writing, renamed into place, or removed)
//! is acted on at once; other changes (a write still in progress, or a platform without
//! close events) set a deadline per file, pushed back by each new event for that file
//! (debounce: editors and `cp` write a file in several steps). When a deadline passes
//! the task loads the file (compiling off the async runtime, see
//! [`PluginHost::load_file`]) or, if the file is gone, unloads the plugin (or puts the
//! bundled plugin of that name back). Files are handled one at a time, so two loads of
//! one plugin never race.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

use std::path::Path;
use std::sync::Arc;

use super::error::StartError;
use super::host_services::HostServices;
use super::runtime::PluginHost;
use crate::config::plugins::PluginsConfig;

/// Messages to the watcher task.
#[derive(Debug)]
pub enum WatchMessage {
    /// Something happened to this path; `complete` when the event says the file is
    /// whole (see [`is_complete`]).
    Changed { path: PathBuf, complete: bool },
    /// Stop watching.
    Shutdown,
}

/// Stops the watcher when dropped (or explicitly with [`WatchHandle::shutdown`]).
pub struct WatchHandle {
    tx: mpsc::UnboundedSender<WatchMessage>,
    task: Option<tokio::task::JoinHandle<()>>,
    _watcher: notify::RecommendedWatcher,
}

impl WatchHandle {
    /// Stops the task and waits for it (a load in progress finishes first).
    pub async fn shutdown(mut self) {
        let _ = self.tx.send(WatchMessage::Shutdown);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        let _ = self.tx.send(WatchMessage::Shutdown);
    }
}

/// A plugin host on its own: build the runtime, load the plugins folder and the bundled
/// plugins, and watch the folder when `hot_reload` is on (the bot does the same in
/// `app`, beside its store). Keep the handle alive as long as reloads should happen.
pub async fn start(
    config: PluginsConfig,
    data_dir: &Path,
    services: Arc<dyn HostServices>,
) -> Result<(PluginHost, Option<WatchHandle>), StartError> {
    let host = PluginHost::new(config, data_dir, services)
        .map_err(|e| StartError::Engine(e.to_string()))?;
    let mut loaded: Vec<bool> = host
        .load_dir()
        .await
        .iter()
        .map(|(_, r)| r.is_ok())
        .collect();
    loaded.extend(host.load_bundled().await.iter().map(|(_, r)| r.is_ok()));
    let failed = loaded.iter().filter(|ok| !**ok).count();
    tracing::info!(loaded = loaded.len() - failed, failed, "plugins loaded");
    let watch = if host.config().hot_reload {
        Some(spawn(host.clone())?)
    } else {
        None
    };
    Ok((host, watch))
}

/// Starts watching `host`'s plugins folder (created if missing).
pub fn spawn(host: PluginHost) -> notify::Result<WatchHandle> {
    let dir = host.config().dir.clone();
    std::fs::create_dir_all(&dir).map_err(notify::Error::io)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let events = tx.clone();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            // Opening, reading and closing a file unwritten change nothing; and a load
            // reads the file, so counting that as a change would load it again, forever.
            // A close after writing is kept: it marks the end of a write.
            Ok(event) if is_read(event.kind) => {}
            Ok(event) => {
                let complete = is_complete(event.kind);
                for path in event.paths {
                    let _ = events.send(WatchMessage::Changed { path, complete });
                }
            }
            Err(error) => tracing::warn!(%error, "plugin folder watch error"),
        })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    let task = tokio::spawn(runner(host, rx));
    Ok(WatchHandle {
        tx,
        task: Some(task),
        _watcher: watcher,
    })
}

/// Whether `kind` says its file is whole: closed after a write, renamed into place, or
/// gone. Nothing more will come of that change, so waiting out the debounce would only
/// delay the reload.
fn is_complete(kind: notify::EventKind) -> bool {
    use notify::EventKind::{Access, Modify, Remove};
    use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
    matches!(
        kind,
        Access(AccessKind::Close(AccessMode::Write))
            | Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
            | Remove(_)
    )
}

fn is_read(kind: notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode};
    matches!(kind, notify::EventKind::Access(access) if access != AccessKind::Close(AccessMode::Write))
}

/// The watcher task.
pub async fn runner(host: PluginHost, mut rx: mpsc::UnboundedReceiver<WatchMessage>) {
    let debounce = host.config().debounce();
    let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
    loop {
        let next = pending.values().min().copied();
        let message = match next {
            Some(at) => tokio::select! {
                message = rx.recv() => message,
                () = tokio::time::sleep_until(at) => {
                    let now = Instant::now();
                    let due: Vec<PathBuf> = pending
                        .iter()
                        .filter(|(_, at)| **at <= now)
                        .map(|(path, _)| path.clone())
                        .collect();
                    for path in due {
                        pending.remove(&path);
                        apply(&host, path).await;
                    }
                    continue;
                }
            },
            None => rx.recv().await,
        };
        match message {
            Some(WatchMessage::Changed { path, complete }) => {
                if PluginHost::name_of(&path).is_some() {
                    let wait = if complete { Duration::ZERO } else { debounce };
                    pending.insert(path, Instant::now() + wait);
                }
            }
            Some(WatchMessage::Shutdown) | None => break,
        }
    }
    tracing::debug!("plugin watcher stopped");
}

async fn apply(host: &PluginHost, path: PathBuf) {
    let Some(name) = PluginHost::name_of(&path) else {
        return;
    };
    if path.exists() {
        // Errors are logged and recorded by load_file; the previous version keeps serving.
        let _ = host.load_file(&path).await;
    } else {
        host.removed(&name).await;
    }
}
