//! The host subsystems behind the plugin interfaces `llm`, `player` and `media`, wired
//! into one [`HostServices`] implementation.
//!
//! Each subsystem is optional: one that is not configured (or not started yet) answers
//! with the "not configured" error of [`HostServices`]'s default methods. The player is
//! set after start because it needs the plugin host, which needs these services.

use async_trait::async_trait;

use crate::media::{self, Media};
use crate::plugins::types::{MediaEntry, MediaInfo, SearchSite};
use crate::plugins::{AudioWriter, HostServices};

/// The host's services, shared by every plugin call.
#[derive(Default)]
pub struct Services {
    /// yt-dlp for `media`.
    pub media: Option<Media>,
}

impl Services {
    pub fn with_media(mut self, media: Media) -> Self {
        self.media = Some(media);
        self
    }
}

#[async_trait]
impl HostServices for Services {
    async fn probe(&self, plugin: &str, url: String) -> Result<MediaInfo, String> {
        let Some(media) = &self.media else {
            return NoMedia.probe(plugin, url).await;
        };
        let info = media.probe(&url).await.map_err(|e| e.to_string())?;
        Ok(MediaInfo {
            title: info.title,
            duration_ms: info.duration_ms,
            artwork_url: info.artwork_url,
            page_url: info.page_url,
            entries: info.entries.into_iter().map(entry).collect(),
        })
    }

    async fn search(
        &self,
        plugin: &str,
        site: SearchSite,
        query: String,
        limit: u32,
    ) -> Result<Vec<MediaEntry>, String> {
        let Some(media) = &self.media else {
            return NoMedia.search(plugin, site, query, limit).await;
        };
        let site = match site {
            SearchSite::Youtube => media::SearchSite::Youtube,
            SearchSite::Soundcloud => media::SearchSite::Soundcloud,
        };
        let entries = media
            .search(site, &query, limit)
            .await
            .map_err(|e| e.to_string())?;
        Ok(entries.into_iter().map(entry).collect())
    }

    async fn download_audio(
        &self,
        plugin: &str,
        url: String,
        into: &mut dyn AudioWriter,
    ) -> Result<(), String> {
        let Some(media) = &self.media else {
            return NoMedia.download_audio(plugin, url, into).await;
        };
        tracing::debug!(plugin, %url, "media download for a plugin");
        media
            .download_audio(&url, into)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// The defaults' "not available" answers.
struct NoMedia;

impl HostServices for NoMedia {}

fn entry(entry: media::Entry) -> MediaEntry {
    MediaEntry {
        title: entry.title,
        duration_ms: entry.duration_ms,
        artwork_url: entry.artwork_url,
        page_url: entry.page_url,
    }
}
