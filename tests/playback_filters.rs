//! Filters end to end (the real bot, songbird, the local voice endpoint, the tone
//! source, real ffmpeg): `!filter nightcore` makes a rendition of its own, measured
//! here by ffprobe, and the song goes on with it from the same point; the choice
//! survives a restart.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]).

use std::time::Duration;

use minstrel::player::prepare::rendition_key;
use minstrel::player::{Filter, rendition};
use minstrel_local::discord::LocalDiscord;
use minstrel_local::discord::payloads::GUILD_ID;
use minstrel_tests::bot::WAIT;
use minstrel_tests::playback::{
    alice_joins, audio_packets, command, config, start_bot, wait_packets, wait_quiet,
};
use minstrel_tests::voice::run;
use minstrel_tests::wait_for;

#[test]
fn a_filter_is_a_rendition_of_its_own_and_the_song_goes_on_from_the_same_point() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let config = config(tmp.path());
        let host = start_bot(&server, &config).await;
        alice_joins(world).await;

        command(world, "!play tone:440:20", |c| c.starts_with("Playing")).await;
        wait_packets(world, 150).await; // 3 s in
        command(world, "!filter nightcore", |c| {
            c.starts_with("Filter: **nightcore**")
        })
        .await;
        let players = host.players.clone();
        let switched = wait_for(WAIT, async || {
            let now = players.now_playing(GUILD_ID).await.unwrap();
            now.is_some_and(|n| n.filter == Filter::Nightcore)
        })
        .await;
        assert!(switched, "the nightcore rendition never played");
        let text = command(world, "!nowplaying", |c| c.contains("440 Hz")).await;
        assert!(text.contains("filter nightcore"), "{text}");

        // Two renditions in the cache: nightcore is 1.25x faster, so 16 s of the 20.
        let song = players.now_playing(GUILD_ID).await.unwrap().unwrap().song;
        // The switch plays the download through the filter at once; the rendition is
        // made meanwhile.
        let length = async |filter: Filter| {
            let key = rendition_key(&config.player, &song, filter);
            let cached = wait_for(WAIT, async || {
                host.store.lookup(&key).await.unwrap().is_some()
            })
            .await;
            assert!(cached, "the {filter:?} rendition was never made");
            let blob = host.store.lookup(&key).await.unwrap().expect("cached");
            let probe = rendition::probe(&config.player, &blob.path).await.unwrap();
            probe.duration_ms.unwrap()
        };
        let plain = length(Filter::Off).await;
        let nightcore = length(Filter::Nightcore).await;
        assert!((19_900..=20_100).contains(&plain), "{plain} ms");
        assert!((15_900..=16_100).contains(&nightcore), "{nightcore} ms");

        // It went on from the same point of the song (3 s or more in): what is left of
        // the nightcore rendition is at most (20 - 3) / 1.25 s = 680 packets, where
        // starting it over would have played its 800.
        let switched_at = audio_packets(world);
        let ended = wait_quiet(world, Duration::from_millis(500), WAIT).await;
        let rest = ended - switched_at;
        assert!(
            (400..=760).contains(&rest),
            "{rest} packets after the switch"
        );

        // A name it does not know, or a speed out of range, says what it takes.
        command(world, "!filter loud", |c| {
            c.contains("no filter called `loud`")
        })
        .await;
        command(world, "!filter speed 500", |c| c.contains("50 to 200")).await;

        // The choice is saved with the guild's player, and the cached rendition serves.
        host.shutdown().await;
        let host = start_bot(&server, &config).await;
        command(world, "!play tone:440:20", |c| c.starts_with("Playing")).await;
        let text = command(world, "!nowplaying", |c| c.contains("440 Hz")).await;
        assert!(text.contains("filter nightcore"), "{text}");
        // A new song under a filter is rendered through it only: no plain rendition is
        // made first for `/play` to start with.
        command(world, "!play tone:550:3", |c| c.starts_with("Queued")).await;
        let players = host.players.clone();
        let queued = wait_for(WAIT, async || {
            let queue = players.queue(GUILD_ID).await.unwrap();
            queue.upcoming.iter().any(|s| s.title.starts_with("550 Hz"))
        })
        .await;
        assert!(queued);
        let queue = players.queue(GUILD_ID).await.unwrap();
        let new = queue
            .upcoming
            .iter()
            .find(|s| s.title.starts_with("550 Hz"))
            .unwrap()
            .clone();
        let cached = async |filter: Filter| {
            let key = rendition_key(&config.player, &new, filter);
            host.store.lookup(&key).await.unwrap().is_some()
        };
        assert!(wait_for(WAIT, async || cached(Filter::Nightcore).await).await);
        assert!(!cached(Filter::Off).await, "a plain rendition was made too");
        command(world, "!filter off", |c| c.starts_with("Filter off")).await;
        host.shutdown().await;
    });
}
