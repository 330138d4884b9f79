//! The host's media service: yt-dlp, run with fixed argument templates, behind the
//! plugins' `media` interface.
//!
//! A plugin names a URL (or a search term); it never chooses an argument and never
//! gets a shell. Everything a plugin passes is checked ([`target`]) and goes last, after
//! `--`; configuration files are ignored; the child runs in its own process group and
//! is killed, with its children, on timeout, stall, oversize, a refusing sink, or when
//! the call is dropped ([`ytdlp::Run`]). It gets none of the host's secrets
//! ([`crate::children`]).
//!
//! # Layout
//! - [`target`]: checked URLs and searches (what may reach the command line).
//! - [`ytdlp`]: the argument templates and the child process.
//! - [`workers`]: warm yt-dlp processes for probes and searches.
//! - [`info`]: yt-dlp's JSON reduced to title, duration, artwork, page and entries.
//! - [`error`]: [`MediaError`], one line per failure.
//!
//! # Decisions
//! - **Search is its own operation.** A search term is not a URL, and smuggling it in as
//!   one (a `ytsearch5:` string through `probe`) would mean `probe` accepts non-URLs.
//!   `search` takes a site from a closed list and checked free text; the host builds
//!   yt-dlp's `ytsearchN:` argument itself.
//! - **Flat playlists.** `probe` lists a playlist's entries without extracting each one
//!   (a full extraction costs a request per entry); sources probe or download entries
//!   by their page URL when they need them.
//! - **Private addresses are refused** unless `allow_private_addresses` is set, as for
//!   the `http` interface. yt-dlp resolves names and follows redirects itself, so this
//!   check is a first line, not a guarantee; run the bot where its network holds
//!   nothing a plugin should reach, or leave `media` ungranted.
//! - **Searches and downloads have their own slots** (`max_concurrent_searches`,
//!   `max_processes`): a burst of `/play` suggestions never holds up a song's download,
//!   and long downloads never starve the suggestions.

pub mod error;
pub mod info;
pub mod target;
pub mod workers;
pub mod ytdlp;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

pub use error::MediaError;
pub use info::{Entry, Info};
pub use target::{MediaUrl, Search, SearchSite};

use async_trait::async_trait;

use crate::config::MediaConfig;

/// Where downloaded audio goes: the store's atomic writer behind a source plugin's sink,
/// in the real host. An error stops the download with its message.
#[async_trait]
pub trait AudioWriter: Send {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), String>;
}

/// The media service. Cheap to clone; clones share the process limits.
#[derive(Clone)]
pub struct Media {
    config: Arc<MediaConfig>,
    downloads: Arc<Semaphore>,
    searches: Arc<Semaphore>,
    workers: Arc<workers::Workers>,
}

impl Media {
    pub fn new(config: MediaConfig) -> Self {
        let slots = |n: u32| Arc::new(Semaphore::new(n.max(1) as usize));
        Self {
            downloads: slots(config.max_processes),
            searches: slots(config.max_concurrent_searches),
            workers: Arc::new(workers::Workers::new(&config)),
            config: Arc::new(config),
        }
    }

    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// The warm yt-dlp workers (see [`workers`]).
    pub fn workers(&self) -> &workers::Workers {
        &self.workers
    }

    /// Starts a warm yt-dlp ahead of the first probe or search (see [`workers`]).
    pub async fn warm(&self) {
        let deadline = Instant::now() + self.config.probe_timeout();
        self.workers.warm(deadline).await;
    }

    /// What is at `url`: a single item, or a playlist and its entries.
    pub async fn probe(&self, url: &str) -> Result<Info, MediaError> {
        let url = self.checked(url).await?;
        self.describe(url.as_str()).await
    }

    /// The first `limit` results of a search on `site` (capped at `max_entries`).
    pub async fn search(
        &self,
        site: SearchSite,
        query: &str,
        limit: u32,
    ) -> Result<Vec<Entry>, MediaError> {
        let search = Search::new(site, query, limit, self.config.max_entries)?;
        Ok(self.describe(search.as_str()).await?.entries)
    }

    /// Streams the best audio of `url` into `into`; returns the bytes written.
    pub async fn download_audio(
        &self,
        url: &str,
        into: &mut dyn AudioWriter,
    ) -> Result<u64, MediaError> {
        let url = self.checked(url).await?;
        // The limit counts yt-dlp's time, not the wait for a slot (the caller's own
        // deadline bounds that).
        let _slot = slot(&self.downloads).await?;
        let limit = self.config.download_timeout();
        let deadline = Instant::now() + limit;
        let work = async {
            let args = ytdlp::download_args(self.config.stall(), url.as_str());
            let mut run = ytdlp::Run::spawn(&self.config.yt_dlp, &args)?;
            // Before the first byte yt-dlp extracts, which may take as long as a probe.
            let streamed = run
                .stream(
                    into,
                    self.config.probe_timeout(),
                    self.config.stall(),
                    self.config.max_download_bytes,
                )
                .await;
            match streamed {
                // A failed exit explains an early end of stdout better than "no data".
                Ok(0) => Err(run
                    .finish(deadline, limit)
                    .await
                    .err()
                    .unwrap_or_else(|| MediaError::Failed("yt-dlp produced no audio".into()))),
                Ok(written) => run.finish(deadline, limit).await.map(|()| written),
                Err(error) => Err(error),
            }
        };
        let result = tokio::time::timeout_at(deadline, work)
            .await
            .unwrap_or(Err(MediaError::Timeout(limit)));
        let outcome = crate::metrics::outcome(&result);
        metrics::counter!(crate::metrics::YTDLP_RUNS, "kind" => "download", "outcome" => outcome)
            .increment(1);
        match &result {
            Ok(bytes) => tracing::info!(url = url.as_str(), bytes, "media downloaded"),
            Err(error) => tracing::warn!(url = url.as_str(), %error, "media download failed"),
        }
        result
    }

    async fn checked(&self, url: &str) -> Result<MediaUrl, MediaError> {
        let url = MediaUrl::parse(url)?;
        if !self.config.allow_private_addresses {
            url.check_public().await?;
        }
        Ok(url)
    }

    /// `yt-dlp -J` on a checked target.
    async fn describe(&self, target: &str) -> Result<Info, MediaError> {
        let _slot = slot(&self.searches).await?;
        let limit = self.config.probe_timeout();
        let deadline = Instant::now() + limit;
        let work = async {
            let args = ytdlp::probe_args(self.config.stall(), self.config.max_entries, target);
            let json = match self.workers.run(&args, deadline, limit).await {
                Some(workers::Answer::Json(json)) => json,
                Some(workers::Answer::Failed(error)) => return Err(error),
                None => {
                    let mut run = ytdlp::Run::spawn(&self.config.yt_dlp, &args)?;
                    let json = run.read_all(ytdlp::MAX_JSON).await?;
                    run.finish(deadline, limit).await?;
                    json
                }
            };
            info::parse(&json, target, self.config.max_entries as usize)
        };
        let result = tokio::time::timeout_at(deadline, work)
            .await
            .unwrap_or(Err(MediaError::Timeout(limit)));
        let outcome = crate::metrics::outcome(&result);
        metrics::counter!(crate::metrics::YTDLP_RUNS, "kind" => "probe", "outcome" => outcome)
            .increment(1);
        if let Err(error) = &result {
            tracing::warn!(target, %error, "media probe failed");
        }
        result
    }
}

async fn slot(slots: &Semaphore) -> Result<tokio::sync::SemaphorePermit<'_>, MediaError> {
    slots
        .acquire()
        .await
        .map_err(|_| MediaError::Io("the media service is shutting down".into()))
}

impl MediaConfig {
    pub fn probe_timeout(&self) -> Duration {
        Duration::from_secs(self.probe_timeout_secs)
    }
    pub fn download_timeout(&self) -> Duration {
        Duration::from_secs(self.download_timeout_secs)
    }
    pub fn stall(&self) -> Duration {
        Duration::from_secs(self.stall_secs)
    }
}
