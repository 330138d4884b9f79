//! Live streams: internet radio (Icecast and Shoutcast, with ICY metadata) and HLS
//! playlists, which a source marks live when it resolves them (`live.mark`).
//!
//! A live stream has no end and no size, so nothing of it is cached or leased: ffmpeg
//! reads it through its stdin as it arrives, as a first play reads a download
//! ([`super::stream`]). The connection is the marking plugin's: it reaches only what
//! the plugin's own `http` requests may (granted hosts and ports, public addresses),
//! checked again on every connection and for every HLS segment. A dropped connection
//! is made again (a few tries, backing off); the station's current title (ICY
//! `StreamTitle`) is kept for now-playing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use songbird::input::{ChildContainer, Input as SongInput};
use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;
use url::Url;

mod hls;
mod icy;

use hls::Playlist;
use icy::Icy;

use super::filter::Filter;
use super::rendition::{Encode, Input, Renderer};
use super::stream::piped_ffmpeg;
use crate::config::plugins::EffectiveGrant;
use crate::plugins::host::http::{client_for, granted};
use crate::store::{Result, StoreError};

/// A connection that sends nothing for this long is dropped (and made again).
const STALL: Duration = Duration::from_secs(15);
/// Connections tried in a row, none delivering audio, before the stream is given up.
const TRIES: u32 = 5;
/// The wait before the first retry; it doubles with each.
const RETRY_AFTER: Duration = Duration::from_millis(500);
/// Largest HLS playlist, and largest HLS segment, in bytes.
const MAX_PLAYLIST: usize = 1 << 20;
const MAX_SEGMENT: usize = 32 << 20;
/// Largest ICY metadata interval accepted.
const MAX_METAINT: usize = 1 << 20;

/// A live stream, playable any number of times (each play connects anew).
#[derive(Debug, Clone)]
pub struct Live {
    url: Url,
    /// The marking plugin's grant: what the connection may reach.
    grant: EffectiveGrant,
    renderer: Renderer,
    pub filter: Filter,
    /// The station's current title, from its ICY metadata.
    title: Arc<Mutex<Option<String>>>,
}

/// Why a connection ended early.
enum Lost {
    /// Worth connecting again: the connection dropped, stalled or failed.
    Again(String),
    /// Not: the stream is refused or is no stream.
    Fatal(String),
}

impl From<String> for Lost {
    fn from(reason: String) -> Lost {
        Lost::Again(reason)
    }
}

/// How a connection ended without an error.
enum Ended {
    /// The stream said it is over (an HLS playlist's `#EXT-X-ENDLIST`).
    Over,
    /// ffmpeg stopped reading: the track was stopped.
    Stopped,
}

impl Live {
    pub fn new(
        url: &str,
        grant: EffectiveGrant,
        renderer: &Renderer,
        filter: Filter,
    ) -> Result<Live> {
        let url = Url::parse(url).map_err(|e| StoreError::Fetch(format!("bad stream URL: {e}")))?;
        // Refused now, before anything is queued, if the grant could never allow it.
        granted(&grant, &url).map_err(|e| StoreError::Fetch(format!("{url}: {e}")))?;
        Ok(Live {
            url,
            grant,
            renderer: renderer.clone(),
            filter,
            title: Arc::default(),
        })
    }

    /// What the station says plays now, if it says.
    pub fn title(&self) -> Option<String> {
        self.title.lock().expect("title lock").clone()
    }

    /// A songbird input playing the stream from now on. `failed` gets the reason if the
    /// stream is lost for good; the input then ends.
    pub fn input(&self, failed: impl FnOnce(String) + Send + 'static) -> Result<SongInput> {
        let config = self.renderer.config();
        let encode = Encode {
            input: Input::Pipe,
            start: None,
            // No whole-stream loudness to measure: the station's own level, limited.
            gain_db: None,
            filter: self.filter.chain(),
            limit: true,
            input_is_opus: false,
            bitrate_kbps: config.bitrate_kbps,
        };
        let (child, stdin) = piped_ffmpeg(config, &encode)?;
        let live = self.clone();
        tokio::spawn(async move {
            if let Err(e) = live.pull(stdin).await {
                tracing::warn!(url = %live.url, error = %e, "live stream lost");
                failed(e);
            }
        });
        Ok(ChildContainer::from(child).into())
    }

    /// Feeds the stream into `stdin`, connecting again when the connection drops.
    async fn pull(&self, mut stdin: ChildStdin) -> std::result::Result<(), String> {
        let mut tries = 0;
        loop {
            let mut delivered = false;
            let error = match self.connection(&mut stdin, &mut delivered).await {
                Ok(Ended::Over) => {
                    stdin.shutdown().await.ok();
                    return Ok(());
                }
                Ok(Ended::Stopped) => return Ok(()),
                Err(Lost::Fatal(e)) => return Err(e),
                Err(Lost::Again(e)) => e,
            };
            tries = if delivered { 1 } else { tries + 1 };
            if tries >= TRIES {
                return Err(format!("the stream is gone ({error})"));
            }
            let wait = RETRY_AFTER * 2u32.pow(tries - 1);
            tracing::info!(url = %self.url, %error, wait_ms = wait.as_millis() as u64, "live stream dropped; connecting again");
            tokio::time::sleep(wait).await;
        }
    }

    /// One connection: plays until it drops (`Err`), the stream ends or ffmpeg stops.
    async fn connection(
        &self,
        stdin: &mut ChildStdin,
        delivered: &mut bool,
    ) -> std::result::Result<Ended, Lost> {
        let response = self.get(&self.url, true).await?;
        let kind = header(&response, "content-type").unwrap_or_default();
        if is_playlist(&self.url, &kind) {
            let text = body(response, MAX_PLAYLIST).await?;
            return self.hls(text, stdin, delivered).await;
        }
        if kind.starts_with("text/") {
            return Err(Lost::Fatal(format!(
                "{}: not an audio stream ({kind})",
                self.url
            )));
        }
        let metaint = match header(&response, "icy-metaint") {
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_METAINT).contains(&n) => Some(n),
                _ => return Err(Lost::Fatal(format!("bad icy-metaint {v:?}"))),
            },
            None => None,
        };
        let mut icy = Icy::new(metaint);
        let mut body = response.bytes_stream();
        let mut audio = Vec::new();
        loop {
            let chunk = tokio::time::timeout(STALL, body.next())
                .await
                .map_err(|_| format!("no data for {} s", STALL.as_secs()))?
                .ok_or_else(|| "the station closed the connection".to_string())?
                .map_err(|e| format!("reading the stream: {e}"))?;
            audio.clear();
            if let Some(title) = icy.push(&chunk, &mut audio) {
                tracing::debug!(url = %self.url, %title, "stream title");
                *self.title.lock().expect("title lock") = Some(title);
            }
            if !feed(stdin, &audio).await {
                return Ok(Ended::Stopped);
            }
            *delivered |= !audio.is_empty();
        }
    }

    /// Plays an HLS playlist whose text is `text`: its segments in order, polling a
    /// live playlist for new ones. A live playlist starts three segments from its end,
    /// as players do; one with `#EXT-X-ENDLIST` from its start, and ends with it.
    async fn hls(
        &self,
        mut text: String,
        stdin: &mut ChildStdin,
        delivered: &mut bool,
    ) -> std::result::Result<Ended, Lost> {
        let mut base = self.url.clone();
        let mut next: Option<u64> = None;
        let mut init: Option<Url> = None;
        let mut variants = 0;
        loop {
            let playlist = Playlist::parse(&text).map_err(Lost::Fatal)?;
            if let Some(variant) = &playlist.variant {
                // A multivariant playlist: play its first variant.
                variants += 1;
                if variants > 2 {
                    return Err(Lost::Fatal("the HLS playlists point at each other".into()));
                }
                base = join(&base, variant).map_err(Lost::Fatal)?;
                text = body(self.get(&base, false).await?, MAX_PLAYLIST).await?;
                continue;
            }
            let last = playlist.sequence + playlist.segments.len() as u64;
            let from = match next {
                Some(n) => n,
                None if playlist.ended => playlist.sequence,
                None => last.saturating_sub(3).max(playlist.sequence),
            };
            for (i, uri) in playlist.segments.iter().enumerate() {
                let sequence = playlist.sequence + i as u64;
                if sequence < from {
                    continue;
                }
                if let Some(map) = &playlist.map {
                    let map = join(&base, map).map_err(Lost::Fatal)?;
                    if init.as_ref() != Some(&map) {
                        let bytes = body_bytes(self.get(&map, false).await?, MAX_SEGMENT).await?;
                        if !feed(stdin, &bytes).await {
                            return Ok(Ended::Stopped);
                        }
                        init = Some(map);
                    }
                }
                let segment = join(&base, uri).map_err(Lost::Fatal)?;
                let bytes = body_bytes(self.get(&segment, false).await?, MAX_SEGMENT).await?;
                if !feed(stdin, &bytes).await {
                    return Ok(Ended::Stopped);
                }
                *delivered = true;
                next = Some(sequence + 1);
            }
            if playlist.ended {
                return Ok(Ended::Over);
            }
            let poll = Duration::from_secs_f64((playlist.target / 2.0).clamp(1.0, 10.0));
            tokio::time::sleep(poll).await;
            text = body(self.get(&base, false).await?, MAX_PLAYLIST).await?;
        }
    }

    /// GETs `url` under the plugin's grant; `icy` asks for ICY metadata. A refusal (the
    /// grant, a 4xx answer) is fatal.
    async fn get(&self, url: &Url, icy: bool) -> std::result::Result<reqwest::Response, Lost> {
        let client = client_for(&self.grant, url)
            .await
            .map_err(|e| Lost::Fatal(format!("{url}: {e}")))?;
        let mut request = client.get(url.clone());
        if icy {
            request = request.header("Icy-MetaData", "1");
        }
        let response = tokio::time::timeout(STALL, request.send())
            .await
            .map_err(|_| format!("{url}: no answer for {} s", STALL.as_secs()))?
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        if status.is_client_error() {
            return Err(Lost::Fatal(format!("{url}: HTTP {status}")));
        }
        if !status.is_success() {
            return Err(Lost::Again(format!("{url}: HTTP {status}")));
        }
        Ok(response)
    }
}

/// Writes `bytes` to ffmpeg; false once it stopped reading.
async fn feed(stdin: &mut ChildStdin, bytes: &[u8]) -> bool {
    bytes.is_empty() || stdin.write_all(bytes).await.is_ok()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    Some(response.headers().get(name)?.to_str().ok()?.to_string())
}

/// An HLS playlist, by its content type or, failing that, its URL.
fn is_playlist(url: &Url, content_type: &str) -> bool {
    let kind = content_type.to_ascii_lowercase();
    kind.contains("mpegurl") || url.path().to_ascii_lowercase().ends_with(".m3u8")
}

fn join(base: &Url, uri: &str) -> std::result::Result<Url, String> {
    base.join(uri)
        .map_err(|e| format!("bad HLS URI {uri:?}: {e}"))
}

async fn body_bytes(
    response: reqwest::Response,
    limit: usize,
) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = tokio::time::timeout(STALL, body.next())
        .await
        .map_err(|_| format!("no data for {} s", STALL.as_secs()))?
    {
        let chunk = chunk.map_err(|e| format!("reading the stream: {e}"))?;
        if out.len() + chunk.len() > limit {
            return Err(format!("an HLS file larger than {limit} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

async fn body(response: reqwest::Response, limit: usize) -> std::result::Result<String, String> {
    let bytes = body_bytes(response, limit).await?;
    String::from_utf8(bytes).map_err(|_| "an HLS playlist that is not UTF-8".to_string())
}
