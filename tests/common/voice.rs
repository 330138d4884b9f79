//! What the tests that play audio to the local voice endpoint share.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

/// One runtime for every test of a binary: songbird's default mixer scheduler is
/// process-global and lives on the runtime that first used it, so a per-test runtime
/// would take it down with the first test that finishes.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
});

/// Runs a test body on the shared runtime, after making this process trust the local
/// voice endpoint's certificate.
pub fn run<F: Future<Output = ()>>(body: F) {
    // SAFETY: every test of a binary using this calls `run` before anything else, so no
    // test thread reads the environment while the first caller sets SSL_CERT_FILE (the
    // others wait in the same `Once`), and the harness's main thread only waits.
    unsafe { minstrel_local::discord::voice::trust_in_this_process() }.expect("voice trust bundle");
    // RUST_LOG=songbird=debug shows the client's side of a failure.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    RUNTIME.block_on(body);
}

/// An Ogg Opus sine of `frequency` Hz and `secs` seconds in `dir`, made by ffmpeg
/// (libopus, 20 ms frames).
pub fn sine_ogg(dir: &Path, frequency: u32, secs: u32) -> PathBuf {
    let path = dir.join(format!("sine-{frequency}-{secs}.ogg"));
    sine(
        &path,
        frequency,
        secs,
        &["-ac", "2", "-c:a", "libopus", "-b:a", "96k"],
    );
    path
}

/// A sine of `frequency` Hz and `secs` seconds written to `path` by the real ffmpeg
/// with the encoder arguments `codec` (the extension picks the container).
pub fn sine(path: &Path, frequency: u32, secs: u32, codec: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("sine=frequency={frequency}:duration={secs}"))
        .args(codec)
        .arg(path)
        .output()
        .expect("ffmpeg runs (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
