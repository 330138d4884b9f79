//! The `links` plugin end to end (the real bot, songbird, the local server and its
//! voice endpoint; YouTube stood in for by recorded yt-dlp metadata and a loopback audio
//! file), against loopback stand-ins of Spotify's accounts service and Web API, Deezer's
//! API and Apple's iTunes lookup serving the answers in `fixtures/links`: a Spotify
//! track plays the YouTube video a search finds for it, a Spotify or Deezer album queues its
//! songs, an Apple Music song plays, a link pasted again asks no service, and a link to
//! nothing says so.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]).

#[path = "sources_support/mod.rs"]
mod sources_support;

use std::sync::Arc;

use minstrel_local::discord::LocalDiscord;
use minstrel_local::http::Route;
use minstrel_tests::bot::install;
use minstrel_tests::playback::{alice_joins, command, heard_whole, wait_packets};
use minstrel_tests::voice::run;
use sources_support::{
    NEVER_GONNA, fixture, loopback_grant, settings, start_bot_on_recorded, youtube_source,
};

const SPOTIFY_TRACK: &str = "https://open.spotify.com/track/4PTG3Z6ehGkBFwjybzWkR8?si=3c1c5e";
const TOKEN: &str = "/api/token";
const TRACK_API: &str = "/v1/tracks/4PTG3Z6ehGkBFwjybzWkR8";
const SPOTIFY_ALBUM: &str = "https://open.spotify.com/album/6N9PS4QXF1D0OWPk0Sxtb4";
const ALBUM_API: &str = "/v1/albums/6N9PS4QXF1D0OWPk0Sxtb4/tracks?limit=50";
const DEEZER_ALBUM: &str = "https://www.deezer.com/en/album/302127";
const APPLE_SONG: &str =
    "https://music.apple.com/us/album/never-gonna-give-you-up/1559523357?i=1559523359";
const LOOKUP: &str = "/lookup?id=1559523359&entity=song&country=us";

#[test]
fn spotify_deezer_and_apple_music_links_play_through_youtube() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let (remote, mut config, youtube) = youtube_source(tmp.path(), 2).await;
        let json =
            |name: &str| Route::ok(fixture(&format!("links/{name}"))).typed("application/json");
        // The client credentials below, as HTTP basic authentication.
        let basic = "Basic bWluc3RyZWwtaWQ6bWluc3RyZWwtc2VjcmV0";
        remote.route(
            TOKEN,
            json("spotify-token.json").requiring("authorization", basic),
        );
        remote.route(
            TRACK_API,
            json("spotify-track-4PTG3Z6ehGkBFwjybzWkR8.json")
                .requiring("authorization", "Bearer BQminstrel-test-token"),
        );
        remote.route(
            ALBUM_API,
            json("spotify-album-6N9PS4QXF1D0OWPk0Sxtb4-tracks.json")
                .requiring("authorization", "Bearer BQminstrel-test-token"),
        );
        remote.route("/album/302127", json("deezer-album-302127.json"));
        remote.route("/track/1", json("deezer-no-data.json"));
        remote.route(LOOKUP, json("itunes-lookup-1559523359.json"));
        install(&config, "links", "links");
        let mut grant = loopback_grant(&["http", "kv", "media"], remote.port());
        grant.call_timeout_ms = Some(60_000);
        config.plugins.grants.insert("links".into(), grant);
        let base = remote.url("");
        let urls = [
            "spotify_api_url",
            "spotify_accounts_url",
            "deezer_api_url",
            "itunes_url",
        ];
        let mut values: Vec<(&str, String)> = urls.iter().map(|k| (*k, base.clone())).collect();
        values.push(("spotify_client_id", "minstrel-id".into()));
        values.push(("spotify_client_secret", "minstrel-secret".into()));
        settings(&mut config, "links", &values);
        let youtube = Arc::new(youtube);
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot_on_recorded(&server, &config, youtube.clone()).await;
        alice_joins(world).await;

        // A Spotify track: its artist and title, searched on YouTube; the first video
        // found plays.
        let text = command(world, &format!("!play {SPOTIFY_TRACK}"), |c| {
            c.starts_with("Playing") || c.starts_with("Could not")
        })
        .await;
        assert_eq!(text, "Playing **Rick Astley - Never Gonna Give You Up**");
        let packets = heard_whole(world, 2).await;
        assert_eq!(
            youtube.asked_for("search"),
            ["search SearchSite::Youtube Rick Astley - Never Gonna Give You Up 3"]
        );
        assert_eq!(
            youtube.asked_for("download"),
            [format!("download {NEVER_GONNA}")]
        );
        assert_eq!((remote.hits(TOKEN), remote.hits(TRACK_API)), (1, 1));

        // Pasted again: from the plugin's cache and the host's, no service asked.
        let text = command(world, &format!("!play {SPOTIFY_TRACK}"), |c| {
            c.starts_with("Playing")
        })
        .await;
        assert_eq!(
            text,
            "Playing **Rick Astley - Never Gonna Give You Up** (cached)"
        );
        wait_packets(world, packets + 90).await;
        assert_eq!((remote.hits(TOKEN), remote.hits(TRACK_API)), (1, 1));
        assert_eq!(youtube.asked_for("search").len(), 1);
        command(world, "!stop", |c| c.starts_with("Stopped")).await;

        // A Spotify album, with the token asked for before (it is good for an hour).
        let text = command(world, &format!("!play {SPOTIFY_ALBUM}"), |c| {
            c.starts_with("Playing") || c.starts_with("Could not")
        })
        .await;
        assert_eq!(
            text,
            "Playing **Rick Astley - Never Gonna Give You Up** (cached) and 1 more"
        );
        assert_eq!((remote.hits(TOKEN), remote.hits(ALBUM_API)), (1, 1));
        command(world, "!stop", |c| c.starts_with("Stopped")).await;

        // A Deezer album queues its songs.
        let text = command(world, &format!("!play {DEEZER_ALBUM}"), |c| {
            c.starts_with("Playing") || c.starts_with("Could not")
        })
        .await;
        assert_eq!(text, "Playing **Daft Punk - One More Time** and 2 more");
        let queue = command(world, "!queue", |c| c.starts_with("Now playing")).await;
        for title in [
            "1. Daft Punk - Aerodynamic",
            "2. Daft Punk - Harder, Better, Faster, Stronger",
        ] {
            assert!(queue.contains(title), "{title} not in {queue}");
        }
        command(world, "!stop", |c| c.starts_with("Stopped")).await;

        // An Apple Music song, from the iTunes lookup.
        let text = command(world, &format!("!play {APPLE_SONG}"), |c| {
            c.starts_with("Playing") || c.starts_with("Could not")
        })
        .await;
        assert_eq!(text, "Playing **Rick Astley - Never Gonna Give You Up**");
        assert_eq!(remote.hits(LOOKUP), 1);
        command(world, "!stop", |c| c.starts_with("Stopped")).await;

        // A link to nothing.
        let text = command(world, "!play https://www.deezer.com/track/1", |c| {
            !c.starts_with("Playing")
        })
        .await;
        assert!(text.contains("Deezer has no songs at this link"), "{text}");
        host.shutdown().await;
    });
}
