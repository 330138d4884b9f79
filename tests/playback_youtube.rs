//! Playing from YouTube through the `youtube` source plugin, end to end (the real bot
//! against the local Discord server and its voice endpoint, real ffmpeg and yt-dlp, and
//! YouTube stood in for by recorded yt-dlp metadata): `/play` suggestions, a video, its
//! other URL forms, a playlist and search words, and a slow search answered in time.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]). The helpers these
//! files share are in `common/playback.rs`.

#[path = "sources_support/mod.rs"]
mod sources_support;

use std::sync::Arc;
use std::time::Duration;

use minstrel_local::discord::payloads::ALICE;
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_tests::bot::{self, WAIT};
use minstrel_tests::playback::{alice_joins, command, heard_whole, wait_packets, wait_quiet};
use minstrel_tests::voice::run;
use minstrel_tests::wait_for;
use serde_json::{Value, json};
use sources_support::{NEVER_GONNA, PLAYLIST, start_bot_on_recorded, youtube_source};

/// The answer to the interaction `token` (its callback or an edit of it) whose content
/// satisfies `done`.
async fn interaction_text(world: &World, token: &str, done: impl Fn(&str) -> bool) -> String {
    let content = |call: &minstrel_local::discord::RestCall| {
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

#[test]
fn play_suggestions_and_a_youtube_url_through_the_youtube_plugin() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let (remote, config, youtube) = youtube_source(tmp.path(), 2).await;
        let youtube = Arc::new(youtube);
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
fn a_slow_search_is_answered_in_time_and_cached_for_the_next_keystroke() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let (_remote, config, mut youtube) = youtube_source(tmp.path(), 2).await;
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
        let cached = async || host.store.fresh_meta(key).await.unwrap().is_some();
        assert!(wait_for(WAIT, cached).await, "the search never finished");
        let choices = play_suggestions(world, "never gonna").await;
        assert_eq!(choices[0]["value"], NEVER_GONNA, "{choices}");
        assert_eq!(youtube.asked_for("search").len(), 1);
        host.shutdown().await;
    });
}
