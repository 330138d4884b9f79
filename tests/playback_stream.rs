//! A song not cached yet plays from its download as the bytes arrive, end to end (the
//! real bot against the local Discord server and its voice endpoint, the `http` source,
//! a loopback host sending at a set rate, real ffmpeg): the music starts before the
//! download ends, a second guild joins the same download, that one download fills the
//! cache and makes the rendition every later play uses, and a download failing mid-song
//! stops the song with a clear message and caches nothing.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]).

use std::path::Path;

use minstrel::config::Config;
use minstrel::player::{Filter, Progress};
use minstrel_local::discord::payloads::{ALICE, MUSIC};
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_local::http::{LocalHttp, Route};
use minstrel_tests::bot::{self, WAIT};
use minstrel_tests::playback::{
    alice_joins, audio_packets, command, config, start_bot, wait_packets, wait_quiet,
};
use minstrel_tests::voice::{run, sine};
use minstrel_tests::{temp_files, wait_for};

const SONG: u32 = 20;

/// A 20 s Ogg Opus song (256 kbit/s, 640 KB) served at `/song.ogg` by a loopback host
/// as `route` makes it (from the body), and a config with the `http` source granted to
/// reach it. The source fetches it in ranges of 64, 128, 256 and 256 KiB.
async fn remote_song(dir: &Path, route: impl FnOnce(Vec<u8>) -> Route) -> (LocalHttp, Config) {
    let path = dir.join("song.ogg");
    let codec = ["-ac", "2", "-c:a", "libopus", "-b:a", "256k", "-vbr", "off"];
    sine(&path, 440, SONG, &codec);
    let body = std::fs::read(&path).unwrap();
    let remote = LocalHttp::start().await.unwrap();
    remote.route("/song.ogg", route(body));
    let mut config = config(dir);
    bot::install_http_source(&mut config, remote.port());
    (remote, config)
}

fn song_route(body: Vec<u8>) -> Route {
    Route::ok(body).typed("audio/ogg")
}

/// Whether the bot has posted a message containing `text`.
fn posted(world: &World, text: &str) -> bool {
    world
        .bot_messages()
        .iter()
        .any(|m| m["content"].as_str().is_some_and(|c| c.contains(text)))
}

#[test]
fn an_uncached_song_plays_while_it_downloads_and_that_download_fills_the_cache() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        // The download takes 14 s of the song's 20; 3 s of it (for the provisional
        // gain) are there after about 4 s.
        let (remote, config) = remote_song(tmp.path(), |body| {
            let rate = body.len() as u64 / 14;
            song_route(body).at_rate(rate)
        })
        .await;
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        const OTHER: u64 = 9_000;
        world.add_voice_only_guilds([OTHER]);
        let host = start_bot(&server, &config).await;
        alice_joins(world).await;

        let url = remote.url("/song.ogg");
        command(world, &format!("!play {url}"), |c| c.starts_with("Playing")).await;
        wait_packets(world, 50).await;
        let stats = host.store.stats().await.unwrap();
        assert_eq!(
            stats.index.tracks, 0,
            "a second of the song was heard, yet its download had ended: {stats:?}"
        );

        // Another guild asks for the song meanwhile: it plays from the same download.
        let players = host.players.clone();
        let songs = players.resolve(None, &url, ALICE).await.unwrap().to_play();
        let ready = players
            .prepare(&songs[0], Filter::Off, &Progress::default())
            .await
            .unwrap();
        assert!(!ready.hit());
        players
            .add(OTHER, Some(MUSIC), None, songs, Some(ready))
            .await
            .unwrap();
        let heard = world
            .voice()
            .wait_for(OTHER, WAIT, |s| s.packets - s.silence_frames >= 25)
            .await;
        assert!(heard, "the other guild heard nothing");
        let stats = host.store.stats().await.unwrap();
        assert_eq!(stats.index.tracks, 0, "the other guild waited: {stats:?}");

        // Both hear the whole song; one download served them.
        wait_packets(world, u64::from(SONG) * 50 - 5).await;
        let packets = wait_quiet(world, std::time::Duration::from_millis(600), WAIT).await;
        let expected = u64::from(SONG) * 50;
        assert!(
            (expected - 5..=expected + 6).contains(&packets),
            "{packets} audio packets for {SONG} s"
        );
        let whole = world
            .voice()
            .wait_for(OTHER, WAIT, |s| {
                s.packets - s.silence_frames >= expected - 5
            })
            .await;
        assert!(
            whole,
            "the other guild heard {:?}",
            world.voice().stats(OTHER)
        );
        assert_eq!(remote.downloads("/song.ogg"), 1, "a second download");

        // The download and the rendition made from it are cached: played again, the
        // song is a cache hit and nothing is downloaded.
        let cached = wait_for(WAIT, async || {
            host.store.stats().await.unwrap().index.tracks == 2
        })
        .await;
        assert!(cached, "{:?}", host.store.stats().await.unwrap());
        command(world, &format!("!play {url}"), |c| c.ends_with("(cached)")).await;
        wait_packets(world, packets + 50).await;
        assert_eq!(remote.downloads("/song.ogg"), 1);
        assert_eq!(temp_files(&config.data_dir), 0);
        host.shutdown().await;
    });
}

#[test]
fn a_download_failing_mid_song_stops_it_with_a_clear_message_and_caches_nothing() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        // The host answers the first two ranges (192 KiB, about 6 s of the song), then
        // sends half of the third and nothing more.
        let (remote, mut config) = remote_song(tmp.path(), |body| {
            let rate = body.len() as u64 / 4;
            Route {
                stall_after: Some(8),
                ..song_route(body).at_rate(rate)
            }
        })
        .await;
        config.store.fetch_timeout_secs = 5;
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config).await;
        alice_joins(world).await;

        let url = remote.url("/song.ogg");
        command(world, &format!("!play {url}"), |c| c.starts_with("Playing")).await;
        wait_packets(world, 50).await;
        let said = "Could not play **song.ogg**: ";
        let failed = world.wait_for(WAIT, |w| posted(w, said)).await;
        assert!(failed, "{:?}", world.bot_messages());
        assert!(posted(world, "timed out"), "{:?}", world.bot_messages());
        let heard = wait_quiet(world, std::time::Duration::from_millis(600), WAIT).await;
        assert!(
            heard < u64::from(SONG) * 50 - 100,
            "{heard} packets: the song played on"
        );

        // Nothing of it is cached, and no partial file is left.
        let stats = host.store.stats().await.unwrap();
        assert_eq!(stats.index.tracks, 0, "{stats:?}");
        assert_eq!(temp_files(&config.data_dir), 0);
        // The bot plays on.
        command(world, "!play tone:550:2", |c| c.starts_with("Playing")).await;
        wait_packets(world, audio_packets(world) + 50).await;
        host.shutdown().await;
    });
}
