//! The built-in HTTP fetcher: streams a direct http(s) URL into the store, refusing
//! oversized bodies early (Content-Length) or as they grow, and failing when the
//! server stops sending for longer than the stall limit.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use url::Url;

use crate::store::{BlobSink, Fetch, Result, StoreError};

#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: reqwest::Client,
    url: Url,
    stall: Duration,
}

impl HttpFetcher {
    /// A fetcher for `url`, which must be http or https.
    pub fn new(url: &str, stall: Duration) -> Result<Self> {
        let parsed =
            Url::parse(url).map_err(|e| StoreError::Fetch(format!("bad URL {url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(StoreError::Fetch(format!(
                "bad URL {url:?}: only http(s) URLs with a host can be fetched"
            )));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(stall)
            .user_agent(concat!("minstrel/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StoreError::Fetch(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            url: parsed,
            stall,
        })
    }
}

#[async_trait]
impl Fetch for HttpFetcher {
    async fn fetch(&self, sink: &mut BlobSink) -> Result<()> {
        let url = &self.url;
        let stalled = || StoreError::Fetch(format!("{url}: no data for {:?}", self.stall));
        let response = tokio::time::timeout(self.stall, self.client.get(url.clone()).send())
            .await
            .map_err(|_| stalled())?
            .map_err(|e| StoreError::Fetch(format!("{url}: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(StoreError::Fetch(format!("{url}: HTTP {status}")));
        }
        if response.content_length().is_some_and(|n| n > sink.limit()) {
            return Err(StoreError::TooLarge {
                limit: sink.limit(),
            });
        }
        let mut body = response.bytes_stream();
        while let Some(chunk) = tokio::time::timeout(self.stall, body.next())
            .await
            .map_err(|_| stalled())?
        {
            let chunk = chunk.map_err(|e| StoreError::Fetch(format!("{url}: {e}")))?;
            sink.write(&chunk)?;
        }
        Ok(())
    }
}
