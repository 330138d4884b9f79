//! The host's media service with the real yt-dlp and real audio (made by ffmpeg),
//! served from the loopback HTTP server: yt-dlp's generic extractor handles a direct
//! file URL as it would a video page, so no internet is needed. Directly, through the
//! plugin runtime (the echo source's `media:` queries), and into the store.

#[path = "sources_support/mod.rs"]
mod support;

use std::sync::Arc;

use minstrel::config::MediaConfig;
use minstrel::fetch::PluginFetch;
use minstrel::media::{Media, MediaError, SearchSite};
use minstrel::services::Services;
use minstrel::store::StoreError;
use minstrel_local::http::{LocalHttp, Route};
use minstrel_tests::{open_store, temp_files, test_config};
use support::*;

async fn served(route: Route) -> (LocalHttp, String) {
    let server = LocalHttp::start().await.unwrap();
    server.route("/song.ogg", route);
    let url = server.url("/song.ogg");
    (server, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_and_download_a_served_file() {
    let audio = ogg_opus(2);
    let (server, url) = served(Route::ok(audio.clone()).typed("audio/ogg")).await;
    let media = Media::new(media_config());

    let info = media.probe(&url).await.unwrap();
    assert_eq!(info.title, "song");
    assert_eq!(info.page_url, url);
    assert!(info.entries.is_empty());

    let sink = Collect::default();
    let written = media.download_audio(&url, &mut sink.clone()).await.unwrap();
    assert_eq!(written, audio.len() as u64);
    assert_eq!(
        sink.bytes(),
        audio,
        "the exact bytes, streamed through stdout"
    );
    assert!(server.hits("/song.ogg") >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_are_refused_before_yt_dlp_runs() {
    // A yt-dlp that does not exist: if any of these reached it, the error would say so.
    let media = Media::new(MediaConfig {
        yt_dlp: "/nonexistent/yt-dlp".into(),
        ..media_config()
    });
    for bad in [
        "-J",
        "--exec=touch /tmp/pwned",
        "-https://example.org/a.ogg",
        "ftp://example.org/a.ogg",
        "file:///etc/passwd",
        "ytsearch1:rick",
        "https://example.org/a b.ogg",
        "",
    ] {
        for result in [
            media.probe(bad).await.map(drop),
            media
                .download_audio(bad, &mut Collect::default())
                .await
                .map(drop),
        ] {
            match result {
                Err(MediaError::BadUrl(_)) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
    let long = format!("https://example.org/{}", "a".repeat(3000));
    assert!(matches!(
        media.probe(&long).await,
        Err(MediaError::BadUrl(m)) if m.contains("longer than")
    ));
    // A search term that looks like an option is only ever a search term; an empty
    // one is refused.
    assert!(matches!(
        media.search(SearchSite::Youtube, "  ", 5).await,
        Err(MediaError::BadQuery(_))
    ));
    // A good URL does reach the (missing) program, and says so clearly.
    let error = media.probe("https://example.org/a.ogg").await.unwrap_err();
    assert_eq!(
        error,
        MediaError::NotInstalled("/nonexistent/yt-dlp".into())
    );
    assert!(error.to_string().contains("scripts/setup.sh"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_is_refused_unless_allowed() {
    let (server, url) = served(Route::ok(ogg_opus(1)).typed("audio/ogg")).await;
    let media = Media::new(MediaConfig {
        allow_private_addresses: false,
        ..media_config()
    });
    let error = media.probe(&url).await.unwrap_err();
    assert!(matches!(error, MediaError::Refused(_)), "{error}");
    let error = media
        .download_audio(&url, &mut Collect::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("non-public address"), "{error}");
    assert_eq!(server.hits("/song.ogg"), 0, "nothing was requested");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_clear_errors() {
    let audio = ogg_opus(2);
    let server = LocalHttp::start().await.unwrap();
    server.route("/song.ogg", Route::ok(audio.clone()).typed("audio/ogg"));
    let mut stalled = Route::ok(audio.clone())
        .typed("audio/ogg")
        .paced(8, Default::default());
    stalled.stall_after = Some(2);
    server.route("/stalled.ogg", stalled);

    // Larger than the limit: stopped, and said so.
    let small = Media::new(MediaConfig {
        max_download_bytes: 1_000,
        ..media_config()
    });
    let error = small
        .download_audio(&server.url("/song.ogg"), &mut Collect::default())
        .await
        .unwrap_err();
    assert_eq!(error, MediaError::TooLarge { limit: 1_000 });

    let media = Media::new(media_config());
    // Not there: yt-dlp's own reason.
    let error = media.probe(&server.url("/missing.ogg")).await.unwrap_err();
    assert!(
        matches!(&error, MediaError::Failed(m) if m.contains("404")),
        "{error}"
    );
    let error = media
        .download_audio(&server.url("/missing.ogg"), &mut Collect::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("404"), "{error}");

    // Nobody listening.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}/song.ogg")
    };
    let error = media
        .download_audio(&dead, &mut Collect::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, MediaError::Failed(m) if m.to_lowercase().contains("refused")),
        "{error}"
    );

    // Headers and a little data, then silence: the stall limit ends it.
    let error = media
        .download_audio(&server.url("/stalled.ogg"), &mut Collect::default())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        MediaError::Stalled(std::time::Duration::from_secs(2))
    );

    // A sink that refuses stops the download.
    struct Refuse;
    #[async_trait::async_trait]
    impl minstrel::media::AudioWriter for Refuse {
        async fn write(&mut self, _: &[u8]) -> Result<(), String> {
            Err("disk full".into())
        }
    }
    let error = media
        .download_audio(&server.url("/song.ogg"), &mut Refuse)
        .await
        .unwrap_err();
    assert_eq!(error, MediaError::Sink("disk full".into()));
}

/// The echo source's `media:` queries, with the real media service behind `media`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_plugin_into_the_store() {
    let audio = ogg_opus(2);
    let server = LocalHttp::start().await.unwrap();
    server.route("/song.ogg", Route::ok(audio.clone()).typed("audio/ogg"));
    server.route("/big.ogg", Route::ok(ogg_opus(30)).typed("audio/ogg"));
    let tmp = tempfile::tempdir().unwrap();
    let services = Services::new(None, Some(Media::new(media_config())));
    let host = source_host(
        tmp.path(),
        "echo_source",
        "echo",
        grant(&["media"]),
        Arc::new(services),
    )
    .await;

    let url = server.url("/song.ogg");
    let tracks = host.resolve("echo", &format!("media:{url}")).await.unwrap();
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0].title, "song");
    assert_eq!(tracks[0].page_url.as_deref(), Some(url.as_str()));

    let sink = Collect::default();
    let (result, _) = host
        .fetch("echo", &tracks[0].id, Box::new(sink.clone()))
        .await;
    assert_eq!(
        result.unwrap(),
        audio.len() as u64,
        "counted through the sink"
    );
    assert_eq!(sink.bytes(), audio);

    // Into the store.
    let data = tmp.path().join("store");
    let mut config = test_config();
    config.max_fetch_bytes = 64 << 10;
    let store = open_store(&data, config).await;
    let fetch = PluginFetch::new(host.clone(), "echo", &tracks[0].id);
    let fetched = store
        .get_or_fetch(&fetch.key(), fetch.clone())
        .await
        .unwrap();
    assert!(!fetched.hit);
    assert_eq!(std::fs::read(&fetched.blob.path).unwrap(), audio);
    let again = store.get_or_fetch(&fetch.key(), fetch).await.unwrap();
    assert!(again.hit);

    // Failures through the plugin leave nothing in the store: a URL that is an option,
    // a missing file, a dead server, a stalled one, and a file over the store's cap.
    let mut stalled = Route::ok(ogg_opus(30))
        .typed("audio/ogg")
        .paced(8, Default::default());
    stalled.stall_after = Some(2);
    server.route("/stalled.ogg", stalled);
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        format!("http://127.0.0.1:{port}/song.ogg")
    };
    for (query, expect) in [
        ("media:-J".to_string(), "bad URL"),
        ("media:--exec=touch".to_string(), "starts with `-`"),
        (format!("media:{}", server.url("/missing.ogg")), "404"),
        (format!("media:{dead}"), "refused"),
        (
            format!("media:{}", server.url("/stalled.ogg")),
            "no data for 2s",
        ),
        (format!("media:{}", server.url("/big.ogg")), "size limit"),
    ] {
        let id = query.clone();
        let fetch = PluginFetch::new(host.clone(), "echo", &id);
        let error = store.get_or_fetch(&fetch.key(), fetch).await.unwrap_err();
        assert!(error.to_string().contains(expect), "{query}: {error}");
        if expect == "size limit" {
            assert!(matches!(error, StoreError::TooLarge { .. }), "{error}");
        }
    }
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.index.tracks, 1, "only the good track is cached");
    assert_eq!(temp_files(&data), 0, "no partial file left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_service_is_a_clear_plugin_error() {
    let tmp = tempfile::tempdir().unwrap();
    let host = source_host(
        tmp.path(),
        "echo_source",
        "echo",
        grant(&["media"]),
        Arc::new(Services::default()),
    )
    .await;
    let error = host
        .resolve("echo", "media:https://example.org/a.ogg")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not available"), "{error}");
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(cmdline);
            }
        }
    }
    found
}

/// Waits (up to a generous bound) until no process mentions `needle`.
async fn gone(needle: &str) -> bool {
    let limit = std::time::Duration::from_secs(10);
    minstrel_tests::wait_for(limit, async || processes_mentioning(needle).is_empty()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yt_dlp_is_killed_when_the_call_is_dropped_or_fails() {
    let server = LocalHttp::start().await.unwrap();
    // Slow enough that the download is still running when it is dropped.
    let slow = Route::ok(ogg_opus(30))
        .typed("audio/ogg")
        .paced(200, std::time::Duration::from_millis(100));
    server.route("/slow-dropped.ogg", slow.clone());
    let media = Media::new(media_config());

    // Dropped: the first bytes arrive, then the caller gives up.
    struct Signal(Option<tokio::sync::oneshot::Sender<()>>);
    #[async_trait::async_trait]
    impl minstrel::media::AudioWriter for Signal {
        async fn write(&mut self, _: &[u8]) -> Result<(), String> {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(());
            }
            Ok(())
        }
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let url = server.url("/slow-dropped.ogg");
    let task = tokio::spawn({
        let media = media.clone();
        let url = url.clone();
        async move { media.download_audio(&url, &mut Signal(Some(tx))).await }
    });
    rx.await.expect("the download started");
    assert!(
        !processes_mentioning("/slow-dropped.ogg").is_empty(),
        "yt-dlp is running"
    );
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert!(gone("/slow-dropped.ogg").await, "yt-dlp was killed");

    // Failed on the size cap mid-stream: killed as well.
    server.route("/slow-capped.ogg", slow);
    let capped = Media::new(MediaConfig {
        max_download_bytes: 20_000,
        ..media_config()
    });
    let error = capped
        .download_audio(&server.url("/slow-capped.ogg"), &mut Collect::default())
        .await
        .unwrap_err();
    assert_eq!(error, MediaError::TooLarge { limit: 20_000 });
    assert!(gone("/slow-capped.ogg").await, "yt-dlp was killed");
}

/// Whether process `pid` runs (a zombie waiting to be reaped does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(") ")
            .next()
            .is_some_and(|rest| !rest.starts_with('Z'))
    })
}

/// Probes go to one warm yt-dlp, reused: the same process answers one probe after
/// another, a killed one is replaced by the next probe, one that served
/// `worker_requests` is retired, and one whose probe times out is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_share_a_warm_yt_dlp_that_is_replaced_when_it_dies() {
    let server = LocalHttp::start().await.unwrap();
    server.route("/song.ogg", Route::ok(ogg_opus(2)).typed("audio/ogg"));
    // Accepts connections (the kernel does) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/silent.ogg", silent.local_addr().unwrap());
    let song = server.url("/song.ogg");
    let media = Media::new(MediaConfig {
        probe_timeout_secs: 3,
        worker_requests: 4,
        ..media_config()
    });
    media.warm().await;
    let pids = media.workers().idle_pids();
    assert_eq!(pids.len(), 1, "one warm worker");
    let first = pids[0];
    for _ in 0..3 {
        let info = media.probe(&song).await.unwrap();
        assert_eq!(info.title, "song", "{info:?}");
        assert_eq!(
            media.workers().idle_pids(),
            [first],
            "the same worker answers"
        );
    }
    // The fourth request is its last.
    media.probe(&song).await.unwrap();
    assert!(
        media.workers().idle_pids().is_empty(),
        "retired after 4 requests"
    );
    assert!(gone_pid(first).await, "the retired worker still runs");

    media.probe(&song).await.unwrap();
    let second = media.workers().idle_pids()[0];
    assert_ne!(second, first);
    // Killed between requests: the next one notices and is served all the same.
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &second.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(gone_pid(second).await);
    media.probe(&song).await.unwrap();
    let third = media.workers().idle_pids()[0];
    assert_ne!(third, second);

    // A probe that outlasts its limit: the worker serving it is killed with it.
    let error = media.probe(&silent_url).await.unwrap_err();
    assert_eq!(
        error,
        MediaError::Timeout(std::time::Duration::from_secs(3))
    );
    assert!(
        gone_pid(third).await,
        "the worker of a timed-out probe still runs"
    );
    media.probe(&song).await.unwrap();
}

async fn gone_pid(pid: u32) -> bool {
    let limit = std::time::Duration::from_secs(10);
    minstrel_tests::wait_for(limit, async || !alive(pid)).await
}
