//! What the player plays: an Ogg Opus rendition of a cached download, made once at cache
//! time with ffmpeg, so playback is always songbird's Opus passthrough (about 10 us per
//! 20 ms tick, against about 250 us to decode, apply gain and re-encode while playing).
//!
//! Loudness (EBU R128) is measured once, on the download, and stored with the rendition.
//! With normalisation on, the rendition carries the gain that brings it to the target
//! loudness; with it off, an Opus download is copied as is and anything else re-encoded.
//!
//! A download is bytes a plugin chose, so ffmpeg and ffprobe read it as a local file in
//! one of a few audio containers ([`FORMATS`]): an HLS playlist or a concat list that
//! names other files or URLs is refused, never followed. They get no secrets
//! ([`children`]), are killed when their caller gives up, and at most
//! `max_concurrent_renders` renders run at once.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::Semaphore;

use super::filter::Filter;
use crate::children;
use crate::config::PlayerConfig;
use crate::store::{Blob, BlobSink, Fetch, LoudnessRow, Result, Store, StoreError};

/// The demuxers a download may be read with: audio containers (and MPEG-TS, which
/// yt-dlp writes for HLS-only sites) that never open another file or URL.
const FORMATS: &str = "aac,flac,matroska,webm,mov,mp4,m4a,mp3,mpegts,ogg,wav";

/// A limiter at -1 dBFS that never raises the level itself.
const LIMITER: &str = "alimiter=limit=0.891:level=false";

/// Makes renditions with the player's settings, at most `max_concurrent_renders` at
/// once in this process (the slots are shared by the clones). Built once, with the
/// players.
#[derive(Debug, Clone)]
pub struct Renderer {
    config: PlayerConfig,
    slots: Arc<Semaphore>,
}

impl Renderer {
    pub fn new(config: PlayerConfig) -> Self {
        let slots = Arc::new(Semaphore::new(config.max_concurrent_renders.max(1) as usize));
        Self { config, slots }
    }

    pub fn config(&self) -> &PlayerConfig {
        &self.config
    }
}

/// Loudness of a track as EBU R128 measures it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loudness {
    /// Integrated loudness, LUFS (`None` for silence, which has no loudness).
    pub integrated_lufs: Option<f64>,
    /// True peak, dBTP.
    pub true_peak_db: Option<f64>,
    /// Loudness range, LU.
    pub range_lu: Option<f64>,
}

impl Loudness {
    /// The gain in dB that brings this track to `target` LUFS without pushing its true
    /// peak above -1 dBTP, within +-20 dB. Silence gets none.
    pub fn gain_to(&self, target: f64) -> f64 {
        let Some(integrated) = self.integrated_lufs else {
            return 0.0;
        };
        let mut gain = target - integrated;
        if let Some(peak) = self.true_peak_db {
            gain = gain.min(-1.0 - peak);
        }
        gain.clamp(-20.0, 20.0)
    }
}

/// The audio stream of a file as ffprobe reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub codec: String,
    pub duration_ms: Option<u64>,
}

/// ffmpeg or ffprobe: no stdin, no secrets, killed when its caller gives up.
pub(super) fn tool(program: &Path) -> Command {
    let mut command = Command::new(program);
    children::clean_env(&mut command);
    command.stdin(Stdio::null()).kill_on_drop(true);
    command
}

/// How ffmpeg and ffprobe open a download: through the file protocol only (`file:`, so
/// no part of the path reads as another protocol), as one of [`FORMATS`].
fn input_args(input: &Path) -> Vec<String> {
    Input::File(input).args()
}

/// Where ffmpeg reads a download from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Input<'a> {
    File(&'a Path),
    /// Its stdin, fed by the host (a download still arriving).
    Pipe,
}

impl Input<'_> {
    /// The only protocol it may use, the formats it may read it as, and the input.
    fn args(self) -> Vec<String> {
        let (protocol, input) = match self {
            Input::File(path) => ("file", format!("file:{}", path.display())),
            Input::Pipe => ("pipe", "pipe:0".to_string()),
        };
        [
            "-protocol_whitelist",
            protocol,
            "-format_whitelist",
            FORMATS,
            "-i",
            &input,
        ]
        .map(String::from)
        .to_vec()
    }

    /// Its name in ffmpeg's messages.
    pub(super) fn name(self) -> PathBuf {
        match self {
            Input::File(path) => path.to_path_buf(),
            Input::Pipe => PathBuf::from("pipe:0"),
        }
    }
}

/// A tool's failure as one line for the user, without host paths; the whole of its
/// stderr goes to the log.
fn tool_error(tool: &str, input: &Path, stderr: &[u8]) -> StoreError {
    let text = String::from_utf8_lossy(stderr);
    tracing::warn!(
        tool,
        input = %input.display(),
        stderr = %text.trim(),
        "reading a download failed"
    );
    if let Some(format) = refused_format(&text) {
        return StoreError::Fetch(format!(
            "the download is `{format}`, not a supported audio file (playlists and lists \
             naming other files are never followed)"
        ));
    }
    // ffmpeg ends with a generic line ("Conversion failed!"); the cause is just above.
    let path = input.display().to_string();
    let url = format!("file:{path}");
    let mut last: Vec<String> = text
        .lines()
        .map(|l| cause(l, &url, &path))
        .filter(|l| !l.is_empty())
        .rev()
        .take(3)
        .collect();
    last.reverse();
    let reason = children::redact_paths(&last.join(" | "));
    StoreError::Fetch(format!("{tool} could not read the download: {reason}"))
}

/// The demuxer ffmpeg refused (`[hls @ 0x..] Format not on whitelist ..`).
fn refused_format(stderr: &str) -> Option<&str> {
    let line = stderr.lines().find(|l| l.contains("not on whitelist"))?;
    let (name, _) = line.trim().strip_prefix('[')?.split_once(" @ ")?;
    Some(name)
}

/// A line of ffmpeg's stderr without its `[component @ 0xADDR] ` or `INPUT: ` prefix,
/// and calling the input "the download".
fn cause(line: &str, url: &str, path: &str) -> String {
    let line = line.trim();
    let line = match line.split_once("] ") {
        Some((head, rest)) if head.starts_with('[') && head.contains(" @ ") => rest,
        _ => line,
    };
    let line = [url, path]
        .iter()
        .find_map(|input| line.strip_prefix(input)?.strip_prefix(": "))
        .unwrap_or(line);
    line.replace(url, "the download")
        .replace(path, "the download")
}

pub(super) fn spawn_error(tool: &str, program: &Path, e: std::io::Error) -> StoreError {
    tracing::warn!(tool, program = %program.display(), error = %e, "could not start");
    StoreError::Fetch(format!(
        "could not run {tool} (is it installed? scripts/setup.sh installs it): {e}"
    ))
}

/// The first audio stream of `path`.
pub async fn probe(config: &PlayerConfig, path: &Path) -> Result<Probe> {
    #[derive(Deserialize)]
    struct Out {
        #[serde(default)]
        streams: Vec<Stream>,
        format: Option<Format>,
    }
    #[derive(Deserialize)]
    struct Stream {
        codec_name: Option<String>,
        duration: Option<String>,
    }
    #[derive(Deserialize)]
    struct Format {
        duration: Option<String>,
    }
    let out = tool(&config.ffprobe)
        .args(["-v", "error", "-select_streams", "a:0", "-show_streams"])
        .args(["-show_format", "-of", "json"])
        .args(input_args(path))
        .output()
        .await
        .map_err(|e| spawn_error("ffprobe", &config.ffprobe, e))?;
    if !out.status.success() {
        return Err(tool_error("ffprobe", path, &out.stderr));
    }
    let parsed: Out = serde_json::from_slice(&out.stdout)
        .map_err(|e| StoreError::Fetch(format!("unexpected ffprobe output: {e}")))?;
    let Some(stream) = parsed.streams.into_iter().next() else {
        return Err(StoreError::Fetch(
            "the download has no audio stream (is it an audio file?)".into(),
        ));
    };
    let seconds = stream
        .duration
        .or(parsed.format.and_then(|f| f.duration))
        .and_then(|d| d.parse::<f64>().ok());
    Ok(Probe {
        codec: stream.codec_name.unwrap_or_default(),
        duration_ms: seconds.map(|s| (s * 1000.0).round() as u64),
    })
}

/// Measures what the rendition will carry: the audio mixed to stereo as the encoder
/// mixes it (this also gives inputs with an unknown channel layout one, which ebur128
/// needs). Per-frame lines go to the verbose log level; the summary stays at info.
const MEASURE_FILTER: &str =
    "aformat=sample_fmts=flt:channel_layouts=stereo,ebur128=peak=true:framelog=verbose";

/// Measures the loudness of `path` (decodes it once).
pub async fn measure(config: &PlayerConfig, path: &Path) -> Result<Loudness> {
    measure_filtered(config, path, Filter::Off).await
}

/// Measures the loudness of `path` as `filter` changes it (a bass boost is louder).
pub async fn measure_filtered(
    config: &PlayerConfig,
    path: &Path,
    filter: Filter,
) -> Result<Loudness> {
    let out = measuring(config, Input::File(path), filter, None)
        .output()
        .await
        .map_err(|e| spawn_error("ffmpeg", &config.ffmpeg, e))?;
    measured(path, &out.status, &out.stderr)
}

/// The ffmpeg run that measures `input` through `filter`, its first `seconds` only if
/// given (it prints the summary on stderr).
pub(super) fn measuring(
    config: &PlayerConfig,
    input: Input,
    filter: Filter,
    seconds: Option<u32>,
) -> Command {
    let chain = match filter.chain() {
        Some(chain) => format!("{chain},{MEASURE_FILTER}"),
        None => MEASURE_FILTER.to_string(),
    };
    let mut command = tool(&config.ffmpeg);
    command.args(["-hide_banner", "-nostats"]);
    if matches!(input, Input::File(_)) {
        command.arg("-nostdin");
    }
    command
        .args(input.args())
        .args(["-vn", "-map", "0:a:0", "-af", &chain]);
    if let Some(seconds) = seconds {
        command.args(["-t", &seconds.to_string()]);
    }
    command.args(["-f", "null", "-"]);
    command
}

/// The loudness a [`measuring`] run of `input` found.
pub(super) fn measured(
    input: &Path,
    status: &std::process::ExitStatus,
    stderr: &[u8],
) -> Result<Loudness> {
    if !status.success() {
        return Err(tool_error("ffmpeg", input, stderr));
    }
    parse_ebur128_summary(&String::from_utf8_lossy(stderr))
        .ok_or_else(|| tool_error("ffmpeg (ebur128)", input, stderr))
}

/// Reads the `Summary:` block ffmpeg's ebur128 filter prints at the end.
fn parse_ebur128_summary(stderr: &str) -> Option<Loudness> {
    let summary = &stderr[stderr.rfind("Summary:")?..];
    let value = |label: &str| -> Option<Option<f64>> {
        let line = summary
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(label))?;
        let number = line[label.len()..].split_whitespace().next()?;
        // Silence reads "-inf" (or -70, the gate) and has no loudness.
        Some(
            number
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > -70.0),
        )
    };
    Some(Loudness {
        integrated_lufs: value("I:")?,
        range_lu: value("LRA:").flatten(),
        true_peak_db: value("Peak:").flatten(),
    })
}

/// Measures `input` and writes its Ogg Opus rendition into the store: the [`Fetch`] for
/// a rendition key. Runs once per rendition across processes (the store's single
/// flight), so the measurement does too, and is stored with the blob before anyone
/// else sees the blob.
#[derive(Debug, Clone)]
pub struct Render {
    renderer: Renderer,
    pub input: PathBuf,
    filter: Filter,
    measured: Arc<Mutex<Option<LoudnessRow>>>,
}

impl Render {
    pub fn new(renderer: &Renderer, input: PathBuf) -> Self {
        Self {
            renderer: renderer.clone(),
            input,
            filter: Filter::Off,
            measured: Arc::default(),
        }
    }

    /// Renders through `filter` (the rendition key must name it).
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }
}

/// How to run ffmpeg for one rendition (or one streamed play).
pub(super) struct Encode<'a> {
    pub input: Input<'a>,
    /// Where in the input to start (a streamed play resumed or sought).
    pub start: Option<std::time::Duration>,
    /// Gain to apply in dB; `None` or 0 keeps the level.
    pub gain_db: Option<f64>,
    /// An ffmpeg filter chain applied before the gain.
    pub filter: Option<String>,
    /// Ends with a limiter at -1 dBFS: a provisional gain may be too much for a louder
    /// passage later on.
    pub limit: bool,
    /// The input is Opus already: with no gain and no filter, copy its packets instead
    /// of re-encoding.
    pub input_is_opus: bool,
    pub bitrate_kbps: u32,
}

impl Encode<'_> {
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["-hide_banner", "-v", "error"].map(String::from).to_vec();
        if matches!(self.input, Input::File(_)) {
            args.push("-nostdin".into());
        }
        if let Some(start) = self.start.filter(|s| !s.is_zero()) {
            args.push("-ss".into());
            args.push(format!("{:.3}", start.as_secs_f64()));
        }
        args.extend(self.input.args());
        args.extend(["-vn", "-map", "0:a:0", "-map_metadata", "-1"].map(String::from));
        let gain = self.gain_db.filter(|g| g.abs() >= 0.05);
        match gain {
            None if self.input_is_opus && self.filter.is_none() && !self.limit => {
                args.extend(["-c:a", "copy"].map(String::from))
            }
            _ => {
                let chain: Vec<String> = self
                    .filter
                    .iter()
                    .cloned()
                    .chain(gain.map(|g| format!("volume={g:.2}dB")))
                    .chain(self.limit.then(|| LIMITER.to_string()))
                    .collect();
                if !chain.is_empty() {
                    args.push("-af".into());
                    args.push(chain.join(","));
                }
                // 20 ms stereo frames at 48 kHz: what Discord takes, so songbird passes
                // the packets through untouched.
                args.extend(
                    [
                        "-c:a",
                        "libopus",
                        "-ar",
                        "48000",
                        "-ac",
                        "2",
                        "-frame_duration",
                        "20",
                    ]
                    .map(String::from),
                );
                args.push("-b:a".into());
                args.push(format!("{}k", self.bitrate_kbps));
            }
        }
        if matches!(self.input, Input::Pipe) {
            // Played as it is made: each packet leaves at once, not a second's page.
            args.extend(["-page_duration", "20000", "-flush_packets", "1"].map(String::from));
        }
        args.extend(["-f", "ogg", "-"].map(String::from));
        args
    }
}

#[async_trait]
impl Fetch for Render {
    fn kind(&self) -> &'static str {
        "render"
    }

    async fn fetch(&self, sink: &mut BlobSink) -> Result<()> {
        let config = &self.renderer.config;
        let _slot = self
            .renderer
            .slots
            .acquire()
            .await
            .expect("render slots are never closed");
        let probe = probe(config, &self.input).await?;
        let loudness = measure_filtered(config, &self.input, self.filter).await?;
        let gain_db = if config.normalize {
            loudness.gain_to(config.target_lufs)
        } else {
            0.0
        };
        let encode = Encode {
            input: Input::File(&self.input),
            start: None,
            gain_db: Some(gain_db),
            filter: self.filter.chain(),
            limit: false,
            input_is_opus: probe.codec == "opus",
            bitrate_kbps: config.bitrate_kbps,
        };
        let mut child = tool(&config.ffmpeg)
            .args(encode.args())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_error("ffmpeg", &config.ffmpeg, e))?;
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        // Drain stderr alongside stdout so a chatty ffmpeg never blocks on a full pipe.
        let errors = tokio::spawn(async move {
            let mut text = Vec::new();
            let _ = stderr.read_to_end(&mut text).await;
            text
        });
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stdout.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            sink.write(&buf[..n])?;
        }
        let status = child.wait().await?;
        let stderr = errors.await.unwrap_or_default();
        if !status.success() || sink.written() == 0 {
            return Err(tool_error("ffmpeg", &self.input, &stderr));
        }
        *self.measured.lock().expect("measurement slot") = Some(LoudnessRow {
            integrated_lufs: loudness.integrated_lufs,
            true_peak_db: loudness.true_peak_db,
            range_lu: loudness.range_lu,
            gain_db,
            // A faster filter makes a shorter rendition.
            duration_ms: probe
                .duration_ms
                .map(|ms| (ms as f64 / self.filter.tempo()).round() as u64),
        });
        Ok(())
    }

    async fn recorded(&self, store: &Store, blob: &Blob) -> Result<()> {
        let measured = *self.measured.lock().expect("measurement slot");
        match measured {
            Some(row) => store.set_loudness(&blob.hash, &row).await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ebur128_summary() {
        let stderr = "[Parsed_ebur128_0 @ 0x5]\nSummary:\n\n  Integrated loudness:\n    I:         -19.6 LUFS\n    Threshold: -29.8 LUFS\n\n  Loudness range:\n    LRA:         0.0 LU\n    Threshold:   0.0 LUFS\n    LRA low:     0.0 LUFS\n    LRA high:    0.0 LUFS\n\n  True peak:\n    Peak:       -9.0 dBFS\n";
        let l = parse_ebur128_summary(stderr).unwrap();
        assert_eq!(l.integrated_lufs, Some(-19.6));
        assert_eq!(l.range_lu, Some(0.0));
        assert_eq!(l.true_peak_db, Some(-9.0));
    }

    #[test]
    fn silence_has_no_loudness() {
        let stderr = "Summary:\n  I:         -70.0 LUFS\n  LRA:   0.0 LU\n  Peak:   -inf dBFS\n";
        let l = parse_ebur128_summary(stderr).unwrap();
        assert_eq!(l.integrated_lufs, None);
        assert_eq!(l.true_peak_db, None);
        assert_eq!(l.gain_to(-14.0), 0.0);
    }

    #[test]
    fn gain_respects_the_peak_and_the_clamp() {
        let quiet = Loudness {
            integrated_lufs: Some(-30.0),
            true_peak_db: Some(-20.0),
            range_lu: None,
        };
        assert_eq!(quiet.gain_to(-14.0), 16.0);
        let peaky = Loudness {
            true_peak_db: Some(-6.0),
            ..quiet
        };
        assert_eq!(
            peaky.gain_to(-14.0),
            5.0,
            "limited so the peak stays at -1 dBTP"
        );
        let loud = Loudness {
            integrated_lufs: Some(-5.0),
            true_peak_db: Some(0.5),
            range_lu: None,
        };
        assert_eq!(loud.gain_to(-14.0), -9.0);
        let silent_ish = Loudness {
            integrated_lufs: Some(-69.0),
            true_peak_db: Some(-60.0),
            range_lu: None,
        };
        assert_eq!(silent_ish.gain_to(-14.0), 20.0, "clamped");
    }

    #[test]
    fn tool_errors_name_no_paths() {
        let input = Path::new("/data/blobs/ab/cd");
        let stderr = b"[hls @ 0x5581] Format not on whitelist 'ogg'\nfile:/data/blobs/ab/cd: \
            Invalid argument\n";
        let error = tool_error("ffprobe", input, stderr).to_string();
        assert!(error.contains("download is `hls`"), "{error}");
        let stderr = b"[ogg @ 0x5581] Broken file\nfile:/data/blobs/ab/cd: Invalid data found \
            when processing input\nError opening /tmp/x/y\n";
        let error = tool_error("ffmpeg", input, stderr).to_string();
        assert_eq!(
            error,
            "fetch failed: ffmpeg could not read the download: Broken file | Invalid data \
             found when processing input | Error opening <path>"
        );
    }

    #[test]
    fn copies_opus_without_gain_and_encodes_otherwise() {
        let mut r = Encode {
            input: Input::File(Path::new("/x/in")),
            start: None,
            gain_db: None,
            filter: None,
            limit: false,
            input_is_opus: true,
            bitrate_kbps: 128,
        };
        let args = r.args().join(" ");
        assert!(
            args.contains("-c:a copy") && !args.contains("libopus"),
            "{args}"
        );
        r.gain_db = Some(-3.25);
        let args = r.args().join(" ");
        assert!(
            args.contains("volume=-3.25dB") && args.contains("libopus"),
            "{args}"
        );
        assert!(args.ends_with("-f ogg -"), "{args}");
        r.filter = Filter::Nightcore.chain();
        let args = r.args().join(" ");
        assert!(
            args.contains("-af aresample=48000,asetrate=60000,aresample=48000,volume=-3.25dB"),
            "the filter, then the gain: {args}"
        );
        r.gain_db = None;
        let args = r.args().join(" ");
        assert!(args.contains("libopus"), "a filter is never a copy: {args}");
    }

    #[test]
    fn a_streamed_play_reads_its_pipe_from_where_it_starts_and_is_limited() {
        let r = Encode {
            input: Input::Pipe,
            start: Some(std::time::Duration::from_millis(61_500)),
            gain_db: Some(4.0),
            filter: None,
            limit: true,
            input_is_opus: true,
            bitrate_kbps: 96,
        };
        let args = r.args().join(" ");
        assert!(
            args.contains("-ss 61.500 -protocol_whitelist pipe -format_whitelist")
                && args.contains("-i pipe:0"),
            "{args}"
        );
        assert!(!args.contains("-nostdin"), "the pipe is stdin: {args}");
        assert!(
            args.contains("-af volume=4.00dB,alimiter=limit=0.891:level=false")
                && args.contains("-b:a 96k"),
            "{args}"
        );
    }
}
