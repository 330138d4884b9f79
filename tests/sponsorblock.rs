//! The `sponsorblock` plugin end to end (the real bot, songbird, the local server and
//! its voice endpoint, the `youtube` source with YouTube stood in for by recorded yt-dlp
//! metadata), against a loopback SponsorBlock API serving the answer in
//! `fixtures/sponsorblock`: a 12 s video whose sponsor segment runs from 3 s to 9 s.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]).

#[path = "sources_support/mod.rs"]
mod sources_support;

use std::sync::Arc;
use std::time::Duration;

use minstrel_local::discord::payloads::ALICE;
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_local::http::Route;
use minstrel_tests::bot::{WAIT, install, slash_answer};
use minstrel_tests::playback::{alice_joins, command, wait_packets, wait_quiet};
use minstrel_tests::voice::run;
use serde_json::json;
use sources_support::{
    NEVER_GONNA, fixture, loopback_grant, settings, start_bot_on_recorded, youtube_source,
};

/// What the plugin asks SponsorBlock for the video, with the categories set below.
const SEGMENTS: &str = "/api/skipSegments?videoID=dQw4w9WgXcQ\
    &categories=%5B%22sponsor%22%2C%22music_offtopic%22%5D";
/// Audio packets of the 12 s song without its 6 s sponsor segment (20 ms each), with
/// room for the timer firing up to a few hundred milliseconds late.
const SKIPPED: std::ops::RangeInclusive<u64> = 280..=360;

async fn sponsorblock(world: &World, enabled: bool) -> String {
    let options = json!([{"name": "enabled", "type": 5, "value": enabled}]);
    slash_answer(world, ALICE, "sponsorblock", options).await
}

/// Plays the video and waits for it to end: the audio packets it sent.
async fn play_through(world: &World, before: u64) -> u64 {
    command(world, &format!("!play {NEVER_GONNA}"), |c| {
        c.starts_with("Playing")
    })
    .await;
    wait_packets(world, before + 50).await;
    wait_quiet(world, Duration::from_millis(1500), WAIT).await - before
}

fn announcements(world: &World) -> Vec<String> {
    world
        .bot_messages()
        .into_iter()
        .filter_map(|m| m["content"].as_str().map(String::from))
        .filter(|c| c.starts_with("⏭ SponsorBlock"))
        .collect()
}

#[test]
fn a_sponsor_segment_is_skipped_when_playback_reaches_it_and_announced() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let (remote, mut config, youtube) = youtube_source(tmp.path(), 12).await;
        let answer = fixture("sponsorblock/skipSegments-dQw4w9WgXcQ.json");
        remote.route(SEGMENTS, Route::ok(answer).typed("application/json"));
        install(&config, "sponsorblock", "sponsorblock");
        let interfaces = [
            "http",
            "player",
            "player-events",
            "kv",
            "timers",
            "messages",
        ];
        config.plugins.grants.insert(
            "sponsorblock".into(),
            loopback_grant(&interfaces, remote.port()),
        );
        let categories = ("categories", "sponsor, music_offtopic".to_string());
        settings(
            &mut config,
            "sponsorblock",
            &[("base_url", remote.url("")), categories],
        );
        let youtube = Arc::new(youtube);
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot_on_recorded(&server, &config, youtube.clone()).await;

        let on = sponsorblock(world, true).await;
        assert!(on.starts_with("SponsorBlock is on"), "{on}");
        alice_joins(world).await;

        // 6 s of the 12 s were never sent; the mute segment (10 s to 11 s) played.
        let first = play_through(world, 0).await;
        assert!(SKIPPED.contains(&first), "{first} audio packets");
        let announced = |w: &World| !announcements(w).is_empty();
        assert!(world.wait_for(WAIT, announced).await);
        assert_eq!(
            announcements(world),
            [
                "⏭ SponsorBlock: skipped the sponsor segment (0:03 to 0:09) of \
              **Rick Astley - Never Gonna Give You Up (Official Music Video)**"
            ]
        );
        assert_eq!(remote.hits(SEGMENTS), 1);

        // Again: the segments are remembered, and skipped again.
        let second = play_through(world, first).await;
        assert!(SKIPPED.contains(&second), "{second} audio packets");
        assert_eq!(
            remote.hits(SEGMENTS),
            1,
            "the segments were asked for again"
        );
        assert!(world.wait_for(WAIT, |w| announcements(w).len() == 2).await);

        // Off: the whole song plays.
        let off = sponsorblock(world, false).await;
        assert_eq!(off, "SponsorBlock is off for this server.");
        command(world, &format!("!play {NEVER_GONNA}"), |c| {
            c.starts_with("Playing")
        })
        .await;
        heard_whole_after(world, first + second).await;
        assert_eq!(announcements(world).len(), 2);
        host.shutdown().await;
    });
}

/// The 12 s song played whole after `before` packets.
async fn heard_whole_after(world: &World, before: u64) {
    wait_packets(world, before + 12 * 45).await;
    let whole = wait_quiet(world, Duration::from_millis(1500), WAIT).await - before;
    assert!(
        (595..=606).contains(&whole),
        "{whole} audio packets for 12 s"
    );
}
