//! The `autoplay` plugin end to end (the real bot, songbird, the local server and its
//! voice endpoint, the `youtube` source with YouTube stood in for by recorded yt-dlp
//! metadata, the mix of the first video among them): when the queue runs out, the next
//! song of the last video's mix is queued, announced and played.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]).

#[path = "sources_support/mod.rs"]
mod sources_support;

use std::sync::Arc;
use std::time::Duration;

use minstrel_local::discord::payloads::ALICE;
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_tests::bot::{WAIT, install, slash_answer};
use minstrel_tests::playback::{alice_joins, command, wait_packets, wait_quiet};
use minstrel_tests::voice::run;
use serde_json::json;
use sources_support::{NEVER_GONNA, grant, start_bot_on_recorded, youtube_source};

const MIX: &str = "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=RDdQw4w9WgXcQ";
const GANGNAM: &str = "https://www.youtube.com/watch?v=9bZkp7q19f0";

async fn autoplay(world: &World, enabled: bool) -> String {
    let options = json!([{"name": "enabled", "type": 5, "value": enabled}]);
    slash_answer(world, ALICE, "autoplay", options).await
}

fn announcements(world: &World) -> Vec<String> {
    world
        .bot_messages()
        .into_iter()
        .filter_map(|m| m["content"].as_str().map(String::from))
        .filter(|c| c.starts_with("🔀 Autoplay"))
        .collect()
}

#[test]
fn when_the_queue_runs_out_the_next_song_of_the_mix_plays() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let (_remote, mut config, mut youtube) = youtube_source(tmp.path(), 2).await;
        youtube.probes.insert(MIX.into(), "mix");
        youtube.probes.insert(GANGNAM.into(), "video-9bZkp7q19f0");
        install(&config, "autoplay", "autoplay");
        let interfaces = ["player", "player-events", "kv", "messages", "media"];
        config
            .plugins
            .grants
            .insert("autoplay".into(), grant(&interfaces));
        let youtube = Arc::new(youtube);
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot_on_recorded(&server, &config, youtube.clone()).await;

        let on = autoplay(world, true).await;
        assert!(on.starts_with("Autoplay is on"), "{on}");
        alice_joins(world).await;
        command(world, &format!("!play {NEVER_GONNA}"), |c| {
            c.starts_with("Playing")
        })
        .await;

        // The first song ends, and the mix's next video (the mix starts with the video
        // itself) is queued and plays: two 2 s songs in all.
        let announced = |w: &World| !announcements(w).is_empty();
        assert!(world.wait_for(WAIT, announced).await, "nothing autoplayed");
        assert_eq!(
            announcements(world),
            ["🔀 Autoplay: queued **PSY - GANGNAM STYLE(강남스타일) M/V**"]
        );
        assert!(youtube.asked_for("probe").contains(&format!("probe {MIX}")));
        let off = autoplay(world, false).await;
        assert_eq!(off, "Autoplay is off for this server.");
        wait_packets(world, 2 * 95).await;
        let packets = wait_quiet(world, Duration::from_millis(1500), WAIT).await;
        assert!((195..=206).contains(&packets), "{packets} audio packets");
        let downloads = youtube.asked_for("download");
        assert_eq!(
            downloads,
            [
                format!("download {NEVER_GONNA}"),
                format!("download {GANGNAM}")
            ]
        );
        assert_eq!(announcements(world).len(), 1);
        host.shutdown().await;
    });
}
