//! A source plugin as a store fetcher: the plugin streams a track's bytes through its
//! `audio.sink`, and they land in the store's atomic writer. The plugin call and the
//! sink run side by side over a bounded channel, so a slow disk slows the plugin down
//! instead of buffering the track in memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::plugins::{AudioWriter, PluginHost};
use crate::store::{BlobSink, Fetch, Result, StoreError};

#[derive(Clone)]
pub struct PluginFetch {
    pub plugins: PluginHost,
    /// The source plugin's name.
    pub source: String,
    /// The track id the plugin resolved.
    pub id: String,
    /// Bytes received so far (for progress reports).
    pub progress: Arc<AtomicU64>,
}

impl PluginFetch {
    pub fn new(plugins: PluginHost, source: &str, id: &str) -> Self {
        Self {
            plugins,
            source: source.to_string(),
            id: id.to_string(),
            progress: Arc::default(),
        }
    }
}

/// Forwards the plugin's writes to the store side of the fetch.
struct ChannelWriter(mpsc::Sender<Vec<u8>>);

#[async_trait]
impl AudioWriter for ChannelWriter {
    async fn write(&mut self, bytes: &[u8]) -> std::result::Result<(), String> {
        self.0
            .send(bytes.to_vec())
            .await
            .map_err(|_| "the download was cancelled".to_string())
    }
}

#[async_trait]
impl Fetch for PluginFetch {
    async fn fetch(&self, sink: &mut BlobSink) -> Result<()> {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
        let call = async {
            let (result, writer) = self
                .plugins
                .fetch(&self.source, &self.id, Box::new(ChannelWriter(tx)))
                .await;
            // Dropping the sender (handed back with the writer) ends the drain below.
            drop(writer);
            result
        };
        let drain = async {
            while let Some(chunk) = rx.recv().await {
                sink.write(&chunk)?;
                self.progress
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            Ok::<_, StoreError>(())
        };
        // A sink error (e.g. too large) drops the receiver, so the plugin's next write
        // fails and the call ends.
        let (result, drained) = tokio::join!(call, drain);
        drained?;
        let written = result.map_err(|e| {
            StoreError::Fetch(format!(
                "source `{}` could not fetch {}: {e}",
                self.source, self.id
            ))
        })?;
        if written == 0 {
            return Err(StoreError::Fetch(format!(
                "source `{}` returned no audio for {}",
                self.source, self.id
            )));
        }
        Ok(())
    }
}
