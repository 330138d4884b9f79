//! Plugins on API 0.2.0 through the real bot and the local Discord server: buttons and
//! select menus routed once to the plugin that made them, the operator's settings and
//! secrets, timers, and player events in order while a looping listener is bounded.
//! 0.1.0 plugins load beside them unchanged. The plugins are plugins/probe-v2 and
//! plugins/hostile-v2, written against the WIT package with wit-bindgen alone.

use std::path::Path;
use std::time::Duration;

use minstrel::config::Config;
use minstrel::config::plugins::Setting;
use minstrel::plugins::Grant;
use minstrel::plugins::PluginsConfig;
use minstrel_local::discord::payloads::{ALICE, GENERAL};
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_tests::bot::*;
use minstrel_tests::component;
use minstrel_tests::playback::{self, alice_joins, command, wait_packets};
use minstrel_tests::voice::run;
use serde_json::Value;

/// Grants the plugin `name` the interfaces `interfaces`.
fn grant(config: &mut Config, name: &str, interfaces: &[&str]) {
    let grant = Grant {
        interfaces: interfaces.iter().map(|s| s.to_string()).collect(),
        ..Grant::default()
    };
    config.plugins.grants.insert(name.into(), grant);
}

/// Sets plugin `name`'s setting `key`, as `[plugins.config.NAME]` does.
fn setting(plugins: &mut PluginsConfig, name: &str, key: &str, value: &str) {
    plugins
        .config
        .entry(name.into())
        .or_default()
        .insert(key.into(), Setting(value.into()));
}

/// The bot's messages in the channel whose text starts with `prefix`, oldest first.
fn posted(world: &World, prefix: &str) -> Vec<String> {
    let mut messages: Vec<Value> = world.bot_messages();
    messages.sort_by_key(|m| m["id"].as_str().and_then(|id| id.parse::<u64>().ok()));
    messages
        .iter()
        .filter_map(|m| m["content"].as_str())
        .filter(|c| c.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// The custom ids of a message's components, row by row.
fn custom_ids(message: &Value) -> Vec<String> {
    message["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["custom_id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buttons_settings_and_timers_of_a_0_2_plugin_beside_a_0_1_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = host_config(dir.path());
    install(&config, "probe_v2", "probe");
    install(&config, "hello_command", "hello");
    install(&config, "np_sdk_v2", "np");
    grant(&mut config, "probe", &["kv", "timers", "messages"]);
    grant(&mut config, "np", &["player", "log"]);
    setting(&mut config.plugins, "probe", "token", "s3cret-value");
    let server = LocalDiscord::start().await.unwrap();
    let world = server.world();
    let host = start_bot(&server, &config, bot_options(&server), "buttons").await;

    // 0.1.0 and 0.2.0 side by side, each reported with its version.
    let list = host.plugins.list();
    let version = |name: &str| {
        let status = list.iter().find(|s| s.name == name).unwrap();
        status.api_version.clone().unwrap()
    };
    assert_eq!(version("hello"), "0.1.0");
    assert_eq!(version("probe"), "0.2.0");
    assert_eq!(version("np"), "0.2.0");
    let id = world.send_message(ALICE, "!hello Ada", 1);
    assert!(
        reply_to(world, id).await["content"]
            .as_str()
            .unwrap()
            .contains("Ada")
    );

    // A reply with a button and a select menu, their ids namespaced for the plugin.
    let id = world.send_message(ALICE, "!buttons", 1);
    let message = reply_to(world, id).await;
    assert_eq!(message["content"], "Pick one");
    assert_eq!(custom_ids(&message), ["mp:probe:count", "mp:probe:choice"]);
    let message_id: u64 = message["id"].as_str().unwrap().parse().unwrap();

    // A press delivered twice is handled once: one update of the message.
    let token = world
        .press(ALICE, message_id, "mp:probe:count", &[], 2)
        .unwrap();
    let updated = |w: &World, text: &str| w.message(message_id).unwrap()["content"] == text;
    assert!(
        world
            .wait_for(WAIT, |w| updated(w, "Pressed 1 times"))
            .await,
        "{:?}",
        world.message(message_id)
    );
    caught_up(world).await;
    assert_eq!(world.interaction_calls(&token).len(), 1);
    assert_eq!(
        custom_ids(&world.message(message_id).unwrap()),
        ["mp:probe:count", "mp:probe:choice"],
        "the update keeps the components"
    );
    world
        .press(ALICE, message_id, "mp:probe:count", &[], 1)
        .unwrap();
    assert!(
        world
            .wait_for(WAIT, |w| updated(w, "Pressed 2 times"))
            .await
    );

    // A choice in the menu answers with a new message.
    let token = world
        .press(ALICE, message_id, "mp:probe:choice", &["b"], 1)
        .unwrap();
    let answer = interaction_reply(world, &token).await;
    assert_eq!(answer["type"], 4);
    assert_eq!(answer["data"]["content"], "You chose b");

    // A press naming another plugin reaches that plugin, not this one: the 0.1.0
    // plugin takes no presses and the user is told, privately.
    let token = world
        .press(ALICE, message_id, "mp:hello:count", &[], 1)
        .unwrap();
    let answer = interaction_reply(world, &token).await;
    assert_eq!(answer["data"]["flags"], 64, "{answer}");
    assert!(world.message(message_id).unwrap()["content"] == "Pressed 2 times");

    // A plugin written with the SDK's `v2` module: its buttons drive the player, and
    // with nothing playing the press is answered with the player's refusal, privately.
    let id = world.send_message(ALICE, "!np-buttons", 1);
    let controls = reply_to(world, id).await;
    assert_eq!(custom_ids(&controls), ["mp:np:pause", "mp:np:skip"]);
    let controls_id: u64 = controls["id"].as_str().unwrap().parse().unwrap();
    let token = world
        .press(ALICE, controls_id, "mp:np:pause", &[], 1)
        .unwrap();
    let answer = interaction_reply(world, &token).await;
    assert_eq!(answer["data"]["flags"], 64, "{answer}");
    let text = answer["data"]["content"].as_str().unwrap();
    assert!(text.starts_with("Sorry, that failed"), "{text}");

    // The secret reaches the plugin, and `plugin list` shows only that it is set.
    let id = world.send_message(ALICE, "!secret", 1);
    assert_eq!(
        reply_to(world, id).await["content"],
        "token has 12 characters"
    );
    let status = host.plugins.status("probe").unwrap();
    let shown = serde_json::to_string(&status).unwrap();
    assert!(!shown.contains("s3cret"), "{shown}");
    let token_setting = status.settings.iter().find(|s| s.name == "token").unwrap();
    assert!(token_setting.set && token_setting.secret);

    // A timer fires once, in the channel it was set from.
    let id = world.send_message(ALICE, "!remind 300 tea", 1);
    let set = reply_to(world, id).await;
    assert!(
        set["content"].as_str().unwrap().starts_with("Reminder set"),
        "{set}"
    );
    assert!(
        world
            .wait_for(WAIT, |w| posted(w, "Reminder: tea").len() == 1)
            .await
    );
    // Still one after a few more polls of the scheduler.
    caught_up(world).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(posted(world, "Reminder:"), ["Reminder: tea"]);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_timer_bomb_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = host_config(dir.path());
    install(&config, "hostile_v2", "hostile");
    grant(&mut config, "hostile", &["timers", "log"]);
    config.plugins.call_timeout_ms = 30_000;
    let server = LocalDiscord::start().await.unwrap();
    let world = server.world();
    let host = start_bot(&server, &config, bot_options(&server), "bomb").await;
    let id = world.send_message(ALICE, "!bomb", 1);
    let reply = reply_to(world, id).await;
    assert_eq!(
        reply["content"],
        "scheduled 1000, then: this plugin already has 1000 pending timers"
    );
    // A button handler that floods host calls is stopped; the user hears why.
    let id = world.send_message(ALICE, "!flood", 1);
    let message = reply_to(world, id).await;
    let message_id: u64 = message["id"].as_str().unwrap().parse().unwrap();
    let token = world
        .press(ALICE, message_id, "mp:hostile:flood", &[], 1)
        .unwrap();
    let answer = interaction_reply(world, &token).await;
    let text = answer["data"]["content"].as_str().unwrap().to_string();
    assert!(text.starts_with("Sorry, that failed"), "{text}");
    caught_up(world).await;
    host.shutdown().await;
}

#[test]
fn player_events_arrive_in_order_and_a_looping_listener_never_stops_the_music() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let mut config = playback::config(tmp.path());
        install(&config, "probe_v2", "probe");
        install(&config, "hostile_v2", "hostile");
        grant(
            &mut config,
            "probe",
            &["player-events", "messages", "player"],
        );
        grant(&mut config, "hostile", &["player-events"]);
        setting(
            &mut config.plugins,
            "probe",
            "channel",
            &GENERAL.to_string(),
        );
        // The looping listener is stopped after this long, per event.
        config.plugins.call_timeout_ms = 2_000;
        let host = playback::start_bot(&server, &config).await;
        alice_joins(world).await;

        command(world, "!play tone:440:2", |c| c.starts_with("Playing")).await;
        command(world, "!play tone:660:2", |c| c.starts_with("Queued")).await;
        let started = "event track-started 440 Hz tone, 2 s 0";
        assert!(
            world
                .wait_for(WAIT, |w| !posted(w, started).is_empty())
                .await
        );
        // What the player interface tells a plugin, and a song queued at a position.
        let np = command(world, "!np", |c| c.contains(" at ")).await;
        assert!(np.starts_with("440 Hz tone, 2 s at "), "{np}");
        command(world, "!queue-at tone:550:1 0", |c| c.starts_with("queued")).await;
        let queue = command(world, "!queue", |c| c.contains("550")).await;
        let (at550, at660) = (queue.find("550").unwrap(), queue.find("660").unwrap());
        assert!(at550 < at660, "queued next: {queue}");
        command(world, "!skip", |c| c.contains("Skipped")).await;
        assert!(
            world
                .wait_for(WAIT, |w| !posted(w, "event queue-ended").is_empty())
                .await,
            "{:?}",
            posted(world, "event")
        );
        // The second song was heard whole while the hostile listener looped.
        wait_packets(world, 90).await;
        let events: Vec<String> = posted(world, "event")
            .into_iter()
            .map(|e| {
                // Positions of ends vary; keep the kind and title.
                let mut words: Vec<&str> = e.split(' ').collect();
                if e.starts_with("event track-ended") {
                    words.pop();
                }
                words.join(" ")
            })
            .collect();
        assert_eq!(
            events,
            [
                "event joined-voice - 0",
                "event track-started 440 Hz tone, 2 s 0",
                "event track-ended:skipped 440 Hz tone, 2 s",
                "event track-started 550 Hz tone, 1 s 0",
                "event track-ended:finished 550 Hz tone, 1 s",
                "event track-started 660 Hz tone, 2 s 0",
                "event track-ended:finished 660 Hz tone, 2 s",
                "event queue-ended - 0",
            ]
        );
        let hostile = host.plugins.status("hostile").unwrap();
        assert!(hostile.counters.timeouts >= 1, "{:?}", hostile.counters);
        host.shutdown().await;
    });
}

/// `minstrel run` on `data` with probe-v2 as `probe`, granted what the test needs, once
/// it is connected and serving.
async fn probe_process(
    server: &LocalDiscord,
    data: &Path,
    plugins: &Path,
    name: &str,
) -> BotProcess {
    let mut cmd = run_command(server, data, plugins, "test-token");
    cmd.env(
        "MINSTREL_PLUGINS__GRANTS__PROBE__INTERFACES",
        r#"["kv", "timers", "messages"]"#,
    );
    BotProcess::start(&mut cmd, name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_take_a_press_once_fire_a_timer_once_and_keep_timers_over_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalDiscord::start().await.unwrap();
    let world = server.world();
    let data = dir.path().join("data");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(component("probe_v2"), plugins.join("probe.wasm")).unwrap();
    let mut a = probe_process(&server, &data, &plugins, "a").await;
    let mut b = probe_process(&server, &data, &plugins, "b").await;

    // Each process receives the press twice: one update.
    let id = world.send_message(ALICE, "!buttons", 2);
    let message = reply_to(world, id).await;
    let message_id: u64 = message["id"].as_str().unwrap().parse().unwrap();
    let token = world
        .press(ALICE, message_id, "mp:probe:count", &[], 2)
        .unwrap();
    assert!(
        world
            .wait_for(WAIT, |w| w.message(message_id).unwrap()["content"]
                == "Pressed 1 times")
            .await
    );
    caught_up(world).await;
    assert_eq!(world.interaction_calls(&token).len(), 1);
    assert_eq!(world.replies_to(id).len(), 1);

    // Both processes poll the same timers: it fires once.
    let id = world.send_message(ALICE, "!remind 500 tea", 2);
    reply_to(world, id).await;
    assert!(
        world
            .wait_for(WAIT, |w| posted(w, "Reminder: tea").len() == 1)
            .await
    );
    // A timer due while no process runs fires after the restart.
    let id = world.send_message(ALICE, "!remind 8000 later", 1);
    reply_to(world, id).await;
    a.terminate().await;
    b.terminate().await;
    assert!(posted(world, "Reminder: later").is_empty());
    let _a = probe_process(&server, &data, &plugins, "a again").await;
    assert!(
        world
            .wait_for(WAIT, |w| posted(w, "Reminder: later").len() == 1)
            .await
    );
    caught_up(world).await;
    assert_eq!(posted(world, "Reminder: tea").len(), 1);
    assert_eq!(posted(world, "Reminder: later").len(), 1);
}
