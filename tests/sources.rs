//! The first-party source plugins, built by scripts/build-plugins.sh and run by the
//! plugin runtime: `youtube` on recorded yt-dlp metadata (its downloads going through
//! the real yt-dlp to a loopback file), `http` against the loopback server, `local` on
//! a granted folder, with the sandbox refusing every way out of it.

#[path = "sources_support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;

use minstrel::fetch::PluginFetch;
use minstrel::media::Media;
use minstrel::plugins::{CallError, Grant, PluginHost};
use minstrel::store::{StoreError, TrackKey};
use minstrel_local::http::{LocalHttp, Route};
use minstrel_tests::{bytes, component, open_store, temp_files, test_config};
use support::*;

const VIDEO: &str = "dQw4w9WgXcQ";
const WATCH: &str = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";
const PLAYLIST: &str = "https://www.youtube.com/playlist?list=PLminstrel0test0mix000000000000000";

async fn youtube(tmp: &Path, services: Arc<Recorded>) -> PluginHost {
    source_host(tmp, "youtube", "youtube", grant(&["media"]), services).await
}

fn recorded_youtube(media: Media) -> Recorded {
    let mut services = Recorded::new(media);
    services.probes.insert(WATCH.into(), "video");
    services.probes.insert(PLAYLIST.into(), "playlist");
    services
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn youtube_claims_every_url_form_the_store_knows() {
    let tmp = tempfile::tempdir().unwrap();
    let table = include_str!("fixtures/youtube-urls.tsv");
    let rows: Vec<(&str, &str)> = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split_once('\t').unwrap())
        .collect();
    // Every video the table names can be probed (the same recorded page serves them
    // all), so resolving a URL shows which video the plugin took from it.
    let mut services = recorded_youtube(Media::new(media_config()));
    for (expected, _) in rows.iter().filter(|(e, _)| *e != "-") {
        let watch = format!("https://www.youtube.com/watch?v={expected}");
        services.probes.insert(watch, "video");
    }
    let host = youtube(tmp.path(), Arc::new(services)).await;
    for (expected, url) in rows {
        let claimed = host.claims("youtube", url).await.unwrap();
        // Playlist pages name no video, but this source resolves them too.
        let playlist = url.contains("/playlist?list=");
        assert_eq!(claimed, expected != "-" || playlist, "{url:?}");
        // The plugin's track and the store's key, each against the table (they share
        // one parser, so comparing them with each other would prove nothing).
        if expected != "-" {
            let tracks = host
                .resolve("youtube", url)
                .await
                .unwrap_or_else(|e| panic!("{url:?}: {e}"));
            let ids: Vec<&str> = tracks.iter().map(|t| t.id.as_str()).collect();
            assert_eq!(ids, [format!("youtube:{expected}")], "{url:?}");
        }
        if let Ok(key) = TrackKey::from_url(url) {
            let video = (key.source == "youtube").then_some(key.id.as_str());
            let named = (expected != "-").then_some(expected);
            assert_eq!(video, named, "the store's key for {url:?}");
        }
    }
    assert!(host.claims("youtube", PLAYLIST).await.unwrap());
    assert!(!host.claims("youtube", "https://vimeo.com/1").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn youtube_resolves_videos_playlists_and_searches() {
    let tmp = tempfile::tempdir().unwrap();
    let services = Arc::new(recorded_youtube(Media::new(media_config())));
    let host = youtube(tmp.path(), services.clone()).await;

    // Two forms of the same video: one canonical track, probed by its canonical URL.
    for form in [
        "https://youtu.be/dQw4w9WgXcQ?si=abc&t=3",
        "music.youtube.com/watch?v=dQw4w9WgXcQ&list=PL123",
    ] {
        let tracks = host.resolve("youtube", form).await.unwrap();
        assert_eq!(tracks.len(), 1, "{form}");
        let track = &tracks[0];
        assert_eq!(track.id, format!("youtube:{VIDEO}"));
        assert_eq!(
            track.title,
            "Rick Astley - Never Gonna Give You Up (Official Music Video)"
        );
        assert_eq!(track.duration_ms, Some(213_000));
        assert_eq!(track.page_url.as_deref(), Some(WATCH));
        assert_eq!(
            track.artwork_url.as_deref(),
            Some("https://i.ytimg.com/vi_webp/dQw4w9WgXcQ/maxresdefault.webp")
        );
    }

    // A playlist: every playable entry, in order (the deleted one is skipped).
    let tracks = host.resolve("youtube", PLAYLIST).await.unwrap();
    let ids: Vec<&str> = tracks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "youtube:dQw4w9WgXcQ",
            "youtube:9bZkp7q19f0",
            "youtube:kJQP7kiw5Fk",
            "youtube:aqz-KE-bpKQ"
        ]
    );
    assert_eq!(tracks[1].duration_ms, Some(252_500));
    assert_eq!(
        tracks[3].page_url.as_deref(),
        Some("https://www.youtube.com/watch?v=aqz-KE-bpKQ")
    );

    // Free text is a search (the channel among the results is skipped).
    let tracks = host.resolve("youtube", "  never gonna ").await.unwrap();
    let ids: Vec<&str> = tracks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["youtube:dQw4w9WgXcQ", "youtube:yPYZpwSpKmA"]);

    // The plugin only ever handed the host canonical URLs and a plain search.
    assert_eq!(
        services.asked(),
        [
            format!("probe {WATCH}"),
            format!("probe {WATCH}"),
            format!("probe {PLAYLIST}"),
            "search SearchSite::Youtube never gonna 5".to_string(),
        ]
    );

    // Clear errors.
    let error = host
        .resolve("youtube", "https://vimeo.com/123")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CallError::Plugin("not a YouTube video or playlist URL".into())
    );
    let error = host.resolve("youtube", "   ").await.unwrap_err();
    assert_eq!(error, CallError::Plugin("nothing to search for".into()));
    let (result, _) = host
        .fetch("youtube", "youtube:--exec=rm", Box::new(Collect::default()))
        .await;
    assert_eq!(
        result.unwrap_err(),
        CallError::Plugin("not a YouTube track id: youtube:--exec=rm".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn youtube_fetches_through_the_store_once_for_concurrent_requests() {
    let audio = ogg_opus(3);
    let server = LocalHttp::start().await.unwrap();
    // Paced, so the first download is still running when the second request comes.
    server.route(
        "/video.ogg",
        Route::ok(audio.clone())
            .typed("audio/ogg")
            .paced(10, std::time::Duration::from_millis(50)),
    );
    let mut services = recorded_youtube(Media::new(media_config()));
    services
        .audio
        .insert(WATCH.into(), server.url("/video.ogg"));
    let services = Arc::new(services);
    let tmp = tempfile::tempdir().unwrap();
    let host = youtube(tmp.path(), services.clone()).await;
    let store = open_store(&tmp.path().join("store"), test_config()).await;

    // Two queries in different forms name one track and one store key, which is the
    // key the store derives from a pasted URL.
    let a = host
        .resolve("youtube", "https://youtu.be/dQw4w9WgXcQ")
        .await
        .unwrap();
    let b = host
        .resolve("youtube", "https://www.youtube.com/shorts/dQw4w9WgXcQ")
        .await
        .unwrap();
    assert_eq!(a[0].id, b[0].id);
    let key = PluginFetch::key_of("youtube", &a[0].id);
    assert_eq!(
        key,
        TrackKey::from_url("https://youtu.be/dQw4w9WgXcQ").unwrap()
    );

    let first = PluginFetch::new(host.clone(), "youtube", &a[0].id);
    let second = PluginFetch::new(host.clone(), "youtube", &b[0].id);
    let (first_key, second_key) = (first.key(), second.key());
    let (x, y) = tokio::join!(
        store.get_or_fetch(&first_key, first.clone()),
        store.get_or_fetch(&second_key, second)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.blob, y.blob);
    assert_eq!(services.downloads(), 1, "one download for both requests");
    assert_eq!(std::fs::read(&x.blob.path).unwrap(), audio);
    let again = store.get_or_fetch(&first.key(), first).await.unwrap();
    assert!(again.hit);
    assert_eq!(services.downloads(), 1);
}

/// `http` to `hosts` on the loopback test server's `port`.
fn http_grant(hosts: &[&str], port: u16) -> Grant {
    Grant {
        interfaces: vec!["http".into()],
        http_hosts: hosts.iter().map(|h| h.to_string()).collect(),
        http_ports: vec![port],
        allow_private_addresses: true,
        ..Grant::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_plugin_checks_type_size_and_host_and_streams_in_ranges() {
    let audio = ogg_opus(2);
    // Larger than the largest ranged request (4 MiB), to exercise the range loop.
    let large = bytes(7, 5 << 20);
    let server = LocalHttp::start().await.unwrap();
    server.route("/song.ogg", Route::ok(audio.clone()).typed("audio/ogg"));
    server.route("/large.opus", Route::ok(large.clone()).typed("audio/opus"));
    server.route(
        "/page.ogg",
        Route::ok("<html></html>").typed("text/html; charset=utf-8"),
    );
    let tmp = tempfile::tempdir().unwrap();
    let host = source_host(
        tmp.path(),
        "http",
        "http",
        http_grant(&["127.0.0.1"], server.port()),
        Arc::new(minstrel::plugins::NoServices),
    )
    .await;

    let url = server.url("/song.ogg");
    assert!(host.claims("http", &url).await.unwrap());
    assert!(
        !host
            .claims("http", "https://example.org/page")
            .await
            .unwrap()
    );
    let tracks = host.resolve("http", &format!("{url}#t=1")).await.unwrap();
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0].id, url, "the id is the URL, without its fragment");
    assert_eq!(tracks[0].title, "song.ogg");

    let data = tmp.path().join("store");
    let store = open_store(&data, test_config()).await;
    for (path, body) in [("/song.ogg", &audio), ("/large.opus", &large)] {
        let fetch = PluginFetch::new(host.clone(), "http", &server.url(path));
        assert_eq!(fetch.key(), TrackKey::from_url(&server.url(path)).unwrap());
        let fetched = store.get_or_fetch(&fetch.key(), fetch).await.unwrap();
        assert_eq!(&std::fs::read(&fetched.blob.path).unwrap(), body, "{path}");
    }
    // Ranges of 64 KiB, doubling: 64 KiB to 2 MiB is six (4,032 KiB), the rest one more.
    assert_eq!(server.hits("/large.opus"), 7, "ranged requests");
    assert_eq!(server.downloads("/large.opus"), 1);

    // Clear errors, and nothing cached for them.
    let page = host
        .resolve("http", &server.url("/page.ogg"))
        .await
        .unwrap_err();
    assert!(
        page.to_string().contains("is text/html, not audio"),
        "{page}"
    );
    let missing = host
        .resolve("http", &server.url("/missing.ogg"))
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("HTTP 404"), "{missing}");
    let bad = host
        .resolve("http", "ftp://example.org/a.ogg")
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("only http and https"), "{bad}");
    for path in ["/page.ogg", "/missing.ogg"] {
        let fetch = PluginFetch::new(host.clone(), "http", &server.url(path));
        let error = store.get_or_fetch(&fetch.key(), fetch).await.unwrap_err();
        assert!(matches!(error, StoreError::Fetch(_)), "{error}");
    }
    // Over the store's cap: refused while streaming.
    let mut small = test_config();
    small.max_fetch_bytes = 1 << 20;
    let small_store = open_store(&tmp.path().join("small"), small).await;
    let fetch = PluginFetch::new(host.clone(), "http", &server.url("/large.opus"));
    let error = small_store
        .get_or_fetch(&fetch.key(), fetch)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::TooLarge { .. }), "{error}");
    assert_eq!(small_store.stats().await.unwrap().index.tracks, 0);
    assert_eq!(store.stats().await.unwrap().index.tracks, 2);
    assert_eq!(temp_files(&data), 0);
    assert_eq!(temp_files(&tmp.path().join("small")), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_plugin_reaches_only_granted_hosts() {
    let server = LocalHttp::start().await.unwrap();
    server.route("/song.ogg", Route::ok(ogg_opus(1)).typed("audio/ogg"));
    let tmp = tempfile::tempdir().unwrap();
    let host = source_host(
        tmp.path(),
        "http",
        "http",
        http_grant(&["radio.example.org"], server.port()),
        Arc::new(minstrel::plugins::NoServices),
    )
    .await;
    let error = host
        .resolve("http", &server.url("/song.ogg"))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("host `127.0.0.1` is not granted to this plugin"),
        "{error}"
    );
    assert_eq!(server.hits("/song.ogg"), 0);
}

/// A music folder with a file in a subfolder, a symlink inside it, a symlink leading
/// out of it, and a secret beside it.
fn music_folder(root: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let music = root.join("music");
    std::fs::create_dir_all(music.join("Live Sets")).unwrap();
    let audio = ogg_opus(1);
    std::fs::write(music.join("Morning Song.ogg"), &audio).unwrap();
    std::fs::write(music.join("Live Sets/Evening Song.opus"), &audio).unwrap();
    std::fs::write(music.join("notes.txt"), "not audio").unwrap();
    std::fs::write(root.join("secret.ogg"), "outside the folder").unwrap();
    // Relative symlinks inside the folder work; absolute ones are refused even when
    // they point inside (the sandbox cannot resolve host paths).
    std::os::unix::fs::symlink("Morning Song.ogg", music.join("inside.ogg")).unwrap();
    std::os::unix::fs::symlink(music.join("Morning Song.ogg"), music.join("pinned.ogg")).unwrap();
    std::os::unix::fs::symlink("../secret.ogg", music.join("escape.ogg")).unwrap();
    std::os::unix::fs::symlink(root.join("secret.ogg"), music.join("absolute.ogg")).unwrap();
    std::os::unix::fs::symlink(root, music.join("up")).unwrap();
    (music, audio)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_plugin_reads_the_granted_folder_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let (music, audio) = music_folder(tmp.path());
    let host = source_host(
        tmp.path(),
        "local",
        "local",
        Grant {
            files_dir: Some(music.clone()),
            ..Grant::default()
        },
        Arc::new(minstrel::plugins::NoServices),
    )
    .await;

    let tracks = host.resolve("local", "song").await.unwrap();
    let ids: Vec<&str> = tracks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "local:Live Sets/Evening Song.opus",
            "local:Morning Song.ogg"
        ]
    );
    assert_eq!(tracks[1].title, "Morning Song");
    let tracks = host.resolve("local", "evening LIVE").await.unwrap();
    assert_eq!(tracks.len(), 1);
    let tracks = host
        .resolve("local", "local:Morning Song.ogg")
        .await
        .unwrap();
    assert_eq!(tracks[0].id, "local:Morning Song.ogg");

    for id in [
        "local:Morning Song.ogg",
        "local:Live Sets/Evening Song.opus",
        "local:inside.ogg",
    ] {
        let sink = Collect::default();
        let (result, _) = host.fetch("local", id, Box::new(sink.clone())).await;
        assert_eq!(result.unwrap(), audio.len() as u64, "{id}");
        assert_eq!(sink.bytes(), audio, "{id}");
    }

    // Every way out is refused by the sandbox (the plugin does not filter paths).
    let secret = tmp.path().join("secret.ogg");
    let escapes = [
        "local:../secret.ogg".to_string(),
        "local:Live Sets/../../secret.ogg".to_string(),
        format!("local:{}", secret.display()),
        "local:/etc/passwd".to_string(),
        "local:escape.ogg".to_string(),
        "local:absolute.ogg".to_string(),
        "local:up/secret.ogg".to_string(),
        "local:pinned.ogg".to_string(),
    ];
    for id in &escapes {
        let sink = Collect::default();
        let (result, _) = host.fetch("local", id, Box::new(sink.clone())).await;
        let error = result.unwrap_err();
        assert!(matches!(error, CallError::Plugin(_)), "{id}: {error}");
        assert!(
            sink.bytes().is_empty(),
            "{id}: read {} bytes",
            sink.bytes().len()
        );
        assert!(host.resolve("local", id).await.is_err(), "{id}");
    }
    assert!(
        host.resolve("local", "secret").await.unwrap().is_empty(),
        "the search never sees outside the folder"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_plugin_without_a_grant_sees_no_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (music, _) = music_folder(tmp.path());
    let host = source_host(
        tmp.path(),
        "local",
        "local",
        Grant::default(),
        Arc::new(minstrel::plugins::NoServices),
    )
    .await;
    let (result, _) = host
        .fetch(
            "local",
            "local:Morning Song.ogg",
            Box::new(Collect::default()),
        )
        .await;
    assert!(result.is_err());
    let absolute = format!("local:{}", music.join("Morning Song.ogg").display());
    let (result, _) = host
        .fetch("local", &absolute, Box::new(Collect::default()))
        .await;
    assert!(result.is_err(), "no ambient file access");
    assert!(host.resolve("local", "song").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_folder_is_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (music, audio) = music_folder(tmp.path());
    let host = source_host(
        tmp.path(),
        "hostile",
        "hostile",
        Grant {
            files_dir: Some(music.clone()),
            ..Grant::default()
        },
        Arc::new(minstrel::plugins::NoServices),
    )
    .await;
    let run = |command: &'static str, path: &'static str| {
        let host = host.clone();
        async move {
            let invocation = minstrel::plugins::types::Invocation {
                command: command.into(),
                options: vec![(
                    "path".into(),
                    minstrel::plugins::types::OptionValue::Text(path.into()),
                )],
                context: minstrel::plugins::types::Context {
                    guild_id: None,
                    channel_id: 1,
                    user_id: 1,
                    user_name: "x".into(),
                },
            };
            host.run_command("hostile", &invocation).await
        }
    };
    for path in [
        "/files/Morning Song.ogg",
        "/files/inside.ogg",
        "/files/Live Sets/../inside.ogg",
    ] {
        let read = run("read-file", path).await.unwrap();
        assert_eq!(
            read.content,
            format!("read {} bytes", audio.len()),
            "{path}"
        );
    }
    for path in [
        "/files/Morning Song.ogg",
        "/files/new.txt",
        "/files/../x.txt",
    ] {
        let error = run("write-file", path).await.unwrap_err();
        assert!(
            matches!(&error, CallError::Plugin(t) if t.starts_with("write failed")),
            "{path}: {error}"
        );
    }
    assert_eq!(
        std::fs::read(music.join("Morning Song.ogg")).unwrap(),
        audio
    );
    assert!(!music.join("new.txt").exists());
    assert!(!tmp.path().join("x.txt").exists());
}

/// `minstrel source resolve|fetch`: the real binary, configured from the environment.
#[test]
fn source_command_resolves_and_fetches_into_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let (music, audio) = music_folder(tmp.path());
    let plugins = tmp.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(component("local"), plugins.join("local.wasm")).unwrap();
    let data = tmp.path().join("data");
    let command = |args: &[&str]| {
        let mut cmd = minstrel_tests::minstrel(&data);
        cmd.args(args)
            .env("MINSTREL_PLUGINS__DIR", &plugins)
            .env("MINSTREL_PLUGINS__GRANTS__LOCAL__FILES_DIR", &music);
        cmd
    };
    let tracks = minstrel_tests::json_output(&mut command(&[
        "source", "resolve", "local", "morning", "--json",
    ]));
    assert_eq!(tracks[0]["id"], "local:Morning Song.ogg");
    for hit in [false, true] {
        let fetched = minstrel_tests::json_output(&mut command(&[
            "source",
            "fetch",
            "local",
            "local:Morning Song.ogg",
            "--json",
        ]));
        assert_eq!(fetched["hit"], hit);
        assert_eq!(fetched["size"], audio.len() as u64);
    }
    let out = command(&["source", "fetch", "local", "local:../secret.ogg"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fetching local:../secret.ogg from local"),
        "{stderr}"
    );
}
