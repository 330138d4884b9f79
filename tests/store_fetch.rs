//! The cache store's fetches, tested the way they are used (many tasks, real SQLite
//! files and a real HTTP server on loopback): one fetch however many ask at once, a
//! failed fetch reaching every waiter and leaving nothing behind, and size caps,
//! timeouts and bad sources failing cleanly.

use std::collections::BTreeSet;
use std::time::Duration;

use minstrel::store::{StoreError, TrackKey};
use minstrel_local::http::{LocalHttp, Route};
use minstrel_tests::{CountingFetcher, bytes, hash_hex, key, open_store, temp_files, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_tasks_run_the_fetcher_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let body = bytes(1, 256 * 1024);
    let fetcher = CountingFetcher::new(body.clone(), Duration::from_millis(300));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (store, fetcher) = (store.clone(), fetcher.clone());
            tokio::spawn(async move { store.get_or_fetch(&key(1), fetcher).await })
        })
        .collect();
    let mut hashes = BTreeSet::new();
    for t in tasks {
        let fetched = t.await.unwrap().unwrap();
        assert_eq!(std::fs::read(&fetched.blob.path).unwrap(), body);
        hashes.insert(fetched.blob.hash);
    }
    assert_eq!(fetcher.runs(), 1);
    assert_eq!(hashes, BTreeSet::from([hash_hex(&body)]));
    assert_eq!(
        store.flights_in_progress(),
        0,
        "finished flights are removed"
    );
    let again = store.get_or_fetch(&key(1), fetcher.clone()).await.unwrap();
    assert!(again.hit);
    assert_eq!(fetcher.runs(), 1);
    assert_eq!(temp_files(dir.path()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flights_do_not_accumulate_over_distinct_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let tasks: Vec<_> = (0..500)
        .map(|i| {
            let store = store.clone();
            let fetcher = CountingFetcher::new(bytes(i, 64), Duration::ZERO);
            tokio::spawn(async move { store.get_or_fetch(&key(i), fetcher).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(store.flights_in_progress(), 0);
    assert_eq!(store.stats().await.unwrap().index.tracks, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_fetch_reaches_every_waiter_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let mut failing = CountingFetcher::new(bytes(2, 100_000), Duration::from_millis(200));
    failing.fail = Some("source went away".into());
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (store, f) = (store.clone(), failing.clone());
            tokio::spawn(async move { store.get_or_fetch(&key(2), f).await })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("source went away"), "{err}");
    }
    assert_eq!(failing.runs(), 1);
    assert_eq!(temp_files(dir.path()), 0, "no partial file left");
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.index.tracks, stats.index.blobs), (0, 0));
    assert_eq!(store.flights_in_progress(), 0);

    let good = CountingFetcher::new(bytes(2, 100_000), Duration::ZERO);
    let fetched = store.get_or_fetch(&key(2), good.clone()).await.unwrap();
    assert!(!fetched.hit);
    assert_eq!(good.runs(), 1, "the next request retries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_caps_timeouts_and_bad_sources_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.max_fetch_bytes = 1 << 20;
    config.fetch_stall_secs = 1;
    config.fetch_timeout_secs = 2;
    let store = open_store(dir.path(), config.clone()).await;
    let server = LocalHttp::start().await.unwrap();
    server.route("/big", Route::ok(bytes(3, 2 << 20)));
    let mut stall = Route::ok(bytes(4, 100_000)).paced(4, Duration::ZERO);
    stall.stall_after = Some(2);
    server.route("/stall", stall);
    server.route(
        "/slow",
        Route::ok(bytes(5, 100_000)).paced(50, Duration::from_millis(100)),
    );

    let fetch = |path: &str| {
        let url = server.url(path);
        let store = store.clone();
        async move {
            let fetcher = minstrel::fetch::HttpFetcher::new(&url, Duration::from_secs(1))?;
            store
                .get_or_fetch(&TrackKey::from_url(&url).unwrap(), fetcher)
                .await
        }
    };
    assert!(matches!(
        fetch("/big").await,
        Err(StoreError::TooLarge { .. })
    ));
    // The stall detector's error, not the overall timeout's.
    let err = fetch("/stall").await.unwrap_err();
    assert!(err.to_string().contains("no data"), "{err}");
    assert!(matches!(fetch("/slow").await, Err(StoreError::Timeout(_))));
    let err = fetch("/missing").await.unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    assert!(minstrel::fetch::HttpFetcher::new("ftp://x/y", Duration::from_secs(1)).is_err());

    // An in-process fetcher that writes past the cap is stopped by the sink.
    let huge = CountingFetcher::new(bytes(6, 3 << 20), Duration::ZERO);
    assert!(matches!(
        store.get_or_fetch(&key(6), huge).await,
        Err(StoreError::TooLarge { .. })
    ));

    assert_eq!(temp_files(dir.path()), 0);
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.index.tracks, stats.index.blobs), (0, 0));
}
