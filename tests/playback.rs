//! Playback end to end: the real bot (poise + songbird) against the local Discord server
//! and its voice endpoint, the tone source plugin, real ffmpeg. What arrives at the
//! endpoint is decrypted and counted, so the tests assert on the audio itself.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]).

#[path = "sources_support/mod.rs"]
mod sources_support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use minstrel::app::Host;
use minstrel::config::Config;
use minstrel::local::payloads::{ALICE, BOT_ID, GUILD_ID, MUSIC};
use minstrel::local::{LocalDiscord, VoiceStats, World};
use minstrel::localhttp::{LocalHttp, Route};
use minstrel::media::Media;
use minstrel::plugins::Grant;
use minstrel_tests::bot::{self, WAIT, bot_options, caught_up, host_config, install};
use minstrel_tests::test_config;
use minstrel_tests::voice::{run, sine_ogg};
use serde_json::{Value, json};
use sources_support::{Recorded, grant, media_config, start_bot_on_recorded};

/// The config of a test: the tone source, and a source asked before it that finds
/// something for any words (`tone:440` must still go to `tone`, the source that claims it).
fn config(dir: &Path) -> Config {
    config_with(dir, &[("tone", "tone"), ("echo_source", "echo")])
}

/// A config loading the built source plugins `sources` as (crate, plugin name).
fn config_with(dir: &Path, sources: &[(&str, &str)]) -> Config {
    let mut config = host_config(dir);
    config.plugins.call_timeout_ms = 30_000;
    config.plugins.host_calls_per_call = 100_000;
    for (krate, name) in sources {
        install(&config, krate, name);
    }
    config
}

async fn start_bot(server: &LocalDiscord, config: &Config) -> Host {
    bot::start_bot(server, config, bot_options(server), "play").await
}

/// Sends `!text` as alice and waits for a reply whose content satisfies `done`.
async fn command(world: &World, text: &str, done: impl Fn(&str) -> bool) -> String {
    let id = world.send_message(ALICE, text, 1);
    let found = world
        .wait_for(WAIT, |w| {
            w.replies_to(id)
                .iter()
                .any(|m| m["content"].as_str().is_some_and(&done))
        })
        .await;
    let replies: Vec<Value> = world.replies_to(id);
    assert!(found, "{text}: unexpected replies {replies:?}");
    replies
        .iter()
        .filter_map(|m| m["content"].as_str())
        .find(|c| done(c))
        .unwrap()
        .to_string()
}

fn stats(world: &World) -> VoiceStats {
    world.voice().stats(GUILD_ID)
}

/// Audio packets so far (silence frames left out).
fn audio_packets(world: &World) -> u64 {
    let s = stats(world);
    s.packets - s.silence_frames
}

async fn wait_packets(world: &World, at_least: u64) {
    assert!(
        world.wait_for(WAIT, |w| audio_packets(w) >= at_least).await,
        "only {} audio packets arrived, expected {at_least}",
        audio_packets(world)
    );
}

/// Waits for the first song, `secs` long, to play out and checks that all of it arrived:
/// 20 ms packets, so a stream cut short or played twice fails. Returns the count.
async fn heard_whole(world: &World, secs: u64) -> u64 {
    wait_packets(world, secs * 45).await;
    let packets = wait_quiet(world, Duration::from_millis(600), WAIT).await;
    let expected = secs * 50;
    assert!(
        (expected - 5..=expected + 6).contains(&packets),
        "{packets} audio packets for {secs} s"
    );
    packets
}

/// Alice joins the Music voice channel, and the bot has seen it.
async fn alice_joins(world: &World) {
    world.join_voice(ALICE, MUSIC).unwrap();
    caught_up(world).await;
}

/// Waits until no audio packet has arrived for `quiet`, failing if audio still flows
/// after `limit`. Returns the count.
async fn wait_quiet(world: &World, quiet: Duration, limit: Duration) -> u64 {
    let deadline = Instant::now() + limit;
    loop {
        let at = audio_packets(world);
        if !more_audio_within(world, at, quiet).await {
            return at;
        }
        assert!(
            Instant::now() < deadline,
            "audio still arriving {limit:?} on: {} packets",
            audio_packets(world)
        );
    }
}

/// Whether more than `at` audio packets arrive within `limit`.
async fn more_audio_within(world: &World, at: u64, limit: Duration) -> bool {
    world
        .voice()
        .wait_for(GUILD_ID, limit, |s| s.packets - s.silence_frames > at)
        .await
}

/// How long the music may take to stop after whatever stops it; the songs stopped are
/// 20 s or longer, so music that only ends by playing out fails.
const STOPS_WITHIN: Duration = Duration::from_secs(8);

/// The song that started at packet `started`, `secs` long, has been stopped: the audio
/// stops within [`STOPS_WITHIN`], at least 10 s before the song would have ended, and
/// none follows for 3 s. Returns the count.
async fn music_stops(world: &World, started: u64, secs: u64) -> u64 {
    let stopped = wait_quiet(world, Duration::from_millis(500), STOPS_WITHIN).await;
    assert!(
        stopped < started + (secs - 10) * 50,
        "{} of the song's {} packets arrived",
        stopped - started,
        secs * 50
    );
    assert!(
        !more_audio_within(world, stopped, Duration::from_secs(3)).await,
        "audio came back after it stopped: {} packets",
        audio_packets(world) - stopped
    );
    stopped
}

/// Seconds of audio ffmpeg decodes from `path`.
fn decoded_secs(path: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "s16le", "-ac", "2", "-ar", "48000", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.len() as f64 / (48_000.0 * 4.0)
}

#[test]
fn play_streams_the_track_and_a_cached_track_replays() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start_recording(tmp.path().join("voice"))
            .await
            .unwrap();
        let world = server.world();
        let host = start_bot(&server, &config(tmp.path())).await;

        // Not in a voice channel: a clear refusal, nothing plays.
        let text = command(world, "!play tone:440:3", |c| c.contains("voice channel")).await;
        assert!(text.contains("join a voice channel"), "{text}");

        alice_joins(world).await;
        let text = command(world, "!play tone:440:3", |c| c.starts_with("Playing")).await;
        assert_eq!(text, "Playing **440 Hz tone, 3 s**");
        let packets = heard_whole(world, 3).await;
        let s = stats(world);
        assert_eq!(s.decrypt_failures, 0);
        assert!(s.mode.is_some(), "an encryption mode was negotiated");

        // The same song again: from the cache, the same amount of audio.
        let text = command(world, "!play tone:440:3", |c| c.starts_with("Playing")).await;
        assert_eq!(text, "Playing **440 Hz tone, 3 s** (cached)");
        wait_packets(world, packets + 100).await;
        let total = wait_quiet(world, Duration::from_millis(600), WAIT).await;
        assert!(
            (290..=312).contains(&total),
            "{total} audio packets for 2 x 3 s"
        );

        let recording = world
            .voice()
            .finish_recording(GUILD_ID)
            .await
            .expect("recorded");
        let secs = decoded_secs(&recording);
        assert!(
            (5.7..6.6).contains(&secs),
            "the recording decodes to {secs} s"
        );
        host.shutdown().await;
    });
}

#[test]
fn pause_resume_skip_and_stop_change_the_stream() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config(tmp.path())).await;
        alice_joins(world).await;

        command(world, "!play tone:440:30", |c| c.starts_with("Playing")).await;
        let text = command(world, "!play tone:660:30", |c| c.starts_with("Queued")).await;
        assert_eq!(text, "Queued **660 Hz tone, 30 s** at position 1");
        wait_packets(world, 25).await;

        command(world, "!pause", |c| c == "Paused.").await;
        let paused_at = music_stops(world, 0, 30).await;
        let text = command(world, "!nowplaying", |c| c.contains("440 Hz")).await;
        assert!(text.contains("(paused)"), "{text}");

        command(world, "!resume", |c| c == "Resumed.").await;
        wait_packets(world, paused_at + 25).await;

        let text = command(world, "!skip", |c| c.starts_with("Skipped")).await;
        assert_eq!(
            text,
            "Skipped **440 Hz tone, 30 s**. Up next: **660 Hz tone, 30 s**"
        );
        let at_skip = audio_packets(world);
        wait_packets(world, at_skip + 25).await;
        let text = command(world, "!nowplaying", |c| c.contains("660 Hz")).await;
        assert!(text.contains("/ 0:30"), "{text}");

        command(world, "!stop", |c| c.starts_with("Stopped")).await;
        music_stops(world, at_skip, 30).await;
        let text = command(world, "!queue", |c| c.contains("empty")).await;
        assert_eq!(text, "The queue is empty.");
        host.shutdown().await;
    });
}

#[test]
fn a_restart_in_the_middle_of_a_queue_resumes_it() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let config = config(tmp.path());
        let host = start_bot(&server, &config).await;
        alice_joins(world).await;
        command(world, "!play tone:440:20", |c| c.starts_with("Playing")).await;
        command(world, "!play tone:660:3", |c| c.starts_with("Queued")).await;
        wait_packets(world, 100).await; // 2 s in
        host.shutdown().await;
        // The music stopped with the bot.
        let before = music_stops(world, 0, 20).await;

        // A new bot process would read the same database: so does a new host here.
        let host = start_bot(&server, &config).await;
        wait_packets(world, before + 50).await;
        let text = command(world, "!nowplaying", |c| c.contains("440 Hz")).await;
        // It went on from where it stopped (about 2 s in), not from the start.
        let position = text.split("] ").nth(1).unwrap_or_default();
        assert!(
            !position.starts_with("0:00") && !position.starts_with("0:01"),
            "{text}"
        );
        let text = command(world, "!queue", |c| c.contains("Now playing")).await;
        assert!(
            text.contains("1. 660 Hz tone, 3 s"),
            "the rest of the queue came back: {text}"
        );
        host.shutdown().await;
    });
}

#[test]
fn eviction_and_reconcile_racing_playback_never_touch_a_queued_song() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let config = config(tmp.path());
        let host = start_bot(&server, &config).await;
        alice_joins(world).await;
        for (i, tone) in ["440:2", "550:2", "660:2"].iter().enumerate() {
            let expected = if i == 0 { "Playing" } else { "Queued" };
            command(world, &format!("!play tone:{tone}"), |c| {
                c.starts_with(expected)
            })
            .await;
        }
        // A second handle on the data dir, as another process would have, evicting
        // everything it may and repairing whatever it thinks is wrong, as fast as it can.
        let other = minstrel::store::Store::open(&config.data_dir, test_config())
            .await
            .unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cleaner = {
            let (other, stop) = (other.clone(), stop.clone());
            tokio::spawn(async move {
                let mut rounds = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    other.evict_to(0).await.unwrap();
                    other.reconcile(false, true).await.unwrap();
                    rounds += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                rounds
            })
        };
        wait_packets(world, 280).await;
        let packets = wait_quiet(world, Duration::from_millis(800), WAIT).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let rounds = cleaner.await.unwrap();
        assert!(rounds > 20, "the cleaner ran {rounds} rounds");
        // All three songs played whole: nothing was deleted under them.
        assert!(
            (290..=306).contains(&packets),
            "{packets} audio packets for 3 x 2 s"
        );
        let complaints: Vec<Value> = world
            .bot_messages()
            .into_iter()
            .filter(|m| {
                let c = m["content"].as_str().unwrap_or_default();
                c.starts_with("Could not") || c.starts_with("Skipped")
            })
            .collect();
        assert!(complaints.is_empty(), "{complaints:?}");
        // Once nothing is queued the leases go, and eviction can take it all.
        let deadline = Instant::now() + WAIT;
        while other.stats().await.unwrap().index.blobs > 0 {
            assert!(Instant::now() < deadline, "the songs stayed leased");
            other.evict_to(0).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        host.shutdown().await;
    });
}

/// A loopback "remote" host serving a 2 s Ogg Opus song at `/song.ogg`, and a config
/// with the `http` source granted to reach it.
async fn http_source(dir: &Path, frequency: u32) -> (minstrel::localhttp::LocalHttp, Config) {
    let song = sine_ogg(dir, frequency, 2);
    let remote = minstrel::localhttp::LocalHttp::start().await.unwrap();
    remote.route(
        "/song.ogg",
        minstrel::localhttp::Route::ok(std::fs::read(&song).unwrap()).typed("audio/ogg"),
    );
    let mut config = config(dir);
    bot::install_http_source(&mut config, remote.port());
    (remote, config)
}

#[test]
fn play_an_http_url_through_the_http_source_plugin() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        // A 2 s Ogg Opus song on a loopback "remote" host.
        let (remote, config) = http_source(tmp.path(), 330).await;
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config).await;
        alice_joins(world).await;

        let url = remote.url("/song.ogg");
        let text = command(world, &format!("!play {url}"), |c| c.starts_with("Playing")).await;
        assert!(text.contains("song.ogg"), "{text}");
        let packets = heard_whole(world, 2).await;
        // Played again: from the cache. The source still checks the URL when it resolves
        // it (one request), but nothing is downloaded again.
        let hits = remote.hits("/song.ogg");
        command(world, &format!("!play {url}"), |c| c.ends_with("(cached)")).await;
        wait_packets(world, packets + 90).await;
        assert_eq!(remote.hits("/song.ogg"), hits + 1);
        host.shutdown().await;
    });
}

#[test]
fn two_guilds_playing_the_same_url_at_once_download_it_once() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let (remote, config) = http_source(tmp.path(), 550).await;
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config).await;
        const OTHER: u64 = 9_000;
        world.add_voice_only_guilds([OTHER]);
        let players = host.services.player.get().expect("players").clone();

        let songs = players
            .resolve(&remote.url("/song.ogg"), ALICE)
            .await
            .unwrap()
            .to_play();
        let resolved = remote.hits("/song.ogg");
        let play = |guild: u64| {
            let (players, songs) = (players.clone(), songs.clone());
            async move {
                let ready = players
                    .prepare(&songs[0], &minstrel::player::Progress::default())
                    .await
                    .unwrap();
                players
                    .enqueue(guild, Some(MUSIC), None, songs, Some(ready))
                    .await
                    .unwrap()
            }
        };
        let (a, b) = tokio::join!(play(GUILD_ID), play(OTHER));
        assert_eq!((a, b), (0, 0), "both play at once");
        assert_eq!(
            remote.hits("/song.ogg") - resolved,
            1,
            "one download for both guilds"
        );
        for guild in [GUILD_ID, OTHER] {
            assert!(
                world
                    .voice()
                    .wait_for(guild, WAIT, |s| s.packets - s.silence_frames >= 95)
                    .await,
                "guild {guild} did not hear the song"
            );
        }
        host.shutdown().await;
    });
}

/// The answer to the interaction `token` (its callback or an edit of it) whose content
/// satisfies `done`.
async fn interaction_text(world: &World, token: &str, done: impl Fn(&str) -> bool) -> String {
    let content = |call: &minstrel::local::RestCall| {
        let body = &call.body;
        body["content"]
            .as_str()
            .or(body["data"]["content"].as_str())
            .map(str::to_string)
    };
    let found = world
        .wait_for(WAIT, |w| {
            w.interaction_calls(token)
                .iter()
                .filter_map(content)
                .any(|c| done(&c))
        })
        .await;
    let calls = world.interaction_calls(token);
    assert!(found, "unexpected answers {calls:?}");
    calls.iter().filter_map(content).find(|c| done(c)).unwrap()
}

/// The choices offered when `user` types `text` into `/play`.
async fn play_suggestions(world: &World, text: &str) -> Value {
    let token = world.autocomplete(
        ALICE,
        "play",
        json!([{"name": "query", "type": 3, "value": text, "focused": true}]),
    );
    let body = bot::interaction_reply(world, &token).await;
    assert_eq!(body["type"], 8, "an autocomplete result: {body}");
    body["data"]["choices"].clone()
}

const NEVER_GONNA: &str = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";
const PLAYLIST: &str = "https://www.youtube.com/playlist?list=PLminstrel0test0mix000000000000000";

/// The `youtube` source plugin with YouTube stood in for: probes and searches are
/// answered from recorded yt-dlp metadata (tests/fixtures/ytdlp), and the download of
/// each recorded video goes through the real media service and yt-dlp to a 2 s song on
/// a loopback "remote" host.
async fn youtube_source(dir: &Path) -> (LocalHttp, Config, Arc<Recorded>) {
    let song = sine_ogg(dir, 440, 2);
    let remote = LocalHttp::start().await.unwrap();
    remote.route(
        "/video.ogg",
        Route::ok(std::fs::read(&song).unwrap()).typed("audio/ogg"),
    );
    let mut youtube = Recorded::new(Media::new(media_config()));
    youtube.probes.insert(NEVER_GONNA.into(), "video");
    youtube.probes.insert(PLAYLIST.into(), "playlist");
    for id in ["dQw4w9WgXcQ", "9bZkp7q19f0", "kJQP7kiw5Fk", "aqz-KE-bpKQ"] {
        let watch = format!("https://www.youtube.com/watch?v={id}");
        youtube.audio.insert(watch, remote.url("/video.ogg"));
    }
    let mut config = config_with(dir, &[("tone", "tone"), ("youtube", "youtube")]);
    config
        .plugins
        .grants
        .insert("youtube".into(), grant(&["media"]));
    (remote, config, Arc::new(youtube))
}

#[test]
fn play_suggestions_and_a_youtube_url_through_the_youtube_plugin() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let (remote, config, youtube) = youtube_source(tmp.path()).await;
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot_on_recorded(&server, &config, youtube.clone()).await;

        // Typing into /play: too short for a search, then search results whose values
        // are the videos' pages.
        assert_eq!(play_suggestions(world, "ne").await, json!([]));
        let never_gonna = json!([
            {"name": "Rick Astley - Never Gonna Give You Up", "value": NEVER_GONNA},
            {"name": "Rick Astley - Together Forever (Official Video)",
             "value": "https://www.youtube.com/watch?v=yPYZpwSpKmA"},
        ]);
        assert_eq!(play_suggestions(world, "never gonna").await, never_gonna);
        assert_eq!(youtube.asked_for("search").len(), 1);
        // The same words again, typed differently, and new words typed by eight users at
        // once: one more search in all (the store's TTL cache, refreshed by one caller).
        let again = ["Never Gonna", "never gonna  ", "NEVER GONNA"];
        let at_once = ["give you up"; 8];
        let answers = futures::future::join_all(
            again
                .iter()
                .chain(at_once.iter())
                .map(|text| play_suggestions(world, text)),
        )
        .await;
        assert!(answers.iter().all(|a| *a == never_gonna), "{answers:?}");
        assert_eq!(
            youtube.asked_for("search"),
            [
                "search SearchSite::Youtube never gonna 5",
                "search SearchSite::Youtube give you up 5"
            ]
        );

        // Picking the first suggestion: /play with its value plays the video.
        alice_joins(world).await;
        let token = world.slash(
            ALICE,
            "play",
            json!([{"name": "query", "type": 3, "value": NEVER_GONNA}]),
            1,
        );
        let text = interaction_text(world, &token, |c| c.starts_with("Playing")).await;
        assert_eq!(
            text,
            "Playing **Rick Astley - Never Gonna Give You Up (Official Music Video)**"
        );
        let packets = heard_whole(world, 2).await;
        assert_eq!(youtube.downloads(), 1);
        // yt-dlp's generic extractor looks at a file before downloading it.
        let hits = remote.hits("/video.ogg");

        // Another form of the same video: the same track, from the cache.
        let text = command(world, "!play https://youtu.be/dQw4w9WgXcQ?si=abc", |c| {
            c.starts_with("Playing")
        })
        .await;
        assert!(text.ends_with("(cached)"), "{text}");
        wait_packets(world, packets + 90).await;
        assert_eq!(youtube.downloads(), 1, "played twice, downloaded once");
        assert_eq!(remote.hits("/video.ogg"), hits);

        // A playlist queues its playable videos (the deleted one is skipped).
        wait_quiet(world, Duration::from_millis(600), WAIT).await;
        let text = command(world, &format!("!play {PLAYLIST}"), |c| {
            c.starts_with("Playing")
        })
        .await;
        assert_eq!(
            text,
            "Playing **Rick Astley - Never Gonna Give You Up (Official Music Video)** \
             (cached) and 3 more"
        );
        let text = command(world, "!queue", |c| c.starts_with("Now playing")).await;
        for title in [
            "1. PSY - GANGNAM STYLE",
            "2. Luis Fonsi - Despacito ft. Daddy Yankee",
            "3. Big Buck Bunny 60fps 4K",
        ] {
            assert!(text.contains(title), "{title} not in {text}");
        }
        command(world, "!stop", |c| c.starts_with("Stopped")).await;

        // Search words play the best result only (the search found two videos).
        let text = command(world, "!play never gonna", |c| c.starts_with("Playing")).await;
        assert_eq!(
            text,
            "Playing **Rick Astley - Never Gonna Give You Up** (cached)"
        );
        assert_eq!(youtube.asked_for("search").len(), 3);
        let text = command(world, "!queue", |c| c.starts_with("Now playing")).await;
        assert!(text.contains(", 0 upcoming,"), "{text}");
        command(world, "!stop", |c| c.starts_with("Stopped")).await;
        // The plugin only ever handed the host canonical watch URLs to download.
        let downloads = youtube.asked_for("download");
        assert!(
            downloads
                .iter()
                .all(|d| d.starts_with("download https://www.youtube.com/watch?v=")),
            "{downloads:?}"
        );
        host.shutdown().await;
    });
}

#[test]
fn play_files_from_the_granted_folder_through_the_local_plugin() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let music = tmp.path().join("music");
        std::fs::create_dir_all(music.join("albums")).unwrap();
        let song = sine_ogg(tmp.path(), 660, 2);
        std::fs::copy(&song, music.join("albums/Morning Song.ogg")).unwrap();
        std::fs::copy(&song, tmp.path().join("secret.ogg")).unwrap();
        let mut config = config_with(tmp.path(), &[("local", "local")]);
        config.plugins.grants.insert(
            "local".into(),
            Grant {
                files_dir: Some(music.clone()),
                ..Grant::default()
            },
        );
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config).await;
        alice_joins(world).await;

        // Words find the file by name; its path plays the same song, from the cache.
        let text = command(world, "!play MORNING song", |c| c.starts_with("Playing")).await;
        assert_eq!(text, "Playing **Morning Song**");
        let packets = heard_whole(world, 2).await;
        let text = command(world, "!play local:albums/Morning Song.ogg", |c| {
            c.starts_with("Playing")
        })
        .await;
        assert_eq!(text, "Playing **Morning Song** (cached)");
        wait_packets(world, packets + 90).await;

        // Nothing outside the folder, and a clear answer for what is not there.
        for (query, expected) in [
            ("!play local:../secret.ogg", "local: ../secret.ogg:"),
            ("!play evening", "nothing found for \"evening\""),
            (
                "!play local:albums/Evening.ogg",
                "albums/Evening.ogg: no such file in the music folder",
            ),
        ] {
            let text = command(world, query, |c| c.starts_with("Sorry")).await;
            assert!(text.contains(expected), "{query}: {text}");
        }
        host.shutdown().await;
    });
}

/// Waits until the bot is in voice `channel` (`Some`) or in none (`None`).
async fn bot_in_voice(world: &World, channel: Option<u64>, within: Duration) -> bool {
    world
        .wait_for(within, |w| w.voice_channel_of(BOT_ID) == channel)
        .await
}

#[test]
fn the_bot_leaves_when_idle_or_alone_unless_it_is_on_24_7() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = config(tmp.path());
        config.player.idle_disconnect_secs = 3;
        config.player.alone_disconnect_secs = 1;
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config).await;
        alice_joins(world).await;

        // Idle: the song ends, and 3 s later the bot leaves (not before).
        command(world, "!play tone:440:1", |c| c.starts_with("Playing")).await;
        assert!(bot_in_voice(world, Some(MUSIC), WAIT).await);
        wait_packets(world, 40).await;
        let ended = wait_quiet(world, Duration::from_millis(300), WAIT).await;
        assert!(ended >= 45, "{ended} audio packets for 1 s");
        assert!(
            !bot_in_voice(world, None, Duration::from_millis(1200)).await,
            "left before the idle time"
        );
        assert!(
            bot_in_voice(world, None, WAIT).await,
            "never left when idle"
        );

        // Alone: alice leaves in the middle of a song; the bot follows 1 s later and
        // the music stops.
        command(world, "!play tone:440:30", |c| c.starts_with("Playing")).await;
        assert!(bot_in_voice(world, Some(MUSIC), WAIT).await);
        wait_packets(world, ended + 25).await;
        world.leave_voice(ALICE);
        assert!(
            bot_in_voice(world, None, WAIT).await,
            "never left when alone"
        );
        music_stops(world, ended, 30).await;

        // Leaving keeps the queue; `!stop` empties it.
        alice_joins(world).await;
        let text = command(world, "!queue", |c| c.starts_with("Now playing")).await;
        assert!(text.contains("440 Hz tone, 30 s"), "{text}");
        command(world, "!stop", |c| c.starts_with("Stopped")).await;

        // 24/7: neither idle nor alone makes it leave; turned off, it leaves.
        let text = command(world, "!247 true", |c| c.starts_with("24/7")).await;
        assert_eq!(text, "24/7 on: I stay in the voice channel.");
        let before = audio_packets(world);
        command(world, "!play tone:440:1", |c| c.starts_with("Playing")).await;
        assert!(bot_in_voice(world, Some(MUSIC), WAIT).await);
        world.leave_voice(ALICE);
        // Alone from now on, and idle once the song has played out: it stays through
        // both timers and beyond.
        wait_packets(world, before + 45).await;
        wait_quiet(world, Duration::from_millis(300), WAIT).await;
        let both_timers = Duration::from_secs(config.player.idle_disconnect_secs + 2);
        assert!(
            !bot_in_voice(world, None, both_timers).await,
            "left while on 24/7"
        );
        command(world, "!247 false", |c| c.starts_with("24/7")).await;
        assert!(
            bot_in_voice(world, None, WAIT).await,
            "stayed after 24/7 off"
        );
        host.shutdown().await;
    });
}

#[test]
fn a_slow_search_is_answered_in_time_and_cached_for_the_next_keystroke() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let (_remote, config, youtube) = youtube_source(tmp.path()).await;
        let mut youtube = Arc::into_inner(youtube).unwrap();
        youtube.search_delay = Duration::from_secs(4);
        let youtube = Arc::new(youtube);
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot_on_recorded(&server, &config, youtube.clone()).await;

        // Discord drops an autocomplete answer after 3 s: this one is answered without
        // waiting for the 4 s search, so with no choices (how soon: the front benchmark).
        assert_eq!(play_suggestions(world, "never gonna").await, json!([]));
        assert_eq!(youtube.asked_for("search").len(), 1, "the search started");
        // The search went on; once it is cached, the next keystroke is answered from it.
        let key = "play-suggestions:never gonna";
        let deadline = Instant::now() + WAIT;
        while host.store.fresh_meta(key).await.unwrap().is_none() {
            assert!(Instant::now() < deadline, "the search never finished");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let choices = play_suggestions(world, "never gonna").await;
        assert_eq!(choices[0]["value"], NEVER_GONNA, "{choices}");
        assert_eq!(youtube.asked_for("search").len(), 1);
        host.shutdown().await;
    });
}
