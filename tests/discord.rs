//! The Discord front, tested the way it runs: the real poise/serenity client talking
//! over loopback to the local Discord-compatible server, real SQLite, real plugins.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use minstrel::app::Host;
use minstrel::config::Config;
use minstrel::discord::BotOptions;
use minstrel::plugins::Grant;
use minstrel_local::discord::payloads::{ALICE, BOB, BOT_ID, GUILD_ID};
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_local::llm::{LocalLlm, Script};
use minstrel_tests::bot::*;
use minstrel_tests::*;
use serde_json::json;

fn config(dir: &Path) -> Config {
    let mut config = host_config(dir);
    config.plugins.debounce_ms = 100;
    config
}

async fn start(dir: &Path) -> (LocalDiscord, Host) {
    start_with(config(dir), Vec::new()).await
}

async fn start_with(config: Config, mention_order: Vec<String>) -> (LocalDiscord, Host) {
    let server = LocalDiscord::start().await.unwrap();
    let options = BotOptions {
        mention_order,
        shards: minstrel::shards::ShardPlan::Single,
        ..bot_options(&server)
    };
    let host = start_bot(&server, &config, options, "ping").await;
    (server, host)
}

fn posts(world: &World) -> Vec<minstrel_local::discord::RestCall> {
    world
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path == "/api/v10/channels/4000/messages")
        .collect()
}

/// The bot's replies, by the id of the message each answers.
fn replies_by_message(world: &World) -> HashMap<String, Vec<serde_json::Value>> {
    let mut replies: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    for reply in world.bot_messages() {
        if let Some(id) = reply["message_reference"]["message_id"].as_str() {
            replies.entry(id.to_string()).or_default().push(reply);
        }
    }
    replies
}

/// Waits for a reply to each message in `ids` (the only messages the bot has been
/// sent), then, once the bot has answered a later message, checks that each got exactly
/// one. Returns the replies in the order of `ids`.
async fn assert_one_reply_each(world: &World, ids: &[u64]) -> Vec<serde_json::Value> {
    assert!(
        world
            .wait_for(Duration::from_secs(180), |w| w.bot_messages().len()
                >= ids.len())
            .await,
        "only {} replies",
        world.bot_messages().len()
    );
    caught_up(world).await;
    let mut replies = replies_by_message(world);
    let wrong: Vec<(u64, usize)> = ids
        .iter()
        .map(|id| (*id, replies.get(&id.to_string()).map_or(0, Vec::len)))
        .filter(|(_, n)| *n != 1)
        .collect();
    assert!(
        wrong.is_empty(),
        "(message, replies) not answered once: {wrong:?}"
    );
    // The replies above and the `pong`, nothing else.
    assert_eq!(world.bot_messages().len(), ids.len() + 1);
    ids.iter()
        .map(|id| replies.remove(&id.to_string()).unwrap().remove(0))
        .collect()
}

/// `minstrel dev` run again on the same data folder: a new local server, the same
/// claims in the store. The second bot answers from its first message on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_session_on_the_same_data_folder_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    for session in 0..2 {
        let (server, host) = start(dir.path()).await;
        let world = server.world();
        let id = world.send_message(ALICE, "!ping", 1);
        eprintln!("session {session}: !ping is message {id}");
        reply_to(world, id).await;
        host.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prefix_slash_and_mention_produce_the_expected_calls() {
    let dir = tempfile::tempdir().unwrap();
    let (server, host) = start(dir.path()).await;
    let world = server.world();

    // The built-ins are registered in the dev guild.
    let names: Vec<String> = world
        .guild_commands()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    for expected in ["help", "ping", "plugins", "cache"] {
        assert!(names.contains(&expected.to_string()), "{names:?}");
    }

    // Prefix: exactly one POST, a reply to the message, with the content.
    let before = posts(world).len();
    let id = world.send_message(ALICE, "!ping", 1);
    let reply = reply_to(world, id).await;
    assert_eq!(reply["content"], "pong");
    let new: Vec<_> = posts(world)[before..].to_vec();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(
        new[0].body["message_reference"]["message_id"],
        id.to_string()
    );
    assert_eq!(new[0].body["content"], "pong");

    // Slash: exactly one interaction callback (type 4) with the content.
    let token = world.slash(ALICE, "ping", json!([]), 1);
    assert!(
        world
            .wait_for(WAIT, |w| !w.interaction_calls(&token).is_empty())
            .await
    );
    caught_up(world).await;
    let calls = world.interaction_calls(&token);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].path.ends_with("/callback"));
    assert_eq!(calls[0].body["type"], 4);
    assert_eq!(calls[0].body["data"]["content"], "pong");

    // Subcommands and permissions: stats for everyone, gc for Manage Server only.
    let id = world.send_message(BOB, "!cache stats", 1);
    assert!(
        reply_to(world, id).await["content"]
            .as_str()
            .unwrap()
            .starts_with("Cache:")
    );
    // The refusal is sent by poise to the channel (not as a reply): that one message.
    let before = world.bot_messages().len();
    world.send_message(BOB, "!cache gc", 1);
    assert!(
        world
            .wait_for(WAIT, |w| w.bot_messages().len() > before)
            .await,
        "no refusal"
    );
    caught_up(world).await;
    let answers: Vec<_> = world.bot_messages()[before..]
        .iter()
        .map(|m| m["content"].clone())
        .collect();
    assert_eq!(
        answers,
        [
            json!("You're lacking permissions for `!gc`: Manage Guild"),
            json!("pong")
        ]
    );
    let id = world.send_message(ALICE, "!cache gc", 1);
    assert!(
        reply_to(world, id).await["content"]
            .as_str()
            .unwrap()
            .starts_with("Evicted")
    );
    let token = world.slash(
        BOB,
        "cache",
        json!([{"name": "clear", "type": 1, "options": []}]),
        1,
    );
    assert!(
        world
            .wait_for(WAIT, |w| !w.interaction_calls(&token).is_empty())
            .await
    );
    caught_up(world).await;
    let answers: Vec<_> = world
        .interaction_calls(&token)
        .iter()
        .map(|c| {
            let data = &c.body["data"];
            (
                c.body["type"].clone(),
                data["content"].clone(),
                data["flags"].clone(),
            )
        })
        .collect();
    assert_eq!(
        answers,
        [(
            json!(4),
            json!("You're lacking permissions for `/clear`: Manage Guild"),
            json!(64)
        )],
        "one refusal, seen only by bob"
    );

    // A mention with no mention plugin loaded gets one clear answer.
    let id = world.send_message(ALICE, &format!("<@{BOT_ID}> hello there"), 1);
    let reply = reply_to(world, id).await;
    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .contains("No mention plugin"),
        "{reply}"
    );

    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plugin_commands_and_mentions_are_served_by_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    install(&config, "hello_command", "hello");
    install(&config, "ask_mention", "ask");
    let (server, host) = start_with(config, Vec::new()).await;
    let world = server.world();
    assert!(
        world
            .wait_for(WAIT, |w| w
                .guild_commands()
                .iter()
                .any(|c| c["name"] == "hello"))
            .await
    );

    let token = world.slash(
        ALICE,
        "hello",
        json!([{"name": "who", "type": 3, "value": "world"}]),
        1,
    );
    assert!(
        world
            .wait_for(WAIT, |w| !w.interaction_calls(&token).is_empty())
            .await
    );
    assert_eq!(
        world.interaction_calls(&token)[0].body["data"]["content"],
        "Hello, world!"
    );

    let id = world.send_message(ALICE, "!hello Bob Smith", 1);
    assert_eq!(reply_to(world, id).await["content"], "Hello, Bob Smith!");

    // The mention plugin is routed to; without an LLM configured it fails, and the
    // user gets one short explanation as a reply.
    let id = world.send_message(ALICE, &format!("<@{BOT_ID}> what is up?"), 1);
    let reply = reply_to(world, id).await;
    assert!(
        reply["content"].as_str().unwrap().contains("Sorry"),
        "{reply}"
    );
    caught_up(world).await;
    assert_eq!(world.replies_to(id).len(), 1);

    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_messages_delivered_twice_get_a_thousand_replies() {
    let dir = tempfile::tempdir().unwrap();
    let (server, host) = start(dir.path()).await;
    let world = server.world();
    let ids: Vec<u64> = (0..1000)
        .map(|_| world.send_message(ALICE, "!ping", 2))
        .collect();
    assert_one_reply_each(world, &ids).await;
    host.shutdown().await;
}

/// A `minstrel run` process on `data_dir` against `server`, serving built plugin
/// `krate` as `version`, once it is connected and serving.
async fn bot_process(server: &LocalDiscord, data_dir: &Path, krate: &str) -> BotProcess {
    let plugins = data_dir.with_file_name(format!("plugins-{krate}"));
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(component(krate), plugins.join("version.wasm")).unwrap();
    BotProcess::start(
        &mut run_command(server, data_dir, &plugins, "test-token"),
        krate,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_bot_processes_sharing_a_database_reply_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalDiscord::start().await.unwrap();
    let world = server.world();
    // Two processes alike but for `!version`, which tells them apart: one answers "a",
    // the other "b".
    let data_dir = dir.path().join("data");
    let _processes = [
        bot_process(&server, &data_dir, "reload_a").await,
        bot_process(&server, &data_dir, "reload_b").await,
    ];
    assert_eq!(world.identifies(), 2);

    // Every message reaches both processes twice.
    let ids: Vec<u64> = (0..1000)
        .map(|i| {
            let text = if i % 2 == 0 { "!ping" } else { "!version" };
            world.send_message(ALICE, text, 2)
        })
        .collect();
    let replies = assert_one_reply_each(world, &ids).await;
    let mut by_process: HashMap<String, usize> = HashMap::new();
    for (i, reply) in replies.iter().enumerate() {
        let content = reply["content"].as_str().unwrap().to_string();
        if i % 2 == 0 {
            assert_eq!(content, "pong");
        } else {
            *by_process.entry(content).or_default() += 1;
        }
    }
    assert!(
        by_process.get("a").is_some_and(|n| *n > 0) && by_process.get("b").is_some_and(|n| *n > 0),
        "both processes answer `!version`: {by_process:?}"
    );
    assert_eq!(by_process.values().sum::<usize>(), 500, "{by_process:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plugin_command_appears_changes_and_disappears_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let (server, host) = start(dir.path()).await;
    let world = server.world();
    let file = dir.path().join("plugins/extra.wasm");
    let names = |w: &World| -> Vec<String> {
        w.guild_commands()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };

    std::fs::copy(component("hello_command"), &file).unwrap();
    assert!(
        world
            .wait_for(WAIT, |w| names(w).contains(&"hello".to_string()))
            .await,
        "{:?}",
        names(world)
    );
    assert!(names(world).contains(&"count".to_string()));

    std::fs::copy(component("reload_a"), &file).unwrap();
    assert!(
        world
            .wait_for(WAIT, |w| names(w).contains(&"version".to_string()))
            .await,
        "{:?}",
        names(world)
    );
    assert!(!names(world).contains(&"hello".to_string()));
    let token = world.slash(ALICE, "version", json!([]), 1);
    assert!(
        world
            .wait_for(WAIT, |w| !w.interaction_calls(&token).is_empty())
            .await
    );
    assert_eq!(
        world.interaction_calls(&token)[0].body["data"]["content"],
        "a"
    );

    std::fs::remove_file(&file).unwrap();
    assert!(
        world
            .wait_for(WAIT, |w| !names(w).contains(&"version".to_string()))
            .await
    );
    assert!(names(world).contains(&"ping".to_string()), "built-ins stay");

    // Each change was one bulk overwrite of the guild's commands.
    let puts: Vec<_> = world
        .calls()
        .into_iter()
        .filter(|c| {
            c.method == "PUT"
                && c.path == format!("/api/v10/applications/{BOT_ID}/guilds/{GUILD_ID}/commands")
        })
        .collect();
    assert!(
        puts.len() >= 4,
        "initial + added + replaced + removed: {}",
        puts.len()
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resumed_session_that_replays_events_still_replies_once() {
    let dir = tempfile::tempdir().unwrap();
    let (server, host) = start(dir.path()).await;
    let world = server.world();
    // Every resume re-sends the last 40 events the bot had already received.
    world.set_resume_replay(40);
    let mut ids = Vec::new();
    for round in 1..=3 {
        ids.extend((0..100).map(|_| world.send_message(ALICE, "!ping", 1)));
        // Mid-stream: the gateway asks the bot to reconnect; it resumes, receives the
        // events it missed and, again, some it had already handled.
        world.force_reconnect();
        assert!(
            world.wait_for(WAIT, |w| w.resumes() >= round).await,
            "the bot did not resume (round {round})"
        );
    }
    ids.extend((0..100).map(|_| world.send_message(ALICE, "!ping", 1)));
    assert_one_reply_each(world, &ids).await;
    assert!(world.replayed() > 0, "no event was replayed");
    assert_eq!(
        world.identifies(),
        1,
        "the bot resumed rather than re-identified"
    );
    host.shutdown().await;
}

/// An LLM answer of `pieces` word-sized pieces, `delay` apart.
fn answer(words: usize) -> String {
    (0..words)
        .map(|i| format!("word{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn llm_config(dir: &Path, llm: &LocalLlm) -> Config {
    let mut config = config(dir);
    config.llm.base_url = Some(llm.base_url());
    config.llm.model = "local-model".into();
    config.llm.api_key = Some("sk-local-test".into());
    config.plugins.call_timeout_ms = 60_000;
    for name in ["ask", "chart"] {
        config.plugins.grants.insert(
            name.into(),
            Grant {
                interfaces: vec!["llm".into(), "draft".into()],
                ..Grant::default()
            },
        );
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_streamed_mention_is_edited_in_place_at_most_once_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let llm = LocalLlm::start("local-model", Some("sk-local-test"))
        .await
        .unwrap();
    let config = llm_config(dir.path(), &llm);
    install(&config, "ask_mention", "ask");
    // 40 pieces, 80 ms apart: the answer takes about 3.2 s to arrive.
    let text = answer(40);
    llm.script(Script::words(&text, Duration::from_millis(80)));
    let (server, host) = start_with(config, Vec::new()).await;
    let world = server.world();

    let id = world.send_message(ALICE, &format!("<@{BOT_ID}> count to forty"), 1);
    let first = reply_to(world, id).await;
    let reply_id = first["id"].as_str().unwrap().to_string();
    assert!(
        world
            .wait_for(WAIT, |w| w.replies_to(id)[0]["content"] == text.as_str())
            .await,
        "final content: {}",
        world.replies_to(id)[0]["content"]
    );
    let path = format!("/api/v10/channels/4000/messages/{reply_id}");
    let mut writes: Vec<_> = world
        .calls()
        .into_iter()
        .filter(|c| c.path == path || (c.method == "POST" && c.response["id"] == reply_id.as_str()))
        .collect();
    writes.sort_by_key(|c| c.at);
    let edits = writes.iter().filter(|c| c.method == "PATCH").count();
    // Posted early, then edited while the answer streamed in (about three seconds).
    assert_eq!(writes[0].method, "POST", "{writes:?}");
    assert!(
        writes[0].body["content"].as_str().unwrap().len() < text.len(),
        "the first post shows a partial answer"
    );
    assert!(edits >= 2, "only {edits} edits");
    for pair in writes.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_secs(1), "two writes {gap:?} apart");
    }
    assert_eq!(world.replies_to(id).len(), 1);

    // The endpoint got one well-formed streaming request with the operator's key.
    let requests = llm.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.problem, None);
    assert_eq!(
        request.authorization.as_deref(),
        Some("Bearer sk-local-test")
    );
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["model"], "local-model");
    assert_eq!(request.body["messages"][1]["role"], "user");
    assert_eq!(request.body["messages"][1]["content"], "count to forty");

    // An answer longer than one message: the first part edits the message, the rest
    // follows as a new message.
    let long: String = (0..30)
        .map(|i| format!("Line {i} {}\n", "x".repeat(90)))
        .collect();
    let pieces: Vec<String> = long.split_inclusive('\n').map(str::to_string).collect();
    llm.script(Script::Answer {
        pieces,
        delay: Duration::from_millis(50),
    });
    let before = world.bot_messages().len();
    let id = world.send_message(ALICE, &format!("<@{BOT_ID}> a long one"), 1);
    let parts = minstrel::discord::split::split(&long);
    assert_eq!(parts.len(), 2);
    assert!(
        world
            .wait_for(WAIT, |w| {
                let all = w.bot_messages();
                all.len() == before + 2
                    && all[before]["content"] == parts[0].as_str()
                    && all[before + 1]["content"] == parts[1].as_str()
            })
            .await,
        "{:?}",
        &world.bot_messages()[before..]
    );
    assert_eq!(world.replies_to(id).len(), 1);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mention_goes_to_the_first_plugin_that_claims_it() {
    let dir = tempfile::tempdir().unwrap();
    let llm = LocalLlm::start("local-model", Some("sk-local-test"))
        .await
        .unwrap();
    let config = llm_config(dir.path(), &llm);
    install(&config, "ask_mention", "ask");
    install(&config, "chart", "chart");
    // By name, `ask` (which claims everything) would come first; the order puts `chart`
    // (which claims only messages holding a table) before it.
    let order = vec!["chart".to_string(), "ask".to_string()];
    let (server, host) = start_with(config, order).await;
    let world = server.world();

    let table = format!(
        "<@{BOT_ID}> chart this\n| city | people |\n|---|---|\n| Oslo | 700 |\n| Bergen | 290 |"
    );
    let id = world.send_message(ALICE, &table, 1);
    let chart = reply_to(world, id).await;
    assert_eq!(chart["attachments"][0]["filename"], "chart.png", "{chart}");
    let id = world.send_message(ALICE, &format!("<@{BOT_ID}> just a question"), 1);
    assert!(
        world
            .wait_for(WAIT, |w| w
                .replies_to(id)
                .first()
                .is_some_and(|r| r["content"] == "You said: just a question"))
            .await,
        "{:?}",
        world.replies_to(id)
    );
    caught_up(world).await;
    // Exactly one handler each: one reply per message (and the `pong`), and the LLM was
    // asked once.
    assert_eq!(world.bot_messages().len(), 3);
    assert_eq!(llm.requests().len(), 1);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reply_to_an_answer_carries_the_conversation_to_the_llm() {
    let dir = tempfile::tempdir().unwrap();
    let llm = LocalLlm::start("local-model", Some("sk-local-test"))
        .await
        .unwrap();
    let config = llm_config(dir.path(), &llm);
    install(&config, "ask_mention", "ask");
    llm.script(Script::words("It is four.", Duration::from_millis(10)));
    llm.script(Script::words(
        "That makes twelve.",
        Duration::from_millis(10),
    ));
    let (server, host) = start_with(config, Vec::new()).await;
    let world = server.world();

    let first = world.send_message(ALICE, &format!("<@{BOT_ID}> what is two and two?"), 1);
    assert!(
        world
            .wait_for(WAIT, |w| w
                .replies_to(first)
                .first()
                .is_some_and(|m| m["content"] == "It is four."))
            .await
    );
    let answer = world.replies_to(first)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Bob replies to the bot's answer (Discord sends the reference; the host follows it).
    let second = world.send_message_with(
        BOB,
        &format!("<@{BOT_ID}> and times three?"),
        json!({"message_reference": {"message_id": answer, "channel_id": "4000"}}),
        1,
    );
    assert!(
        world
            .wait_for(WAIT, |w| w
                .replies_to(second)
                .first()
                .is_some_and(|m| m["content"] == "That makes twelve."))
            .await
    );
    let requests = llm.requests();
    assert_eq!(requests.len(), 2);
    let turns: Vec<(String, String)> = requests[1].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("user", "what is two and two?"),
        ("assistant", "It is four."),
        ("user", "and times three?"),
    ];
    assert_eq!(turns.len(), 4, "{turns:?}");
    assert_eq!(turns[0].0, "system");
    for (turn, (role, content)) in turns[1..].iter().zip(expected) {
        assert_eq!(
            (turn.0.as_str(), turn.1.as_str()),
            (role, content),
            "{turns:?}"
        );
    }
    host.shutdown().await;
}
