//! Running yt-dlp: the fixed argument templates, and a child process that is always
//! killed (with anything it started) when its caller gives up.
//!
//! The templates are the whole of what reaches yt-dlp's command line. A plugin's input
//! is only ever the last argument, after `--`, and only as a checked
//! [`MediaUrl`](super::target::MediaUrl) or [`Search`](super::target::Search).

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::AudioWriter;
use super::error::MediaError;
use crate::children;

/// Most bytes of JSON `probe` reads (a flat playlist of a few hundred entries is well
/// under a megabyte).
pub const MAX_JSON: usize = 16 << 20;
/// The end of stderr kept to explain a failure.
const STDERR_TAIL: usize = 16 << 10;
/// Bytes read from yt-dlp's stdout at a time.
const CHUNK: usize = 64 << 10;

/// Options every run gets: no configuration files (a user's or system yt-dlp.conf
/// could add `--exec`), no progress lines, and a socket timeout of twice the host's
/// stall limit, so a stall is always the host's to detect (yt-dlp would otherwise
/// retry quietly and the stall would turn into a slow trickle).
fn common(stall: Duration) -> Vec<OsString> {
    let seconds = (stall.as_secs().max(1) * 2).to_string();
    [
        "--ignore-config",
        "--no-progress",
        "--socket-timeout",
        &seconds,
    ]
    .map(OsString::from)
    .into()
}

/// `probe`: the JSON description; a playlist's entries flat (no per-entry extraction)
/// and at most `max_entries` of them; a `watch?v=..&list=..` URL is the video, unless
/// the list is the video's YouTube mix (`list=RD..`), which only exists in that form.
pub fn probe_args(stall: Duration, max_entries: u32, target: &str) -> Vec<OsString> {
    let mut args = common(stall);
    let end = max_entries.max(1).to_string();
    let playlist = if youtube_mix(target) {
        "--yes-playlist"
    } else {
        "--no-playlist"
    };
    args.extend(
        [
            "--dump-single-json",
            "--flat-playlist",
            playlist,
            "--playlist-end",
            &end,
            "--",
            target,
        ]
        .map(OsString::from),
    );
    args
}

/// Whether `target` is a YouTube watch URL of a mix: the playlist YouTube makes of songs
/// related to the video (`list=RD` followed by the video's id or another seed).
fn youtube_mix(target: &str) -> bool {
    let Ok(url) = url::Url::parse(target) else {
        return false;
    };
    let youtube = url
        .host_str()
        .is_some_and(|h| h == "youtube.com" || h.ends_with(".youtube.com"));
    youtube
        && url.path() == "/watch"
        && url
            .query_pairs()
            .any(|(key, value)| key == "list" && value.starts_with("RD"))
}

/// `download-audio`: the best audio-only format (else the best format) to stdout; a
/// playlist URL yields its first item only.
pub fn download_args(stall: Duration, target: &str) -> Vec<OsString> {
    let mut args = common(stall);
    args.extend(
        [
            "--format",
            "bestaudio/best",
            "--no-playlist",
            "--playlist-items",
            "1",
            "--output",
            "-",
            "--",
            target,
        ]
        .map(OsString::from),
    );
    args
}

/// A running yt-dlp in its own process group. Dropping it kills the group, so a
/// timeout, a failed sink or a cancelled call never leaves yt-dlp (or the ffmpeg it
/// may have started) running.
pub struct Run {
    child: Child,
    pid: Option<u32>,
    stderr: tokio::task::JoinHandle<Vec<u8>>,
}

impl Run {
    pub fn spawn(program: &Path, args: &[OsString]) -> Result<Self, MediaError> {
        let mut command = Command::new(program);
        children::clean_env(&mut command)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let mut child = command.spawn().map_err(|e| {
            tracing::warn!(program = %program.display(), error = %e, "could not start yt-dlp");
            match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                    MediaError::NotInstalled(program.to_path_buf())
                }
                _ => MediaError::Io(e.to_string()),
            }
        })?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let stderr = tokio::spawn(tail(stderr, STDERR_TAIL));
        Ok(Self {
            pid: child.id(),
            child,
            stderr,
        })
    }

    /// Reads stdout to the end into memory, up to `max` bytes.
    pub async fn read_all(&mut self, max: usize) -> Result<Vec<u8>, MediaError> {
        let stdout = self.child.stdout.as_mut().expect("stdout is piped");
        let mut out = Vec::new();
        let mut limited = stdout.take(max as u64 + 1);
        limited
            .read_to_end(&mut out)
            .await
            .map_err(|e| MediaError::Io(e.to_string()))?;
        if out.len() > max {
            return Err(MediaError::Output(format!("more than {max} bytes of JSON")));
        }
        Ok(out)
    }

    /// Streams stdout into `into`, failing when more than `max` bytes come, when the
    /// first byte takes longer than `first` (yt-dlp starts, and extracts, before it
    /// sends anything), or when nothing arrives for `stall` after that. Returns the
    /// bytes written.
    pub async fn stream(
        &mut self,
        into: &mut dyn AudioWriter,
        first: Duration,
        stall: Duration,
        max: u64,
    ) -> Result<u64, MediaError> {
        let stdout = self.child.stdout.as_mut().expect("stdout is piped");
        let mut buf = vec![0u8; CHUNK];
        let mut written = 0u64;
        loop {
            let wait = if written == 0 {
                first.max(stall)
            } else {
                stall
            };
            let n = match tokio::time::timeout(wait, stdout.read(&mut buf)).await {
                Err(_) => return Err(MediaError::Stalled(wait)),
                Ok(Err(e)) => return Err(MediaError::Io(e.to_string())),
                Ok(Ok(0)) => return Ok(written),
                Ok(Ok(n)) => n,
            };
            written += n as u64;
            if written > max {
                return Err(MediaError::TooLarge { limit: max });
            }
            into.write(&buf[..n]).await.map_err(MediaError::Sink)?;
        }
    }

    /// Waits for the exit (stdout is done by now) until `deadline`, and turns a failure
    /// into yt-dlp's own last `ERROR:` line.
    pub async fn finish(mut self, deadline: Instant, limit: Duration) -> Result<(), MediaError> {
        let status: ExitStatus = tokio::time::timeout_at(deadline, self.child.wait())
            .await
            .map_err(|_| MediaError::Timeout(limit))?
            .map_err(|e| MediaError::Io(e.to_string()))?;
        // Exited: nothing left to kill (and its pid may be reused from now on).
        self.pid = None;
        let stderr = (&mut self.stderr).await.unwrap_or_default();
        if status.success() {
            return Ok(());
        }
        Err(MediaError::Failed(explain(&stderr, status)))
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.stderr.abort();
        if let Some(pid) = self.pid.take() {
            // The whole group: yt-dlp runs ffmpeg for some formats. `kill_on_drop`
            // covers yt-dlp itself; this reaches its children too.
            // SAFETY: kill(2) with a negative pid signals that process group; it has no
            // memory-safety preconditions.
            unsafe {
                libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
            }
        }
    }
}

/// The last `max` bytes of `reader`.
async fn tail(mut reader: impl AsyncRead + Unpin, max: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = reader.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * max {
            kept.drain(..kept.len() - max);
        }
    }
    if kept.len() > max {
        kept.drain(..kept.len() - max);
    }
    kept
}

/// yt-dlp's reason for failing: its last `ERROR:` line, else its last line, else the
/// exit status. Cut to one short line.
pub fn explain(stderr: &[u8], status: ExitStatus) -> String {
    reason(stderr).unwrap_or_else(|| format!("exited with {status}"))
}

/// yt-dlp's last `ERROR:` line in `stderr`, else its last line, cut to one short line;
/// `None` when it said nothing.
pub fn reason(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("ERROR:"))
        .or(lines.last().copied())
        .map(str::trim)
        .unwrap_or_default();
    // Network errors end with the HTTP library's restatement of the same failure.
    let line = line.split(" (caused by ").next().unwrap_or(line);
    if line.is_empty() {
        return None;
    }
    // A crash names files of the host (its cache, its own source).
    let line = children::redact_paths(line);
    const MAX: usize = 300;
    Some(match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn the_target_is_always_last_after_a_double_dash() {
        for args in [
            probe_args(Duration::from_secs(5), 10, "-x"),
            download_args(Duration::from_secs(5), "-x"),
        ] {
            let n = args.len();
            assert_eq!(args[n - 2], "--");
            assert_eq!(args[n - 1], "-x");
            assert_eq!(args[0], "--ignore-config");
            assert_eq!(args.iter().filter(|a| *a == "--").count(), 1);
        }
    }

    #[test]
    fn a_watch_url_is_its_video_unless_its_list_is_the_mix() {
        let playlist = |target: &str| {
            let args = probe_args(Duration::from_secs(5), 10, target);
            let yes = args.iter().any(|a| a == "--yes-playlist");
            let no = args.iter().any(|a| a == "--no-playlist");
            assert!(yes != no, "{args:?}");
            yes
        };
        assert!(playlist(
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=RDdQw4w9WgXcQ"
        ));
        assert!(playlist(
            "https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RDAMVMdQw4w9WgXcQ"
        ));
        assert!(!playlist(
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PLminstrel0test"
        ));
        assert!(!playlist(
            "https://www.youtube.com/playlist?list=RDdQw4w9WgXcQ"
        ));
        assert!(!playlist("https://example.com/watch?v=x&list=RDx"));
        assert!(!playlist("-x"));
    }

    #[test]
    fn errors_are_explained_by_the_last_error_line() {
        let status = ExitStatus::from_raw(1 << 8);
        let stderr = b"WARNING: x\nERROR: [generic] a: HTTP Error 404: Not Found\n[info] done\n";
        assert_eq!(
            explain(stderr, status),
            "[generic] a: HTTP Error 404: Not Found"
        );
        assert_eq!(explain(b"just this\n", status), "just this");
        let offline = b"ERROR: [youtube:search] x: Unable to download API page: Failed to \
            resolve 'www.youtube.com' ([Errno -2] Name or service not known) (caused by \
            TransportError(\"Failed to resolve 'www.youtube.com'\"))\n";
        assert_eq!(
            explain(offline, status),
            "[youtube:search] x: Unable to download API page: Failed to resolve \
             'www.youtube.com' ([Errno -2] Name or service not known)"
        );
        assert!(explain(b"", status).starts_with("exited with"));
    }
}
