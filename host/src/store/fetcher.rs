//! What a fetcher implements, and the sink it writes into.

use async_trait::async_trait;

use std::sync::Arc;

use super::blobs::BlobWriter;
use super::error::Result;
use super::filling::Filling;

/// Produces the bytes of one track. Called at most once per key at a time across
/// every process; the store handles locking, size caps, timeouts and persistence.
#[async_trait]
pub trait Fetch: Send + Sync + 'static {
    async fn fetch(&self, sink: &mut BlobSink) -> Result<()>;

    /// Runs after the fetched blob is indexed, still inside the fetch's flight and key
    /// lock: what it records with the blob is there before any waiter sees the blob.
    async fn recorded(&self, store: &super::Store, blob: &super::Blob) -> Result<()> {
        let _ = (store, blob);
        Ok(())
    }

    /// What the fill is, for the metrics: `download` (a source's bytes) unless said.
    fn kind(&self) -> &'static str {
        "download"
    }
}

/// Where a fetcher writes. Writes past the size cap fail with
/// [`super::StoreError::TooLarge`]; nothing becomes visible until the fetch succeeds.
#[derive(Debug)]
pub struct BlobSink {
    writer: BlobWriter,
    /// Told of each write, for followers (see `filling`).
    filling: Option<Arc<Filling>>,
}

impl BlobSink {
    pub(super) fn new(writer: BlobWriter, filling: Option<Arc<Filling>>) -> Self {
        Self { writer, filling }
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer.write(bytes)?;
        if let Some(filling) = &self.filling {
            filling.wrote(self.writer.written());
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.writer.written()
    }

    /// The size cap, so a fetcher can refuse early (e.g. from a Content-Length).
    pub fn limit(&self) -> u64 {
        self.writer.limit()
    }

    pub(super) fn into_writer(self) -> BlobWriter {
        self.writer
    }
}
