//! The real bot against the local Discord-compatible server: its config, its start-up,
//! and waiting for its answers. Shared by the tests that talk to the bot.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use minstrel::app::{self, Host};
use minstrel::config::Config;
use minstrel::discord::BotOptions;
use minstrel::plugins::HostServices;
use minstrel_local::discord::payloads::GUILD_ID;
use minstrel_local::discord::{LocalDiscord, World};
use serde_json::Value;

/// How long a test waits for the bot before failing.
pub const WAIT: Duration = Duration::from_secs(30);

/// A host config on `dir`: data in `dir/data` under the test store limits, plugins in
/// `dir/plugins` (created, empty), none of the bundled plugins.
pub fn host_config(dir: &Path) -> Config {
    let mut config = Config {
        data_dir: dir.join("data"),
        store: crate::test_config(),
        ..Config::default()
    };
    // The store tests' backend (see `database`): SQLite unless STORE_BACKEND=postgres.
    config.store.database_url = crate::database::store_database_url(&config.data_dir);
    config.plugins.dir = dir.join("plugins");
    config.plugins.bundled = false;
    std::fs::create_dir_all(&config.plugins.dir).unwrap();
    config
}

/// Puts the built plugin crate `krate` into the config's plugins folder as plugin `name`.
pub fn install(config: &Config, krate: &str, name: &str) {
    let to = config.plugins.dir.join(format!("{name}.wasm"));
    std::fs::copy(crate::component(krate), to).unwrap();
}

/// Installs plugin `krate` as `name`, granted `interfaces` and nothing else.
pub fn install_granted(config: &mut Config, krate: &str, name: &str, interfaces: &[&str]) {
    install(config, krate, name);
    let grant = minstrel::plugins::Grant {
        interfaces: interfaces.iter().map(|i| i.to_string()).collect(),
        ..minstrel::plugins::Grant::default()
    };
    config.plugins.grants.insert(name.into(), grant);
}

/// Installs the `http` source plugin, granted the loopback test server on `port`.
pub fn install_http_source(config: &mut Config, port: u16) {
    install(config, "http", "http");
    let grant = minstrel::plugins::Grant {
        interfaces: vec!["http".into()],
        http_hosts: vec!["127.0.0.1".into()],
        http_ports: vec![port],
        allow_private_addresses: true,
        ..minstrel::plugins::Grant::default()
    };
    config.plugins.grants.insert("http".into(), grant);
}

/// The bot on `server`, serving the dev guild, with the prefix `!`.
pub fn bot_options(server: &LocalDiscord) -> BotOptions {
    BotOptions {
        token: "test-token".into(),
        api_base: Some(server.base_url()),
        dev_guild: Some(GUILD_ID),
        prefix: "!".into(),
        mention_order: Vec::new(),
        shards: minstrel::shards::ShardPlan::Single,
    }
}

/// Starts the host and waits until the bot has registered the guild command `command`.
pub async fn start_bot(
    server: &LocalDiscord,
    config: &Config,
    options: BotOptions,
    command: &str,
) -> Host {
    start_bot_with(server, config, options, command, |services| services).await
}

/// [`start_bot`], with the plugins' services passed through `plugin_services`.
pub async fn start_bot_with(
    server: &LocalDiscord,
    config: &Config,
    options: BotOptions,
    command: &str,
    plugin_services: impl FnOnce(Arc<dyn HostServices>) -> Arc<dyn HostServices>,
) -> Host {
    // Counted from before the start, so commands a previous bot registered on the same
    // server do not pass for this one's.
    let before = registrations(server.world());
    let host = app::start_with(config, options, plugin_services)
        .await
        .unwrap();
    let registered = |w: &World| {
        registrations(w) > before && w.guild_commands().iter().any(|c| c["name"] == command)
    };
    assert!(
        server.world().wait_for(WAIT, registered).await,
        "the bot never registered /{command}"
    );
    host
}

/// The bot as its own process: `minstrel run` on `data_dir` against `server`, serving
/// the dev guild with the plugins in `plugins` and the bot token `token`, logging
/// warnings. Start it with [`crate::process::spawn`].
pub fn run_command(server: &LocalDiscord, data_dir: &Path, plugins: &Path, token: &str) -> Command {
    let mut cmd = crate::minstrel(data_dir);
    cmd.arg("run")
        .env("DISCORD_TOKEN", token)
        .env("MINSTREL_DISCORD__API_BASE", server.base_url())
        .env("MINSTREL_DISCORD__DEV_GUILD", GUILD_ID.to_string())
        .env("MINSTREL_PLUGINS__DIR", plugins);
    cmd
}

/// Guild command registrations (bulk overwrites) the server has answered.
fn registrations(world: &World) -> usize {
    world
        .calls()
        .iter()
        .filter(|c| {
            c.method == "PUT" && c.path.contains("/guilds/") && c.path.ends_with("/commands")
        })
        .count()
}

/// The bot's first reply to message `id`.
pub async fn reply_to(world: &World, id: u64) -> Value {
    assert!(
        world.wait_for(WAIT, |w| !w.replies_to(id).is_empty()).await,
        "no reply to message {id}"
    );
    world.replies_to(id).remove(0)
}

/// `user` invokes slash command `name` with `options`: the content of the bot's first
/// answer.
pub async fn slash_answer(world: &World, user: u64, name: &str, options: Value) -> String {
    let token = world.slash(user, name, options, 1);
    let answer = interaction_reply(world, &token).await;
    answer["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The body of the bot's first answer to the interaction `token`.
pub async fn interaction_reply(world: &World, token: &str) -> Value {
    assert!(
        world
            .wait_for(WAIT, |w| !w.interaction_calls(token).is_empty())
            .await,
        "no answer to {token}"
    );
    world.interaction_calls(token)[0].body.clone()
}

/// Sends `!ping` as alice and waits for the bot's `pong`. serenity takes events in the
/// order the gateway delivers them (its cache first), so once this is answered the bot
/// has received every event delivered before it (a voice state, a duplicate of an
/// earlier message) and answered a later one.
pub async fn caught_up(world: &World) {
    caught_up_in(world, minstrel_local::discord::payloads::GENERAL).await;
}

/// [`caught_up`] for the bot serving `channel`'s guild (on a sharded bot, the process
/// running that guild's shard).
pub async fn caught_up_in(world: &World, channel: u64) {
    let id = world.send_message_in(
        channel,
        minstrel_local::discord::payloads::ALICE,
        "!ping",
        1,
    );
    assert!(
        world
            .wait_for(WAIT, |w| w
                .replies_to(id)
                .iter()
                .any(|m| m["content"] == "pong"))
            .await,
        "the bot did not answer !ping: {:?}",
        world.replies_to(id)
    );
}

/// A bot process (see [`run_command`]) whose log is passed on to this process's stderr,
/// each line marked with its name, and watched; killed when dropped (also when the test
/// fails).
pub struct BotProcess {
    child: std::process::Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    /// Every line received so far.
    seen: Vec<String>,
}

impl BotProcess {
    /// Starts `cmd` and waits until the bot has registered its commands (so it is
    /// connected and serving).
    pub async fn start(cmd: &mut Command, name: &str) -> Self {
        let mut child = crate::process::spawn(cmd.env("RUST_LOG", "warn,minstrel=info"));
        let stderr = child.stderr.take().expect("stderr is captured");
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let name = name.to_string();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                eprintln!("[{name}] {line}");
                let _ = tx.send(line);
            }
        });
        let mut bot = Self {
            child,
            lines,
            seen: Vec::new(),
        };
        bot.logged("commands registered").await;
        bot
    }

    /// The first log line containing `text`, waiting up to [`WAIT`] for it.
    pub async fn logged(&mut self, text: &str) -> String {
        self.logged_times(text, 1).await
    }

    /// The `n`th log line containing `text`, waiting up to [`WAIT`] for it.
    pub async fn logged_times(&mut self, text: &str, n: usize) -> String {
        if let Some(line) = self.seen.iter().filter(|l| l.contains(text)).nth(n - 1) {
            return line.clone();
        }
        let mut count = self.seen.iter().filter(|l| l.contains(text)).count();
        let (lines, seen) = (&mut self.lines, &mut self.seen);
        let found = tokio::time::timeout(WAIT, async {
            while let Some(line) = lines.recv().await {
                seen.push(line.clone());
                if line.contains(text) {
                    count += 1;
                    if count == n {
                        return Some(line);
                    }
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("the bot process never logged {text:?} {n} times"),
        }
    }

    /// Kills the process with SIGKILL (a crash, `kill -9`), and reaps it.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    /// Sends SIGTERM (what `systemctl stop` and `docker stop` send) and waits up to
    /// [`WAIT`] for the process to exit.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -TERM failed");
        let child = &mut self.child;
        let exited = crate::wait_for(WAIT, async || child.try_wait().unwrap().is_some()).await;
        assert!(exited, "still running {WAIT:?} after SIGTERM");
        self.child.try_wait().unwrap().expect("exited")
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
