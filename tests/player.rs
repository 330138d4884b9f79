//! Getting songs ready to play, with the real tone source plugin, real ffmpeg and a real
//! store: one download and one render per song however many guilds (tasks) and processes
//! ask, loudness measured once and applied, leases that keep a queued song's rendition
//! through eviction, and clear errors for sources that fail or return garbage.

#[path = "plugins_support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use minstrel::config::PlayerConfig;
use minstrel::player::rendition::Renderer;
use minstrel::player::{Filter, Progress, Ready, Song, prepare};
use minstrel::plugins::PluginHost;
use minstrel::store::{Store, StoreError};
use minstrel_tests::process::{child_results, child_role, spawn_child};
use minstrel_tests::{open_store, test_config};

/// An ffmpeg that logs each run's arguments to `log`, then runs the real one.
fn counting_ffmpeg(dir: &Path, log: &Path) -> PathBuf {
    let script = dir.join("ffmpeg-counting");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec ffmpeg \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    script
}

fn runs(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

/// `song` made playable with the player settings `config`, as a player does.
async fn prepare(
    store: &Store,
    host: &PluginHost,
    config: &PlayerConfig,
    song: &Song,
) -> Result<Ready, StoreError> {
    let renderer = Renderer::new(config.clone());
    prepare::prepare(
        store,
        host,
        &renderer,
        song,
        Filter::Off,
        &Progress::default(),
    )
    .await
}

fn song(source: &str, id: &str) -> Song {
    Song {
        source: source.into(),
        id: id.into(),
        title: id.into(),
        duration_ms: None,
        page_url: None,
        requested_by: 1,
        uid: 0,
        live: None,
    }
}

async fn setup(data: &Path, plugins: &[(&str, &str)]) -> (Store, PluginHost) {
    let store = open_store(data, test_config()).await;
    let dir = data.join("plugins");
    for (crate_name, as_name) in plugins {
        support::install(&dir, crate_name, as_name);
    }
    let mut config = support::config(&dir);
    config.call_timeout_ms = 20_000;
    config.host_calls_per_call = 100_000;
    config.memory_bytes = 128 << 20;
    let host = support::host(config, data);
    for (path, result) in host.load_dir().await {
        result.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    (store, host)
}

/// Integrated loudness of `path` as ffmpeg's ebur128 measures it.
fn lufs(path: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-af", "ebur128", "-f", "null", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = &text[text.rfind("Summary:").expect("ebur128 summary")..];
    let line = summary
        .lines()
        .find(|l| l.trim().starts_with("I:"))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// (codec, duration seconds) of the first audio stream.
fn probe(path: &Path) -> (String, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0", "-show_entries"])
        .args([
            "stream=codec_name:format=duration",
            "-of",
            "default=nw=1:nk=1",
        ])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let codec = lines.next().unwrap_or_default().to_string();
    let duration = lines.next().and_then(|d| d.parse().ok()).unwrap_or(0.0);
    (codec, duration)
}

fn fetch_calls(host: &PluginHost, name: &str) -> u64 {
    host.status(name).expect("plugin loaded").counters.calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twelve_guilds_get_one_download_one_measurement_one_render() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("ffmpeg.log");
    let (store, host) = setup(&tmp.path().join("data"), &[("tone", "tone")]).await;
    let config = PlayerConfig {
        ffmpeg: counting_ffmpeg(tmp.path(), &log),
        ..PlayerConfig::default()
    };
    let song = song("tone", "440:3");
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (store, host, config, song) =
                (store.clone(), host.clone(), config.clone(), song.clone());
            tokio::spawn(async move { prepare(&store, &host, &config, &song).await })
        })
        .collect();
    let mut readies = Vec::new();
    for task in tasks {
        readies.push(task.await.unwrap().expect("prepared"));
    }
    assert!(readies.iter().all(|r| r.hash == readies[0].hash));
    assert_eq!(fetch_calls(&host, "tone"), 1, "one download");
    assert_eq!(runs(&log, "ebur128"), 1, "one measurement");
    assert_eq!(runs(&log, "-f ogg"), 1, "one render");

    let ready = &readies[0];
    let (codec, seconds) = probe(&ready.path);
    assert_eq!(codec, "opus");
    assert!((seconds - 3.0).abs() < 0.1, "rendition lasts {seconds} s");
    let loudness = ready.loudness.expect("loudness stored");
    let measured = loudness.integrated_lufs.expect("a tone has loudness");
    // A sine at a quarter of full scale, mixed to stereo: about -16 LUFS.
    assert!((-18.0..-13.0).contains(&measured), "measured {measured}");
    assert!((loudness.gain_db - (-14.0 - measured)).abs() < 0.01);
    let rendered = lufs(&ready.path);
    assert!(
        (rendered - -14.0).abs() < 1.0,
        "rendition at {rendered} LUFS"
    );

    // Cached now: no new download, measurement or render.
    let again = prepare(&store, &host, &config, &song).await.unwrap();
    assert!(again.hit);
    assert_eq!(again.loudness, ready.loudness, "stored with the blob");
    assert_eq!(runs(&log, "-f ogg"), 1);
    assert_eq!(fetch_calls(&host, "tone"), 1);
}

/// A first play streamed from its download carries a gain measured on its first seconds;
/// for a steady tone that is the gain its rendition, measured whole, carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_first_play_gets_the_gain_its_rendition_gets() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, host) = setup(tmp.path(), &[("tone", "tone")]).await;
    // Well below the tone's -16 LUFS, so the gain is far from none.
    let config = PlayerConfig {
        target_lufs: -24.0,
        ..PlayerConfig::default()
    };
    let renderer = Renderer::new(config);
    let playable = prepare::start(
        &store,
        &host,
        &renderer,
        &song("tone", "440:12"),
        Filter::Off,
        &Progress::default(),
    )
    .await
    .unwrap();
    let prepare::Playable::Streamed(mut streamed) = playable else {
        panic!("an uncached song is streamed first");
    };
    let ready = streamed.rendition.take().unwrap().await.unwrap().unwrap();
    let whole = ready.loudness.expect("loudness stored").gain_db;
    assert!(whole < -6.0, "the rendition's gain is {whole} dB");
    let provisional = streamed.stream.gain_db;
    assert!(
        (provisional - whole).abs() < 1.0,
        "provisional {provisional} dB, rendition {whole} dB"
    );
}

#[tokio::test]
async fn normalisation_off_keeps_the_level_in_a_separate_rendition() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, host) = setup(tmp.path(), &[("tone", "tone")]).await;
    let on = PlayerConfig::default();
    let off = PlayerConfig {
        normalize: false,
        ..PlayerConfig::default()
    };
    let song = song("tone", "440:2");
    let a = prepare(&store, &host, &on, &song).await.unwrap();
    let b = prepare(&store, &host, &off, &song).await.unwrap();
    assert_ne!(a.hash, b.hash);
    assert_eq!(fetch_calls(&host, "tone"), 1, "both made from one download");
    let source = b.loudness.unwrap().integrated_lufs.unwrap();
    assert_eq!(b.loudness.unwrap().gain_db, 0.0);
    assert!((lufs(&b.path) - source).abs() < 1.0);
    assert!((lufs(&a.path) - -14.0).abs() < 1.0);
}

#[tokio::test]
async fn a_queued_songs_rendition_survives_eviction_until_released() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, host) = setup(tmp.path(), &[("tone", "tone")]).await;
    let config = PlayerConfig::default();
    let ready = prepare(&store, &host, &config, &song("tone", "330:2"))
        .await
        .unwrap();
    store.evict_to(0).await.unwrap();
    assert!(ready.path.exists(), "leased: never evicted");
    let path = ready.path.clone();
    ready.release().await.unwrap();
    store.evict_to(0).await.unwrap();
    assert!(!path.exists(), "released: evictable");
    // And it comes back on demand.
    let again = prepare(&store, &host, &config, &song("tone", "330:2"))
        .await
        .unwrap();
    assert!(!again.hit && again.path.exists());
}

#[tokio::test]
async fn failing_and_garbage_sources_give_clear_errors_and_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, host) = setup(tmp.path(), &[("tone", "tone"), ("echo_source", "echo")]).await;
    let config = PlayerConfig::default();
    let err = prepare(&store, &host, &config, &song("tone", "nope"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tone nope") && err.contains("frequency"),
        "{err}"
    );
    // echo writes text, not audio: the download is kept, no rendition is made.
    let err = prepare(&store, &host, &config, &song("echo", "echo:hi"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ffprobe") || err.contains("audio"), "{err}");
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.index.tracks, 1, "only the echo download is indexed");
    assert_eq!(minstrel_tests::temp_files(tmp.path()), 0);
}

/// Four processes prepare the same song at once: one download, one render in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_share_one_download_and_render() {
    if let Some(role) = child_role() {
        let data = PathBuf::from(std::env::var("DATA").unwrap());
        let store = open_store(&data, test_config()).await;
        let mut config = support::config(&data.join("plugins"));
        config.call_timeout_ms = 20_000;
        config.host_calls_per_call = 100_000;
        config.memory_bytes = 128 << 20;
        let host = support::host(config, &data);
        for (_, r) in host.load_dir().await {
            r.unwrap();
        }
        let player = PlayerConfig {
            ffmpeg: PathBuf::from(std::env::var("FFMPEG").unwrap()),
            ..PlayerConfig::default()
        };
        let ready = prepare(&store, &host, &player, &song("tone", "550:2"))
            .await
            .unwrap();
        println!(
            "RESULT {} {} {role}",
            ready.hash,
            fetch_calls(&host, "tone")
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("ffmpeg.log");
    drop(setup(&data, &[("tone", "tone")]).await);
    let ffmpeg = counting_ffmpeg(tmp.path(), &log);
    let children: Vec<_> = (0..4)
        .map(|i| {
            spawn_child(
                "processes_share_one_download_and_render",
                &i.to_string(),
                &[
                    ("DATA", data.display().to_string()),
                    ("FFMPEG", ffmpeg.display().to_string()),
                ],
            )
        })
        .collect();
    let mut hashes = Vec::new();
    let mut downloads = 0;
    for child in children {
        let results = child_results(child);
        let fields: Vec<&str> = results[0].split(' ').collect();
        hashes.push(fields[0].to_string());
        downloads += fields[1].parse::<u64>().unwrap();
    }
    assert!(hashes.iter().all(|h| *h == hashes[0]));
    assert_eq!(downloads, 1, "one download across processes");
    assert_eq!(runs(&log, "ebur128"), 1, "one measurement across processes");
    assert_eq!(runs(&log, "-f ogg"), 1, "one render across processes");
}
