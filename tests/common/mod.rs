//! Shared helpers for the end-to-end tests: the `minstrel` binary and its commands, the
//! store on test limits, and [`wait_for`], the one way a test polls for something with a
//! deadline. By topic: [`bot`] (the bot against the local Discord server), [`playback`]
//! (what the `playback_*` tests share), [`process`] (processes, and copies of the test
//! binary as children), [`voice`] (the shared runtime, audio made by ffmpeg), [`built`]
//! (the built plugins).

pub mod bot;
pub mod built;
pub mod database;
pub mod playback;
pub mod process;
pub mod voice;
pub use built::{component, components_dir};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use minstrel::config::StoreConfig;
use minstrel::store::{BlobSink, Fetch, Store, StoreError, TrackKey};

/// Checks `check` every 10 ms until it holds: whether it did within `limit` (the last
/// check comes at or after the deadline). What `World::wait_for` is for the local
/// Discord server, this is for anything else a test waits on: a file, a process, a
/// server's hit count, the store.
pub async fn wait_for(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

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

/// The `minstrel` binary as a command, without the bundled plugins (a test installs the
/// plugins it means; `env_remove("MINSTREL_PLUGINS__BUNDLED")` brings them back). No
/// other `MINSTREL_` variable of this process is passed on (`MINSTREL_BIN`, a
/// developer's own settings): the binary takes every one for a config override, so a
/// test sets the ones it means.
pub fn minstrel_command() -> Command {
    let mut cmd = Command::new(minstrel_bin());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MINSTREL_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("MINSTREL_PLUGINS__BUNDLED", "false");
    cmd
}

/// A `minstrel` command on `data_dir`, logging only warnings.
pub fn minstrel(data_dir: &Path) -> Command {
    let mut cmd = minstrel_command();
    cmd.arg("--data-dir").arg(data_dir).env("RUST_LOG", "warn");
    if let Some(url) = database::store_database_url(data_dir) {
        cmd.env("MINSTREL_STORE__DATABASE_URL", url);
    }
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
        database_url: None,
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

/// The store on `dir`, on the backend the tests run on (see [`database`]) unless
/// `config` names a database.
pub async fn open_store(dir: &Path, mut config: StoreConfig) -> Store {
    if config.database_url.is_none() {
        config.database_url = database::store_database_url(dir);
    }
    Store::open(dir, config).await.expect("open store")
}

/// Waits until `store` remembers index reads: at once with SQLite; with PostgreSQL
/// once it hears other processes' changes (see `store::pg_changes`).
pub async fn remembering(store: &Store) -> bool {
    wait_for(Duration::from_secs(10), async || {
        store.remembering().unwrap()
    })
    .await
}

/// Track `n` of the source `test`.
pub fn key(n: u64) -> TrackKey {
    TrackKey::new("test", format!("track-{n}"))
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
