//! Getting a song ready to play: its rendition in the cache (downloading and rendering it
//! once, however many guilds and processes ask), leased for as long as it is queued;
//! or, for a song not cached yet, its download played as it arrives ([`start`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crate::config::PlayerConfig;
use crate::fetch::PluginFetch;
use crate::plugins::PluginHost;
use crate::store::{Lease, LoudnessRow, Store, StoreError, TrackKey};

use tokio::task::JoinHandle;

use super::filter::Filter;
use super::live::Live;
use super::queue::Song;
use super::rendition::{Render, Renderer};
use super::stream::Stream;

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
    if let Some(ready) = cached(store, &key, filter).await? {
        return Ok(ready);
    }
    progress.set(Stage::Downloading);
    let fetch = download(plugins, song, progress);
    let (download, _download_lease) = store.acquire(&fetch.key(), fetch).await?;
    progress.set(Stage::Rendering);
    render(store, renderer, download.blob.path, filter, &key).await
}

/// A song ready to play now.
#[derive(Debug)]
pub enum Playable {
    /// Its rendition, cached and leased.
    Rendition(Ready),
    /// Its download, played as it arrives.
    Streamed(Streamed),
    /// A live stream: never cached, played from its URL.
    Live(Live),
}

/// A song played from its download while its rendition is made.
#[derive(Debug)]
pub struct Streamed {
    pub stream: Stream,
    pub filter: Filter,
    /// The rendition being made, which takes the stream's place once it is there (taken
    /// by whoever waits for it).
    pub rendition: Option<JoinHandle<Result<Ready, StoreError>>>,
}

impl Playable {
    /// The filter it plays through.
    pub fn filter(&self) -> Filter {
        match self {
            Playable::Rendition(ready) => ready.filter,
            Playable::Streamed(streamed) => streamed.filter,
            Playable::Live(live) => live.filter,
        }
    }

    /// True when its rendition was already cached.
    pub fn hit(&self) -> bool {
        matches!(self, Playable::Rendition(ready) if ready.hit)
    }
}

/// Makes `song` playable with `filter` as soon as it can be: the cached rendition if
/// there is one, else its download as the bytes arrive (see [`Stream`]). The download
/// and the rendition go on in the background, each once whoever else asks. A live
/// song is its stream, which nothing caches.
pub async fn start(
    store: &Store,
    plugins: &PluginHost,
    renderer: &Renderer,
    song: &Song,
    filter: Filter,
    progress: &Progress,
) -> Result<Playable, StoreError> {
    if let Some(url) = &song.live {
        // Reached as the source's own requests would be.
        let grant = plugins.config().grant_for(&song.source);
        return Ok(Playable::Live(Live::new(url, grant, renderer, filter)?));
    }
    if !renderer.config().stream_first_play {
        return Ok(Playable::Rendition(
            prepare(store, plugins, renderer, song, filter, progress).await?,
        ));
    }
    let key = rendition_key(renderer.config(), song, filter);
    if let Some(ready) = cached(store, &key, filter).await? {
        return Ok(Playable::Rendition(ready));
    }
    progress.set(Stage::Downloading);
    let fetch = download(plugins, song, progress);
    let (bytes, download) = store.follow(&fetch.key(), fetch);
    let rendition = tokio::spawn({
        let (store, renderer) = (store.clone(), renderer.clone());
        async move {
            let (download, _lease) = download
                .await
                .map_err(|e| StoreError::Aborted(e.to_string()))??;
            render(&store, &renderer, download.blob.path, filter, &key).await
        }
    });
    match Stream::open(renderer, bytes, filter).await {
        Ok(stream) => Ok(Playable::Streamed(Streamed {
            stream,
            filter,
            rendition: Some(rendition),
        })),
        // Not readable as a stream: wait for the rendition, whose error (a failed
        // download, a file that is no audio) is the one to show.
        Err(e) => {
            tracing::debug!(error = %e, title = %song.title, "not streamed; waiting for the rendition");
            progress.set(Stage::Rendering);
            let ready = rendition
                .await
                .map_err(|e| StoreError::Aborted(e.to_string()))??;
            Ok(Playable::Rendition(ready))
        }
    }
}

/// The cached rendition under `key`, leased; `None` if there is none (or it was
/// evicted before the lease).
async fn cached(
    store: &Store,
    key: &TrackKey,
    filter: Filter,
) -> Result<Option<Ready>, StoreError> {
    let Some(blob) = store.lookup(key).await? else {
        return Ok(None);
    };
    let lease = match store.lease(&blob).await {
        Ok(lease) => lease,
        Err(StoreError::Evicted(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let loudness = store.loudness(&blob.hash).await?;
    Ok(Some(Ready {
        path: blob.path,
        hash: blob.hash,
        loudness,
        hit: true,
        filter,
        lease,
    }))
}

/// The fetch of `song`'s download through its source plugin, counting its bytes.
fn download(plugins: &PluginHost, song: &Song, progress: &Progress) -> PluginFetch {
    PluginFetch::new(plugins.clone(), &song.source, &song.id)
        .with_progress(Arc::clone(&progress.downloaded))
}

/// The rendition of the download at `input` through `filter`, made once, leased.
async fn render(
    store: &Store,
    renderer: &Renderer,
    input: PathBuf,
    filter: Filter,
    key: &TrackKey,
) -> Result<Ready, StoreError> {
    let render = Render::new(renderer, input).with_filter(filter);
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
