//! The cache store's guarantees, tested the way they are used: many tasks, many
//! `minstrel` processes, kill -9, real SQLite files and a real HTTP server on loopback.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use minstrel::localhttp::{LocalHttp, Route};
use minstrel::store::{Store, StoreError, TrackKey};
use minstrel_tests::*;

fn key(n: u64) -> TrackKey {
    TrackKey::new("test", format!("track-{n}"))
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_cause_one_download() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalHttp::start().await.unwrap();
    let body = bytes(7, 512 * 1024);
    server.route(
        "/song.opus",
        Route::ok(body.clone()).paced(20, Duration::from_millis(50)),
    );
    let url = server.url("/song.opus");
    let children: Vec<_> = (0..8)
        .map(|_| {
            minstrel(dir.path())
                .args(["cache", "fetch", &url, "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut hashes = BTreeSet::new();
    let mut downloads = 0;
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        check(&out);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for field in ["path", "hash", "size", "hit"] {
            assert!(v.get(field).is_some(), "missing {field} in {v}");
        }
        hashes.insert(v["hash"].as_str().unwrap().to_string());
        downloads += usize::from(!v["hit"].as_bool().unwrap());
        assert_eq!(std::fs::read(v["path"].as_str().unwrap()).unwrap(), body);
    }
    assert_eq!(server.hits("/song.opus"), 1, "exactly one HTTP request");
    assert_eq!(hashes, BTreeSet::from([hash_hex(&body)]));
    assert_eq!(downloads, 1);
}

#[test]
fn processes_starting_together_on_an_empty_data_dir_all_come_up() {
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let children: Vec<_> = (0..8)
            .map(|_| {
                minstrel(dir.path())
                    .args(["cache", "stats", "--json"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            check(&out);
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["tracks"], 0);
        }
    }
}

/// Whether process `pid` is blocked on one of the store's key locks (the kernel lists
/// blocked `flock` requests in /proc/locks, marked `->`, with the file's inode).
fn waits_for_a_key_lock(data_dir: &Path, pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let key_locks: Vec<u64> = std::fs::read_dir(data_dir.join("locks"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("key-"))
        .filter_map(|e| e.metadata().ok().map(|m| m.ino()))
        .collect();
    let locks = std::fs::read_to_string("/proc/locks").expect("/proc/locks");
    locks.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = fields.iter().position(|f| *f == "->") else {
            return false;
        };
        let (Some(holder), Some(file)) = (fields.get(at + 4), fields.get(at + 5)) else {
            return false;
        };
        let inode = file.rsplit(':').next().and_then(|i| i.parse::<u64>().ok());
        *holder == pid.to_string() && inode.is_some_and(|i| key_locks.contains(&i))
    })
}

/// Waits until `cond` holds, up to `limit`.
async fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < limit, "condition not met in {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_takes_over_when_the_downloader_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalHttp::start().await.unwrap();
    let body = bytes(8, 400 * 1024);
    server.route(
        "/slow.opus",
        Route::ok(body.clone()).paced(40, Duration::from_millis(75)),
    );
    let url = server.url("/slow.opus");
    let spawn = || {
        minstrel(dir.path())
            .env("MINSTREL_STORE__TEMP_GRACE_SECS", "0")
            .args(["cache", "fetch", &url, "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = spawn();
    wait_for(Duration::from_secs(20), || server.hits("/slow.opus") == 1).await;
    let second = spawn();
    let waiter = second.id();
    wait_for(Duration::from_secs(20), || {
        waits_for_a_key_lock(dir.path(), waiter)
    })
    .await;
    assert_eq!(
        server.hits("/slow.opus"),
        1,
        "the second process waits for the first"
    );
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let out = tokio::task::spawn_blocking(move || second.wait_with_output().unwrap())
        .await
        .unwrap();
    check(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hash"], hash_hex(&body));
    assert_eq!(v["hit"], false);
    assert_eq!(server.hits("/slow.opus"), 2);

    // The killed writer's temp file is debris that verify reports and repair sweeps.
    let report = json_output(minstrel(dir.path()).args(["cache", "verify", "--json", "--repair"]));
    assert_eq!(report["temp_files"], 1, "{report}");
    let report = json_output(minstrel(dir.path()).args(["cache", "verify", "--deep", "--json"]));
    assert_eq!(report["temp_files"], 0, "{report}");
    assert_eq!(report["corrupt"], 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_and_repairs_damage() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let mut blobs = Vec::new();
    for i in 0..3 {
        let f = CountingFetcher::new(bytes(100 + i, 10_000), Duration::ZERO);
        blobs.push(store.get_or_fetch(&key(100 + i), f).await.unwrap().blob);
    }
    drop(store);
    let clean = minstrel(dir.path())
        .args(["cache", "verify", "--deep", "--json"])
        .output()
        .unwrap();
    check(&clean);

    // Corrupt one blob (same size, so only --deep sees it), delete another, add strays.
    let mut data = std::fs::read(&blobs[0].path).unwrap();
    data[10] ^= 0xff;
    std::fs::write(&blobs[0].path, data).unwrap();
    std::fs::remove_file(&blobs[1].path).unwrap();
    let orphan = bytes(999, 100);
    let orphan_hash = hash_hex(&orphan);
    let fan = dir.path().join("blobs").join(&orphan_hash[..2]);
    std::fs::create_dir_all(&fan).unwrap();
    std::fs::write(fan.join(&orphan_hash), orphan).unwrap();
    std::fs::write(dir.path().join("blobs/not-a-blob"), b"x").unwrap();
    std::fs::write(dir.path().join("tmp/dead.part"), b"partial").unwrap();

    let shallow = minstrel(dir.path())
        .env("MINSTREL_STORE__TEMP_GRACE_SECS", "0")
        .args(["cache", "verify", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        shallow.status.code(),
        Some(2),
        "problems found means exit status 2"
    );
    let v: serde_json::Value = serde_json::from_slice(&shallow.stdout).unwrap();
    assert_eq!(
        (v["corrupt"].as_u64(), v["missing_blobs"].as_u64()),
        (Some(0), Some(1)),
        "{v}"
    );
    assert_eq!(
        (v["orphan_files"].as_u64(), v["temp_files"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );

    let mut cmd = minstrel(dir.path());
    cmd.env("MINSTREL_STORE__TEMP_GRACE_SECS", "0");
    let deep = json_output(cmd.args(["cache", "verify", "--deep", "--repair", "--json"]));
    assert_eq!(deep["corrupt"], 1, "{deep}");
    let after = json_output(minstrel(dir.path()).args(["cache", "verify", "--deep", "--json"]));
    for field in ["temp_files", "orphan_files", "missing_blobs", "corrupt"] {
        assert_eq!(after[field], 0, "{field}: {after}");
    }
    assert_eq!(after["checked_blobs"], 1, "only the intact blob is left");
    assert!(blobs[2].path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_spares_writers_that_are_still_running() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalHttp::start().await.unwrap();
    let body = bytes(9, 300 * 1024);
    server.route(
        "/w.opus",
        Route::ok(body.clone()).paced(30, Duration::from_millis(80)),
    );
    let url = server.url("/w.opus");
    let writer = minstrel(dir.path())
        .args(["cache", "fetch", &url, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(20), || temp_files(dir.path()) == 1).await;
    // Repair with no grace at all, repeatedly, while the writer is mid-download.
    for _ in 0..5 {
        let report = json_output(
            minstrel(dir.path())
                .env("MINSTREL_STORE__TEMP_GRACE_SECS", "0")
                .args(["cache", "verify", "--repair", "--json"]),
        );
        assert_eq!(
            report["temp_files"], 0,
            "a live writer's temp file is not debris"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let out = tokio::task::spawn_blocking(move || writer.wait_with_output().unwrap())
        .await
        .unwrap();
    check(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hash"], hash_hex(&body));
    assert_eq!(std::fs::read(v["path"].as_str().unwrap()).unwrap(), body);
}

/// Child process roles for the multi-process tests below.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn child() {
    let Some(role) = child_role() else { return };
    let dir = std::env::var("DATA_DIR").unwrap();
    let dir = Path::new(&dir);
    let mut config = test_config();
    if let Ok(ttl) = std::env::var("CLAIM_TTL") {
        config.claim_ttl_secs = ttl.parse().unwrap();
    }
    let store = open_store(dir, config).await;
    match role.as_str() {
        "claims" | "hits" | "meta" | "kv" => {
            let (barrier, parties) = together_from_env();
            rendezvous(&barrier, parties).await;
            let (results, span) = Span::of(work_together(&store, &role)).await;
            for result in results {
                println!("RESULT {result}");
            }
            println!("{}", span.line());
        }
        "lease" => {
            let blob = store.lookup(&key(0)).await.unwrap().expect("cached");
            let _lease = store.lease(&blob).await.unwrap();
            println!("RESULT leased");
            let stop = dir.join("stop-lease");
            while !stop.exists() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        "churn" => {
            // Upserts, hits and claims in a loop until killed.
            let mut i = 0u64;
            loop {
                i += 1;
                let f = CountingFetcher::new(bytes(i % 7, 2048), Duration::ZERO);
                store.get_or_fetch(&key(i % 7), f).await.unwrap();
                store.claim("churn", &i.to_string()).await.unwrap();
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

/// The part of a multi-process test each child does at the same time as the others;
/// returns its results.
async fn work_together(store: &Store, role: &str) -> Vec<String> {
    let n = || -> u64 { std::env::var("N").unwrap().parse().unwrap() };
    match role {
        "claims" => vec![claim_all(store, n(), 8).await.to_string()],
        "hits" => {
            let tasks: Vec<_> = (0..n())
                .map(|_| {
                    let store = store.clone();
                    tokio::spawn(async move { store.lookup(&key(0)).await.unwrap().is_some() })
                })
                .collect();
            for t in tasks {
                assert!(t.await.unwrap());
            }
            vec!["done".into()]
        }
        "meta" => {
            let counter = std::env::var("COUNTER").unwrap();
            let tasks: Vec<_> = (0..20)
                .map(|_| {
                    let (store, counter) = (store.clone(), counter.clone());
                    tokio::spawn(async move {
                        store
                            .cached_meta("catalogue", Duration::from_secs(60), move || async move {
                                use std::io::Write;
                                let mut f = std::fs::OpenOptions::new()
                                    .append(true)
                                    .create(true)
                                    .open(counter)
                                    .unwrap();
                                f.write_all(b"refresh\n").unwrap();
                                // Long enough that the other processes ask while it runs.
                                tokio::time::sleep(Duration::from_secs(1)).await;
                                Ok(b"the catalogue".to_vec())
                            })
                            .await
                            .unwrap()
                    })
                })
                .collect();
            for t in tasks {
                assert_eq!(t.await.unwrap(), b"the catalogue");
            }
            vec!["done".into()]
        }
        "kv" => kv_fill(store, &std::process::id().to_string()).await,
        other => panic!("unknown child role {other}"),
    }
}

/// Where the processes of a multi-process test meet, and how many they are: the
/// environment of [`spawn_together`]'s children.
fn together_from_env() -> (std::path::PathBuf, usize) {
    let barrier = std::env::var("BARRIER").unwrap().into();
    (barrier, std::env::var("PARTIES").unwrap().parse().unwrap())
}

/// `children` child processes in `role` on `dir`, which start their work together with
/// each other and with the parent when it calls [`rendezvous`] on the returned folder
/// with `parties` (the children, plus one if the parent works too).
fn spawn_together(
    dir: &Path,
    role: &str,
    children: usize,
    parties: usize,
    envs: &[(&str, String)],
) -> (Vec<std::process::Child>, std::path::PathBuf) {
    let barrier = dir.join("barrier");
    let mut all = vec![
        data_dir_env(dir),
        ("BARRIER", barrier.display().to_string()),
        ("PARTIES", parties.to_string()),
    ];
    all.extend(envs.iter().cloned());
    let spawned = (0..children)
        .map(|_| spawn_child("child", role, &all))
        .collect();
    (spawned, barrier)
}

/// Each child's results, after checking that all `spans` (the parent's, if it worked)
/// and the children's overlap.
async fn results_together(
    children: Vec<std::process::Child>,
    mut spans: Vec<Span>,
) -> Vec<Vec<String>> {
    let mut results = Vec::new();
    for child in children {
        let (out, span) = tokio::task::spawn_blocking(move || child_results_and_span(child))
            .await
            .unwrap();
        results.push(out);
        spans.push(span);
    }
    assert_overlap(&spans);
    results
}

async fn claim_all(store: &Store, n: u64, tasks: u64) -> u64 {
    let won = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, won) = (store.clone(), won.clone());
            tokio::spawn(async move {
                for id in 0..n {
                    if store.claim("message", &id.to_string()).await.unwrap() {
                        won.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    won.load(Ordering::SeqCst) as u64
}

/// Plugin `poll` adds 8 x 50 new kv keys (named after `who`) under a quota of
/// [`KV_QUOTA`], from 8 tasks at once; returns the keys that were stored.
async fn kv_fill(store: &Store, who: &str) -> Vec<String> {
    let handles: Vec<_> = (0..8)
        .map(|task| {
            let (store, who) = (store.clone(), who.to_string());
            tokio::spawn(async move {
                let mut stored = Vec::new();
                for i in 0..50 {
                    let key = format!("{who}-{task}-{i}");
                    let now = minstrel::store::now_ms();
                    let index = store.index();
                    if index
                        .kv_set("poll", &key, b"vote", None, now, KV_QUOTA)
                        .await
                        .unwrap()
                    {
                        stored.push(key);
                    }
                }
                stored
            })
        })
        .collect();
    let mut stored = Vec::new();
    for h in handles {
        stored.extend(h.await.unwrap());
    }
    stored
}

const KV_QUOTA: u32 = 100;

fn data_dir_env(dir: &Path) -> (&'static str, String) {
    ("DATA_DIR", dir.display().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_are_won_exactly_once_across_tasks_and_processes() {
    let dir = tempfile::tempdir().unwrap();
    let n = 500;
    let (children, barrier) = spawn_together(dir.path(), "claims", 4, 5, &[("N", n.to_string())]);
    let store = open_store(dir.path(), test_config()).await;
    rendezvous(&barrier, 5).await;
    let (mut won, span) = Span::of(claim_all(&store, n, 8)).await;
    for results in results_together(children, vec![span]).await {
        won += results[0].parse::<u64>().unwrap();
    }
    assert_eq!(
        won, n,
        "each of {n} events claimed exactly once by 5 processes x 8 tasks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_expire() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.claim_ttl_secs = 1;
    let store = open_store(dir.path(), config).await;
    assert!(store.claim("interaction", "1").await.unwrap());
    assert!(!store.claim("interaction", "1").await.unwrap());
    assert!(
        store.claim("message", "1").await.unwrap(),
        "kinds are separate"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(store.claim("interaction", "1").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_counts_are_never_lost_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let f = CountingFetcher::new(bytes(0, 1000), Duration::ZERO);
    store.get_or_fetch(&key(0), f).await.unwrap();
    // Enough lookups that the processes' runs overlap by a wide margin.
    let per_child = 1000;
    let (children, barrier) =
        spawn_together(dir.path(), "hits", 4, 5, &[("N", per_child.to_string())]);
    rendezvous(&barrier, 5).await;
    let ((), span) = Span::of(async {
        for _ in 0..per_child {
            store.lookup(&key(0)).await.unwrap().unwrap();
        }
    })
    .await;
    results_together(children, vec![span]).await;
    assert_eq!(store.stats().await.unwrap().index.hits, 5 * per_child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_cache_refreshes_once_and_serves_stale_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let call = |value: &'static str, ttl_ms: u64, fail: bool| {
        let (store, runs) = (store.clone(), runs.clone());
        async move {
            store
                .cached_meta(
                    "search:q",
                    Duration::from_millis(ttl_ms),
                    move || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        if fail {
                            Err("provider down".to_string())
                        } else {
                            Ok(value.as_bytes().to_vec())
                        }
                    },
                )
                .await
        }
    };
    let tasks: Vec<_> = (0..50)
        .map(|_| tokio::spawn(call("v1", 300, false)))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), b"v1");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(
        call("v2", 300, false).await.unwrap(),
        b"v1",
        "fresh value served"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        call("v2", 300, true).await.unwrap(),
        b"v1",
        "stale value when refresh fails"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(call("v2", 300, false).await.unwrap(), b"v2");
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    let err = store
        .cached_meta("other", Duration::from_secs(1), || async {
            Err("down".to_string())
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("down"));
    assert_eq!(store.flights_in_progress(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_cache_is_refreshed_by_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("refreshes");
    let counter_env = ("COUNTER", counter.display().to_string());
    let (children, _) = spawn_together(dir.path(), "meta", 4, 4, &[counter_env]);
    results_together(children, Vec::new()).await;
    let refreshes = std::fs::read_to_string(&counter).unwrap().lines().count();
    assert_eq!(refreshes, 1, "4 processes x 20 tasks, one refresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eviction_under_pressure_never_removes_a_leased_blob() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.max_cache_bytes = 500 * 1024; // about five of the 100 KiB blobs below
    let store = open_store(dir.path(), config).await;

    // Another process leases track 0 and holds it.
    store
        .get_or_fetch(
            &key(0),
            CountingFetcher::new(bytes(0, 100 * 1024), Duration::ZERO),
        )
        .await
        .unwrap();
    let mut holder = spawn_child("child", "lease", &[data_dir_env(dir.path())]);
    {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(holder.stdout.take().unwrap()).lines();
        let leased = lines.find_map(|l| result_of(&l.unwrap()));
        assert_eq!(leased.as_deref(), Some("leased"));
    }
    let leased_elsewhere = store.lookup(&key(0)).await.unwrap().unwrap();

    let violations = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for worker in 0..8u64 {
        let (store, violations) = (store.clone(), violations.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..25u64 {
                let n = 1 + (worker * 31 + round * 7) % 40;
                let f = CountingFetcher::new(bytes(n, 100 * 1024), Duration::ZERO);
                let (fetched, lease) = store.acquire(&key(n), f).await.unwrap();
                for _ in 0..3 {
                    match std::fs::read(&fetched.blob.path) {
                        Ok(data) if hash_hex(&data) == fetched.blob.hash => {}
                        _ => {
                            violations.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                lease.release().await.unwrap();
            }
        }));
    }
    for _ in 0..2 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..60 {
                store.evict().await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        violations.load(Ordering::SeqCst),
        0,
        "a leased blob went missing"
    );
    assert!(
        leased_elsewhere.path.exists(),
        "blob leased by another process survived"
    );
    store.evict().await.unwrap();
    let stats = store.stats().await.unwrap();
    assert!(stats.index.bytes <= 500 * 1024, "{stats:?}");
    assert!(leased_elsewhere.path.exists());

    // The holder dies without releasing; its lease lapses and eviction may proceed.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let mut config = test_config();
    config.max_cache_bytes = 0;
    let strict = open_store(dir.path(), config).await;
    strict.evict().await.unwrap();
    assert!(
        leased_elsewhere.path.exists(),
        "lease still live until it expires"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    strict.evict().await.unwrap();
    assert!(
        !leased_elsewhere.path.exists(),
        "a crashed holder's lease lapses"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scratch_sweep_spares_active_guilds_and_cached_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let blob = store
        .get_or_fetch(
            &key(1),
            CountingFetcher::new(bytes(1, 1000), Duration::ZERO),
        )
        .await
        .unwrap()
        .blob;
    let active = store.scratch(1).await.unwrap();
    std::fs::write(active.path().join("work.tmp"), b"x").unwrap();
    let idle = store.scratch(2).await.unwrap();
    std::fs::write(idle.path().join("old.tmp"), b"x").unwrap();
    let idle_path = idle.path().to_path_buf();
    drop(idle);
    assert_eq!(
        store.sweep_scratch(Duration::from_secs(60)).await.unwrap(),
        0,
        "not idle long enough"
    );
    assert_eq!(store.sweep_scratch(Duration::ZERO).await.unwrap(), 1);
    assert!(!idle_path.exists());
    assert!(active.path().join("work.tmp").exists());
    assert!(blob.path.exists());
    drop(active);
    assert_eq!(store.sweep_scratch(Duration::ZERO).await.unwrap(), 1);
}

#[test]
fn cli_reports_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = minstrel(dir.path())
        .args(["cache", "fetch", "not a url"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad URL"), "{err}");
    let out = minstrel(dir.path())
        .args(["cache", "fetch", "http://127.0.0.1:9/x.opus"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fetching http://127.0.0.1:9/x.opus"), "{err}");
}

/// Small xorshift PRNG, seeded per run; the seed is printed so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_loop_leaves_a_consistent_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalHttp::start().await.unwrap();
    let bodies: Vec<Vec<u8>> = (0..6)
        .map(|i| bytes(500 + i, 200 * 1024 + i as usize))
        .collect();
    for (i, body) in bodies.iter().enumerate() {
        server.route(
            &format!("/k{i}"),
            Route::ok(body.clone()).paced(10, Duration::from_millis(20)),
        );
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("kill loop seed {seed}");
    let mut rng = Rng(seed);
    let rounds = 25;
    for _ in 0..rounds {
        let mut victims: Vec<std::process::Child> = (0..4)
            .map(|_| {
                let i = rng.below(6);
                minstrel(dir.path())
                    .args(["cache", "fetch", &server.url(&format!("/k{i}")), "--json"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        victims.push(spawn_child("child", "churn", &[data_dir_env(dir.path())]));
        tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
        for v in &mut victims {
            let _ = v.kill();
        }
        for v in &mut victims {
            v.wait().unwrap();
        }
        // Whatever is visible now must be complete: fetch one track to the end.
        let i = rng.below(6) as usize;
        let v = json_output(minstrel(dir.path()).args([
            "cache",
            "fetch",
            &server.url(&format!("/k{i}")),
            "--json",
        ]));
        assert_eq!(v["hash"], hash_hex(&bodies[i]), "{v}");
        assert_eq!(
            std::fs::read(v["path"].as_str().unwrap()).unwrap(),
            bodies[i]
        );
    }
    // Every indexed blob is whole; only debris of killed writers may remain.
    let out = minstrel(dir.path())
        .args(["cache", "verify", "--deep", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["corrupt"], 0, "{report}");
    assert_eq!(report["missing_blobs"], 0, "{report}");
    let repaired = json_output(
        minstrel(dir.path())
            .env("MINSTREL_STORE__TEMP_GRACE_SECS", "0")
            .args(["cache", "verify", "--deep", "--repair", "--json"]),
    );
    println!("debris after {rounds} rounds of kill -9: {repaired}");
    let clean = json_output(minstrel(dir.path()).args(["cache", "verify", "--deep", "--json"]));
    for field in ["temp_files", "orphan_files", "missing_blobs", "corrupt"] {
        assert_eq!(clean[field], 0, "{field}: {clean}");
    }
    for (i, body) in bodies.iter().enumerate() {
        let v = json_output(minstrel(dir.path()).args([
            "cache",
            "fetch",
            &server.url(&format!("/k{i}")),
            "--json",
        ]));
        assert_eq!(std::fs::read(v["path"].as_str().unwrap()).unwrap(), *body);
    }
}

#[test]
fn the_demo_runs_end_to_end_twice() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = minstrel(dir.path()).arg("demo").output().unwrap();
        check(&out);
        let text = String::from_utf8_lossy(&out.stdout);
        for expected in [
            "1 download(s) from the server, 1 distinct blob(s)",
            "cache hit = true",
            "leased blob still present: true",
            "first true, second false",
            "0 problems",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_is_renewed_past_its_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.lease_ttl_secs = 1;
    let store = open_store(dir.path(), config.clone()).await;
    let blob = store
        .get_or_fetch(
            &key(1),
            CountingFetcher::new(bytes(1, 1000), Duration::ZERO),
        )
        .await
        .unwrap()
        .blob;
    let lease = store.lease(&blob).await.unwrap();
    config.max_cache_bytes = 0;
    let evictor = open_store(dir.path(), config).await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(evictor.evict().await.unwrap().blobs, 0);
        assert!(
            store.is_leased(&blob.hash).await.unwrap(),
            "renewed before expiry"
        );
    }
    lease.release().await.unwrap();
    assert_eq!(evictor.evict().await.unwrap().blobs, 1);
    assert!(!blob.path.exists());
    assert!(matches!(
        store.lease(&blob).await,
        Err(StoreError::Evicted(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugins_kv_quota_holds_across_tasks_and_processes() {
    let dir = tempfile::tempdir().unwrap();
    let (children, barrier) = spawn_together(dir.path(), "kv", 4, 5, &[]);
    let store = open_store(dir.path(), test_config()).await;
    rendezvous(&barrier, 5).await;
    let (mut stored, span) = Span::of(kv_fill(&store, "parent")).await;
    for keys in results_together(children, vec![span]).await {
        stored.extend(keys);
    }
    // 2,000 new keys from 5 processes x 8 tasks: exactly the quota got in, every key
    // reported stored is there, and the next new key is refused.
    assert_eq!(stored.len(), KV_QUOTA as usize, "{stored:?}");
    let now = minstrel::store::now_ms();
    let index = store.index();
    for key in &stored {
        let value = index.kv_get("poll", key, now).await.unwrap();
        assert_eq!(value.as_deref(), Some(&b"vote"[..]), "{key}");
    }
    assert!(
        !index
            .kv_set("poll", "one more", b"v", None, now, KV_QUOTA)
            .await
            .unwrap()
    );
    // Replacing a key is not a new entry; the quota is per plugin.
    let first = &stored[0];
    assert!(
        index
            .kv_set("poll", first, b"again", None, now, KV_QUOTA)
            .await
            .unwrap()
    );
    assert!(
        index
            .kv_set("other", "k", b"v", None, now, 1)
            .await
            .unwrap()
    );
}
