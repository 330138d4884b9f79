//! Hot reload under load: the plugin file is replaced 50 times, good and broken versions
//! alternating, while calls stream in. No call may fail; each good version's behaviour
//! must be observed; each broken version must be reported while the previous version
//! keeps serving. Also: removal unloads, and the compiled cache serves repeat loads.

#[path = "plugins_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use minstrel::plugins::cache::Origin;
use minstrel::plugins::{CallError, PluginHost};
use minstrel_tests::wait_for;
use support::*;

/// How long a test waits for the watcher to act on a change.
const WAIT: Duration = Duration::from_secs(30);

async fn version(host: &PluginHost) -> Result<String, CallError> {
    host.run_command("probe", &invocation("version", &[]))
        .await
        .map(|reply| reply.content)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_replacements_under_a_steady_call_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let file = install(&dir, "reload_a", "probe");
    let host = host(config(&dir), &tmp.path().join("data"));
    host.load_dir().await;
    assert_eq!(version(&host).await.unwrap(), "a");
    let watch = minstrel::plugins::watcher::spawn(host.clone()).unwrap();

    let good_a = std::fs::read(component("reload_a")).unwrap();
    let good_b = std::fs::read(component("reload_b")).unwrap();
    let broken = good_b[..good_b.len() / 2].to_vec();

    // Four callers, each calling as fast as it can, recording anything that fails.
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let mut callers = Vec::new();
    for _ in 0..4 {
        let (host, stop, calls) = (host.clone(), stop.clone(), calls.clone());
        callers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match version(&host).await {
                    Ok(v) if v == "a" || v == "b" => {}
                    other => failures.push(format!("{other:?}")),
                }
                calls.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
            failures
        }));
    }

    let mut expected = "a";
    // The callers' count at each replacement: it must grow through every one.
    let mut counts = vec![calls.load(Ordering::Relaxed)];
    for i in 0..50 {
        if i % 2 == 0 {
            // A good version, the other one than what is serving.
            let (bytes, next) = if expected == "a" {
                (&good_b, "b")
            } else {
                (&good_a, "a")
            };
            std::fs::write(&file, bytes).unwrap();
            // `fs::write` is not atomic: the watcher may first see a partial file (a
            // failed load) and then the whole one, so wait for the state to settle.
            let serving = async || {
                version(&host).await.ok().as_deref() == Some(next)
                    && host.status("probe").unwrap().state == "loaded"
            };
            assert!(
                wait_for(WAIT, serving).await,
                "timed out waiting for version {next} (replacement {i})"
            );
            expected = next;
        } else {
            let before = host.status("probe").unwrap().load_attempts;
            std::fs::write(&file, &broken).unwrap();
            let reported = async || {
                let status = host.status("probe").unwrap();
                status.load_attempts > before && status.last_error.is_some()
            };
            assert!(
                wait_for(WAIT, reported).await,
                "timed out waiting for broken file reported (replacement {i})"
            );
            let status = host.status("probe").unwrap();
            assert_eq!(status.state, "degraded");
            assert!(status.last_error.unwrap().contains("malformed"));
            // The previous good version keeps serving.
            assert_eq!(version(&host).await.unwrap(), expected);
        }
        counts.push(calls.load(Ordering::Relaxed));
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        let failures = caller.await.unwrap();
        assert!(
            failures.is_empty(),
            "calls failed during reloads: {failures:?}"
        );
    }
    let idle: Vec<usize> = (1..counts.len())
        .filter(|&i| counts[i] == counts[i - 1])
        .map(|i| i - 1)
        .collect();
    assert!(
        idle.is_empty(),
        "no call during replacements {idle:?} (counts {counts:?})"
    );
    watch.shutdown().await;
}

/// A load reads the file, and reading it is no change: one write, one load, for a good
/// file and for a broken one (whose failed load once set off the next, forever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_write_is_one_load() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let host = host(config(&dir), &tmp.path().join("data"));
    let watch = minstrel::plugins::watcher::spawn(host.clone()).unwrap();
    std::fs::write(dir.join("broken.wasm"), b"not a component").unwrap();
    std::fs::copy(component("reload_a"), dir.join("probe.wasm")).unwrap();
    let attempts = |name: &str| host.status(name).map_or(0, |s| s.load_attempts);
    assert!(
        wait_for(WAIT, async || attempts("broken") >= 1
            && attempts("probe") >= 1)
        .await,
        "the watcher loaded neither file"
    );
    // Twenty debounce periods: a load that sets off another would have run again.
    tokio::time::sleep(host.config().debounce() * 20).await;
    assert_eq!(attempts("broken"), 1, "{:?}", host.status("broken"));
    assert_eq!(attempts("probe"), 1, "{:?}", host.status("probe"));
    watch.shutdown().await;
}

/// A file closed after writing, or renamed into place, is whole: it loads without
/// waiting out the debounce, here longer than the test's deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_write_loads_without_waiting_for_the_debounce() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let file = install(&dir, "reload_a", "probe");
    let config = minstrel::plugins::PluginsConfig {
        debounce_ms: 10 * WAIT.as_millis() as u64,
        ..config(&dir)
    };
    let host = host(config, &tmp.path().join("data"));
    host.load_dir().await;
    let watch = minstrel::plugins::watcher::spawn(host.clone()).unwrap();

    std::fs::write(&file, std::fs::read(component("reload_b")).unwrap()).unwrap();
    let serving = async |v: &str| version(&host).await.ok().as_deref() == Some(v);
    assert!(
        wait_for(WAIT, async || serving("b").await).await,
        "a closed write waited for the debounce"
    );
    let temp = dir.join("probe.wasm.part");
    std::fs::copy(component("reload_a"), &temp).unwrap();
    std::fs::rename(&temp, &file).unwrap();
    assert!(
        wait_for(WAIT, async || serving("a").await).await,
        "a rename into place waited for the debounce"
    );
    watch.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_file_unloads_and_adding_one_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let host = host(config(&dir), &tmp.path().join("data"));
    host.load_dir().await;
    let watch = minstrel::plugins::watcher::spawn(host.clone()).unwrap();
    assert!(matches!(version(&host).await, Err(CallError::NotLoaded(_))));

    // Written to a temp name and renamed into place, as a careful deployer does.
    let temp = dir.join("probe.wasm.part");
    std::fs::copy(component("reload_b"), &temp).unwrap();
    std::fs::rename(&temp, dir.join("probe.wasm")).unwrap();
    assert!(
        wait_for(WAIT, async || version(&host).await.is_ok()).await,
        "timed out waiting for the new plugin"
    );
    assert_eq!(version(&host).await.unwrap(), "b");

    std::fs::remove_file(dir.join("probe.wasm")).unwrap();
    let unloaded = async || matches!(version(&host).await, Err(CallError::NotLoaded(_)));
    assert!(
        wait_for(WAIT, unloaded).await,
        "timed out waiting for the unload"
    );
    assert!(host.status("probe").is_none());
    watch.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_cache_serves_repeat_loads_and_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let data = tmp.path().join("data");
    let file = install(&dir, "hello_command", "hello");

    let first = host(config(&dir), &data);
    let report = first.load_file(&file).await.unwrap();
    assert_eq!(report.origin, Origin::Compiled);
    let again = first.load_file(&file).await.unwrap();
    assert_eq!(again.origin, Origin::CacheHit);

    // A new runtime (a restart) on the same data folder.
    drop(first);
    let second = host(config(&dir), &data);
    let report = second.load_file(&file).await.unwrap();
    assert_eq!(report.origin, Origin::CacheHit);
    let reply = second
        .run_command("hello", &invocation("hello", &[]))
        .await
        .unwrap();
    assert_eq!(reply.content, "Hello, ada!");

    // A corrupt artifact is discarded and recompiled, not trusted.
    for entry in std::fs::read_dir(data.join("plugin-cache")).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let third = host(config(&dir), &data);
    let report = third.load_file(&file).await.unwrap();
    assert_eq!(report.origin, Origin::Compiled);
    assert!(
        third
            .run_command("hello", &invocation("hello", &[]))
            .await
            .is_ok()
    );

    // With the cache off, nothing is written.
    let off = tempfile::tempdir().unwrap();
    let mut config = config(&dir);
    config.compiled_cache = false;
    let uncached = host(config, off.path());
    assert_eq!(
        uncached.load_file(&file).await.unwrap().origin,
        Origin::Compiled
    );
    assert_eq!(
        uncached.load_file(&file).await.unwrap().origin,
        Origin::Compiled
    );
    assert!(!off.path().join("plugin-cache").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_loads_the_folder_and_watches_only_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    install(&dir, "reload_a", "probe");
    let mut config = config(&dir);
    config.hot_reload = false;
    let (host, watch) = minstrel::plugins::watcher::start(
        config.clone(),
        tmp.path(),
        std::sync::Arc::new(minstrel::plugins::NoServices),
    )
    .await
    .unwrap();
    assert!(watch.is_none());
    assert_eq!(version(&host).await.unwrap(), "a");

    config.hot_reload = true;
    let (host, watch) = minstrel::plugins::watcher::start(
        config,
        tmp.path(),
        std::sync::Arc::new(minstrel::plugins::NoServices),
    )
    .await
    .unwrap();
    assert!(watch.is_some());
    std::fs::copy(component("reload_b"), dir.join("probe.wasm")).unwrap();
    assert!(
        wait_for(WAIT, async || version(&host).await.ok().as_deref()
            == Some("b"))
        .await,
        "timed out waiting for version b"
    );
}
