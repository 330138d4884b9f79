//! Shared helpers for the end-to-end tests.

pub mod bot;
pub mod built;
pub mod voice;
pub use built::{component, components_dir};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use minstrel::config::StoreConfig;
use minstrel::store::{BlobSink, Fetch, Store, StoreError};

/// How to build the `minstrel` binary the tests run.
const REBUILD: &str = "rebuild it: cargo build --workspace --bins --tests";

/// The `minstrel` binary built beside this test. A test binary can be rebuilt without
/// it, so one older than any of its sources fails here rather than testing old code.
/// `MINSTREL_BIN` overrides (and is taken as it is).
pub fn minstrel_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("MINSTREL_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("minstrel");
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} not found: {REBUILD}", bin.display()));
    if let Some((newest, changed)) = newest_source()
        && changed > built
    {
        panic!(
            "{} is older than {}: {REBUILD}",
            bin.display(),
            newest.display()
        );
    }
    bin
}

/// The most recently modified of the files the `minstrel` binary is built from.
fn newest_source() -> Option<(PathBuf, std::time::SystemTime)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository root");
    let mut newest = None;
    for part in [
        "Cargo.toml",
        "host/src",
        "host/Cargo.toml",
        "host/migrations",
        "wit",
        "sdk",
        "crates",
    ] {
        newest_in(&root.join(part), &mut newest);
    }
    newest
}

fn newest_in(path: &Path, newest: &mut Option<(PathBuf, std::time::SystemTime)>) {
    // Lock files and build output that other builds leave there are not sources.
    let name = path.file_name().unwrap_or_default();
    if name == "Cargo.lock" || name == "target" {
        return;
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            newest_in(&entry.path(), newest);
        }
    } else if let Ok(changed) = meta.modified()
        && newest.as_ref().is_none_or(|(_, t)| changed > *t)
    {
        *newest = Some((path.to_path_buf(), changed));
    }
}

/// The `minstrel` binary as a command. No `MINSTREL_` variable of this process is passed
/// on (`MINSTREL_BIN`, a developer's own settings): the binary takes every one for a
/// config override, so a test sets the ones it means.
pub fn minstrel_command() -> Command {
    let mut cmd = Command::new(minstrel_bin());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MINSTREL_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// A `minstrel` command on `data_dir`, logging only warnings.
pub fn minstrel(data_dir: &Path) -> Command {
    let mut cmd = minstrel_command();
    cmd.arg("--data-dir").arg(data_dir).env("RUST_LOG", "warn");
    cmd
}

/// Runs a command and parses its stdout as one JSON value; panics with stderr if it failed.
pub fn json_output(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.output().expect("spawn minstrel");
    check(&out);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

pub fn check(out: &Output) {
    assert!(
        out.status.success(),
        "minstrel failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A store config suited to tests: small limits, short lifetimes.
pub fn test_config() -> StoreConfig {
    StoreConfig {
        max_cache_bytes: 64 << 20,
        max_fetch_bytes: 16 << 20,
        fetch_timeout_secs: 30,
        fetch_stall_secs: 5,
        lease_ttl_secs: 3,
        claim_ttl_secs: 3600,
        scratch_idle_secs: 600,
        temp_grace_secs: 0,
        meta_keep_stale_secs: 3600,
    }
}

pub async fn open_store(dir: &Path, config: StoreConfig) -> Store {
    Store::open(dir, config).await.expect("open store")
}

/// A fetcher that counts its runs, waits, then writes `body` (or fails).
#[derive(Clone)]
pub struct CountingFetcher {
    pub runs: Arc<AtomicUsize>,
    pub body: Vec<u8>,
    pub delay: Duration,
    pub fail: Option<String>,
}

impl CountingFetcher {
    pub fn new(body: impl Into<Vec<u8>>, delay: Duration) -> Self {
        Self {
            runs: Arc::default(),
            body: body.into(),
            delay,
            fail: None,
        }
    }

    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Fetch for CountingFetcher {
    async fn fetch(&self, sink: &mut BlobSink) -> Result<(), StoreError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        // Half the body before the wait, so a failure leaves a partial temp file behind
        // if the store does not clean up.
        let (head, tail) = self.body.split_at(self.body.len() / 2);
        sink.write(head)?;
        tokio::time::sleep(self.delay).await;
        if let Some(msg) = &self.fail {
            return Err(StoreError::Fetch(msg.clone()));
        }
        sink.write(tail)
    }
}

/// Deterministic pseudo-random bytes (distinct per seed).
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn hash_hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// Files in `data_dir/tmp`.
pub fn temp_files(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join("tmp"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Child processes: a test re-runs its own test binary, filtered to one `#[test]`
/// function, with `MINSTREL_CHILD` set; that function then acts as the child.
pub fn child_role() -> Option<String> {
    std::env::var("MINSTREL_CHILD").ok()
}

pub fn spawn_child(test_fn: &str, role: &str, envs: &[(&str, String)]) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.args([test_fn, "--exact", "--nocapture", "--test-threads=1"])
        .env("MINSTREL_CHILD", role)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn child test process")
}

/// The payload of a child's `RESULT ...` line (the test harness may print its own
/// text in front of it on the same line).
pub fn result_of(line: &str) -> Option<String> {
    line.split_once("RESULT ")
        .map(|(_, r)| r.trim().to_string())
}

/// Waits for a child and returns the payloads of its `RESULT ` lines.
pub fn child_results(child: std::process::Child) -> Vec<String> {
    child_output(child).0
}

/// Waits for a child and returns the payloads of its `RESULT ` lines and the [`Span`]
/// it printed.
pub fn child_results_and_span(child: std::process::Child) -> (Vec<String>, Span) {
    let (results, span) = child_output(child);
    (results, span.expect("the child printed no SPAN line"))
}

fn child_output(child: std::process::Child) -> (Vec<String>, Option<Span>) {
    let out = child.wait_with_output().expect("wait child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = stdout.lines().filter_map(result_of).collect();
    let span = stdout.lines().find_map(Span::parse);
    (results, span)
}

/// Several processes meet at folder `dir`: each arrives by creating a file named after
/// itself and waits until `parties` have arrived, so that what follows runs in all of
/// them at once.
pub async fn rendezvous(dir: &Path, parties: usize) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(std::process::id().to_string()), b"").unwrap();
    let arrived = || std::fs::read_dir(dir).unwrap().count();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while arrived() < parties {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {parties} processes arrived at {}",
            arrived(),
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// When a process did its part of a multi-process test, in microseconds of wall-clock
/// time (the same clock for every process of the machine).
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub start: u128,
    pub end: u128,
}

impl Span {
    /// Runs `work`, timing it.
    pub async fn of<T>(work: impl Future<Output = T>) -> (T, Span) {
        let start = wall_clock_us();
        let out = work.await;
        (
            out,
            Span {
                start,
                end: wall_clock_us(),
            },
        )
    }

    /// The line a child prints for its parent.
    pub fn line(&self) -> String {
        format!("SPAN {} {}", self.start, self.end)
    }

    fn parse(line: &str) -> Option<Span> {
        let (_, rest) = line.split_once("SPAN ")?;
        let (start, end) = rest.trim().split_once(' ')?;
        Some(Span {
            start: start.parse().ok()?,
            end: end.parse().ok()?,
        })
    }
}

fn wall_clock_us() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros()
}

/// Fails unless every span overlaps every other: some instant lies inside all of them,
/// so the processes really ran at the same time.
pub fn assert_overlap(spans: &[Span]) {
    let latest_start = spans.iter().map(|s| s.start).max().unwrap();
    let earliest_end = spans.iter().map(|s| s.end).min().unwrap();
    assert!(
        latest_start < earliest_end,
        "the processes did not all run at the same time: the last started {} us after the \
         first finished ({spans:?})",
        latest_start - earliest_end
    );
}
