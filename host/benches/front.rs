//! Discord front benchmarks. Run `scripts/build-plugins.sh`, then
//! `cargo bench -p minstrel --bench front`; results go in BENCHMARKS.md.
//!
//! 1. Events per second end to end: the real bot against the local Discord server,
//!    2,000 prefix messages sent at once, each claimed in SQLite, routed to a trivial
//!    command plugin (`reload-a`'s `version`) and answered with one REST call; then a
//!    mix of 20,000 messages, one in ten such a command, the rest chat the bot reads
//!    and leaves. The commands-only figure beside a bare poise bot answering the same
//!    command natively (no claim, no plugin), alternating, 3 rounds; then all of it
//!    again with the server in a process of its own (`local-discord`: build it first,
//!    `cargo build --release -p minstrel-local --bin local-discord`), 5 rounds, with
//!    the bot's CPU time per command (the server's is not counted).
//! 2. Added latency per event of the claim: the same event path in process (claim +
//!    route + plugin call) against the same handler with no claim, sequential,
//!    alternating, medians and their ratio.
//! 3. `/play` suggestions while typing: autocomplete through the real bot, answered from
//!    the store's TTL cache vs searched through a source plugin (`echo-source`, no
//!    network), alternating; and, for scale, one yt-dlp run (the real media service
//!    probing a loopback file), the least a real search costs.
//! 4. `/play` typed while a search takes 4 s (the `youtube` plugin, its site stood in
//!    for): how soon the bot answers, with no choices. Discord drops an answer after
//!    3 s; tests/playback_youtube.rs checks only that the answer comes empty.

#[path = "../../tests/common/built.rs"]
mod built;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use minstrel::config::{Config, StoreConfig};
use minstrel::discord::keystrokes::Keystrokes;
use minstrel::discord::{BotOptions, Data, claim, plugin_commands};
use minstrel::media::{Entry, SearchSite};
use minstrel::plugins::types::{Context, Invocation};
use minstrel::plugins::{Grant, HostServices, NoServices, PluginHost, PluginsConfig, ServiceError};
use minstrel::store::Store;
use minstrel_local::discord::LocalDiscord;
use minstrel_local::discord::payloads::{ALICE, GUILD_ID};
use minstrel_local::discord::process::ServerProcess;

use built::component;

const EVENTS: u64 = 2_000;
const MIX_EVENTS: u64 = 20_000;
/// How long a burst may take to be answered.
const LIMIT: Duration = Duration::from_secs(300);
const SAMPLES: usize = 3_000;
const SUGGESTIONS: usize = 200;
/// Rounds of each arm with the server in its own process: the machine is shared, and
/// single rounds of one binary spread by a third.
const ROUNDS: usize = 5;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn median_of(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn options(server: &LocalDiscord) -> BotOptions {
    options_at(server.base_url())
}

fn options_at(base_url: String) -> BotOptions {
    BotOptions {
        token: "bench-token".into(),
        api_base: Some(base_url),
        dev_guild: Some(GUILD_ID),
        prefix: "!".into(),
        mention_order: Vec::new(),
        shards: minstrel::shards::ShardPlan::Single,
    }
}

/// The config of a bot with built plugin `krate` loaded as `name`, in a new folder.
fn bot_config(krate: &str, name: &str) -> (tempfile::TempDir, Config) {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: tmp.path().join("data"),
        ..Config::default()
    };
    config.plugins.dir = tmp.path().join("plugins");
    // Only the plugins the benchmark installs.
    config.plugins.bundled = false;
    std::fs::create_dir_all(&config.plugins.dir).unwrap();
    // One user typing hundreds of searches: measure the search path, not the per-user
    // debounce and budget that would hold them back.
    config.player.suggestions_per_minute = 0;
    config.player.suggest_debounce_ms = 0;
    let to = config.plugins.dir.join(format!("{name}.wasm"));
    std::fs::copy(component(krate), to).unwrap();
    (tmp, config)
}

/// The real bot against the local Discord server, with built plugin `krate` loaded as
/// `name`, once it has registered `command`.
async fn start_bot(
    krate: &str,
    name: &str,
    command: &str,
) -> (tempfile::TempDir, LocalDiscord, minstrel::app::Host) {
    let (tmp, config) = bot_config(krate, name);
    let server = LocalDiscord::start().await.unwrap();
    let host = minstrel::app::start(&config, options(&server))
        .await
        .unwrap();
    let registered = |w: &minstrel_local::discord::World| {
        w.guild_commands().iter().any(|c| c["name"] == command)
    };
    assert!(
        server
            .world()
            .wait_for(Duration::from_secs(30), registered)
            .await
    );
    (tmp, server, host)
}

/// Part 1; returns the commands-only events per second.
async fn end_to_end() -> f64 {
    let (_tmp, server, host) = start_bot("reload_a", "probe", "version").await;
    let world = server.world();
    assert!(world.warm_up(LIMIT).await, "the bot never answered");
    let took = world.burst(EVENTS, 1, LIMIT).await;
    let took = took.expect("not every event was answered");
    let commands_only = EVENTS as f64 / took.as_secs_f64();
    println!(
        "end to end: {EVENTS} events in {:.2} s = {commands_only:.0} events/s (gateway -> claim -> route -> plugin -> REST reply)",
        took.as_secs_f64(),
    );

    // A gateway mix: nine messages in ten are chat the bot only reads, one in ten a
    // command it claims and answers. Done when every command is answered.
    let took = world.burst(MIX_EVENTS, 10, LIMIT).await;
    let took = took.expect("not every command was answered");
    println!(
        "end to end, mixed: {MIX_EVENTS} messages ({} commands) in {:.2} s = {:.0} events/s",
        MIX_EVENTS.div_ceil(10),
        took.as_secs_f64(),
        MIX_EVENTS as f64 / took.as_secs_f64()
    );
    host.shutdown().await;
    commands_only
}

/// `!version` answered by a bare poise bot: the same command natively, no claim, no
/// plugin, no store.
#[poise::command(prefix_command)]
async fn version(ctx: poise::Context<'_, (), anyhow::Error>) -> Result<(), anyhow::Error> {
    ctx.say("version 1").await?;
    Ok(())
}

/// A bare poise bot answering `!version` against the local server at `base_url`.
async fn start_bare_poise(
    base_url: &str,
) -> (
    Arc<poise::serenity_prelude::ShardManager>,
    tokio::task::JoinHandle<Result<(), poise::serenity_prelude::Error>>,
) {
    use poise::serenity_prelude as serenity;
    let http = serenity::HttpBuilder::new("bench-token")
        .proxy(base_url.trim_end_matches('/'))
        .ratelimiter_disabled(true)
        .build();
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: vec![version()],
            prefix_options: poise::PrefixFrameworkOptions {
                prefix: Some("!".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .setup(|_, _, _| Box::pin(async { Ok(()) }))
        .build();
    let intents =
        serenity::GatewayIntents::non_privileged() | serenity::GatewayIntents::MESSAGE_CONTENT;
    let mut client = serenity::ClientBuilder::new_with_http(http, intents)
        .framework(framework)
        .await
        .unwrap();
    let shards = client.shard_manager.clone();
    let running = tokio::spawn(async move { client.start().await });
    (shards, running)
}

/// Part 1's command-only figure for a bare poise bot against its own local server: the
/// peer of Minstrel's in the same run.
async fn bare_poise() -> f64 {
    let server = LocalDiscord::start().await.unwrap();
    let world = server.world();
    let (shards, running) = start_bare_poise(&server.base_url()).await;
    assert!(world.warm_up(LIMIT).await, "the bare bot never answered");
    let took = world.burst(EVENTS, 1, LIMIT).await;
    let took = took.expect("the bare bot did not answer every event");
    shards.shutdown_all().await;
    running.abort();
    EVENTS as f64 / took.as_secs_f64()
}

/// Part 1 with the server in its own process: (commands only, mixed) events per second
/// of Minstrel, or of the bare poise bot.
/// Which bot answers in [`out_of_process`].
#[derive(Clone, Copy)]
enum Bot {
    /// Minstrel, with `[plugins] keep_resident_bytes` at this value.
    Minstrel(u64),
    Bare,
}

/// What one [`out_of_process`] run measured.
struct Rates {
    /// Commands only, events per second.
    commands: f64,
    /// The bot process's CPU time (user and system, every thread) per command.
    cpu_per_command: Duration,
    /// The mix, events per second (not run for the bare bot).
    mixed: f64,
}

/// CPU time this process has used so far, user and system.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let of = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    of(usage.ru_utime) + of(usage.ru_stime)
}

async fn out_of_process(bot: Bot) -> Rates {
    let mut server = ServerProcess::start().await;
    let (tmp, mut config) = bot_config("reload_a", "probe");
    let bare = matches!(bot, Bot::Bare);
    if let Bot::Minstrel(keep) = bot {
        config.plugins.keep_resident_bytes = keep;
    }
    let (host, bare_bot) = if bare {
        (None, Some(start_bare_poise(&server.base_url).await))
    } else {
        let options = options_at(server.base_url.clone());
        (
            Some(minstrel::app::start(&config, options).await.unwrap()),
            None,
        )
    };
    assert_eq!(server.ask("warm").await, "ready");
    let cpu_before = cpu_time();
    let commands = server.run(EVENTS, 1).await;
    let cpu_per_command = (cpu_time() - cpu_before) / EVENTS as u32;
    let mixed = if bare {
        0.0
    } else {
        server.run(MIX_EVENTS, 10).await
    };
    if let Some(host) = host {
        host.shutdown().await;
    }
    if let Some((shards, running)) = bare_bot {
        shards.shutdown_all().await;
        running.abort();
    }
    drop(tmp);
    Rates {
        commands,
        cpu_per_command,
        mixed,
    }
}

async fn claim_overhead() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(component("reload_a"), dir.join("probe.wasm")).unwrap();
    let plugins_config = PluginsConfig {
        dir: dir.clone(),
        ..PluginsConfig::default()
    };
    let plugins = PluginHost::new(plugins_config, tmp.path(), Arc::new(NoServices)).unwrap();
    plugins.load_dir().await;
    let store = Store::open(&tmp.path().join("data"), StoreConfig::default())
        .await
        .unwrap();
    let mut table = plugin_commands::CommandTable::new();
    for spec in plugins.commands("probe").await.unwrap() {
        table.insert(spec.name.clone(), ("probe".to_string(), spec));
    }
    let server = LocalDiscord::start().await.unwrap();
    // Never used by a plugin command; `Data` holds them for the music commands.
    let players = minstrel::player::Players::new(
        store.clone(),
        plugins.clone(),
        Default::default(),
        songbird::Songbird::serenity(),
        Arc::new(poise::serenity_prelude::Http::new("")),
    );
    let data = Data {
        store,
        plugins,
        options: options(&server),
        plugin_commands: Arc::new(Mutex::new(table)),
        keystrokes: Keystrokes::new(players.config()),
        players,
    };
    let invocation = Invocation {
        command: "version".into(),
        options: Vec::new(),
        context: Context {
            guild_id: Some(GUILD_ID),
            channel_id: 1,
            user_id: ALICE,
            user_name: "alice".into(),
        },
    };
    // The front's path for a prefix message: route by name, (claim), call the plugin.
    let handle = async |event: Option<u64>| {
        let started = Instant::now();
        let (plugin, _) = plugin_commands::owner(&data, "version").expect("routed");
        if let Some(id) = event {
            assert!(
                data.store
                    .claim(claim::MESSAGE, &id.to_string())
                    .await
                    .unwrap()
            );
        }
        data.plugins
            .run_command(&plugin, &invocation)
            .await
            .unwrap();
        started.elapsed()
    };
    for i in 0..200 {
        handle(Some(1_000_000 + i)).await;
        handle(None).await;
    }
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for i in 0..SAMPLES as u64 {
        with.push(handle(Some(i)).await);
        without.push(handle(None).await);
    }
    let (with, without) = (median(with), median(without));
    println!(
        "per event, {SAMPLES} sequential: claim + route + plugin call p50 {:.1} us; route + plugin call (no claim) p50 {:.1} us; added {:.1} us, ratio {:.2}",
        with.as_secs_f64() * 1e6,
        without.as_secs_f64() * 1e6,
        (with.as_secs_f64() - without.as_secs_f64()) * 1e6,
        with.as_secs_f64() / without.as_secs_f64()
    );
}

/// Sends an autocomplete for `/play` with `text` and waits for the answer, which must
/// offer one choice.
async fn suggest(world: &minstrel_local::discord::World, text: &str) -> Duration {
    let (elapsed, choices) = answer(world, text).await;
    assert_eq!(choices.as_array().map(Vec::len), Some(1), "{choices}");
    elapsed
}

/// Sends an autocomplete for `/play` with `text`; how long the answer took, and its
/// choices.
async fn answer(
    world: &minstrel_local::discord::World,
    text: &str,
) -> (Duration, serde_json::Value) {
    let started = Instant::now();
    let token = world.autocomplete(
        ALICE,
        "play",
        serde_json::json!([{"name": "query", "type": 3, "value": text, "focused": true}]),
    );
    let answered = world
        .wait_for(Duration::from_secs(30), |w| {
            !w.interaction_calls(&token).is_empty()
        })
        .await;
    assert!(answered, "no suggestions for {text:?}");
    let elapsed = started.elapsed();
    let choices = world.interaction_calls(&token)[0].body["data"]["choices"].clone();
    (elapsed, choices)
}

/// YouTube stood in for: a search takes `.0` and finds one video.
struct SlowSearch(Duration);

#[async_trait::async_trait]
impl HostServices for SlowSearch {
    async fn search(
        &self,
        _plugin: &str,
        _site: SearchSite,
        query: String,
        _limit: u32,
    ) -> Result<Vec<Entry>, ServiceError> {
        tokio::time::sleep(self.0).await;
        Ok(vec![Entry {
            title: query,
            duration_ms: Some(60_000),
            artwork_url: None,
            page_url: "https://www.youtube.com/watch?v=dQw4w9WgXcQ".into(),
        }])
    }
}

async fn slow_suggestions() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: tmp.path().join("data"),
        ..Config::default()
    };
    config.plugins.dir = tmp.path().join("plugins");
    // Only the plugins the benchmark installs.
    config.plugins.bundled = false;
    std::fs::create_dir_all(&config.plugins.dir).unwrap();
    std::fs::copy(
        component("youtube"),
        config.plugins.dir.join("youtube.wasm"),
    )
    .unwrap();
    config.plugins.grants.insert(
        "youtube".into(),
        Grant {
            interfaces: vec!["media".into()],
            ..Grant::default()
        },
    );
    let server = LocalDiscord::start().await.unwrap();
    let slow: Arc<dyn HostServices> = Arc::new(SlowSearch(Duration::from_secs(4)));
    let host = minstrel::app::start_with(&config, options(&server), move |_| slow)
        .await
        .unwrap();
    let world = server.world();
    let registered =
        |w: &minstrel_local::discord::World| w.guild_commands().iter().any(|c| c["name"] == "play");
    assert!(world.wait_for(Duration::from_secs(30), registered).await);
    let mut samples = Vec::new();
    for i in 0..5 {
        let (elapsed, choices) = answer(world, &format!("slow search {i}")).await;
        assert_eq!(
            choices,
            serde_json::json!([]),
            "answered before the search ended"
        );
        samples.push(elapsed);
    }
    samples.sort();
    println!(
        "/play typed during a 4 s search, 5 keystrokes: answered (empty) after p50 {:.0} ms, max {:.0} ms (Discord's limit: 3,000 ms)",
        samples[2].as_secs_f64() * 1e3,
        samples[4].as_secs_f64() * 1e3
    );
    host.shutdown().await;
}

async fn suggestions() {
    let (_tmp, server, host) = start_bot("echo_source", "echo", "play").await;
    let world = server.world();
    suggest(world, "warm up").await;
    let (mut cached, mut searched) = (Vec::new(), Vec::new());
    for i in 0..SUGGESTIONS {
        cached.push(suggest(world, "warm up").await);
        searched.push(suggest(world, &format!("song number {i}")).await);
    }
    let (cached, searched) = (median(cached), median(searched));
    println!(
        "/play suggestions, {SUGGESTIONS} each, alternating: cached p50 {:.2} ms; searched through echo-source p50 {:.2} ms; ratio {:.2}",
        cached.as_secs_f64() * 1e3,
        searched.as_secs_f64() * 1e3,
        searched.as_secs_f64() / cached.as_secs_f64()
    );
    host.shutdown().await;

    // The least a real search costs: one yt-dlp run, probing a loopback file.
    let remote = minstrel_local::http::LocalHttp::start().await.unwrap();
    remote.route(
        "/song.ogg",
        minstrel_local::http::Route::ok(std::fs::read(sample_audio()).unwrap()).typed("audio/ogg"),
    );
    let media = minstrel::media::Media::new(minstrel::config::MediaConfig {
        allow_private_addresses: true,
        ..Default::default()
    });
    let mut runs = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        media.probe(&remote.url("/song.ogg")).await.unwrap();
        runs.push(started.elapsed());
    }
    println!(
        "one yt-dlp probe of a loopback file (5 runs): p50 {:.0} ms",
        median(runs).as_secs_f64() * 1e3
    );
}

/// The bundled sample (Ogg Opus).
fn sample_audio() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sample.opus")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // `-- --end-to-end` runs part 1 alone (to profile it); `-- --out-of-process` only
    // its rounds with the server in its own process.
    let only_end_to_end = std::env::args().any(|a| a == "--end-to-end");
    let only_out_of_process = std::env::args().any(|a| a == "--out-of-process");
    runtime.block_on(async {
        if !only_end_to_end && !only_out_of_process {
            claim_overhead().await;
        }
        if !only_out_of_process {
            // Commands only: Minstrel against a bare poise bot, alternating, 3 rounds.
            let (mut minstrel, mut bare) = (Vec::new(), Vec::new());
            for _ in 0..3 {
                minstrel.push(end_to_end().await);
                bare.push(bare_poise().await);
            }
            let (minstrel, bare) = (median_of(minstrel), median_of(bare));
            println!(
                "commands only, median of 3: minstrel {minstrel:.0} events/s, bare poise {bare:.0} events/s (ratio {:.2})",
                minstrel / bare
            );
        }
        // The same with the server in its own process; and Minstrel with every call's
        // memory handed back to the kernel (`keep_resident_bytes = 0`), as before.
        // `-- --out-of-process --arm minstrel` (or `given-back`, or `bare`) runs one arm
        // alone, to profile it.
        let arm = std::env::args().skip_while(|a| a != "--arm").nth(1);
        let runs = |name: &str| arm.as_deref().is_none_or(|a| a == name);
        let keep = minstrel::config::plugins::PluginsConfig::default().keep_resident_bytes;
        let (mut minstrel, mut given_back, mut bare) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            if runs("minstrel") {
                minstrel.push(out_of_process(Bot::Minstrel(keep)).await);
            }
            if runs("given-back") {
                given_back.push(out_of_process(Bot::Minstrel(0)).await);
            }
            if runs("bare") {
                bare.push(out_of_process(Bot::Bare).await);
            }
        }
        let commands = |rates: &[Rates]| median_of(rates.iter().map(|r| r.commands).collect());
        let cpu_us = |rates: &[Rates]| {
            median_of(
                rates
                    .iter()
                    .map(|r| r.cpu_per_command.as_secs_f64() * 1e6)
                    .collect(),
            )
        };
        for (name, rates) in [
            ("minstrel", &minstrel),
            ("memory given back", &given_back),
            ("bare poise", &bare),
        ] {
            if !rates.is_empty() {
                println!(
                    "server in its own process, {name}, median of {}: commands only {:.0} events/s (rounds {:.0?}), bot CPU {:.1} us per command",
                    rates.len(),
                    commands(rates),
                    rates.iter().map(|r| r.commands).collect::<Vec<_>>(),
                    cpu_us(rates),
                );
            }
        }
        if arm.is_none() {
            let bare_rate = commands(&bare);
            println!(
                "ratios to bare: minstrel {:.2} (per round {:.2?}), memory given back {:.2}; mixed {:.0} events/s (rounds {:.0?})",
                commands(&minstrel) / bare_rate,
                minstrel.iter().zip(&bare).map(|(m, b)| m.commands / b.commands).collect::<Vec<_>>(),
                commands(&given_back) / bare_rate,
                median_of(minstrel.iter().map(|r| r.mixed).collect()),
                minstrel.iter().map(|r| r.mixed).collect::<Vec<_>>(),
            );
        }
        if only_end_to_end || only_out_of_process {
            return;
        }
        slow_suggestions().await;
        suggestions().await;
    });
}
