//! Getting a song ready to play: its rendition in the cache (downloading and rendering it
//! once, however many guilds and processes ask), leased for as long as it is queued.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crate::config::PlayerConfig;
use crate::fetch::PluginFetch;
use crate::plugins::PluginHost;
use crate::store::{Lease, LoudnessRow, Store, StoreError, TrackKey};

use super::filter::Filter;
use super::queue::Song;
use super::rendition::{Render, Renderer};

/// A song whose rendition is cached and leased. Dropping it releases the lease (in the
/// background; [`Ready::release`] waits for it).
#[derive(Debug)]
pub struct Ready {
    pub path: PathBuf,
    pub hash: String,
    pub loudness: Option<LoudnessRow>,
    /// True when the rendition was already cached.
    pub hit: bool,
    /// The filter the rendition was made with.
    pub filter: Filter,
    lease: Lease,
}

impl Ready {
    pub async fn release(self) -> Result<(), StoreError> {
        self.lease.release().await
    }
}

/// Where a preparation is, for progress replies.
#[derive(Debug, Default)]
pub struct Progress {
    stage: AtomicU8,
    /// Bytes downloaded so far.
    pub downloaded: Arc<AtomicU64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Looking,
    Downloading,
    Rendering,
}

impl Progress {
    pub fn stage(&self) -> Stage {
        match self.stage.load(Ordering::Relaxed) {
            1 => Stage::Downloading,
            2 => Stage::Rendering,
            _ => Stage::Looking,
        }
    }

    fn set(&self, stage: Stage) {
        self.stage.store(stage as u8, Ordering::Relaxed);
    }
}

/// The cache key of a song's rendition. It names the rendering settings and the filter,
/// so changing them makes new renditions instead of serving stale ones.
pub fn rendition_key(config: &PlayerConfig, song: &Song, filter: Filter) -> TrackKey {
    let mut variant = if config.normalize {
        format!("norm{}-{}k", config.target_lufs, config.bitrate_kbps)
    } else {
        format!("plain-{}k", config.bitrate_kbps)
    };
    if filter != Filter::Off {
        variant = format!("{variant}+{}", filter.key());
    }
    TrackKey::new(
        "rendition",
        format!("{variant}:{}:{}", song.source, song.id),
    )
}

/// Makes `song` playable with `filter`: the cached rendition if there is one, else
/// download (through its source plugin) and render it. Each step is single-flight in
/// the store.
pub async fn prepare(
    store: &Store,
    plugins: &PluginHost,
    renderer: &Renderer,
    song: &Song,
    filter: Filter,
    progress: &Progress,
) -> Result<Ready, StoreError> {
    let key = rendition_key(renderer.config(), song, filter);
    // Evicted between lookup and lease: go round again (at most a few times).
    let mut attempts = 0;
    loop {
        attempts += 1;
        match prepare_once(store, plugins, renderer, song, filter, &key, progress).await {
            Err(StoreError::Evicted(_)) if attempts < 3 => continue,
            other => return other,
        }
    }
}

async fn prepare_once(
    store: &Store,
    plugins: &PluginHost,
    renderer: &Renderer,
    song: &Song,
    filter: Filter,
    key: &TrackKey,
    progress: &Progress,
) -> Result<Ready, StoreError> {
    if let Some(blob) = store.lookup(key).await? {
        let lease = store.lease(&blob).await?;
        let loudness = store.loudness(&blob.hash).await?;
        return Ok(Ready {
            path: blob.path,
            hash: blob.hash,
            loudness,
            hit: true,
            filter,
            lease,
        });
    }
    // The download, leased while it is rendered (eviction may not take it meanwhile).
    progress.set(Stage::Downloading);
    let fetch = PluginFetch::new(plugins.clone(), &song.source, &song.id)
        .with_progress(Arc::clone(&progress.downloaded));
    let (download, _download_lease) = store.acquire(&fetch.key(), fetch).await?;

    progress.set(Stage::Rendering);
    let render = Render::new(renderer, download.blob.path.clone()).with_filter(filter);
    let (rendered, lease) = store.acquire(key, render).await?;
    let loudness = store.loudness(&rendered.blob.hash).await?;
    Ok(Ready {
        path: rendered.blob.path,
        hash: rendered.blob.hash,
        loudness,
        hit: false,
        filter,
        lease,
    })
}
