//! A song's first play, from its download as the bytes arrive: the music starts within
//! moments of the request instead of after the whole download and its rendition, which
//! the store still makes (once) for every later play.
//!
//! ffmpeg reads the download through its stdin, fed from a [`Follower`] of the store's
//! fill, and writes Ogg Opus in 20 ms frames, which songbird passes through. The
//! loudness of the whole song is not known yet: a provisional gain, measured on the
//! first seconds the way the rendition's is measured on all of them, brings it near the
//! target, and a limiter keeps a louder passage later on from clipping.

use std::process::Stdio;
use std::time::Duration;

use songbird::input::{ChildContainer, Input as SongInput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::filter::Filter;
use super::rendition::{self, Encode, Input, Renderer};
use crate::config::PlayerConfig;
use crate::store::{Follower, Result, StoreError};

/// Seconds measured for the provisional gain.
pub const PROVISIONAL_SECONDS: u32 = 3;

/// Bytes handed to ffmpeg at a time.
const CHUNK: usize = 64 * 1024;

/// A song's download, playable as it arrives.
#[derive(Debug, Clone)]
pub struct Stream {
    bytes: Follower,
    renderer: Renderer,
    filter: Filter,
    /// The provisional gain (0 with normalisation off).
    pub gain_db: f64,
}

impl Stream {
    /// Measures the first seconds of `bytes` for the provisional gain. Fails when ffmpeg
    /// cannot read them from a pipe (say an MP4 whose index is at its end) or the
    /// download fails first.
    pub async fn open(renderer: &Renderer, bytes: Follower, filter: Filter) -> Result<Stream> {
        let config = renderer.config();
        let gain_db = if config.normalize {
            let mut command =
                rendition::measuring(config, Input::Pipe, filter, Some(PROVISIONAL_SECONDS));
            let mut child = command
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| rendition::spawn_error("ffmpeg", &config.ffmpeg, e))?;
            let stdin = child.stdin.take().expect("piped stdin");
            let feeding = tokio::spawn(feed(bytes.restart(), stdin));
            let mut stderr = Vec::new();
            child
                .stderr
                .take()
                .expect("piped stderr")
                .read_to_end(&mut stderr)
                .await?;
            let status = child.wait().await?;
            feeding.abort();
            // The download's own error explains a failure better than ffmpeg's.
            if !status.success()
                && let Ok(Err(e)) = feeding.await
            {
                return Err(StoreError::Fetch(e.to_string()));
            }
            let input = Input::Pipe.name();
            rendition::measured(&input, &status, &stderr)?.gain_to(config.target_lufs)
        } else {
            0.0
        };
        Ok(Stream {
            bytes,
            renderer: renderer.clone(),
            filter,
            gain_db,
        })
    }

    /// A songbird input that plays the song from `start` (in the song's own time).
    /// `failed` gets the download's error if it fails while this plays; the input then
    /// ends where the bytes did.
    pub fn input(
        &self,
        start: Duration,
        failed: impl FnOnce(String) + Send + 'static,
    ) -> Result<SongInput> {
        let config = self.renderer.config();
        let encode = Encode {
            input: Input::Pipe,
            start: Some(start),
            gain_db: Some(self.gain_db),
            filter: self.filter.chain(),
            limit: true,
            input_is_opus: false,
            bitrate_kbps: config.bitrate_kbps,
        };
        let (child, stdin) = piped_ffmpeg(config, &encode)?;
        let bytes = self.bytes.restart();
        tokio::spawn(async move {
            if let Err(e) = feed(bytes, stdin).await
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                failed(e.to_string());
            }
        });
        Ok(ChildContainer::from(child).into())
    }
}

/// ffmpeg running `encode` on a pipe, for songbird, which reads a std child's stdout
/// and kills the child when the track ends; and the child's stdin, to feed.
pub(super) fn piped_ffmpeg(
    config: &PlayerConfig,
    encode: &Encode,
) -> Result<(std::process::Child, tokio::process::ChildStdin)> {
    let mut command = rendition::tool(&config.ffmpeg);
    command
        .args(encode.args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command
        .as_std_mut()
        .spawn()
        .map_err(|e| rendition::spawn_error("ffmpeg", &config.ffmpeg, e))?;
    let stdin = tokio::process::ChildStdin::from_std(child.stdin.take().expect("piped"))?;
    Ok((child, stdin))
}

/// Copies the fill into ffmpeg's stdin until the fill ends (then closes it, so ffmpeg
/// finishes) or ffmpeg stops reading (a broken pipe). A failed fill is its error.
async fn feed(
    mut bytes: Follower,
    mut stdin: impl tokio::io::AsyncWrite + Unpin,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = bytes.read(&mut buf).await?;
        if n == 0 {
            return stdin.shutdown().await;
        }
        stdin.write_all(&buf[..n]).await?;
    }
}
