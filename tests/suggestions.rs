//! `/play` suggestions at a human pace, through the real bot and the real `youtube`
//! plugin (YouTube stood in for by recorded yt-dlp metadata): a burst of keystrokes
//! starts one search, and each user has a search budget.

#[path = "sources_support/mod.rs"]
mod sources_support;

use std::sync::Arc;

use minstrel::media::Media;
use minstrel_local::discord::LocalDiscord;
use minstrel_local::discord::World;
use minstrel_local::discord::payloads::{ALICE, BOB};
use minstrel_tests::bot::{self, WAIT, host_config, install};
use minstrel_tests::voice::run;
use serde_json::{Value, json};
use sources_support::{Recorded, grant, media_config, start_bot_on_recorded};

fn typed(world: &World, user: u64, text: &str) -> String {
    world.autocomplete(
        user,
        "play",
        json!([{"name": "query", "type": 3, "value": text, "focused": true}]),
    )
}

async fn choices(world: &World, token: &str) -> Value {
    let body = bot::interaction_reply(world, token).await;
    assert_eq!(body["type"], 8, "an autocomplete result: {body}");
    body["data"]["choices"].clone()
}

#[test]
fn a_burst_of_keystrokes_searches_once_and_each_user_has_a_budget() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = host_config(tmp.path());
        config.plugins.call_timeout_ms = 30_000;
        install(&config, "youtube", "youtube");
        config
            .plugins
            .grants
            .insert("youtube".into(), grant(&["media"]));
        config.player.suggestions_per_minute = 3;
        // Far longer than the gaps inside a burst sent at once, so the test does not
        // depend on the machine's speed.
        config.player.suggest_debounce_ms = 1000;
        let youtube = Arc::new(Recorded::new(Media::new(media_config())));
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot_on_recorded(&server, &config, youtube.clone()).await;

        // Alice types "never gonna" one key at a time, faster than the debounce.
        let burst = [
            "nev",
            "neve",
            "never",
            "never g",
            "never gon",
            "never gonna",
        ];
        let tokens: Vec<String> = burst.iter().map(|t| typed(world, ALICE, t)).collect();
        for token in &tokens[..tokens.len() - 1] {
            assert_eq!(
                choices(world, token).await,
                json!([]),
                "a superseded keystroke"
            );
        }
        choices(world, tokens.last().unwrap()).await;
        let searched = || youtube.asked_for("search");
        assert!(
            world.wait_for(WAIT, |_| !searched().is_empty()).await,
            "the last keystroke never searched"
        );
        assert_eq!(searched(), ["search SearchSite::Youtube never gonna 5"]);
        // Typing it again is answered from the cache.
        let again = choices(world, &typed(world, ALICE, "never gonna")).await;
        assert_eq!(again[0]["name"], "Rick Astley - Never Gonna Give You Up");
        assert_eq!(searched().len(), 1);

        // Bob looks for three songs, one after another: three searches, his budget.
        for text in ["give you up", "gangnam style", "big buck bunny"] {
            let found = choices(world, &typed(world, BOB, text)).await;
            assert_ne!(found, json!([]), "{text}");
        }
        assert_eq!(searched().len(), 4);
        // A fourth is refused (an empty answer, no search); alice still has budget.
        let refused = choices(world, &typed(world, BOB, "despacito")).await;
        assert_eq!(refused, json!([]));
        assert_eq!(searched().len(), 4, "over the budget: {:?}", searched());
        let found = choices(world, &typed(world, ALICE, "despacito")).await;
        assert_ne!(found, json!([]));
        assert_eq!(searched().len(), 5);
        host.shutdown().await;
    });
}
