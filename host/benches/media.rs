//! Media benchmark: a yt-dlp probe of a file served on loopback (yt-dlp's generic
//! extractor, no internet), through a warm worker against a fresh yt-dlp process per
//! probe (`[media] workers = false`), in one run, alternating.
//!
//! `scripts/setup.sh && cargo bench -p minstrel --bench media` (yt-dlp from the tools'
//! virtual environment on PATH: `. scripts/env.sh`).

use std::time::{Duration, Instant};

use minstrel::config::MediaConfig;
use minstrel::media::Media;
use minstrel_local::http::{LocalHttp, Route};

const PROBES: usize = 20;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Two seconds of Opus in Ogg, made by ffmpeg.
fn song(dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("song.ogg");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
        ])
        .args(["-c:a", "libopus", "-y"])
        .arg(&path)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    std::fs::read(path).unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalHttp::start().await.unwrap();
    server.route("/song.ogg", Route::ok(song(dir.path())).typed("audio/ogg"));
    let url = server.url("/song.ogg");
    let media = |workers: bool| {
        Media::new(MediaConfig {
            allow_private_addresses: true,
            workers,
            worker_requests: 1_000,
            ..MediaConfig::default()
        })
    };
    let (fresh, warm) = (media(false), media(true));
    let started = Instant::now();
    warm.warm().await;
    let start_up = started.elapsed();
    assert_eq!(
        warm.workers().idle_pids().len(),
        1,
        "no warm worker: is yt-dlp a Python install?"
    );

    let (mut fresh_times, mut warm_times) = (Vec::new(), Vec::new());
    for _ in 0..PROBES {
        for (media, times) in [(&fresh, &mut fresh_times), (&warm, &mut warm_times)] {
            let started = Instant::now();
            let info = media.probe(&url).await.unwrap();
            times.push(started.elapsed());
            assert_eq!(info.title, "song");
        }
    }
    let (f50, w50) = (median(fresh_times), median(warm_times));
    println!("yt-dlp probe of a loopback file, {PROBES} probes each, alternating:");
    println!("  fresh process per probe: p50 {f50:?}");
    println!("  warm worker:             p50 {w50:?}  (worker start-up, once: {start_up:?})");
    println!(
        "  ratio warm / fresh:      {:.3}",
        w50.as_secs_f64() / f50.as_secs_f64()
    );
}
