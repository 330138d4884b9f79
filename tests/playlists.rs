//! The `playlists` plugin end to end (the real bot, songbird, the local server and its
//! voice endpoint, the `http` source on a loopback site): a playlist saved, the bot restarted, the playlist
//! loaded; the history listing what played, and its menu queueing a song again once
//! per press; a playlist shared with the server and loaded by another member.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]).

use minstrel_local::discord::payloads::{ALICE, BOB, GUILD_ID, MUSIC};
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_local::http::{LocalHttp, Route};
use minstrel_tests::bot::{
    self, WAIT, bot_options, caught_up, install_granted, interaction_reply, slash_answer,
};
use minstrel_tests::playback::{alice_joins, command, config};
use minstrel_tests::voice::{run, sine_ogg};
use serde_json::{Value, json};

/// `/playlist ACTION [NAME]` by `user`; the content of the answer.
async fn playlist(world: &World, user: u64, action: &str, name: Option<&str>) -> String {
    let mut options = vec![json!({"name": "action", "type": 3, "value": action})];
    if let Some(name) = name {
        options.push(json!({"name": "name", "type": 3, "value": name}));
    }
    slash_answer(world, user, "playlist", Value::Array(options)).await
}

#[test]
fn a_saved_playlist_survives_a_restart_and_the_history_queues_a_song_again() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        // Songs from a loopback site: a playlist keeps a song as its page URL.
        let remote = LocalHttp::start().await.unwrap();
        for (path, hz) in [("/a.ogg", 440), ("/b.ogg", 550)] {
            let song = std::fs::read(sine_ogg(tmp.path(), hz, 30)).unwrap();
            remote.route(path, Route::ok(song).typed("audio/ogg"));
        }
        let mut config = config(tmp.path());
        bot::install_http_source(&mut config, remote.port());
        install_granted(
            &mut config,
            "playlists",
            "playlists",
            &["player", "player-events", "kv"],
        );
        let host = bot::start_bot(&server, &config, bot_options(&server), "playlist").await;
        alice_joins(world).await;
        let (a, b) = (remote.url("/a.ogg"), remote.url("/b.ogg"));
        command(world, &format!("!play {a}"), |c| c.starts_with("Playing")).await;
        command(world, &format!("!play {b}"), |c| c.starts_with("Queued")).await;
        let saved = playlist(world, ALICE, "save", Some("Road-Trip")).await;
        assert!(
            saved.starts_with("Saved **road-trip**: 2 songs."),
            "{saved}"
        );
        let refused = playlist(world, ALICE, "save", Some("two words")).await;
        assert!(refused.contains("1 to 32 letters"), "{refused}");
        command(world, "!stop", |c| c.starts_with("Stopped")).await;

        // A new process on the same database finds it.
        host.shutdown().await;
        let host = bot::start_bot(&server, &config, bot_options(&server), "playlist").await;
        caught_up(world).await;
        let loaded = playlist(world, ALICE, "load", Some("road-trip")).await;
        assert_eq!(loaded, "Queued 2 songs from **road-trip**.");
        let players = host.players.clone();
        let queue = players.queue(GUILD_ID).await.unwrap();
        let titles: Vec<&str> = queue
            .current
            .iter()
            .chain(&queue.upcoming)
            .map(|s| s.title.as_str())
            .collect();
        assert_eq!(titles, ["a.ogg", "b.ogg"]);

        // The history: what started playing, most recent first, listed once.
        let history_of = |w: &World| {
            w.bot_messages().into_iter().rev().find(|m| {
                m["content"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("Played here"))
            })
        };
        world.slash(ALICE, "history", json!([]), 1);
        assert!(world.wait_for(WAIT, |w| history_of(w).is_some()).await);
        let history = history_of(world).unwrap();
        let text = history["content"].as_str().unwrap();
        assert_eq!(text.matches("a.ogg").count(), 1, "{text}");
        // Again, delivered twice: queued once.
        let id: u64 = history["id"].as_str().unwrap().parse().unwrap();
        let again = history["components"][0]["components"][0]["custom_id"]
            .as_str()
            .unwrap()
            .to_string();
        let token = world.press(ALICE, id, &again, &["0"], 2).unwrap();
        let answer = interaction_reply(world, &token).await;
        let said = answer["data"]["content"].as_str().unwrap_or_default();
        assert!(said.starts_with("Queued **a.ogg"), "{answer}");
        caught_up(world).await;
        let queue = players.queue(GUILD_ID).await.unwrap();
        assert_eq!(queue.upcoming.len(), 2, "b, then a once more");

        // Shared: bob sees it and may load it; his own list is empty.
        let shared = playlist(world, ALICE, "share", Some("road-trip")).await;
        assert!(shared.contains("is the server's now"), "{shared}");
        let list = playlist(world, BOB, "list", None).await;
        assert_eq!(list, "Yours: none\nThis server's: road-trip");
        world.join_voice(BOB, MUSIC).unwrap();
        let loaded = playlist(world, BOB, "load", Some("road-trip")).await;
        assert_eq!(loaded, "Queued 2 songs from **road-trip**.");
        let refused = playlist(world, BOB, "delete", Some("road-trip")).await;
        assert!(
            refused.contains("only the member who shared it"),
            "{refused}"
        );
        host.shutdown().await;
    });
}
