//! A source plugin as a store fetcher: [`PluginFetch`] runs the plugin's `fetch` for
//! one track and streams what it writes (itself, or through the host's media service)
//! into the store's sink, so the store's single-flight, size cap, timeout and atomic
//! persist apply to plugin audio as to any other download.
//!
//! Track keys are namespaced by the plugin: `(plugin name, track id without the
//! plugin's own prefix)`. The youtube plugin's `youtube:dQw4w9WgXcQ` becomes
//! `("youtube", "dQw4w9WgXcQ")`, the key the store derives from a pasted YouTube URL;
//! and no plugin can write audio under another plugin's keys, whatever ids it returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::media::AudioWriter;
use crate::plugins::PluginHost;
use crate::store::{BlobSink, Fetch, Result, StoreError, TrackKey};

/// Chunks in flight between the plugin call and the store's sink.
const QUEUE: usize = 8;

/// Fetches one track of one source plugin.
#[derive(Clone)]
pub struct PluginFetch {
    plugins: PluginHost,
    plugin: String,
    track_id: String,
    /// Bytes stored so far (for progress replies).
    progress: Arc<AtomicU64>,
}

impl PluginFetch {
    pub fn new(plugins: PluginHost, plugin: &str, track_id: &str) -> Self {
        Self {
            plugins,
            plugin: plugin.to_string(),
            track_id: track_id.to_string(),
            progress: Arc::default(),
        }
    }

    /// Counts the bytes stored into `progress`.
    pub fn with_progress(mut self, progress: Arc<AtomicU64>) -> Self {
        self.progress = progress;
        self
    }

    /// The store key of `track_id` from `plugin`.
    pub fn key_of(plugin: &str, track_id: &str) -> TrackKey {
        // `youtube:ID` -> `ID`; but an id that is a URL (`http://...` from a plugin
        // named `http`) stays whole.
        let id = track_id
            .strip_prefix(plugin)
            .and_then(|rest| rest.strip_prefix(':'))
            .filter(|rest| !rest.is_empty() && !rest.starts_with("//"))
            .unwrap_or(track_id);
        TrackKey::new(plugin, id)
    }

    /// This fetch's store key.
    pub fn key(&self) -> TrackKey {
        Self::key_of(&self.plugin, &self.track_id)
    }
}

/// Hands the plugin's writes to the task writing the store's sink.
struct Channel(mpsc::Sender<Vec<u8>>);

#[async_trait]
impl AudioWriter for Channel {
    async fn write(&mut self, bytes: &[u8]) -> std::result::Result<(), String> {
        self.0
            .send(bytes.to_vec())
            .await
            .map_err(|_| "the store stopped accepting this track".to_string())
    }
}

#[async_trait]
impl Fetch for PluginFetch {
    async fn fetch(&self, sink: &mut BlobSink) -> Result<()> {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(QUEUE);
        let call = async {
            let (result, writer) = self
                .plugins
                .fetch(&self.plugin, &self.track_id, Box::new(Channel(tx)))
                .await;
            // The writer holds the sender: drop it so the sink side sees the end.
            drop(writer);
            result
        };
        // `move`: when the sink refuses (size cap), the receiver is dropped with this
        // future, so the plugin's next write fails at once instead of waiting.
        let store = async move {
            while let Some(chunk) = rx.recv().await {
                sink.write(&chunk)?;
                self.progress
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            Ok::<_, StoreError>(())
        };
        let (called, stored) = tokio::join!(call, store);
        // The store's own refusal (size cap) explains a failed call best.
        stored?;
        let written = called
            .map_err(|e| StoreError::Fetch(format!("{} {}: {e}", self.plugin, self.track_id)))?;
        if written == 0 {
            return Err(StoreError::Fetch(format!(
                "{} {}: the source wrote no audio",
                self.plugin, self.track_id
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_by_plugin() {
        assert_eq!(
            PluginFetch::key_of("youtube", "youtube:dQw4w9WgXcQ"),
            TrackKey::new("youtube", "dQw4w9WgXcQ")
        );
        assert_eq!(
            PluginFetch::key_of("youtube", "youtube:dQw4w9WgXcQ"),
            TrackKey::from_url("https://youtu.be/dQw4w9WgXcQ").unwrap()
        );
        // Another plugin claiming a YouTube id stays in its own namespace.
        assert_eq!(
            PluginFetch::key_of("evil", "youtube:dQw4w9WgXcQ"),
            TrackKey::new("evil", "youtube:dQw4w9WgXcQ")
        );
        for url in ["https://a.example/x.ogg", "http://a.example/x.ogg"] {
            assert_eq!(PluginFetch::key_of("http", url), TrackKey::new("http", url));
            assert_eq!(
                PluginFetch::key_of("http", url),
                TrackKey::from_url(url).unwrap()
            );
        }
        assert_eq!(
            PluginFetch::key_of("local", "local:"),
            TrackKey::new("local", "local:")
        );
    }
}
