//! What the bot sends can ping nobody and shows data as text; plugin commands Discord
//! would reject are refused without taking the others down; command registration
//! backs off while Discord fails, and a start-up that cannot succeed ends `minstrel
//! run` with a clear error. The real bot against the local Discord-compatible server.

use std::path::Path;
use std::time::Duration;

use minstrel::config::Config;
use minstrel::discord::registry::RETRY_FIRST;
use minstrel::plugins::Grant;
use minstrel_local::discord::payloads::{ALICE, BOT_ID, GUILD_ID, MUSIC};
use minstrel_local::discord::{LocalDiscord, RestCall, World};
use minstrel_local::http::{LocalHttp, Route};
use minstrel_local::llm::{LocalLlm, Script};
use minstrel_tests::bot::*;
use minstrel_tests::process::spawn;
use minstrel_tests::voice::{run, sine_ogg};
use minstrel_tests::{json_output, minstrel, wait_for};
use serde_json::{Value, json};

/// A song title that would ping everyone and show a masked link, as the `http` source
/// reads it from the URL's file name.
const EVIL_PATH: &str = "/%40everyone%20%5Bclick%5D(https%3A%2F%2Fevil.example).ogg";
const EVIL_SHOWN: &str = "@\u{200B}everyone \\[click\\](https://evil.example).ogg";
/// The next song: bold, and a role mention.
const BOLD_PATH: &str = "/%40here%20**bold**%20%3C%40%26123%3E.ogg";
const BOLD_SHOWN: &str = "@\u{200B}here \\*\\*bold\\*\\* \\<@\u{200B}&123\\>.ogg";
/// What the LLM answers: everyone, a role and a user.
const LLM_ANSWER: &str = "@everyone look at <@&123> and <@3001> now";

/// The allowed mentions of every request that writes a message: nothing parsed from
/// the text, no user or role listed. Returns how many requests were checked.
fn assert_pings_nobody(world: &World) -> usize {
    let mut checked = 0;
    for call in world.calls() {
        let Some(body) = message_body(&call) else {
            continue;
        };
        let allowed = &body["allowed_mentions"];
        let what = format!("{} {}: {body}", call.method, call.path);
        assert_eq!(allowed["parse"], json!([]), "{what}");
        assert_eq!(allowed["users"], json!([]), "{what}");
        assert_eq!(allowed["roles"], json!([]), "{what}");
        // A reply notifies only the author of the message it answers: the asker.
        if let Some(id) = body["message_reference"]["message_id"].as_str() {
            let asked = world.message(id.parse().unwrap()).unwrap();
            assert_eq!(asked["author"]["id"], ALICE.to_string(), "{what}");
        }
        checked += 1;
    }
    checked
}

/// The message part of a request that posts or edits a message, if it is one.
fn message_body(call: &RestCall) -> Option<&Value> {
    let writes = matches!(call.method.as_str(), "POST" | "PATCH");
    let message = call.path.contains("/messages") || call.path.contains("/webhooks/");
    if call.path.ends_with("/callback") {
        return matches!(call.body["type"].as_u64(), Some(4 | 5)).then(|| &call.body["data"]);
    }
    (writes && message).then_some(&call.body)
}

fn evil_config(dir: &Path, remote: &LocalHttp, llm: &LocalLlm) -> Config {
    let mut config = host_config(dir);
    config.plugins.call_timeout_ms = 30_000;
    install_http_source(&mut config, remote.port());
    install(&config, "ask_mention", "ask");
    install(&config, "hello_command", "hello");
    config.plugins.grants.insert(
        "ask".into(),
        Grant {
            interfaces: vec!["llm".into(), "draft".into()],
            ..Grant::default()
        },
    );
    config.llm.base_url = Some(llm.base_url());
    config.llm.model = "local-model".into();
    config.llm.api_key = Some("sk-local-test".into());
    config
}

/// Alice's `text`, and the bot's first reply to it whose content satisfies `done`.
async fn say(world: &World, text: &str, done: impl Fn(&str) -> bool) -> String {
    let id = world.send_message(ALICE, text, 1);
    let found = |w: &World| {
        w.replies_to(id)
            .iter()
            .filter_map(|m| m["content"].as_str().map(str::to_string))
            .find(|c| done(c))
    };
    assert!(
        world.wait_for(WAIT, |w| found(w).is_some()).await,
        "{text}: {:?}",
        world.replies_to(id)
    );
    found(world).unwrap()
}

#[test]
fn nothing_the_bot_sends_pings_and_titles_show_as_text() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let song = std::fs::read(sine_ogg(tmp.path(), 440, 2)).unwrap();
        let remote = LocalHttp::start().await.unwrap();
        for path in [EVIL_PATH, BOLD_PATH] {
            remote.route(path, Route::ok(song.clone()).typed("audio/ogg"));
        }
        let llm = LocalLlm::start("local-model", Some("sk-local-test"))
            .await
            .unwrap();
        llm.script(Script::words(LLM_ANSWER, Duration::from_millis(400)));
        let config = evil_config(tmp.path(), &remote, &llm);
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config, bot_options(&server), "hello").await;
        world.join_voice(ALICE, MUSIC).unwrap();
        caught_up(world).await;

        // The /play reply and the announcement of the next song show the titles as text.
        let playing = say(world, &format!("!play {}", remote.url(EVIL_PATH)), |c| {
            c.starts_with("Playing")
        })
        .await;
        assert_eq!(playing, format!("Playing **{EVIL_SHOWN}**"));
        let queued = say(world, &format!("!play {}", remote.url(BOLD_PATH)), |c| {
            c.starts_with("Queued")
        })
        .await;
        assert_eq!(queued, format!("Queued **{BOLD_SHOWN}** at position 1"));
        let announced = format!("Now playing **{BOLD_SHOWN}**");
        assert!(
            world
                .wait_for(WAIT, |w| w
                    .bot_messages()
                    .iter()
                    .any(|m| m["content"] == announced.as_str()))
                .await,
            "no announcement: {:?}",
            world.bot_messages()
        );

        // A mention answered live: posted, edited while the LLM streams, finished.
        let id = world.send_message(ALICE, &format!("<@{BOT_ID}> ping them all"), 1);
        assert!(
            world
                .wait_for(WAIT, |w| w
                    .replies_to(id)
                    .first()
                    .is_some_and(|m| m["content"] == LLM_ANSWER))
                .await,
            "{:?}",
            world.replies_to(id)
        );
        // Plugin replies: to a prefix command and to a slash command.
        say(world, "!hello @everyone <@&123>", |c| {
            c.contains("everyone")
        })
        .await;
        let token = world.slash(
            ALICE,
            "hello",
            json!([{"name": "who", "type": 3, "value": "@everyone"}]),
            1,
        );
        assert_eq!(
            interaction_reply(world, &token).await["data"]["content"],
            "Hello, @everyone!"
        );

        let checked = assert_pings_nobody(world);
        let edits = world
            .calls()
            .iter()
            .filter(|c| c.method == "PATCH" && c.path.contains("/messages/"))
            .count();
        assert!(edits >= 1, "the live reply was never edited");
        assert!(checked >= 6, "only {checked} messages checked");
        host.shutdown().await;
    });
}

fn command_names(world: &World) -> Vec<String> {
    let mut names: Vec<String> = world
        .guild_commands()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// `(name, reason)` of each command refused for plugin `status`.
fn refusals(status: &Value) -> Vec<(String, String)> {
    status["refused_commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_refused(refused: &[(String, String)], name: &str, because: &str) {
    assert!(
        refused
            .iter()
            .any(|(n, reason)| n == name && reason.contains(because)),
        "{name} refused because of {because:?}: {refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plugin_commands_discord_would_reject_are_refused_and_the_rest_registered() {
    let tmp = tempfile::tempdir().unwrap();
    let config = host_config(tmp.path());
    install(&config, "hello_command", "hello");
    // Twice: the second copy's commands all collide, with the first copy's or built-ins.
    install(&config, "bad_commands", "bad");
    install(&config, "bad_commands", "worse");
    let server = LocalDiscord::start().await.unwrap();
    let world = server.world();
    let host = start_bot(&server, &config, bot_options(&server), "fine").await;

    let mut expected = minstrel::discord::builtin_command_names();
    expected.extend(["hello", "count", "fine"].map(String::from));
    expected.sort();
    assert_eq!(command_names(world), expected);
    let ping = world
        .guild_commands()
        .into_iter()
        .find(|c| c["name"] == "ping")
        .unwrap();
    assert_eq!(ping["description"], "Check that the bot answers.");

    // The reasons, from the plugin host and from `minstrel plugin list`.
    let listed = json_output(
        minstrel(&config.data_dir)
            .args(["plugin", "list", "--json"])
            .env("MINSTREL_PLUGINS__DIR", &config.plugins.dir),
    );
    for statuses in [serde_json::to_value(host.plugins.list()).unwrap(), listed] {
        let status = |name: &str| {
            statuses
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"] == name)
                .cloned()
                .unwrap()
        };
        let bad = status("bad");
        assert_eq!(bad["state"], "loaded");
        assert_eq!(bad["commands"], json!(["fine"]));
        let refused = refusals(&bad);
        assert_eq!(refused.len(), 4, "{refused:?}");
        assert_refused(&refused, "ping", "built-in");
        assert_refused(&refused, "Bad Name", "name");
        assert_refused(&refused, "wordy", "description");
        assert_refused(&refused, "order", "required option");
        let worse = refusals(&status("worse"));
        assert_refused(&worse, "fine", "plugin `bad`");
        assert_refused(&worse, "ping", "built-in");
        assert_eq!(status("hello")["commands"], json!(["count", "hello"]));
    }

    // What is registered works: the plugin's command, its autocomplete within Discord's
    // limits, and the built-in `ping`.
    let token = world.slash(ALICE, "fine", json!([]), 1);
    assert_eq!(
        interaction_reply(world, &token).await["data"]["content"],
        "ran fine"
    );
    let token = world.autocomplete(
        ALICE,
        "fine",
        json!([{"name": "pick", "type": 3, "value": "c", "focused": true}]),
    );
    let answer = interaction_reply(world, &token).await;
    let choices = answer["data"]["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 25, "{answer}");
    assert!(
        choices
            .iter()
            .all(|c| c["name"].as_str().unwrap().len() <= 100)
    );
    // A call is recorded as it arrives (status 0) and answered after.
    let answered = |w: &World| w.interaction_calls(&token)[0].status != 0;
    assert!(world.wait_for(WAIT, answered).await, "never answered");
    assert_eq!(world.interaction_calls(&token)[0].status, 204);
    caught_up(world).await;
    host.shutdown().await;
}

/// The bot's guild command registrations so far.
fn registrations(world: &World) -> Vec<RestCall> {
    let path = format!("/api/v10/applications/{BOT_ID}/guilds/{GUILD_ID}/commands");
    let mut puts: Vec<RestCall> = world
        .calls()
        .into_iter()
        .filter(|c| c.method == "PUT" && c.path == path)
        .collect();
    puts.sort_by_key(|c| c.at);
    puts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registration_backs_off_while_discord_fails_and_the_bot_serves_meanwhile() {
    let tmp = tempfile::tempdir().unwrap();
    let config = host_config(tmp.path());
    let server = LocalDiscord::start().await.unwrap();
    let world = server.world();
    world.fail_command_registrations(3, 500);
    let host = minstrel::app::start(&config, bot_options(&server))
        .await
        .unwrap();

    // While registration keeps failing, the bot answers.
    assert!(
        world
            .wait_for(WAIT, |w| registrations(w).iter().any(|c| c.status == 500))
            .await,
        "no registration attempt"
    );
    caught_up(world).await;
    assert!(
        registrations(world).iter().all(|c| c.status != 200),
        "registered before the ping was answered: {:?}",
        registrations(world)
    );

    assert!(
        world
            .wait_for(WAIT, |w| registrations(w).iter().any(|c| c.status == 200))
            .await,
        "never registered: {:?}",
        registrations(world)
    );
    assert!(command_names(world).contains(&"ping".to_string()));
    let puts = registrations(world);
    let statuses: Vec<u16> = puts.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [500, 500, 500, 200]);
    // Each wait at least doubles: 1 s, 2 s, 4 s.
    let gaps: Vec<Duration> = puts.windows(2).map(|p| p[1].at - p[0].at).collect();
    for (i, gap) in gaps.iter().enumerate() {
        assert!(*gap >= RETRY_FIRST * (1u32 << i), "{gaps:?}");
    }
    assert!(gaps[1] > gaps[0] && gaps[2] > gaps[1], "{gaps:?}");
    host.shutdown().await;
}

/// `minstrel run` against `server` on `dir` (data in `dir/data`, plugins in
/// `dir/plugins`), with the token `token`.
fn minstrel_run(server: &LocalDiscord, dir: &Path, token: &str) -> std::process::Child {
    let data = dir.join("data");
    spawn(&mut run_command(server, &data, &dir.join("plugins"), token))
}

/// Waits for `child` to exit within a minute; returns its status and standard error.
async fn exited(mut child: std::process::Child) -> (std::process::ExitStatus, String) {
    let ended = async || child.try_wait().unwrap().is_some();
    if !wait_for(Duration::from_secs(60), ended).await {
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        panic!(
            "still running after a minute: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = child.wait_with_output().unwrap();
    (out.status, String::from_utf8(out.stderr).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minstrel_run_exits_with_a_clear_error_when_start_up_cannot_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LocalDiscord::start().await.unwrap();
    let world = server.world();
    world.require_token("test-token");

    // A wrong token: Discord answers 401.
    let child = minstrel_run(&server, tmp.path(), "wrong-token");
    let (status, stderr) = exited(child).await;
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("Discord rejected the bot token (401 Unauthorized)"),
        "{stderr}"
    );

    // The right token, but Discord refuses the commands (a bot invited without the
    // applications.commands scope): retrying cannot help, so the process ends.
    world.fail_command_registrations(1, 403);
    let child = minstrel_run(&server, tmp.path(), "test-token");
    let (status, stderr) = exited(child).await;
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("Discord refused to register the bot's commands: 403 Forbidden"),
        "{stderr}"
    );
    assert!(world.identifies() >= 1, "the second run connected first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_command_discord_rejects_leaves_the_built_ins_registered_and_the_bot_up() {
    let tmp = tempfile::tempdir().unwrap();
    let plugins = tmp.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        minstrel_tests::component("hello_command"),
        plugins.join("hello.wasm"),
    )
    .unwrap();
    let server = LocalDiscord::start().await.unwrap();
    let world = server.world();
    // The load-time check passed /hello; Discord's rules do not (as for a name with a
    // combining mark).
    world.reject_command_named("hello");

    let mut child = minstrel_run(&server, tmp.path(), "test-token");
    let builtins_registered = |w: &World| registrations(w).iter().any(|c| c.status == 200);
    if !world.wait_for(WAIT, builtins_registered).await {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "the commands were never registered: {:?}; {}",
            registrations(world)
                .iter()
                .map(|c| c.status)
                .collect::<Vec<_>>(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(child.try_wait().unwrap().is_none(), "the bot stopped");
    let mut expected = minstrel::discord::builtin_command_names();
    expected.sort();
    assert_eq!(command_names(world), expected);

    // The bot serves the built-ins, and says the plugin's commands were refused.
    caught_up(world).await;
    let id = world.send_message(ALICE, "!plugins", 1);
    let listed = minstrel_tests::bot::reply_to(world, id).await["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(listed.contains("2 commands refused"), "{listed}");
    assert!(child.try_wait().unwrap().is_none(), "the bot stopped");

    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Discord refused the plugin commands: 400 Bad Request"),
        "{stderr}"
    );
}
