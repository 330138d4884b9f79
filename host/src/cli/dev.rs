//! `minstrel dev`: the local Discord-compatible server, the bot connected to it, and a
//! terminal where you act as a user of the dev guild. Lines you type are messages in
//! #general; the bot's replies (and edits) are printed; attachments are saved to files.
//!
//! - `hello`            a message from alice
//! - `@bot hello`       a message mentioning the bot (answered by the `ask_mention`
//!   plugin through the `[llm]` endpoint, or a local echo model when none is set)
//! - `\n` in a line     a line break (type a table: `@bot bar chart\n|a|b|\n|-|-|\n|x|1|`)
//! - `... < FILE`       the message with FILE (if it exists) attached (`@bot chart this < sales.csv`)
//! - `/name key=value`  a slash command with options (a value runs to the next `key=`)
//! - `?name key=value`  what the command's autocomplete offers for that option
//! - `as bob: !cache gc` the same, as bob (who lacks Manage Server)
//! - `quit`             stop

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use crate::config::Config;
use crate::discord::BotOptions;
use minstrel_local::discord::payloads::{ALICE, BOT_ID, GUILD_ID, MUSIC, USERS};
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_local::llm::LocalLlm;

/// The log of `minstrel dev`, in the data folder (the terminal is the chat).
pub const LOG_FILE: &str = "dev.log";

pub async fn run(config: &Config, port: u16) -> anyhow::Result<()> {
    let mut config = config.clone();
    // Without an endpoint of the operator's, mentions are answered by a local echo
    // model, so the streamed, edited-in-place reply can be tried offline.
    let _llm = match config.llm.base_url {
        Some(_) => None,
        None => {
            let llm = LocalLlm::start("local-echo", None).await?;
            config.llm.base_url = Some(llm.base_url());
            config.llm.model = "local-echo".into();
            Some(llm)
        }
    };
    let config = &config;
    let recordings = config.data_dir.join("dev-voice");
    let server =
        LocalDiscord::bind_with(&format!("127.0.0.1:{port}"), Some(recordings.clone())).await?;
    let world = Arc::clone(server.world());
    let options = BotOptions {
        token: "local-dev-token".into(),
        api_base: Some(server.base_url()),
        dev_guild: Some(GUILD_ID),
        prefix: config.discord.prefix.clone(),
        mention_order: config.discord.mention_order.clone(),
        shards: crate::shards::ShardPlan::Single,
    };
    let host = crate::app::start(config, options).await?;
    let ready = world
        .wait_for(Duration::from_secs(30), |w| !w.guild_commands().is_empty())
        .await;
    anyhow::ensure!(ready, "the bot did not connect to the local server");
    let attachments = config.data_dir.join("dev-attachments");
    println!(
        "Local Discord at {} (guild \"Minstrel Dev\"). You are alice; type `as bob: ...` to be bob.",
        server.base_url()
    );
    println!(
        "Try: {p}help   {p}ping   /cache stats   @bot hello   quit",
        p = config.discord.prefix
    );
    println!(
        "The log is in {} (RUST_LOG sets its detail).",
        config.data_dir.join(LOG_FILE).display()
    );
    println!(
        "Music: `join` (you enter the Music voice channel), then {p}play tone:440:10 (or words, \
         or a URL a source plugin claims; `?play query=words` shows suggestions), {p}queue, \
         {p}skip, {p}nowplaying, `leave`.\n\
         What the bot plays is recorded in {} (one Ogg Opus file per connection; ffplay plays it).",
        recordings.display(),
        p = config.discord.prefix
    );
    let printer = tokio::spawn(print_bot_messages(Arc::clone(&world), attachments));
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "quit" || line == "exit" {
            break;
        }
        if let Err(e) = act(&world, line) {
            println!("! {e}");
        }
    }
    // Let replies to the last input arrive before stopping.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    printer.abort();
    host.shutdown().await;
    Ok(())
}

fn act(world: &Arc<World>, line: &str) -> anyhow::Result<()> {
    let (user, text) = match line.split_once(':') {
        Some((who, rest)) if who.starts_with("as ") => {
            let name = who[3..].trim();
            let user = USERS
                .iter()
                .find(|(_, n, _)| *n == name)
                .map(|(id, _, _)| *id)
                .ok_or_else(|| anyhow::anyhow!("unknown user {name}"))?;
            (user, rest.trim())
        }
        _ => (ALICE, line),
    };
    match text {
        "join" => return world.join_voice(user, MUSIC).map_err(anyhow::Error::msg),
        "leave" => {
            world.leave_voice(user);
            return Ok(());
        }
        _ => {}
    }
    if let Some(command) = text.strip_prefix('/') {
        let (name, options) = command_options(world, command)?;
        world.slash(user, &name, options, 1);
    } else if let Some(command) = text.strip_prefix('?') {
        let (name, mut options) = command_options(world, command)?;
        // The last option typed is the one being typed into.
        let last = options
            .as_array_mut()
            .and_then(|o| o.last_mut())
            .ok_or_else(|| anyhow::anyhow!("type an option to complete: ?{name} key=text"))?;
        last["focused"] = json!(true);
        let token = world.autocomplete(user, &name, options);
        tokio::spawn(print_suggestions(Arc::clone(world), token));
    } else {
        // `... < FILE` attaches FILE when it exists; otherwise `<` is just text.
        let (text, file) = match text.rsplit_once(" < ") {
            Some((text, path)) if std::path::Path::new(path.trim()).is_file() => {
                (text, Some(path.trim()))
            }
            _ => (text, None),
        };
        let text = text
            .replace("\\n", "\n")
            .replace("@bot", &format!("<@{BOT_ID}>"));
        match file {
            Some(path) => {
                let bytes = std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("cannot attach {path}: {e}"))?;
                let name = std::path::Path::new(path)
                    .file_name()
                    .map_or("file".into(), |n| n.to_string_lossy().into_owned());
                let content_type = if name.to_ascii_lowercase().ends_with(".csv") {
                    "text/csv"
                } else {
                    "application/octet-stream"
                };
                world.send_message_with_files(user, &text, &[(&name, content_type, bytes)]);
            }
            None => {
                world.send_message(user, &text, 1);
            }
        }
    }
    Ok(())
}

/// `name key=value ...` -> the command's name and its options.
fn command_options(world: &World, command: &str) -> anyhow::Result<(String, Value)> {
    let mut words = command.split_whitespace();
    let name = words.next().unwrap_or_default().to_string();
    let registered = world
        .guild_commands()
        .into_iter()
        .find(|c| c["name"] == name.as_str())
        .ok_or_else(|| anyhow::anyhow!("no command /{name}"))?;
    Ok((name, slash_options(&registered, words.collect())))
}

/// Prints the choices answering the autocomplete interaction `token`.
async fn print_suggestions(world: Arc<World>, token: String) {
    let answered = world
        .wait_for(Duration::from_secs(30), |w| {
            !w.interaction_calls(&token).is_empty()
        })
        .await;
    let choices = match answered {
        true => world.interaction_calls(&token)[0].body["data"]["choices"].clone(),
        false => Value::Null,
    };
    match choices.as_array() {
        None => println!("! no suggestions arrived"),
        Some(choices) if choices.is_empty() => println!("suggestions> (none)"),
        Some(choices) => {
            for (i, choice) in choices.iter().enumerate() {
                let (name, value) = (&choice["name"], &choice["value"]);
                println!("suggestions> {}. {name} -> {value}", i + 1);
            }
        }
    }
}

/// `sub key=value ...` -> Discord option objects, typed as the command declares. A word
/// without `=` belongs to the value before it, so values may hold spaces.
fn slash_options(command: &Value, words: Vec<&str>) -> Value {
    let declared = command["options"].as_array().cloned().unwrap_or_default();
    let mut words = words.into_iter().peekable();
    // A subcommand (type 1) is named first.
    if let Some(sub) = words
        .peek()
        .and_then(|w| declared.iter().find(|o| o["name"] == *w && o["type"] == 1))
        .cloned()
    {
        words.next();
        let inner = slash_options(&sub, words.collect());
        return json!([{"name": sub["name"], "type": 1, "options": inner}]);
    }
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for word in words {
        match (word.split_once('='), pairs.last_mut()) {
            (Some((key, value)), _) => pairs.push((key, value.to_string())),
            (None, Some((_, value))) => {
                value.push(' ');
                value.push_str(word);
            }
            (None, None) => {}
        }
    }
    let mut out = Vec::new();
    for (key, value) in pairs {
        let value = value.as_str();
        let kind = declared
            .iter()
            .find(|o| o["name"] == key)
            .and_then(|o| o["type"].as_u64())
            .unwrap_or(3);
        let value = match kind {
            4 => value
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(json!(value)),
            10 => value
                .parse::<f64>()
                .map(Value::from)
                .unwrap_or(json!(value)),
            5 => json!(value == "true"),
            _ => json!(value),
        };
        out.push(json!({"name": key, "type": kind, "value": value}));
    }
    Value::Array(out)
}

async fn print_bot_messages(world: Arc<World>, attachments: PathBuf) {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut calls_seen = 0;
    loop {
        for msg in world.bot_messages() {
            let id = msg["id"].as_str().unwrap_or_default().to_string();
            let content = msg["content"].as_str().unwrap_or_default().to_string();
            let files = msg["attachments"].as_array().map_or(0, Vec::len);
            let shown = match files {
                // A deferred answer, as Discord shows it until the bot edits it.
                0 if content.is_empty() => "(thinking...)".to_string(),
                0 => content,
                n => format!("{content} [{n} file(s)]"),
            };
            match seen.get(&id) {
                Some(old) if *old == shown => {}
                Some(_) => println!("minstrel (edited)> {shown}"),
                None => println!("minstrel> {shown}"),
            }
            seen.insert(id, shown);
        }
        let calls = world.calls();
        for call in &calls[calls_seen..] {
            for (name, bytes) in &call.files {
                let path = attachments.join(name);
                let saved = std::fs::create_dir_all(&attachments)
                    .and_then(|()| std::fs::write(&path, bytes));
                match saved {
                    Ok(()) => println!("  attachment saved: {}", path.display()),
                    Err(e) => println!("  attachment {name} not saved: {e}"),
                }
            }
        }
        calls_seen = calls.len();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_values_run_to_the_next_key() {
        let command = json!({"options": [
            {"name": "query", "type": 3},
            {"name": "count", "type": 4}
        ]});
        let words = "query=never gonna give count=3 stray".split_whitespace();
        assert_eq!(
            slash_options(&command, words.collect()),
            json!([
                {"name": "query", "type": 3, "value": "never gonna give"},
                {"name": "count", "type": 4, "value": "3 stray"}
            ])
        );
        // A number option that does not parse is passed as text, for Discord to refuse.
        let words = "stray query=x".split_whitespace();
        assert_eq!(
            slash_options(&command, words.collect()),
            json!([{"name": "query", "type": 3, "value": "x"}])
        );
    }
}
