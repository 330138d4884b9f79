//! Playing from the source plugins other than `tone`, end to end (the real bot against
//! the local Discord server and its voice endpoint, real ffmpeg): a URL through the
//! `http` source (and two guilds playing it at once downloading it once), and files from
//! the granted folder through the `local` source.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]). The helpers these
//! files share are in `common/playback.rs`.

use std::path::Path;

use minstrel::config::Config;
use minstrel::plugins::Grant;
use minstrel_local::discord::LocalDiscord;
use minstrel_local::discord::payloads::{ALICE, GUILD_ID, MUSIC};
use minstrel_tests::bot::{self, WAIT};
use minstrel_tests::playback::{
    alice_joins, command, config, config_with, heard_whole, start_bot, wait_packets,
};
use minstrel_tests::voice::{run, sine_ogg};

/// A loopback "remote" host serving a 2 s Ogg Opus song at `/song.ogg`, and a config
/// with the `http` source granted to reach it.
async fn http_source(dir: &Path, frequency: u32) -> (minstrel_local::http::LocalHttp, Config) {
    let song = sine_ogg(dir, frequency, 2);
    let remote = minstrel_local::http::LocalHttp::start().await.unwrap();
    remote.route(
        "/song.ogg",
        minstrel_local::http::Route::ok(std::fs::read(&song).unwrap()).typed("audio/ogg"),
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
        let players = host.players.clone();

        let songs = players
            .resolve(None, &remote.url("/song.ogg"), ALICE)
            .await
            .unwrap()
            .to_play();
        let resolved = remote.hits("/song.ogg");
        let play = |guild: u64| {
            let (players, songs) = (players.clone(), songs.clone());
            async move {
                let ready = players
                    .prepare(
                        &songs[0],
                        minstrel::player::Filter::Off,
                        &minstrel::player::Progress::default(),
                    )
                    .await
                    .unwrap();
                players
                    .add(guild, Some(MUSIC), None, songs, Some(ready))
                    .await
                    .unwrap()
                    .position
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
