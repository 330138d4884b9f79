//! `/settings` end to end (the real bot, songbird, the local server and its voice
//! endpoint, the tone and echo sources): a member with Manage Server sets the server's
//! DJ role, default volume, announce channel, queue length and sources; the player
//! follows them; the menu under the answer puts one back to the default, once however
//! many times the press is delivered; a member without Manage Server changes nothing.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]).

use minstrel_local::discord::payloads::{
    ADMIN_ROLE, ALICE, BOB, CAROL, GENERAL, GUILD_ID, LOUNGE, MUSIC,
};
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_tests::bot::{WAIT, caught_up, slash_answer};
use minstrel_tests::playback::{alice_joins, command, config, start_bot};
use minstrel_tests::voice::run;
use serde_json::{Value, json};

/// The answer the bot posted for `/settings` (its message), found by its content.
fn settings_message(world: &World) -> Option<Value> {
    world.bot_messages().into_iter().rev().find(|m| {
        m["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("**Music settings**"))
    })
}

#[test]
fn a_servers_settings_change_its_music_and_go_back_to_the_defaults() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config(tmp.path())).await;

        // bob has no Manage Server: nothing changes.
        let options = json!([{"name": "max_queue", "type": 4, "value": 1}]);
        let refused = slash_answer(world, BOB, "settings", options).await;
        assert!(!refused.starts_with("**Music settings**"), "{refused}");
        assert_eq!(host.players.guild_settings(GUILD_ID).await.max_queue, None);

        // alice has it.
        let options = json!([
            {"name": "dj_role", "type": 8, "value": ADMIN_ROLE.to_string()},
            {"name": "default_volume", "type": 4, "value": 40},
            {"name": "announce_channel", "type": 7, "value": LOUNGE.to_string()},
            {"name": "max_queue", "type": 4, "value": 2},
            {"name": "allowed_sources", "type": 3, "value": "tone"},
        ]);
        let shown = slash_answer(world, ALICE, "settings", options).await;
        assert_eq!(
            shown,
            format!(
                "**Music settings**\nDJ role: <@&{ADMIN_ROLE}>\nVote to skip: more than 50% \
                 of the listeners (default)\nDefault volume: 40%\nAnnouncements: \
                 <#{LOUNGE}>\nQueue length: at most 2 songs\nSources: tone"
            )
        );

        // The queue holds two songs, a new queue starts at 40 %, only `tone` plays.
        alice_joins(world).await;
        // The first song is short: when it ends, the next is announced.
        command(world, "!play tone:440:6", |c| c.starts_with("Playing")).await;
        let echo = command(world, "!play echo://a", |c| c.starts_with("Sorry")).await;
        assert_eq!(
            echo,
            "Sorry, that failed: this server does not play from the echo source (see /settings)"
        );
        command(world, "!play tone:550:30", |c| c.starts_with("Queued")).await;
        let full = command(world, "!play tone:660:30", |c| c.starts_with("Sorry")).await;
        assert_eq!(full, "Sorry, that failed: the queue is full (2 songs)");
        let now = host.players.now_playing(GUILD_ID).await.unwrap().unwrap();
        assert_eq!(now.volume, 40);
        // carol has the role named DJ, no longer the DJ role: from outside the channel
        // she may not skip.
        let carol = world.send_message_in(GENERAL, CAROL, "!skip", 1);
        let refusal = minstrel_tests::bot::reply_to(world, carol).await;
        assert_eq!(
            refusal["content"],
            format!("Join <#{MUSIC}> to control the music.")
        );
        // The next song is announced in the announce channel.
        let announced = |w: &World| {
            w.bot_messages().iter().any(|m| {
                m["channel_id"] == LOUNGE.to_string().as_str()
                    && m["content"]
                        .as_str()
                        .is_some_and(|c| c.starts_with("Now playing **550 Hz"))
            })
        };
        assert!(
            world.wait_for(WAIT, announced).await,
            "{:?}",
            world
                .bot_messages()
                .iter()
                .map(|m| (m["channel_id"].clone(), m["content"].clone()))
                .collect::<Vec<_>>()
        );

        // The menu puts the queue length back to the default, once for a press
        // delivered twice.
        let message = settings_message(world).unwrap();
        let id: u64 = message["id"].as_str().unwrap().parse().unwrap();
        let menu = message["components"][0]["components"][0]["custom_id"]
            .as_str()
            .unwrap()
            .to_string();
        let token = world.press(ALICE, id, &menu, &["max_queue"], 2).unwrap();
        let reset = |w: &World| {
            w.message(id).is_some_and(|m| {
                m["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("Queue length: at most 500 songs (default)"))
            })
        };
        assert!(world.wait_for(WAIT, reset).await, "{:?}", world.message(id));
        caught_up(world).await;
        assert_eq!(world.interaction_calls(&token).len(), 1);
        let settings = host.players.guild_settings(GUILD_ID).await;
        assert_eq!(
            (settings.max_queue, settings.default_volume),
            (None, Some(40))
        );
        command(world, "!play tone:660:30", |c| c.starts_with("Queued")).await;
        host.shutdown().await;
    });
}
