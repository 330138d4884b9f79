//! `minstrel:plugin/media`: yt-dlp run by the host, through [`HostServices`]. The
//! plugin names a URL or a search; the argument template is the host's.
//!
//! [`HostServices`]: crate::plugins::host_services::HostServices

use async_trait::async_trait;
use wasmtime::component::Resource;

use super::audio::{AudioSink, MAX_TRACK};
use crate::media;
use crate::media::AudioWriter;
use crate::plugins::state::CallState;

/// The interface is the same in every served version: one implementation, per version.
macro_rules! serve {
    ($v:ident) => {
        mod $v {
            use super::*;
            use crate::plugins::api::$v::media::{Host, MediaEntry, MediaInfo, SearchSite};

            impl Host for CallState {
                async fn probe(
                    &mut self,
                    url: String,
                ) -> wasmtime::Result<Result<MediaInfo, String>> {
                    self.enter("media")?;
                    let plugin = self.plugin.clone();
                    Ok(match plugin.services.probe(&plugin.name, url).await {
                        Ok(info) => Ok(MediaInfo {
                            title: info.title,
                            duration_ms: info.duration_ms,
                            artwork_url: info.artwork_url,
                            page_url: info.page_url,
                            entries: info.entries.into_iter().map(entry).collect(),
                        }),
                        Err(e) => Err(e.to_string()),
                    })
                }

                async fn search(
                    &mut self,
                    site: SearchSite,
                    query: String,
                    limit: u32,
                ) -> wasmtime::Result<Result<Vec<MediaEntry>, String>> {
                    self.enter("media")?;
                    let plugin = self.plugin.clone();
                    let site = match site {
                        SearchSite::Youtube => media::SearchSite::Youtube,
                        SearchSite::Soundcloud => media::SearchSite::Soundcloud,
                    };
                    Ok(plugin
                        .services
                        .search(&plugin.name, site, query, limit)
                        .await
                        .map(|entries| entries.into_iter().map(entry).collect())
                        .map_err(|e| e.to_string()))
                }

                async fn download_audio(
                    &mut self,
                    url: String,
                    into: Resource<AudioSink>,
                ) -> wasmtime::Result<Result<(), String>> {
                    self.enter("media")?;
                    let plugin = self.plugin.clone();
                    let sink = self.table().get_mut(&into)?;
                    if sink.writer.is_none() {
                        return Ok(Err("the sink is closed".into()));
                    }
                    let mut counted = Counted(sink);
                    Ok(plugin
                        .services
                        .download_audio(&plugin.name, url, &mut counted)
                        .await
                        .map_err(|e| e.to_string()))
                }
            }

            fn entry(entry: media::Entry) -> MediaEntry {
                MediaEntry {
                    title: entry.title,
                    duration_ms: entry.duration_ms,
                    artwork_url: entry.artwork_url,
                    page_url: entry.page_url,
                }
            }
        }
    };
}

serve!(v0_1_0);
serve!(v0_2_0);

/// The sink as the media service writes into it: the same size cap and byte count as a
/// plugin's own `write`, so `fetch` reports what arrived either way.
struct Counted<'a>(&'a mut AudioSink);

#[async_trait]
impl AudioWriter for Counted<'_> {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        let sink = &mut *self.0;
        if sink.written + bytes.len() as u64 > MAX_TRACK {
            return Err(format!("track larger than {MAX_TRACK} bytes"));
        }
        let writer = sink.writer.as_deref_mut().ok_or("the sink is closed")?;
        sink.written += bytes.len() as u64;
        writer.write(bytes).await
    }
}
