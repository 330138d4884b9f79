//! Who may control playback, vote skipping, the queue's limits, and the plugin `player`
//! interface kept to its own guild. The real bot (poise + songbird) against the local
//! Discord server and its voice endpoint, with the `tone` and `tone-playlist` sources.
//!
//! The local server's users: alice has Manage Server, carol the "DJ" role (the player's
//! default `dj_role`), bob and dave neither.

#[path = "plugins_support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use minstrel::config::Config;
use minstrel::plugins::host_services::{Playing, QueueEntry};
use minstrel::plugins::types::{Context, Invocation, OptionValue};
use minstrel::plugins::{Asker, CallError, Grant, HostServices, ServiceError, Track};
use minstrel_local::discord::payloads::{ALICE, BOB, BOT_ID, CAROL, DAVE, LOUNGE, MUSIC};
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_tests::bot::{self, WAIT};
use minstrel_tests::playback::{config_with, start_bot};
use minstrel_tests::voice::run;
use serde_json::{Value, json};

fn config(dir: &Path) -> Config {
    config_with(dir, &[("tone", "tone"), ("tone_playlist", "tones")])
}

/// `user` sends `text`; returns the content of the bot's first reply.
async fn answer(world: &World, user: u64, text: &str) -> String {
    let id = world.send_message(user, text, 1);
    let reply = bot::reply_to(world, id).await;
    reply["content"].as_str().unwrap_or_default().to_string()
}

/// `user` sends `text` and waits for a reply (edited in place while a song is fetched)
/// that starts with `start`; returns it.
async fn play(world: &World, user: u64, text: &str, start: &str) -> String {
    let id = world.send_message(user, text, 1);
    let content = |w: &World| -> Vec<String> {
        w.replies_to(id)
            .iter()
            .filter_map(|m| m["content"].as_str().map(str::to_string))
            .collect()
    };
    let found = world
        .wait_for(WAIT, |w| content(w).iter().any(|c| c.starts_with(start)))
        .await;
    let replies = content(world);
    assert!(found, "{text}: unexpected replies {replies:?}");
    replies.into_iter().find(|c| c.starts_with(start)).unwrap()
}

/// `user` invokes the slash command `name` (no options); returns the answer's body.
async fn slash(world: &World, user: u64, name: &str) -> Value {
    let token = world.slash(user, name, json!([]), 1);
    bot::interaction_reply(world, &token).await
}

async fn bot_in_voice(world: &World, channel: Option<u64>) {
    assert!(
        world
            .wait_for(WAIT, |w| w.voice_channel_of(BOT_ID) == channel)
            .await,
        "the bot is in {:?}, not {channel:?}",
        world.voice_channel_of(BOT_ID)
    );
}

const CONTROLS: &[&str] = &[
    "!skip",
    "!pause",
    "!resume",
    "!stop",
    "!leave",
    "!volume 50",
    "!loop track",
    "!shuffle",
    "!remove 1",
    "!move 2 1",
    "!seek 5",
];

#[test]
fn only_listeners_and_djs_control_the_music() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config(tmp.path())).await;
        world.join_voice(BOB, MUSIC).unwrap();
        play(world, BOB, "!play tone:440:20", "Playing").await;
        play(world, BOB, "!play tone:550:20", "Queued").await;
        play(world, BOB, "!play tone:660:20", "Queued").await;
        bot_in_voice(world, Some(MUSIC)).await;

        // dave, in no voice channel and then in another one, may control nothing.
        let refused = format!("Join <#{MUSIC}> to control the music.");
        for channel in [None, Some(LOUNGE)] {
            if let Some(channel) = channel {
                world.join_voice(DAVE, channel).unwrap();
            }
            for text in CONTROLS {
                let reply = answer(world, DAVE, text).await;
                assert_eq!(reply, refused, "{text} from {channel:?}");
            }
        }
        let body = slash(world, DAVE, "pause").await;
        assert_eq!(body["data"]["content"], refused, "{body}");
        assert_eq!(body["data"]["flags"], 64, "only dave sees it: {body}");
        // Nothing changed, and anyone may look.
        let text = answer(world, DAVE, "!nowplaying").await;
        assert!(
            text.starts_with("**440 Hz tone, 20 s**\n") && text.ends_with("loop off, volume 100%"),
            "{text}"
        );
        let text = answer(world, DAVE, "!queue").await;
        assert!(
            text.contains("1. 550 Hz tone, 20 s (0:20)\n2. 660 Hz tone, 20 s (0:20)\n"),
            "{text}"
        );

        // Listening, dave may.
        world.join_voice(DAVE, MUSIC).unwrap();
        assert_eq!(answer(world, DAVE, "!volume 50").await, "Volume 50%.");
        // The DJ role and Manage Server may from anywhere, and skip without a vote.
        assert_eq!(answer(world, CAROL, "!pause").await, "Paused.");
        assert_eq!(answer(world, ALICE, "!resume").await, "Resumed.");
        assert_eq!(
            answer(world, CAROL, "!skip").await,
            "Skipped **440 Hz tone, 20 s**. Up next: **550 Hz tone, 20 s**"
        );

        // With the bot out of voice (the queue is kept), members in a voice channel may
        // control it: they are the ones who would start it again.
        assert_eq!(
            answer(world, ALICE, "!leave").await,
            "Left the voice channel."
        );
        bot_in_voice(world, None).await;
        world.leave_voice(DAVE);
        assert_eq!(
            answer(world, DAVE, "!stop").await,
            "Join a voice channel to control the music."
        );
        world.join_voice(DAVE, LOUNGE).unwrap();
        assert_eq!(
            answer(world, DAVE, "!stop").await,
            "Stopped and cleared the queue."
        );
        host.shutdown().await;
    });
}

#[test]
fn a_listeners_skip_is_a_vote_of_the_channel() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config(tmp.path())).await;
        world.join_voice(BOB, MUSIC).unwrap();
        play(world, BOB, "!play tone:440:20", "Playing").await;
        for tone in [550, 660, 770] {
            play(world, BOB, &format!("!play tone:{tone}:20"), "Queued").await;
        }
        bot_in_voice(world, Some(MUSIC)).await;

        // Two listeners: a skip needs both (strictly more than half).
        world.join_voice(DAVE, MUSIC).unwrap();
        assert_eq!(answer(world, BOB, "!skip").await, "Vote to skip: 1/2.");
        assert_eq!(
            answer(world, BOB, "!skip").await,
            "You already voted to skip this song: 1/2."
        );
        let body = slash(world, DAVE, "skip").await;
        assert_eq!(
            body["data"]["content"],
            "Skipped **440 Hz tone, 20 s**. Up next: **550 Hz tone, 20 s**"
        );

        // A new song, a new vote: dave's earlier vote does not count for it.
        assert_eq!(answer(world, DAVE, "!skip").await, "Vote to skip: 1/2.");
        // carol joins (her DJ role does not make her skip a vote, but she listens): of
        // three listeners two must vote, and dave's vote still counts.
        world.join_voice(CAROL, MUSIC).unwrap();
        assert_eq!(
            answer(world, BOB, "!skip").await,
            "Skipped **550 Hz tone, 20 s**. Up next: **660 Hz tone, 20 s**"
        );

        // Alone with the bot, a listener's skip is immediate.
        world.leave_voice(DAVE);
        world.leave_voice(CAROL);
        assert_eq!(
            answer(world, BOB, "!skip").await,
            "Skipped **660 Hz tone, 20 s**. Up next: **770 Hz tone, 20 s**"
        );
        host.shutdown().await;
    });
}

#[test]
fn the_queue_holds_at_most_its_limits_and_a_playlist_queues_what_fits() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = config(tmp.path());
        config.player.max_queue = 6;
        config.player.max_queue_per_user = 4;
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config).await;
        world.join_voice(BOB, MUSIC).unwrap();
        world.join_voice(DAVE, MUSIC).unwrap();

        // bob's playlist of six: four are his share.
        let text = play(
            world,
            BOB,
            "!play tones:440,550,660,770,880,990:20",
            "Playing",
        )
        .await;
        assert_eq!(
            text,
            "Playing **440 Hz tone, 20 s** and 3 more. 2 songs left out: one member may \
             have at most 4 songs in the queue."
        );
        // Paused, so no song ends and makes room while the test runs.
        assert_eq!(answer(world, CAROL, "!pause").await, "Paused.");
        // dave's playlist of three: two fill the queue.
        let text = play(world, DAVE, "!play tones:1000,1100,1200:20", "Queued").await;
        assert_eq!(
            text,
            "Queued **1000 Hz tone, 20 s** at position 4 and 1 more. 1 song left out: the \
             queue is full (6 songs)."
        );
        let full = "Sorry, that failed: the queue is full (6 songs)";
        assert_eq!(play(world, DAVE, "!play tone:500:20", "Sorry").await, full);

        // Under `loop queue` a played song comes round again, so it still takes a place.
        assert_eq!(answer(world, CAROL, "!loop queue").await, "Loop: queue.");
        assert_eq!(
            answer(world, CAROL, "!skip").await,
            "Skipped **440 Hz tone, 20 s**. Up next: **550 Hz tone, 20 s**"
        );
        let text = answer(world, DAVE, "!queue").await;
        assert!(text.contains(", 4 upcoming, loop queue"), "{text}");
        assert_eq!(play(world, DAVE, "!play tone:500:20", "Sorry").await, full);
        host.shutdown().await;
    });
}

/// Services recording what the plugin `player` interface asked for.
#[derive(Default)]
struct Recording(Mutex<Vec<String>>);

impl Recording {
    fn asked(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn track(title: &str) -> Track {
    Track {
        id: title.into(),
        title: title.into(),
        duration_ms: None,
        page_url: None,
    }
}

#[async_trait]
impl HostServices for Recording {
    async fn enqueue(
        &self,
        _plugin: &str,
        guild_id: u64,
        query: String,
        _at: Option<u32>,
        _asker: Option<&Asker>,
    ) -> Result<Track, ServiceError> {
        self.0
            .lock()
            .unwrap()
            .push(format!("enqueue {guild_id} {query}"));
        Ok(track(&query))
    }

    async fn skip(
        &self,
        _plugin: &str,
        guild_id: u64,
        _asker: Option<&Asker>,
    ) -> Result<Option<Track>, ServiceError> {
        self.0.lock().unwrap().push(format!("skip {guild_id}"));
        Ok(None)
    }

    async fn queue(&self, _plugin: &str, guild_id: u64) -> Result<Vec<QueueEntry>, ServiceError> {
        self.0.lock().unwrap().push(format!("queue {guild_id}"));
        Ok(vec![QueueEntry {
            track: track("a song"),
            requested_by: 1,
        }])
    }

    async fn now_playing(
        &self,
        _plugin: &str,
        _guild_id: u64,
    ) -> Result<Option<Playing>, ServiceError> {
        Ok(None)
    }
}

fn invocation_in(guild: Option<u64>, command: &str, options: &[(&str, &str)]) -> Invocation {
    Invocation {
        command: command.into(),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), OptionValue::Text(v.to_string())))
            .collect(),
        context: Context {
            guild_id: guild,
            ..support::context()
        },
    }
}

#[test]
fn a_plugin_uses_the_player_of_its_own_guild_only() {
    run(async {
        const HOME: u64 = 2000;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("plugins");
        support::install(&dir, "player_command", "jukebox");
        let mut config = support::config(&dir);
        config.grants.insert(
            "jukebox".into(),
            Grant {
                interfaces: vec!["player".into()],
                ..Grant::default()
            },
        );
        let services = Arc::new(Recording::default());
        let host = support::host_with(config, &tmp.path().join("data"), services.clone());
        for (path, result) in host.load_dir().await {
            result.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        let call = |guild: Option<u64>, command: &str, options: Vec<(&str, &str)>| {
            let host = host.clone();
            let invocation = invocation_in(guild, command, &options);
            async move {
                host.run_command("jukebox", &invocation)
                    .await
                    .map(|reply| reply.content)
            }
        };

        // In its own guild, each call reaches the player.
        let reply = call(Some(HOME), "add", vec![("query", "lofi")]).await;
        assert_eq!(reply.unwrap(), "Queued lofi");
        let reply = call(Some(HOME), "next", vec![("guild", "2000")]).await;
        assert_eq!(reply.unwrap(), "Skipped; the queue is empty");
        assert_eq!(call(Some(HOME), "list", vec![]).await.unwrap(), "a song");

        // Invoked in HOME but naming another guild, or invoked outside any guild:
        // refused, and the player is never asked.
        let other = ("guild", "9000");
        for (guild, command, options, expected) in [
            (
                Some(HOME),
                "add",
                vec![("query", "lofi"), other],
                "server it was used in",
            ),
            (Some(HOME), "next", vec![other], "server it was used in"),
            (Some(HOME), "list", vec![other], "server it was used in"),
            (
                None,
                "add",
                vec![("query", "lofi"), other],
                "not used in a server",
            ),
            (
                None,
                "next",
                vec![("guild", "2000")],
                "not used in a server",
            ),
        ] {
            let result = call(guild, command, options).await;
            let Err(error) = result else {
                panic!("{command} from {guild:?} reached the player: {result:?}");
            };
            assert!(
                matches!(&error, CallError::Plugin(text) if text.contains(expected)),
                "{command} from {guild:?}: {error:?}"
            );
        }
        assert_eq!(
            services.asked(),
            [
                format!("enqueue {HOME} lofi"),
                format!("skip {HOME}"),
                format!("queue {HOME}"),
            ]
        );
    });
}

#[test]
fn a_play_with_no_room_in_the_queue_is_refused_before_anything_is_downloaded() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = config(tmp.path());
        config.player.max_queue = 2;
        config.player.max_queue_per_user = 1;
        // A loopback "remote" host with a song for each member, through the `http` source.
        let song = std::fs::read(minstrel_tests::voice::sine_ogg(tmp.path(), 440, 2)).unwrap();
        let remote = minstrel_local::http::LocalHttp::start().await.unwrap();
        for path in ["/bob.ogg", "/dave.ogg", "/carol.ogg"] {
            remote.route(
                path,
                minstrel_local::http::Route::ok(song.clone()).typed("audio/ogg"),
            );
        }
        minstrel_tests::bot::install_http_source(&mut config, remote.port());
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config).await;
        for member in [BOB, DAVE, CAROL] {
            world.join_voice(member, MUSIC).unwrap();
        }

        play(world, BOB, "!play tone:440:20", "Playing").await;
        // Paused, so no song ends and makes room while the test runs.
        assert_eq!(answer(world, CAROL, "!pause").await, "Paused.");

        // bob is at his cap: refused, and his URL is neither looked up nor downloaded.
        let url = remote.url("/bob.ogg");
        assert_eq!(
            play(world, BOB, &format!("!play {url}"), "Sorry").await,
            "Sorry, that failed: one member may have at most 1 songs in the queue"
        );
        assert_eq!(remote.hits("/bob.ogg"), 0);

        // dave has room: his URL is fetched and queued.
        let url = remote.url("/dave.ogg");
        play(world, DAVE, &format!("!play {url}"), "Queued").await;
        assert!(remote.hits("/dave.ogg") > 0);

        // The queue is full now: carol is refused without a download too.
        let url = remote.url("/carol.ogg");
        assert_eq!(
            play(world, CAROL, &format!("!play {url}"), "Sorry").await,
            "Sorry, that failed: the queue is full (2 songs)"
        );
        assert_eq!(remote.hits("/carol.ogg"), 0);
        host.shutdown().await;
    });
}
