//! Warm yt-dlp for probes and searches: long-lived workers (`worker.py`, yt-dlp's
//! Python API behind a line protocol) instead of a fresh process per request, which
//! spends most of a second starting Python and importing yt-dlp.
//!
//! A worker gets exactly the argument template a fresh process would (yt-dlp parses it
//! itself), the same cleaned environment, and its own process group. It serves one
//! request at a time, taken out of the pool for it: a request that times out, or whose
//! caller gives up, drops the worker, which kills its group; a worker that dies or
//! answers nonsense is replaced by the next request; one that has served
//! [`MediaConfig::worker_requests`] requests is retired. Downloads stay fresh processes
//! (they stream stdout, and a kill ends them cleanly).
//!
//! The worker runs on the Python interpreter named by yt-dlp's `#!` line (a pip or
//! pipx install). A yt-dlp without one (the standalone binary), or whose Python cannot
//! import it, gets fresh processes, as does every request after a worker fails to
//! start.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::time::Instant;

use super::error::MediaError;
use super::ytdlp;
use crate::children;
use crate::config::MediaConfig;

/// The worker's program, passed to Python with `-c`.
const SCRIPT: &str = include_str!("worker.py");
/// The worker's first argument: names it in process lists.
pub const MARKER: &str = "minstrel-ytdlp-worker";

/// The idle workers, and whether workers can run at all.
pub struct Workers {
    python: Option<PathBuf>,
    idle: Mutex<Vec<Worker>>,
    /// Set when a worker failed to start: every request uses fresh processes from then.
    broken: AtomicBool,
    max_requests: u32,
}

/// What a worker said about one request.
pub enum Answer {
    /// yt-dlp's JSON.
    Json(Vec<u8>),
    /// yt-dlp's error, explained.
    Failed(MediaError),
}

impl Workers {
    pub fn new(config: &MediaConfig) -> Self {
        let python = config.workers.then(|| python_of(&config.yt_dlp)).flatten();
        Self {
            python,
            idle: Mutex::new(Vec::new()),
            broken: AtomicBool::new(false),
            max_requests: config.worker_requests.max(1),
        }
    }

    /// Whether requests go to workers (else to fresh processes).
    pub fn available(&self) -> bool {
        self.python.is_some() && !self.broken.load(Ordering::Relaxed)
    }

    /// The process ids of the idle workers (for `minstrel doctor` and tests).
    pub fn idle_pids(&self) -> Vec<u32> {
        let idle = self.idle.lock().expect("workers lock");
        idle.iter().filter_map(|w| w.pid).collect()
    }

    /// Starts one worker ahead of the first request, so that it pays no start-up.
    pub async fn warm(&self, deadline: Instant) {
        if self.idle.lock().expect("workers lock").is_empty()
            && let Some(worker) = self.start(deadline).await
        {
            self.idle.lock().expect("workers lock").push(worker);
        }
    }

    /// Runs `args` in a worker, until `deadline` (`limit` from now, for the error). `None`
    /// when no worker could serve it (none can start, or the one asked died): the caller
    /// runs a fresh process.
    pub async fn run(
        &self,
        args: &[std::ffi::OsString],
        deadline: Instant,
        limit: std::time::Duration,
    ) -> Option<Answer> {
        if !self.available() {
            return None;
        }
        let request: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        // An idle worker may have died since its last request: then a new one serves.
        let mut tries = 2;
        let (mut worker, line) = loop {
            let idle = self.idle.lock().expect("workers lock").pop();
            let mut worker = match idle {
                Some(worker) => worker,
                None => self.start(deadline).await?,
            };
            match tokio::time::timeout_at(deadline, worker.ask(&request)).await {
                Err(_) => return Some(Answer::Failed(MediaError::Timeout(limit))),
                Ok(Ok(line)) => break (worker, line),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "yt-dlp worker failed; replaced");
                    tries -= 1;
                    if tries == 0 {
                        return None;
                    }
                }
            }
        };
        let answer = match serde_json::from_slice::<serde_json::Value>(&line) {
            Ok(serde_json::Value::Object(map)) => match (map.get("ok"), map.get("error")) {
                (Some(serde_json::Value::String(json)), _) => Answer::Json(json.clone().into()),
                (_, Some(serde_json::Value::String(error))) => Answer::Failed(MediaError::Failed(
                    ytdlp::reason(error.as_bytes()).unwrap_or_else(|| "yt-dlp failed".into()),
                )),
                _ => return None,
            },
            _ => return None,
        };
        worker.served += 1;
        if worker.served < self.max_requests {
            self.idle.lock().expect("workers lock").push(worker);
        }
        Some(answer)
    }

    async fn start(&self, deadline: Instant) -> Option<Worker> {
        let python = self.python.as_ref()?;
        match tokio::time::timeout_at(deadline, Worker::start(python)).await {
            Ok(Ok(worker)) => Some(worker),
            Ok(Err(error)) => {
                self.broken.store(true, Ordering::Relaxed);
                tracing::warn!(
                    python = %python.display(),
                    %error,
                    "cannot start a warm yt-dlp; every probe and search starts yt-dlp afresh"
                );
                None
            }
            // Slow, not broken: this request runs afresh, the next tries again.
            Err(_) => None,
        }
    }
}

/// One worker process, idle or serving one request.
struct Worker {
    child: Child,
    pid: Option<u32>,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    served: u32,
}

impl Worker {
    async fn start(python: &Path) -> std::io::Result<Self> {
        let mut command = Command::new(python);
        children::clean_env(&mut command)
            .args(["-c", SCRIPT, MARKER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let mut child = command.spawn()?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        // What yt-dlp prints is not needed (errors come in the answers); drained so
        // that the worker never blocks on a full pipe.
        let mut stderr = child.stderr.take().expect("stderr is piped");
        tokio::spawn(async move {
            let mut sink = [0u8; 4096];
            while matches!(stderr.read(&mut sink).await, Ok(n) if n > 0) {}
        });
        let mut worker = Self {
            pid: child.id(),
            child,
            stdin,
            stdout,
            served: 0,
        };
        let ready = worker.read_line().await?;
        if ready != b"ready" {
            return Err(std::io::Error::other(format!(
                "it said {:?} instead of ready",
                String::from_utf8_lossy(&ready)
            )));
        }
        Ok(worker)
    }

    async fn ask(&mut self, args: &[String]) -> std::io::Result<Vec<u8>> {
        let mut request = serde_json::to_vec(args).map_err(std::io::Error::other)?;
        request.push(b'\n');
        self.stdin.write_all(&request).await?;
        self.stdin.flush().await?;
        self.read_line().await
    }

    /// One line of at most [`ytdlp::MAX_JSON`] bytes (an answer holds yt-dlp's JSON).
    async fn read_line(&mut self) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        let read = (&mut self.stdout)
            .take(ytdlp::MAX_JSON as u64 * 2)
            .read_until(b'\n', &mut line)
            .await?;
        if read == 0 {
            let status = self.child.try_wait().ok().flatten();
            return Err(std::io::Error::other(match status {
                Some(status) => format!("it exited ({status})"),
                None => "it closed its output".into(),
            }));
        }
        if line.pop() != Some(b'\n') {
            return Err(std::io::Error::other("an answer too long"));
        }
        Ok(line)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            // The whole group, as for a fresh yt-dlp (see `ytdlp::Run`).
            // SAFETY: kill(2) with a negative pid signals that process group; it has no
            // memory-safety preconditions.
            unsafe {
                libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
            }
        }
    }
}

/// The Python of `yt_dlp` (a name looked up in `PATH`, or a path), from its `#!` line.
fn python_of(yt_dlp: &Path) -> Option<PathBuf> {
    let program = if yt_dlp.components().count() > 1 {
        yt_dlp.to_path_buf()
    } else {
        on_path(yt_dlp)?
    };
    let mut head = [0u8; 256];
    let n = std::io::Read::read(&mut std::fs::File::open(program).ok()?, &mut head).ok()?;
    let first = head[..n].split(|b| *b == b'\n').next()?;
    let mut words = std::str::from_utf8(first.strip_prefix(b"#!")?)
        .ok()?
        .split_whitespace();
    let mut interpreter = PathBuf::from(words.next()?);
    if interpreter.file_name()? == "env" {
        interpreter = on_path(Path::new(words.next()?))?;
    }
    let name = interpreter.file_name()?.to_str()?;
    (name.starts_with("python") && interpreter.is_file()).then_some(interpreter)
}

/// The file `name` in the first `PATH` folder that has it.
fn on_path(name: &Path) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_comes_from_the_shebang_line() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("yt-dlp");
        let python = dir.path().join("python3");
        std::fs::write(&python, "").unwrap();
        std::fs::write(&script, format!("#!{}\nimport yt_dlp\n", python.display())).unwrap();
        assert_eq!(python_of(&script), Some(python.clone()));
        std::fs::write(&script, "#!/bin/sh\nexec true\n").unwrap();
        assert_eq!(python_of(&script), None);
        std::fs::write(&script, b"\x7fELF\x02\x01").unwrap();
        assert_eq!(python_of(&script), None);
        assert_eq!(python_of(&dir.path().join("missing")), None);
    }
}
