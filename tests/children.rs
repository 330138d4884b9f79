//! The host's child processes (ffprobe, ffmpeg, yt-dlp) with the real programs: a
//! download that names other files is refused, not followed; a caller that gives up
//! kills its child; renders queue behind `max_concurrent_renders`; children get none of
//! the host's secrets; errors show no host paths; searches and downloads have separate
//! slots.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use minstrel::config::{MediaConfig, PlayerConfig};
use minstrel::media::AudioWriter;
use minstrel::media::{Media, MediaError, SearchSite};
use minstrel::player::rendition::{self, Render, Renderer};
use minstrel::store::{Store, StoreError, TrackKey};
use minstrel_local::http::{LocalHttp, Route};
use minstrel_tests::process::{child_results, child_role, spawn_child};
use minstrel_tests::{CountingFetcher, hash_hex, open_store, test_config, wait_for};

/// Longest wait for anything a test waits on.
const DEADLINE: Duration = Duration::from_secs(30);

/// An executable shell script `dir/name`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `seconds` of a sine tone at `hz`, encoded by the real ffmpeg with `codec` into `path`
/// (whose extension picks the container).
fn tone(path: &Path, hz: u32, seconds: u32, codec: &[&str]) -> Vec<u8> {
    minstrel_tests::voice::sine(path, hz, seconds, codec);
    std::fs::read(path).unwrap()
}

const OPUS: &[&str] = &["-c:a", "libopus", "-b:a", "48k"];

/// Caches `body` as a plugin's download would be cached; returns its blob's path.
async fn downloaded(store: &Store, id: &str, body: Vec<u8>) -> PathBuf {
    let key = TrackKey::new("test", id);
    let fetched = store
        .get_or_fetch(&key, CountingFetcher::new(body, Duration::ZERO))
        .await
        .unwrap();
    fetched.blob.path
}

/// Renders `input` into the store as `prepare` does.
async fn render(
    store: &Store,
    renderer: &Renderer,
    id: &str,
    input: PathBuf,
) -> Result<PathBuf, StoreError> {
    let key = TrackKey::new("rendition", id);
    let fetched = store
        .get_or_fetch(&key, Render::new(renderer, input))
        .await?;
    Ok(fetched.blob.path)
}

/// Processes whose command line mentions `needle` (a zombie's is empty).
fn processes_mentioning(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .filter(|cmdline| String::from_utf8_lossy(cmdline).contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_naming_other_files_are_refused_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(&tmp.path().join("data"), test_config()).await;
    let config = PlayerConfig::default();

    // A file outside the cache, and another guild's private track inside it.
    let secret = tmp.path().join("secret.ogg");
    tone(&secret, 1000, 3, OPUS);
    let private = downloaded(
        &store,
        "private",
        tone(&tmp.path().join("p.ogg"), 700, 3, OPUS),
    )
    .await;
    let private_name = private.file_name().unwrap().to_str().unwrap().to_string();
    let server = LocalHttp::start().await.unwrap();
    server.route("/secret.ts", Route::ok(std::fs::read(&secret).unwrap()));

    let hls = |segment: &str| {
        format!("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:3,\n{segment}\n#EXT-X-ENDLIST\n")
    };
    // A concat list may only name files beside it, so it names the private blob from
    // the same shard folder (a comment makes its hash start like the private one's).
    let concat = (0..)
        .map(|n| format!("ffconcat version 1.0\n# {n}\nfile {private_name}\n"))
        .find(|list| hash_hex(list.as_bytes())[..2] == private_name[..2])
        .unwrap();
    for (id, body, format) in [
        ("hls-file", hls(&secret.display().to_string()), "hls"),
        ("hls-http", hls(&server.url("/secret.ts")), "hls"),
        ("concat-blob", concat, "concat"),
    ] {
        let input = downloaded(&store, id, body.into_bytes()).await;
        let error = render(&store, &Renderer::new(config.clone()), id, input)
            .await
            .expect_err(&format!("{id}: rendered what the list names"))
            .to_string();
        assert!(
            error.contains(&format!("`{format}`")) && error.contains("not a supported audio"),
            "{id}: {error}"
        );
        assert!(
            !error.contains(&*tmp.path().to_string_lossy()),
            "{id}: {error}"
        );
    }
    assert_eq!(server.hits("/secret.ts"), 0, "nothing was requested");

    // The containers sources deliver still render.
    for (name, codec) in [
        ("a.ogg", OPUS),
        ("a.webm", OPUS),
        ("a.mp3", &["-c:a", "libmp3lame"][..]),
        ("a.m4a", &["-c:a", "aac"][..]),
        ("a.aac", &["-c:a", "aac"][..]),
        ("a.flac", &["-c:a", "flac"][..]),
        ("a.wav", &["-c:a", "pcm_s16le"][..]),
        ("a.ts", &["-c:a", "aac"][..]),
    ] {
        let input = downloaded(&store, name, tone(&tmp.path().join(name), 440, 1, codec)).await;
        let probe = rendition::probe(&config, &input).await;
        render(&store, &Renderer::new(config.clone()), name, input)
            .await
            .unwrap_or_else(|e| panic!("{name} ({probe:?}): {e}"));
    }
}

/// Creates a named pipe: a reader blocks on it until a writer comes, so a child reading
/// it stays running until it is killed.
fn fifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

/// Whether the child reading `pipe` is gone; if not, lets it finish (a writer that
/// closes at once gives it end of file) so a failing test leaves nothing running.
async fn reader_gone(pipe: &Path) -> bool {
    let needle = pipe.display().to_string();
    if wait_for(DEADLINE, async || processes_mentioning(&needle) == 0).await {
        return true;
    }
    // Opening blocks until a reader comes, so it runs aside, awaited with a deadline.
    let (done, opened) = std::sync::mpsc::channel();
    let pipe = pipe.to_path_buf();
    std::thread::spawn(move || {
        drop(std::fs::OpenOptions::new().write(true).open(pipe));
        let _ = done.send(());
    });
    let _ = opened.recv_timeout(Duration::from_secs(5));
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_are_killed_when_their_caller_gives_up() {
    let tmp = tempfile::tempdir().unwrap();
    let config = PlayerConfig::default();

    // Dropped probe and measurement.
    for step in ["probe", "measure"] {
        let pipe = tmp.path().join(format!("{step}-input"));
        fifo(&pipe);
        let task = tokio::spawn({
            let (config, pipe) = (config.clone(), pipe.clone());
            async move {
                match step {
                    "probe" => rendition::probe(&config, &pipe).await.map(drop),
                    _ => rendition::measure(&config, &pipe).await.map(drop),
                }
            }
        });
        let needle = pipe.display().to_string();
        assert!(
            wait_for(DEADLINE, async || processes_mentioning(&needle) == 1).await,
            "{step}: the child started"
        );
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(reader_gone(&pipe).await, "{step}: the child was killed");
    }

    // A render the store gives up on (its fetch timeout).
    let store = open_store(
        &tmp.path().join("data"),
        minstrel::config::StoreConfig {
            fetch_timeout_secs: 1,
            ..test_config()
        },
    )
    .await;
    let pipe = tmp.path().join("render-input");
    fifo(&pipe);
    let error = render(
        &store,
        &Renderer::new(config.clone()),
        "stuck",
        pipe.clone(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, StoreError::Timeout(_)), "{error}");
    assert!(reader_gone(&pipe).await, "render: the child was killed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_beyond_the_limit_wait_their_turn() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(&tmp.path().join("data"), test_config()).await;
    let log = tmp.path().join("runs.log");
    // Each program run logs its start and end around the real one.
    let wrap = |program: &str| {
        script(
            tmp.path(),
            &format!("{program}-logged"),
            &format!(
                "echo start >> '{log}'\n{program} \"$@\"\nstatus=$?\necho end >> '{log}'\nexit $status\n",
                log = log.display()
            ),
        )
    };
    let config = PlayerConfig {
        ffmpeg: wrap("ffmpeg"),
        ffprobe: wrap("ffprobe"),
        max_concurrent_renders: 2,
        ..PlayerConfig::default()
    };
    let mut inputs = Vec::new();
    for i in 0..6u32 {
        let name = format!("in{i}.ogg");
        let body = tone(&tmp.path().join(&name), 300 + 100 * i, 8, OPUS);
        inputs.push((name.clone(), downloaded(&store, &name, body).await));
    }
    // One renderer, as the players have: its clones share the slots.
    let renderer = Renderer::new(config);
    let renders = inputs.into_iter().map(|(name, input)| {
        let (store, renderer) = (store.clone(), renderer.clone());
        tokio::spawn(async move { render(&store, &renderer, &name, input).await })
    });
    for result in futures::future::join_all(renders).await {
        result.unwrap().expect("every render completes");
    }
    let lines = std::fs::read_to_string(&log).unwrap();
    let (mut running, mut most, mut runs) = (0i32, 0, 0);
    for line in lines.lines() {
        match line {
            "start" => {
                running += 1;
                runs += 1;
            }
            _ => running -= 1,
        }
        most = most.max(running);
    }
    assert_eq!(runs, 6 * 3, "ffprobe and two ffmpeg runs per render");
    assert_eq!(running, 0);
    assert!(
        most <= 2,
        "{most} programs ran at once with a limit of 2 renders"
    );
}

/// Values the test gives the host process; none may reach a child.
const SECRETS: [(&str, &str); 4] = [
    ("DISCORD_TOKEN", "discord-secret-1"),
    ("OPENAI_API_KEY", "llm-secret-2"),
    ("MINSTREL_LLM__API_KEY", "override-secret-3"),
    ("SOME_SERVICE_PASSWORD", "other-secret-4"),
];

/// Runs in a child process holding [`SECRETS`]: renders with ffprobe and ffmpeg, and
/// probes with yt-dlp, each a script that saves its environment before running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_get_none_of_the_hosts_secrets() {
    if child_role().is_some() {
        let dir = PathBuf::from(std::env::var("DIR").unwrap());
        let program = |name: &str| PathBuf::from(std::env::var(name).unwrap());
        let store = open_store(&dir.join("data"), test_config()).await;
        let config = PlayerConfig {
            ffmpeg: program("FFMPEG"),
            ffprobe: program("FFPROBE"),
            ..PlayerConfig::default()
        };
        let input = downloaded(&store, "song", tone(&dir.join("song.ogg"), 440, 1, OPUS)).await;
        render(&store, &Renderer::new(config.clone()), "song", input)
            .await
            .unwrap();
        let media = Media::new(MediaConfig {
            yt_dlp: program("YT_DLP"),
            allow_private_addresses: true,
            ..MediaConfig::default()
        });
        let error = media
            .probe("http://127.0.0.1:9/song.ogg")
            .await
            .unwrap_err();
        assert!(matches!(error, MediaError::Failed(_)), "{error}");
        println!("RESULT done");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dump = |name: &str, then: &str| {
        let saved = tmp.path().join(format!("{name}.env"));
        let path = script(
            tmp.path(),
            name,
            &format!("env > '{}'\n{then}\n", saved.display()),
        );
        (path.display().to_string(), saved)
    };
    let (ffmpeg, ffmpeg_env) = dump("ffmpeg", "exec ffmpeg \"$@\"");
    let (ffprobe, ffprobe_env) = dump("ffprobe", "exec ffprobe \"$@\"");
    let (yt_dlp, yt_dlp_env) = dump("yt-dlp", "exit 1");
    let mut envs: Vec<(&str, String)> = SECRETS.iter().map(|(k, v)| (*k, v.to_string())).collect();
    envs.extend([
        ("DIR", tmp.path().display().to_string()),
        ("FFMPEG", ffmpeg),
        ("FFPROBE", ffprobe),
        ("YT_DLP", yt_dlp),
    ]);
    let child = spawn_child("children_get_none_of_the_hosts_secrets", "secrets", &envs);
    assert_eq!(child_results(child), ["done"]);
    for saved in [ffmpeg_env, ffprobe_env, yt_dlp_env] {
        let env = std::fs::read_to_string(&saved).unwrap();
        assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
        for (name, value) in SECRETS {
            assert!(
                !env.contains(value),
                "{name} reached {}:\n{env}",
                saved.display()
            );
        }
        assert!(!env.contains("MINSTREL_"), "{}:\n{env}", saved.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_show_no_host_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().display().to_string();
    let store = open_store(&tmp.path().join("data"), test_config()).await;
    let config = PlayerConfig::default();
    let garbage = downloaded(&store, "text", b"not audio at all\n".repeat(100)).await;
    let missing = PlayerConfig {
        ffmpeg: tmp.path().join("bin/ffmpeg"),
        ffprobe: tmp.path().join("bin/ffprobe"),
        ..PlayerConfig::default()
    };
    let errors = [
        render(
            &store,
            &Renderer::new(config.clone()),
            "text",
            garbage.clone(),
        )
        .await
        .unwrap_err()
        .to_string(),
        rendition::measure(&config, &garbage)
            .await
            .unwrap_err()
            .to_string(),
        rendition::probe(&missing, &garbage)
            .await
            .unwrap_err()
            .to_string(),
        rendition::measure(&missing, &garbage)
            .await
            .unwrap_err()
            .to_string(),
        Media::new(MediaConfig {
            yt_dlp: tmp.path().join("bin/yt-dlp"),
            allow_private_addresses: true,
            ..MediaConfig::default()
        })
        .probe("http://127.0.0.1:9/song.ogg")
        .await
        .unwrap_err()
        .to_string(),
    ];
    for error in &errors {
        assert!(
            !error.contains(&root) && !error.contains("blobs/"),
            "{error}"
        );
    }
    assert!(
        errors[0].contains("ffprobe could not read the download"),
        "{}",
        errors[0]
    );
    assert!(errors[2].contains("could not run ffprobe"), "{}", errors[2]);
    assert!(
        errors[4].contains("yt-dlp is not installed"),
        "{}",
        errors[4]
    );
}

/// Collects nothing: a download's bytes only need somewhere to go.
struct Discard;

#[async_trait::async_trait]
impl AudioWriter for Discard {
    async fn write(&mut self, _: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_and_downloads_have_their_own_slots() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().display().to_string();
    let recorded = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ytdlp/search.json");
    // A yt-dlp that logs each run's kind, waits while `hold-<kind>` exists (at most a
    // minute), then answers searches from a recording and downloads with the real one.
    let yt_dlp = script(
        tmp.path(),
        "yt-dlp-held",
        &format!(
            "case \" $* \" in *\" --dump-single-json \"*) kind=search ;; *) kind=download ;; esac\n\
             echo $kind >> '{dir}/started'\n\
             n=0\n\
             while [ -e '{dir}/hold-'$kind ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done\n\
             if [ $kind = search ]; then cat '{recorded}'; else exec yt-dlp \"$@\"; fi\n",
            recorded = recorded.display()
        ),
    );
    let media = Media::new(MediaConfig {
        yt_dlp,
        probe_timeout_secs: 120,
        download_timeout_secs: 120,
        allow_private_addresses: true,
        max_processes: 1,
        max_concurrent_searches: 1,
        ..MediaConfig::default()
    });
    let server = LocalHttp::start().await.unwrap();
    let audio = tone(&tmp.path().join("song.ogg"), 440, 1, OPUS);
    server.route("/song.ogg", Route::ok(audio.clone()).typed("audio/ogg"));
    let url = server.url("/song.ogg");
    let started = |kind: &str| {
        std::fs::read_to_string(tmp.path().join("started"))
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == kind)
            .count()
    };
    let hold = |kind: &str| tmp.path().join(format!("hold-{kind}"));

    // Every search slot busy: a download still runs.
    std::fs::write(hold("search"), "").unwrap();
    let search = tokio::spawn({
        let media = media.clone();
        async move { media.search(SearchSite::Youtube, "never gonna", 3).await }
    });
    assert!(
        wait_for(DEADLINE, async || started("search") == 1).await,
        "the search started"
    );
    let downloaded = tokio::time::timeout(DEADLINE, media.download_audio(&url, &mut Discard))
        .await
        .expect("the download waited for a search slot")
        .unwrap();
    assert_eq!(downloaded, audio.len() as u64);
    std::fs::remove_file(hold("search")).unwrap();
    assert!(!search.await.unwrap().unwrap().is_empty());

    // Every download slot busy: a search still runs.
    std::fs::write(hold("download"), "").unwrap();
    let download = tokio::spawn({
        let (media, url) = (media.clone(), url.clone());
        async move { media.download_audio(&url, &mut Discard).await }
    });
    assert!(
        wait_for(DEADLINE, async || started("download") == 2).await,
        "the download started"
    );
    let found = tokio::time::timeout(
        DEADLINE,
        media.search(SearchSite::Youtube, "never gonna", 3),
    )
    .await
    .expect("the search waited for a download slot")
    .unwrap();
    assert!(!found.is_empty());
    std::fs::remove_file(hold("download")).unwrap();
    assert_eq!(download.await.unwrap().unwrap(), audio.len() as u64);
}
