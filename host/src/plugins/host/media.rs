//! `minstrel:plugin/media`: yt-dlp run by the host, through [`HostServices`]. The
//! plugin names a URL; the argument template is the host's.
//!
//! [`HostServices`]: crate::plugins::services::HostServices

use wasmtime::component::Resource;

use super::audio::AudioSink;
use crate::plugins::api::v0_1_0::media::{Host, MediaInfo};
use crate::plugins::state::CallState;

impl Host for CallState {
    async fn probe(&mut self, url: String) -> wasmtime::Result<Result<MediaInfo, String>> {
        self.enter("media")?;
        let plugin = self.plugin.clone();
        Ok(plugin.services.probe(&plugin.name, url).await)
    }

    async fn download_audio(
        &mut self,
        url: String,
        into: Resource<AudioSink>,
    ) -> wasmtime::Result<Result<(), String>> {
        self.enter("media")?;
        let plugin = self.plugin.clone();
        let sink = self.table().get_mut(&into)?;
        let Some(writer) = sink.writer.as_deref_mut() else {
            return Ok(Err("the sink is closed".into()));
        };
        Ok(plugin
            .services
            .download_audio(&plugin.name, url, writer)
            .await)
    }
}
