//! Plugins written in Python (plugins/py-ping, and plugins/py-buttons on API 0.2.0;
//! componentize-py) and JavaScript (plugins/js-ping, and plugins/js-hello on API 0.2.0;
//! componentize-js), built by
//! scripts/build-plugins.sh: served by the real bot against the local Discord server,
//! and described by `minstrel plugin check`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use minstrel::app::Host;
use minstrel_local::discord::payloads::{ALICE, BOT_ID};
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_tests::bot::*;
use minstrel_tests::process::{finished, spawn};
use minstrel_tests::*;
use serde_json::{Value, json};

/// How long compiling a component may take: an interpreter of several megabytes takes
/// seconds, more in a debug build on a busy machine.
const COMPILE: Duration = Duration::from_secs(300);

/// The bot with the four polyglot examples installed, once it has registered `/pyping`.
async fn start(dir: &Path) -> (LocalDiscord, Host) {
    let mut config = host_config(dir);
    // A call instantiates a fresh interpreter: quick, but leave room on a busy machine.
    config.plugins.call_timeout_ms = 30_000;
    install(&config, "py_ping", "pyping");
    install(&config, "js_ping", "jsping");
    install(&config, "py_buttons", "pyb");
    install(&config, "js_hello", "jsh");
    let server = LocalDiscord::start().await.unwrap();
    // The plugins are compiled before the bot connects.
    let host = tokio::time::timeout(
        COMPILE,
        start_bot(&server, &config, bot_options(&server), "pyping"),
    )
    .await
    .expect("the bot did not start within the compile deadline");
    (server, host)
}

/// The text of the bot's answer to interaction `token`: in the response itself, or in
/// a follow-up when the answer was deferred.
async fn interaction_text(world: &World, token: &str) -> String {
    let text = |w: &World| {
        w.interaction_calls(token).iter().find_map(|c| {
            let body = &c.body;
            body["data"]["content"]
                .as_str()
                .or(body["content"].as_str())
                .map(str::to_string)
        })
    };
    assert!(
        world.wait_for(WAIT, |w| text(w).is_some()).await,
        "no answer to {token}: {:?}",
        world.interaction_calls(token)
    );
    text(world).unwrap()
}

/// Waits for the first reply to message `id` to read `expected`.
async fn assert_reply(world: &World, id: u64, expected: &str) {
    assert!(
        world
            .wait_for(WAIT, |w| w
                .replies_to(id)
                .first()
                .is_some_and(|r| r["content"] == expected))
            .await,
        "expected {expected:?}, got {:?}",
        world.replies_to(id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn python_command_and_javascript_mention_answer_through_the_bot() {
    let dir = tempfile::tempdir().unwrap();
    let (server, host) = start(dir.path()).await;
    let world = server.world();

    // The Python plugin's command, as declared: one optional text option.
    let pyping = world
        .guild_commands()
        .into_iter()
        .find(|c| c["name"] == "pyping")
        .unwrap();
    assert_eq!(pyping["options"][0]["name"], "who");
    assert_eq!(pyping["options"][0]["type"], 3);
    assert_ne!(pyping["options"][0]["required"], true);

    // The slash command, with and without the option.
    let token = world.slash(
        ALICE,
        "pyping",
        json!([{"name": "who", "type": 3, "value": "Ada"}]),
        1,
    );
    assert_eq!(
        interaction_text(world, &token).await,
        "pong from Python, Ada"
    );
    let token = world.slash(ALICE, "pyping", json!([]), 1);
    assert_eq!(
        interaction_text(world, &token).await,
        "pong from Python, alice"
    );
    // And its prefix form.
    let id = world.send_message(ALICE, "!pyping Grace", 1);
    assert_eq!(
        reply_to(world, id).await["content"],
        "pong from Python, Grace"
    );

    // A mention the JavaScript plugin claims is answered by it.
    let id = world.send_message(ALICE, &format!("<@{BOT_ID}> ping js"), 1);
    assert_reply(world, id, "pong from JavaScript: ping js").await;
    // One it does not claim gets the host's answer: no other mention plugin is loaded.
    let id = world.send_message(ALICE, &format!("<@{BOT_ID}> ping json"), 1);
    assert_reply(
        world,
        id,
        "No mention plugin answers messages like this one. Try `/help`.",
    )
    .await;

    // A Python plugin on API 0.2.0 (the `plugin new` template): a reply with a button,
    // and the press answered by the plugin's `on_press` with an update.
    let id = world.send_message(ALICE, "!hi", 1);
    let hi = reply_to(world, id).await;
    assert_eq!(hi["content"], "Hi, alice!");
    let button = &hi["components"][0]["components"][0];
    assert_eq!(button["custom_id"], "mp:pyb:again", "{hi}");
    let hi_id: u64 = hi["id"].as_str().unwrap().parse().unwrap();
    world.press(ALICE, hi_id, "mp:pyb:again", &[], 2).unwrap();
    let updated = |w: &World| w.message(hi_id).unwrap()["content"] == "Hi again, alice!";
    assert!(
        world.wait_for(WAIT, updated).await,
        "{:?}",
        world.message(hi_id)
    );

    // A JavaScript mention plugin on API 0.2.0 (the `plugin new` template): a reply with
    // a button, and the press answered by its `onPress` with a new message.
    let id = world.send_message(ALICE, &format!("<@{BOT_ID}> hello there"), 1);
    let hello = reply_to(world, id).await;
    assert_eq!(hello["content"], "Hello, alice!");
    let button = &hello["components"][0]["components"][0];
    assert_eq!(button["custom_id"], "mp:jsh:wave", "{hello}");
    let hello_id: u64 = hello["id"].as_str().unwrap().parse().unwrap();
    let token = world.press(ALICE, hello_id, "mp:jsh:wave", &[], 2).unwrap();
    assert_eq!(interaction_text(world, &token).await, "alice waves back.");
    // The message pressed is left as it was.
    assert_eq!(world.message(hello_id).unwrap()["content"], "Hello, alice!");

    caught_up(world).await;
    // One answer each: the two slash commands, the five messages, the `!ping` and the
    // press answered with a new message.
    assert_eq!(world.bot_messages().len(), 9, "{:?}", world.bot_messages());
    host.shutdown().await;
}

/// `minstrel plugin check --json FILE` on a fresh data folder, within [`COMPILE`].
async fn plugin_check(file: &Path) -> Value {
    let data = tempfile::tempdir().unwrap();
    let mut cmd: Command = minstrel(data.path());
    cmd.args(["plugin", "check", "--json"]).arg(file);
    let mut child = spawn(&mut cmd);
    let ended = wait_for(COMPILE, async || child.try_wait().unwrap().is_some()).await;
    if !ended {
        let _ = child.kill();
    }
    let out = finished(child).await;
    assert!(
        ended,
        "plugin check of {} took over {COMPILE:?}",
        file.display()
    );
    check(&out);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_world_version_and_asks_of_each() {
    for (krate, world, api, asks) in [
        (
            "py_ping",
            "command",
            "0.1.0",
            json!(["http", "kv", "llm", "log", "player"]),
        ),
        (
            "js_ping",
            "mention",
            "0.1.0",
            json!(["draft", "http", "kv", "llm", "log"]),
        ),
        (
            "py_buttons",
            "command",
            "0.2.0",
            json!([
                "http", "kv", "llm", "log", "media", "messages", "player", "timers"
            ]),
        ),
        (
            "js_hello",
            "mention",
            "0.2.0",
            json!(["draft", "http", "kv", "llm", "log", "messages", "timers"]),
        ),
    ] {
        let value = plugin_check(&component(krate)).await;
        assert_eq!(value["ok"], true, "{krate}: {value}");
        let plugin = &value["plugin"];
        assert_eq!(plugin["world"], world, "{krate}");
        assert_eq!(plugin["manifest"]["api_version"], api, "{krate}");
        if api == "0.2.0" {
            // Named by its own `describe`, not by a custom section.
            assert_eq!(
                plugin["manifest"]["name"],
                krate.replace('_', "-"),
                "{krate}"
            );
        }
        // These toolchains import every interface of the world, used or not.
        assert_eq!(plugin["asks"], asks, "{krate}");
        // No wasi:http: it is not something the host provides.
        let wasi = plugin["wasi"].as_array().unwrap();
        assert!(
            wasi.iter()
                .all(|w| !w.as_str().unwrap().starts_with("wasi:http/")),
            "{krate}: {wasi:?}"
        );
    }
}
