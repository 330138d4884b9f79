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

/// The `minstrel` binary built beside this test (cargo builds the workspace's binaries
/// before running tests). `MINSTREL_BIN` overrides.
pub fn minstrel_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("MINSTREL_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("minstrel");
    assert!(
        bin.exists(),
        "{} not found: build it first (cargo build -p minstrel)",
        bin.display()
    );
    bin
}

/// A `minstrel` command on `data_dir`, logging only warnings.
pub fn minstrel(data_dir: &Path) -> Command {
    let mut cmd = Command::new(minstrel_bin());
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
    let out = child.wait_with_output().expect("wait child");
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(result_of)
        .collect()
}
