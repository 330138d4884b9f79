//! `minstrel demo`: the store end to end on bundled sample audio, with no network
//! beyond loopback. It serves the sample from a local HTTP server, has many tasks ask
//! for it at once (one download), asks again (a cache hit), leases it, runs eviction
//! and a deep verify, and prints what happened at each step.

use std::time::{Duration, Instant};

use anyhow::ensure;

use crate::config::Config;
use crate::fetch::HttpFetcher;
use crate::store::{Store, TrackKey};
use minstrel_local::http::{LocalHttp, Route};

/// Bundled sample audio (4 s stereo Opus).
pub const SAMPLE: &[u8] = include_bytes!("../../../assets/sample.opus");

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let store = Store::open(&config.data_dir, config.store.clone()).await?;
    println!("data dir: {}", store.data_dir().display());
    let report = store.reconcile(false, true).await?;
    println!("startup reconcile: {} problems repaired", report.problems());

    let server = LocalHttp::start().await?;
    // Paced so the download is still running while every request arrives.
    server.route(
        "/sample.opus",
        Route::ok(SAMPLE).paced(8, Duration::from_millis(40)),
    );
    let url = server.url("/sample.opus");
    let key = TrackKey::from_url(&url)?;
    let fetcher = HttpFetcher::new(&url, config.store.fetch_stall())?;

    let requests = 50;
    let started = Instant::now();
    let tasks: Vec<_> = (0..requests)
        .map(|_| {
            let (store, key, fetcher) = (store.clone(), key.clone(), fetcher.clone());
            tokio::spawn(async move { store.get_or_fetch(&key, fetcher).await })
        })
        .collect();
    let mut hashes = std::collections::BTreeSet::new();
    let mut hits = 0;
    for task in tasks {
        let fetched = task.await??;
        hits += usize::from(fetched.hit);
        hashes.insert(fetched.blob.hash);
    }
    println!(
        "{requests} concurrent requests for {key}: {} download(s) from the server, {} distinct blob(s), {hits} were already cached, {:?}",
        server.hits("/sample.opus"),
        hashes.len(),
        started.elapsed()
    );
    ensure!(hashes.len() == 1, "requests disagreed on the blob");
    ensure!(
        server.hits("/sample.opus") == 1,
        "expected one download, the server saw {}",
        server.hits("/sample.opus")
    );

    let started = Instant::now();
    let again = store.get_or_fetch(&key, fetcher.clone()).await?;
    ensure!(again.hit, "the second request should be a cache hit");
    println!(
        "asked again: cache hit = {}, {:?}, blob {} ({} bytes)",
        again.hit,
        started.elapsed(),
        again.blob.path.display(),
        again.blob.size
    );

    // Eviction as a full cache would run it: with a budget of zero bytes, everything
    // unleased goes, and the leased blob stays until its lease is released.
    let lease = store.lease(&again.blob).await?;
    let mut tight = config.store.clone();
    tight.max_cache_bytes = 0;
    let evictor = Store::open(&config.data_dir, tight).await?;
    let evicted = evictor.evict().await?;
    println!(
        "evicting to a zero budget while leased: {} blob(s) removed, leased blob still present: {}",
        evicted.blobs,
        again.blob.path.exists()
    );
    lease.release().await?;
    let evicted = evictor.evict().await?;
    println!(
        "after the lease is released: {} blob(s) removed, blob present: {}",
        evicted.blobs,
        again.blob.path.exists()
    );
    let refetched = store.get_or_fetch(&key, fetcher).await?;
    println!(
        "asked again after eviction: cache hit = {}, same hash = {}",
        refetched.hit,
        refetched.blob.hash == again.blob.hash
    );

    let event = uuid::Uuid::new_v4().to_string();
    let claimed_once = store.claim("message", &event).await?;
    let claimed_twice = store.claim("message", &event).await?;
    println!("claim of a duplicated event: first {claimed_once}, second {claimed_twice}");

    let report = store.reconcile(true, false).await?;
    println!(
        "deep verify: {} blobs checked, {} problems",
        report.checked_blobs,
        report.problems()
    );
    let stats = store.stats().await?;
    println!(
        "stats: {} tracks, {} blobs, {} bytes, {} hits",
        stats.index.tracks, stats.index.blobs, stats.index.bytes, stats.index.hits
    );
    Ok(())
}
