//! The `nowplaying` plugin end to end (the real bot, songbird, the local server and its
//! voice endpoint, the tone source): `/controls` posts one message that follows the
//! player, refreshes its progress bar on its own, and whose buttons and menu act once
//! per press, even when the press is delivered twice, and only as the built-in commands
//! would for whoever pressed; with `lyrics:true`, it shows the line of the song's synced
//! lyrics sung now (from a loopback LRCLIB-compatible API) as the song goes on.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]).

use std::time::Duration;

use minstrel::config::plugins::Setting;
use minstrel::plugins::Grant;
use minstrel_local::discord::LocalDiscord;
use minstrel_local::discord::World;
use minstrel_local::discord::payloads::{ALICE, BOB, GUILD_ID, MUSIC};
use minstrel_local::http::{LocalHttp, Route};
use minstrel_tests::bot::{
    self, WAIT, bot_options, caught_up, install, install_granted, interaction_reply,
};
use minstrel_tests::playback::{alice_joins, command, config, wait_quiet};
use minstrel_tests::voice::{run, sine_ogg};
use serde_json::{Value, json};

/// The content of message `id`.
fn content(world: &World, id: u64) -> String {
    world.message(id).expect("the message exists")["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The full custom id of the component whose own id is `id` on message `message` (the
/// host prefixes the plugin's ids with its name).
fn component(world: &World, message: u64, id: &str) -> String {
    let message: Value = world.message(message).unwrap();
    message["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row["components"].as_array())
        .flatten()
        .filter_map(|c| c["custom_id"].as_str())
        .find(|c| c.ends_with(&format!(":{id}")))
        .unwrap_or_else(|| panic!("no component {id} on {message}"))
        .to_string()
}

/// Waits until message `id` says `text`.
async fn shows(world: &World, id: u64, text: &str) {
    let found = world
        .wait_for(WAIT, |w| content(w, id).contains(text))
        .await;
    assert!(
        found,
        "the message never said {text:?}: {:?}",
        content(world, id)
    );
}

#[test]
fn the_now_playing_message_follows_the_player_and_each_press_acts_once() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let mut config = config(tmp.path());
        let interfaces = ["player", "player-events", "kv", "timers", "messages"];
        install_granted(&mut config, "nowplaying", "nowplaying", &interfaces);
        let host = bot::start_bot(&server, &config, bot_options(&server), "controls").await;
        alice_joins(world).await;

        // `/controls` posts the message where it is used, and says so to the user only.
        let token = world.slash(ALICE, "controls", json!([]), 1);
        let answer = interaction_reply(world, &token).await;
        assert_eq!(answer["data"]["flags"], 64, "ephemeral: {answer}");
        let posted = |w: &World| {
            w.bot_messages()
                .iter()
                .find(|m| {
                    m["content"]
                        .as_str()
                        .is_some_and(|c| c.contains("Nothing is playing"))
                })
                .map(|m| m["id"].as_str().unwrap().parse::<u64>().unwrap())
        };
        assert!(world.wait_for(WAIT, |w| posted(w).is_some()).await);
        let id = posted(world).unwrap();

        // It follows the player.
        command(world, "!play tone:440:60", |c| c.starts_with("Playing")).await;
        for hz in [550, 660, 880] {
            command(world, &format!("!play tone:{hz}:60"), |c| {
                c.starts_with("Queued")
            })
            .await;
        }
        shows(world, id, "Now playing: **440 Hz").await;
        shows(world, id, "3 up next").await;
        // With no event, its progress bar moves (a refresh every few seconds).
        let bar = |w: &World| {
            content(w, id)
                .lines()
                .nth(1)
                .unwrap_or_default()
                .to_string()
        };
        let first = bar(world);
        assert!(
            world.wait_for(WAIT, |w| bar(w) != first).await,
            "the bar stayed at {first}"
        );

        // Pause, delivered twice: paused once (a second toggle would resume).
        let pause = component(world, id, "pause");
        world.press(ALICE, id, &pause, &[], 2).unwrap();
        shows(world, id, "⏸ Paused").await;
        caught_up(world).await;
        let now = host.players.now_playing(GUILD_ID).await.unwrap().unwrap();
        assert!(now.paused, "one press, one toggle");
        // Paused: the audio stops.
        wait_quiet(world, Duration::from_millis(500), Duration::from_secs(8)).await;
        world.press(ALICE, id, &pause, &[], 1).unwrap();
        shows(world, id, "▶ Now playing: **440 Hz").await;

        // The buttons follow the music rules: bob, not in voice, is refused (to him
        // alone); once listening, his skip is a vote (1 of the 2 listeners).
        let stop = component(world, id, "stop");
        let token = world.press(BOB, id, &stop, &[], 1).unwrap();
        let refused = interaction_reply(world, &token).await;
        assert_eq!(
            refused["data"]["content"],
            format!("Join <#{MUSIC}> to control the music.")
        );
        assert_eq!(refused["data"]["flags"], 64, "{refused}");
        world.join_voice(BOB, MUSIC).unwrap();
        caught_up(world).await;
        let token = world
            .press(BOB, id, &component(world, id, "skip"), &[], 1)
            .unwrap();
        let voted = interaction_reply(world, &token).await;
        assert_eq!(voted["data"]["content"], "Vote to skip: 1/2.", "{voted}");
        let now = host.players.now_playing(GUILD_ID).await.unwrap().unwrap();
        assert!(
            now.song.title.starts_with("440 Hz"),
            "not skipped: {}",
            now.song.title
        );

        // Skip by a DJ (alice has Manage Server), delivered twice: one song skipped.
        let skip = component(world, id, "skip");
        world.press(ALICE, id, &skip, &[], 2).unwrap();
        shows(world, id, "Now playing: **550 Hz").await;
        caught_up(world).await;
        let now = host.players.now_playing(GUILD_ID).await.unwrap().unwrap();
        assert!(now.song.title.starts_with("550 Hz"), "{}", now.song.title);

        // The menu jumps to the second song up next (880), past 660.
        let jump = component(world, id, "jump");
        world.press(ALICE, id, &jump, &["1"], 1).unwrap();
        shows(world, id, "Now playing: **880 Hz").await;
        shows(world, id, "0 up next").await;

        // Loop cycles the mode; stop ends it all.
        let loop_button = component(world, id, "loop");
        world.press(ALICE, id, &loop_button, &[], 1).unwrap();
        shows(world, id, "looping the song").await;
        let now = host.players.now_playing(GUILD_ID).await.unwrap().unwrap();
        assert_eq!(format!("{:?}", now.loop_mode), "Track");
        world.press(ALICE, id, &stop, &[], 1).unwrap();
        shows(world, id, "Nothing is playing").await;
        assert!(host.players.now_playing(GUILD_ID).await.unwrap().is_none());
        host.shutdown().await;
    });
}

/// The number of the lyrics line `content` shows as sung now (`🎤 **Line N ...**`).
fn sung_line(content: &str) -> Option<u32> {
    let rest = content.split("🎤 **Line ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn with_lyrics_the_message_shows_the_line_sung_now_as_the_song_goes_on() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let remote = LocalHttp::start().await.unwrap();
        let lrclib = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/lrclib/search-a.ogg.json");
        // Lines every 2 s: "Line 1" at 0:00, "Line 2" at 0:02, ...
        remote.route(
            "/api/search?q=a.ogg",
            Route::ok(std::fs::read(lrclib).unwrap()).typed("application/json"),
        );
        let song = std::fs::read(sine_ogg(tmp.path(), 440, 30)).unwrap();
        remote.route("/a.ogg", Route::ok(song).typed("audio/ogg"));
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let mut config = config(tmp.path());
        bot::install_http_source(&mut config, remote.port());
        install(&config, "nowplaying", "nowplaying");
        let interfaces = [
            "player",
            "player-events",
            "kv",
            "timers",
            "messages",
            "http",
        ];
        config.plugins.grants.insert(
            "nowplaying".into(),
            Grant {
                interfaces: interfaces.map(String::from).to_vec(),
                http_hosts: vec!["127.0.0.1".into()],
                http_ports: vec![remote.port()],
                allow_private_addresses: true,
                ..Grant::default()
            },
        );
        let base = [("base_url".to_string(), Setting(remote.url("")))];
        config
            .plugins
            .config
            .insert("nowplaying".into(), base.into_iter().collect());
        let host = bot::start_bot(&server, &config, bot_options(&server), "controls").await;
        alice_joins(world).await;

        let options = json!([{"name": "lyrics", "type": 5, "value": true}]);
        let token = world.slash(ALICE, "controls", options, 1);
        interaction_reply(world, &token).await;
        let url = remote.url("/a.ogg");
        command(world, &format!("!play {url}"), |c| c.starts_with("Playing")).await;
        let posted = |w: &World| {
            w.bot_messages()
                .iter()
                .find(|m| m["content"].as_str().is_some_and(|c| c.contains("🎤")))
                .map(|m| m["id"].as_str().unwrap().parse::<u64>().unwrap())
        };
        assert!(world.wait_for(WAIT, |w| posted(w).is_some()).await);
        let id = posted(world).unwrap();
        // A new line every 2 s, up to line 8 (at 0:14).
        let reached = |w: &World| sung_line(&content(w, id)).is_some_and(|n| n >= 8);
        assert!(
            world.wait_for(WAIT, reached).await,
            "{}",
            content(world, id)
        );
        command(world, "!stop", |c| c.starts_with("Stopped")).await;

        // Every edit of the message as it played: the line it showed went forward, one
        // line at a time or two (a refresh per line, each at least 1.5 s apart), never
        // the whole 5 s of the plain refresh.
        let path = format!("/messages/{id}");
        let shown: Vec<u32> = world
            .calls()
            .iter()
            .filter(|c| c.method == "PATCH" && c.path.ends_with(&path))
            .filter_map(|c| c.body["content"].as_str().and_then(sung_line))
            .collect();
        assert!(
            shown.windows(2).all(|w| w[0] <= w[1] && w[1] - w[0] <= 2),
            "lines shown: {shown:?}"
        );
        let distinct = shown.windows(2).filter(|w| w[0] != w[1]).count() + 1;
        assert!(distinct >= 5, "lines shown: {shown:?}");
        host.shutdown().await;
    });
}
