//! The `lyrics` plugin end to end (the real bot, songbird, the local server and its
//! voice endpoint, the `http` source), against a loopback LRCLIB-compatible API serving
//! the answers in `fixtures/lrclib`: lyrics of a song named, in pages turned with
//! buttons; lyrics of the song playing with the line playing now marked; a song the
//! service does not know.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]).

use std::path::Path;

use minstrel::config::plugins::Setting;
use minstrel::plugins::Grant;
use minstrel_local::discord::payloads::ALICE;
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_local::http::{LocalHttp, Route};
use minstrel_tests::bot::{self, WAIT, bot_options, install, slash_answer};
use minstrel_tests::playback::{alice_joins, command, config, wait_packets};
use minstrel_tests::voice::{run, sine_ogg};
use serde_json::{Value, json};

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/lrclib")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `/lyrics [song]` as alice: the content of the answer.
async fn lyrics(world: &World, song: Option<&str>) -> String {
    let options = match song {
        Some(song) => json!([{"name": "song", "type": 3, "value": song}]),
        None => json!([]),
    };
    slash_answer(world, ALICE, "lyrics", options).await
}

#[test]
fn lyrics_of_a_song_named_in_pages_and_of_the_song_playing_with_its_line_marked() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let remote = LocalHttp::start().await.unwrap();
        let json = |name: &str| Route::ok(fixture(name)).typed("application/json");
        remote.route(
            "/api/search?q=A%20Test%20Song",
            json("search-a-test-song.json"),
        );
        remote.route("/api/get/3396226", json("get-3396226.json"));
        remote.route("/api/search?q=a.ogg", json("search-a.ogg.json"));
        remote.route(
            "/api/search?q=nothing%20at%20all",
            json("search-nothing.json"),
        );
        let song = std::fs::read(sine_ogg(tmp.path(), 440, 30)).unwrap();
        remote.route("/a.ogg", Route::ok(song).typed("audio/ogg"));

        let mut config = config(tmp.path());
        bot::install_http_source(&mut config, remote.port());
        install(&config, "lyrics", "lyrics");
        config.plugins.grants.insert(
            "lyrics".into(),
            Grant {
                interfaces: ["http", "player"].map(String::from).to_vec(),
                http_hosts: vec!["127.0.0.1".into()],
                http_ports: vec![remote.port()],
                allow_private_addresses: true,
                ..Grant::default()
            },
        );
        let base = remote.url("");
        config.plugins.config.insert(
            "lyrics".into(),
            [("base_url".to_string(), Setting(base))]
                .into_iter()
                .collect(),
        );
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = bot::start_bot(&server, &config, bot_options(&server), "lyrics").await;

        // A song named: the first of two pages, and Next turns it.
        let first = lyrics(world, Some("A Test Song")).await;
        assert!(
            first.starts_with("**A Test Song** by The Fixtures (page 1 of 2)"),
            "{first}"
        );
        assert!(first.contains("Verse line 1,") && !first.contains("Verse line 40,"));
        let posted = |w: &World| -> Option<Value> {
            w.bot_messages().into_iter().find(|m| {
                m["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("(page 1 of 2)"))
            })
        };
        assert!(world.wait_for(WAIT, |w| posted(w).is_some()).await);
        let message = posted(world).unwrap();
        let id: u64 = message["id"].as_str().unwrap().parse().unwrap();
        let next = message["components"][0]["components"][1]["custom_id"]
            .as_str()
            .unwrap()
            .to_string();
        world.press(ALICE, id, &next, &[], 1).unwrap();
        let turned = |w: &World| {
            w.message(id).is_some_and(|m| {
                let text = m["content"].as_str().unwrap_or_default();
                text.contains("(page 2 of 2)") && text.contains("Verse line 40,")
            })
        };
        assert!(
            world.wait_for(WAIT, turned).await,
            "{:?}",
            world.message(id)
        );

        // The song playing, 5 s in: its synced lyrics with the line now (at 4 s or
        // later, so not the first) marked.
        alice_joins(world).await;
        let url = remote.url("/a.ogg");
        command(world, &format!("!play {url}"), |c| c.starts_with("Playing")).await;
        wait_packets(world, 250).await;
        let now = lyrics(world, None).await;
        assert!(now.starts_with("**a.ogg** by Sine Waves"), "{now}");
        let marked: Vec<&str> = now.lines().filter(|l| l.starts_with("▶ ")).collect();
        assert_eq!(marked.len(), 1, "{now}");
        assert!(
            !marked[0].contains("Line 1 ") && !marked[0].contains("Line 2 "),
            "{now}"
        );

        let unknown = lyrics(world, Some("nothing at all")).await;
        assert_eq!(unknown, "No lyrics found for nothing at all.");
        host.shutdown().await;
    });
}
