//! Live streams end to end (the real bot against the local Discord server and its voice
//! endpoint, the `radio` source, real ffmpeg): an Icecast-style station plays as it
//! arrives with its ICY title in `/nowplaying`, plays on through a dropped connection,
//! refuses to seek, leaves nothing in the cache, shows its title in the `nowplaying`
//! plugin's message, plays again from a queue saved across a restart and from a saved
//! playlist; an HLS playlist made by ffmpeg
//! plays whole and ends; a stream the source's grant does not reach is refused before
//! it is queued.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]).

use std::path::Path;

use minstrel::app::Host;
use minstrel::config::Config;
use minstrel::config::plugins::Setting;
use minstrel::plugins::Grant;
use minstrel_local::discord::payloads::ALICE;
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_local::http::{LocalHttp, Route};
use minstrel_local::radio::LocalRadio;
use minstrel_tests::bot::{
    WAIT, install_granted, install_http_source, interaction_reply, slash_answer,
};
use minstrel_tests::playback::{
    alice_joins, audio_packets, command, config_with, heard_whole, start_bot, wait_packets,
};
use minstrel_tests::voice::{run, sine};
use minstrel_tests::{temp_files, wait_for};

/// 128 kbit/s MP3: the station sends 16,000 bytes a second, real time.
const RATE: u64 = 16_000;

/// A config with the `radio` source, granted loopback port `port` and with the
/// station `local` at `url`.
fn radio_config(dir: &Path, port: u16, url: &str) -> Config {
    let mut config = config_with(dir, &[("radio", "radio")]);
    let grant = Grant {
        interfaces: vec!["http".into()],
        http_hosts: vec!["127.0.0.1".into()],
        http_ports: vec![port],
        allow_private_addresses: true,
        ..Grant::default()
    };
    config.plugins.grants.insert("radio".into(), grant);
    config.plugins.config.insert(
        "radio".into(),
        [("stations".to_string(), Setting(format!("local={url}")))]
            .into_iter()
            .collect(),
    );
    config
}

/// A station looping a 10 s MP3 tone titled "First Song", the bot on a config with
/// it as `local`, and `!play radio:local` heard for a second (so the first metadata
/// block, which comes before that second, has been read).
async fn station_playing(dir: &Path) -> (LocalRadio, Config, LocalDiscord, Host) {
    station_playing_with(dir, |_| {}).await
}

/// [`station_playing`], with the config changed by `change` first.
async fn station_playing_with(
    dir: &Path,
    change: impl FnOnce(&mut Config),
) -> (LocalRadio, Config, LocalDiscord, Host) {
    let mp3 = dir.join("loop.mp3");
    sine(
        &mp3,
        440,
        10,
        &["-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k"],
    );
    let radio = LocalRadio::start(std::fs::read(&mp3).unwrap(), RATE, "First Song")
        .await
        .unwrap();
    let mut config = radio_config(dir, radio.port(), &radio.url());
    change(&mut config);
    let server = LocalDiscord::start().await.unwrap();
    let world = server.world();
    let host = start_bot(&server, &config).await;
    alice_joins(world).await;
    command(world, "!play radio:local", |c| {
        c == "Playing **local** (live)"
    })
    .await;
    wait_packets(world, 50).await;
    (radio, config, server, host)
}

/// `/nowplaying`'s answer.
async fn now_playing(world: &minstrel_local::discord::World) -> String {
    command(world, "!nowplaying", |_| true).await
}

#[test]
fn a_station_plays_live_with_its_title_through_a_dropped_connection_and_caches_nothing() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let (radio, config, server, host) = station_playing(tmp.path()).await;
        let world = server.world();
        let now = now_playing(world).await;
        assert!(now.contains("Now on air: First Song"), "{now}");
        assert_eq!(
            radio.with_metadata(),
            1,
            "the player did not ask for titles"
        );

        radio.set_title("Second Song");
        let changed = wait_for(WAIT, async || {
            now_playing(world).await.contains("Now on air: Second Song")
        })
        .await;
        assert!(
            changed,
            "the new title never showed: {}",
            now_playing(world).await
        );

        // The station drops the connection: the player connects again and the music
        // goes on, well past what ffmpeg and the burst had buffered (a few seconds).
        let before = audio_packets(world);
        radio.drop_listeners();
        let again = wait_for(WAIT, async || radio.connections() == 2).await;
        assert!(again, "no second connection: {}", radio.connections());
        wait_packets(world, before + 12 * 50).await;
        assert_eq!(radio.connections(), 2, "connected more than once again");

        let refused = command(world, "!seek 1:00", |c| c.contains("live")).await;
        assert!(refused.contains("cannot seek"), "{refused}");

        // Nothing of it was cached, written or leased.
        let stats = host.store.stats().await.unwrap();
        assert_eq!(stats.index.tracks, 0, "{stats:?}");
        assert_eq!(temp_files(&config.data_dir), 0);
        command(world, "!stop", |c| !c.is_empty()).await;
        host.shutdown().await;
    });
}

/// The `nowplaying` plugin's message shows what the station says is on air (through
/// the player's `on-air`), markdown-escaped, and follows the station when it changes.
#[test]
fn the_controls_message_follows_the_station_title() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let (radio, _config, server, host) = station_playing_with(tmp.path(), |config| {
            let interfaces = ["player", "player-events", "kv", "timers", "messages"];
            install_granted(config, "nowplaying", "nowplaying", &interfaces);
        })
        .await;
        let world = server.world();
        let token = world.slash(ALICE, "controls", serde_json::json!([]), 1);
        interaction_reply(world, &token).await;
        let on_air = |w: &World, title: &str| {
            let line = format!("📻 Now on air: **{title}**");
            w.bot_messages()
                .iter()
                .any(|m| m["content"].as_str().is_some_and(|c| c.contains(&line)))
        };
        let shown = world.wait_for(WAIT, |w| on_air(w, "First Song")).await;
        assert!(shown, "no title: {:?}", world.bot_messages());

        radio.set_title("Second *Song*");
        let followed = world
            .wait_for(WAIT, |w| on_air(w, "Second \\*Song\\*"))
            .await;
        assert!(
            followed,
            "the new title never showed: {:?}",
            world.bot_messages()
        );
        command(world, "!stop", |c| !c.is_empty()).await;
        host.shutdown().await;
    });
}

/// A station saved in a playlist comes back live when the playlist is loaded, through
/// `radio`, with the `http` source beside it granted the same port: a playlist that
/// kept the stream's bare URL would hand it to the file sources, which cannot play it.
#[test]
fn a_station_saved_in_a_playlist_plays_live_when_loaded() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let (radio, _config, server, host) = station_playing_with(tmp.path(), |config| {
            let port = config.plugins.grants["radio"].http_ports[0];
            install_http_source(config, port);
            install_granted(
                config,
                "playlists",
                "playlists",
                &["player", "player-events", "kv"],
            );
        })
        .await;
        let world = server.world();
        let playlist = |action: &str| {
            serde_json::json!([
                {"name": "action", "type": 3, "value": action},
                {"name": "name", "type": 3, "value": "stations"},
            ])
        };
        let saved = slash_answer(world, ALICE, "playlist", playlist("save")).await;
        assert!(saved.starts_with("Saved **stations**: 1 songs."), "{saved}");
        command(world, "!stop", |c| c.starts_with("Stopped")).await;

        let loaded = slash_answer(world, ALICE, "playlist", playlist("load")).await;
        assert_eq!(loaded, "Queued 1 songs from **stations**.");
        let again = wait_for(WAIT, async || radio.connections() == 2).await;
        assert!(
            again,
            "the station was not reached again: {}",
            radio.connections()
        );
        let now = now_playing(world).await;
        assert!(now.contains("(live)\nNow on air: First Song"), "{now}");
        let stats = host.store.stats().await.unwrap();
        assert_eq!(stats.index.tracks, 0, "a station was cached: {stats:?}");
        command(world, "!stop", |c| !c.is_empty()).await;
        host.shutdown().await;
    });
}

#[test]
fn a_station_in_a_saved_queue_plays_again_after_a_restart() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let (radio, config, server, host) = station_playing(tmp.path()).await;
        let world = server.world();

        // The bot stops (saving its queue) and starts again on the same data.
        host.shutdown().await;
        let stopped = audio_packets(world);
        let host = start_bot(&server, &config).await;
        wait_packets(world, stopped + 100).await;
        assert_eq!(radio.connections(), 2, "the station was not asked again");
        let now = now_playing(world).await;
        assert!(now.contains("**local** (live)"), "{now}");
        assert!(now.contains("Now on air: First Song"), "{now}");
        assert_eq!(host.store.stats().await.unwrap().index.tracks, 0);
        host.shutdown().await;
    });
}

#[test]
fn an_hls_playlist_made_by_ffmpeg_plays_whole_and_ends() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("hls");
        std::fs::create_dir_all(&dir).unwrap();
        // 6 s of AAC in MPEG-TS segments of 2 s, the playlist ending with ENDLIST.
        let playlist = dir.join("index.m3u8");
        let hls = [
            "-ac",
            "2",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_playlist_type",
            "vod",
            "-hls_segment_filename",
        ];
        let segments = dir.join("seg%d.ts");
        let mut codec: Vec<&str> = hls.to_vec();
        codec.push(segments.to_str().unwrap());
        sine(&playlist, 440, 6, &codec);
        let remote = LocalHttp::start().await.unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let kind = if name.ends_with(".m3u8") {
                "application/vnd.apple.mpegurl"
            } else {
                "video/mp2t"
            };
            let body = std::fs::read(&path).unwrap();
            remote.route(&format!("/live/{name}"), Route::ok(body).typed(kind));
        }
        let url = remote.url("/live/index.m3u8");
        let config = radio_config(tmp.path(), remote.port(), &url);
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config).await;
        alice_joins(world).await;

        command(world, &format!("!play {url}"), |c| {
            c.starts_with("Playing") && c.ends_with("(live)")
        })
        .await;
        heard_whole(world, 6).await;
        let ended = wait_for(WAIT, async || {
            now_playing(world).await == "Nothing is playing."
        })
        .await;
        assert!(ended, "{}", now_playing(world).await);
        let failed = world.bot_messages().iter().any(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.contains("Could not play"))
        });
        assert!(!failed, "{:?}", world.bot_messages());
        assert_eq!(remote.hits("/live/seg2.ts"), 1);
        assert_eq!(host.store.stats().await.unwrap().index.tracks, 0);
        host.shutdown().await;
    });
}

#[test]
fn a_stream_the_sources_grant_does_not_reach_is_refused_before_it_is_queued() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let radio = LocalRadio::start(vec![0; 1024], RATE, "x").await.unwrap();
        // Granted another port than the station's.
        let config = radio_config(tmp.path(), radio.port() ^ 1, &radio.url());
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config).await;
        alice_joins(world).await;
        let answer = command(world, "!play radio:local", |c| c.contains("not granted")).await;
        assert!(
            answer.contains(&format!("port {}", radio.port())),
            "{answer}"
        );
        assert_eq!(radio.connections(), 0);
        assert_eq!(now_playing(world).await, "Nothing is playing.");
        host.shutdown().await;
    });
}
