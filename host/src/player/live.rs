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
/// Longest title kept, in characters.
const MAX_TITLE: usize = 200;

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

/// The parts of an HLS playlist (RFC 8216) a player of audio needs.
#[derive(Debug, Default, PartialEq)]
struct Playlist {
    /// A multivariant playlist's first variant.
    variant: Option<String>,
    /// The media sequence number of the first segment.
    sequence: u64,
    segments: Vec<String>,
    /// `#EXT-X-TARGETDURATION`, in seconds.
    target: f64,
    /// `#EXT-X-MAP`: the initialisation segment (fragmented MP4).
    map: Option<String>,
    /// `#EXT-X-ENDLIST`: no segment will be added.
    ended: bool,
}

impl Playlist {
    fn parse(text: &str) -> std::result::Result<Playlist, String> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next() != Some("#EXTM3U") {
            return Err("not an HLS playlist (no #EXTM3U)".into());
        }
        let mut playlist = Playlist {
            target: 6.0,
            ..Playlist::default()
        };
        let mut variant_next = false;
        for line in lines {
            if let Some(tag) = line.strip_prefix('#') {
                let (name, value) = tag.split_once(':').unwrap_or((tag, ""));
                match name {
                    "EXT-X-STREAM-INF" => variant_next = true,
                    "EXT-X-MEDIA-SEQUENCE" => {
                        playlist.sequence = value.parse().map_err(|_| format!("bad {line}"))?
                    }
                    "EXT-X-TARGETDURATION" => {
                        playlist.target = value.parse().map_err(|_| format!("bad {line}"))?
                    }
                    "EXT-X-ENDLIST" => playlist.ended = true,
                    "EXT-X-KEY" if !value.contains("METHOD=NONE") => {
                        return Err("encrypted HLS streams are not supported".into());
                    }
                    "EXT-X-MAP" => playlist.map = attribute(value, "URI"),
                    _ => {}
                }
            } else if variant_next {
                playlist.variant.get_or_insert_with(|| line.to_string());
                variant_next = false;
            } else {
                playlist.segments.push(line.to_string());
            }
        }
        Ok(playlist)
    }
}

/// The quoted attribute `name` of an HLS tag's attribute list.
fn attribute(list: &str, name: &str) -> Option<String> {
    let start = list.find(&format!("{name}=\""))? + name.len() + 2;
    let len = list[start..].find('"')?;
    Some(list[start..start + len].to_string())
}

/// Splits an ICY stream (`icy-metaint` audio bytes, then a length byte and that many
/// 16-byte blocks of metadata, again and again) into audio and titles.
#[derive(Debug)]
struct Icy {
    metaint: Option<usize>,
    state: IcyState,
    meta: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum IcyState {
    /// Audio bytes left before the next length byte.
    Audio(usize),
    Length,
    /// Metadata bytes left.
    Meta(usize),
}

impl Icy {
    fn new(metaint: Option<usize>) -> Icy {
        Icy {
            metaint,
            state: IcyState::Audio(metaint.unwrap_or(usize::MAX)),
            meta: Vec::new(),
        }
    }

    /// Appends the audio of `input` to `audio`; returns the last new title in it.
    fn push(&mut self, mut input: &[u8], audio: &mut Vec<u8>) -> Option<String> {
        let Some(metaint) = self.metaint else {
            audio.extend_from_slice(input);
            return None;
        };
        let mut title = None;
        while !input.is_empty() {
            match self.state {
                IcyState::Audio(left) => {
                    let n = left.min(input.len());
                    audio.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    self.state = if n == left {
                        IcyState::Length
                    } else {
                        IcyState::Audio(left - n)
                    };
                }
                IcyState::Length => {
                    let len = usize::from(input[0]) * 16;
                    input = &input[1..];
                    self.state = if len == 0 {
                        IcyState::Audio(metaint)
                    } else {
                        IcyState::Meta(len)
                    };
                }
                IcyState::Meta(left) => {
                    let n = left.min(input.len());
                    self.meta.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    if n == left {
                        if let Some(t) = stream_title(&self.meta) {
                            title = Some(t);
                        }
                        self.meta.clear();
                        self.state = IcyState::Audio(metaint);
                    } else {
                        self.state = IcyState::Meta(left - n);
                    }
                }
            }
        }
        title
    }
}

/// `StreamTitle='...';` out of an ICY metadata block: UTF-8, or else Latin-1 (what
/// older stations send); cut to [`MAX_TITLE`] characters; `None` when absent or empty.
fn stream_title(meta: &[u8]) -> Option<String> {
    let text = match std::str::from_utf8(meta) {
        Ok(text) => text.to_string(),
        Err(_) => meta.iter().map(|&b| char::from(b)).collect(),
    };
    let start = text.find("StreamTitle='")? + "StreamTitle='".len();
    // A title may hold a quote of its own ("Guns N' Roses"): it ends at `';`.
    let rest = &text[start..];
    let end = rest.find("';").unwrap_or(rest.trim_end_matches('\0').len());
    let title: String = rest[..end]
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TITLE)
        .collect();
    let title = title.trim();
    (!title.is_empty()).then(|| title.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ICY stream of `audio` with `title` after every `metaint` bytes.
    fn icy_stream(audio: &[u8], metaint: usize, titles: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, block) in audio.chunks(metaint).enumerate() {
            out.extend_from_slice(block);
            if block.len() < metaint {
                break;
            }
            match titles.get(i) {
                Some(title) => {
                    let mut meta = format!("StreamTitle='{title}';StreamUrl='';").into_bytes();
                    meta.resize(meta.len().div_ceil(16) * 16, 0);
                    out.push((meta.len() / 16) as u8);
                    out.extend_from_slice(&meta);
                }
                None => out.push(0),
            }
        }
        out
    }

    #[test]
    fn icy_metadata_is_taken_out_of_the_audio_whatever_the_chunking() {
        let audio: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let stream = icy_stream(&audio, 1000, &["One", "", "Guns N' Roses - Patience"]);
        for chunk in [1, 7, 16, 999, 1000, 1001, 4096, stream.len()] {
            let mut icy = Icy::new(Some(1000));
            let (mut out, mut titles) = (Vec::new(), Vec::new());
            for piece in stream.chunks(chunk) {
                titles.extend(icy.push(piece, &mut out));
            }
            assert_eq!(out, audio, "chunks of {chunk}");
            assert_eq!(
                titles.last().map(String::as_str),
                Some("Guns N' Roses - Patience")
            );
        }
    }

    #[test]
    fn titles_are_read_as_utf8_or_latin1_and_cut() {
        assert_eq!(
            stream_title(b"StreamTitle='Caf\xe9';").as_deref(),
            Some("Café")
        );
        assert_eq!(
            stream_title("StreamTitle='Café';".as_bytes()).as_deref(),
            Some("Café")
        );
        assert_eq!(stream_title(b"StreamTitle='';"), None);
        assert_eq!(stream_title(b"StreamUrl='x';"), None);
        let long = format!("StreamTitle='{}';", "a".repeat(500));
        assert_eq!(
            stream_title(long.as_bytes()).map(|t| t.len()),
            Some(MAX_TITLE)
        );
    }

    #[test]
    fn playlists_parse() {
        let media = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n\
            #EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.0,\na.ts\n#EXTINF:4.0,\nb.ts\n#EXT-X-ENDLIST\n";
        let p = Playlist::parse(media).unwrap();
        assert_eq!(p.sequence, 7);
        assert_eq!(p.segments, ["a.ts", "b.ts"]);
        assert_eq!(p.target, 4.0);
        assert_eq!(p.map.as_deref(), Some("init.mp4"));
        assert!(p.ended);
        let multi = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000\nlow/index.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=128000\nhigh/index.m3u8\n";
        assert_eq!(
            Playlist::parse(multi).unwrap().variant.as_deref(),
            Some("low/index.m3u8")
        );
        let secret = "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\na.ts\n";
        assert!(Playlist::parse(secret).unwrap_err().contains("encrypted"));
        assert!(Playlist::parse("a.ts\n").is_err());
    }
}
