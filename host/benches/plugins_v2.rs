//! Plugin API 0.2.0 and other languages. Run `scripts/build-plugins.sh`, then
//! `cargo bench -p minstrel --bench plugins_v2` (`-- loads` for the loads only);
//! results go in BENCHMARKS.md.
//!
//! 1. Instantiate + call, per language: a trivial command in Rust (`reload-a`), Python
//!    (`py-ping`, componentize-py) and JavaScript (`js-ping`'s `claims`,
//!    componentize-js), each call a fresh instance from the `InstancePre`.
//! 2. Loading the large components (an interpreter inside): cold (Cranelift compile,
//!    compiled cache off) against warm (compiled cache on), the figure a reload pays.
//! 3. The 0.2.0 callbacks in process: `on-player-event` (what the event dispatcher calls
//!    for each event) and `on-press` (a kv read and write, then an update).
//! 4. Button press -> answer through the real bot and the local Discord server (in this
//!    process): the press sent over the gateway, claimed, routed to `probe-v2`, and
//!    answered with an update of the message.

#[path = "../../tests/common/built.rs"]
mod built;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use minstrel::config::{Config, StoreConfig};
use minstrel::discord::BotOptions;
use minstrel::plugins::engine::PluginEngine;
use minstrel::plugins::types::{
    Context, EndReason, Invocation, Message, PlayerEvent, PlayerEventKind, Press,
};
use minstrel::plugins::{Grant, NoServices, PluginHost, PluginsConfig, cache, manifest};
use minstrel_local::discord::LocalDiscord;
use minstrel_local::discord::payloads::{ALICE, GUILD_ID};
use wasmtime::component::Component;

use built::component;

const CALLS: usize = 300;

fn summary(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    (at(0.5), at(0.99))
}

fn context() -> Context {
    Context {
        guild_id: Some(GUILD_ID),
        channel_id: 2,
        user_id: 3,
        user_name: "ada".into(),
    }
}

fn config(dir: &Path, cache: bool) -> PluginsConfig {
    PluginsConfig {
        dir: dir.to_path_buf(),
        compiled_cache: cache,
        call_timeout_ms: 30_000,
        ..PluginsConfig::default()
    }
}

/// A runtime with built plugin `krate` installed as `name` (not loaded yet).
fn host_with(tmp: &Path, krate: &str, name: &str, cache: bool) -> PluginHost {
    let dir = tmp.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(component(krate), dir.join(format!("{name}.wasm"))).unwrap();
    let mut config = config(&dir, cache);
    config.grants.insert(
        name.into(),
        Grant {
            interfaces: vec!["kv".into(), "log".into()],
            ..Grant::default()
        },
    );
    PluginHost::new(config, tmp, Arc::new(NoServices)).unwrap()
}

async fn timed<T>(calls: usize, mut call: impl AsyncFnMut() -> T) -> (Duration, Duration) {
    for _ in 0..20 {
        call().await;
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        std::hint::black_box(call().await);
        samples.push(started.elapsed());
    }
    summary(samples)
}

async fn per_language() {
    println!("instantiate + call, {CALLS} sequential calls after 20 to warm up:");
    let tmp = tempfile::tempdir().unwrap();
    let rust = host_with(tmp.path(), "reload_a", "rust", true);
    rust.load_dir().await;
    let inv = |command: &str| Invocation {
        command: command.into(),
        options: Vec::new(),
        context: context(),
    };
    let version = inv("version");
    let (p50, p99) = timed(CALLS, async || {
        rust.run_command("rust", &version).await.unwrap()
    })
    .await;
    println!("  Rust (reload-a `version`):        p50 {p50:?}  p99 {p99:?}");

    let tmp = tempfile::tempdir().unwrap();
    let python = host_with(tmp.path(), "py_ping", "py", true);
    python.load_dir().await;
    let ping = inv("pyping");
    let (p50, p99) = timed(CALLS, async || {
        python.run_command("py", &ping).await.unwrap()
    })
    .await;
    println!("  Python (py-ping `pyping`):        p50 {p50:?}  p99 {p99:?}");

    let tmp = tempfile::tempdir().unwrap();
    let js = host_with(tmp.path(), "js_ping", "js", true);
    js.load_dir().await;
    let message = Message {
        id: 1,
        content: "ping js".into(),
        context: context(),
        attachments: Vec::new(),
        reply_chain: Vec::new(),
    };
    let (p50, p99) = timed(CALLS, async || {
        js.mention_claims("js", &message).await.unwrap()
    })
    .await;
    println!("  JavaScript (js-ping `claims`):    p50 {p50:?}  p99 {p99:?}");
}

async fn large_loads() {
    println!("load of a large component (read, compile or cache load, link, pre-instantiate):");
    for (krate, label) in [("py_ping", "Python"), ("js_ping", "JavaScript")] {
        let size = std::fs::metadata(component(krate)).unwrap().len() as f64 / 1e6;
        let mut cold = Vec::new();
        for _ in 0..3 {
            let tmp = tempfile::tempdir().unwrap();
            let host = host_with(tmp.path(), krate, "big", false);
            let file = tmp.path().join("plugins/big.wasm");
            let started = Instant::now();
            host.load_file(&file).await.unwrap();
            cold.push(started.elapsed());
        }
        let tmp = tempfile::tempdir().unwrap();
        let host = host_with(tmp.path(), krate, "big", true);
        let file = tmp.path().join("plugins/big.wasm");
        host.load_file(&file).await.unwrap();
        let mut warm = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            host.load_file(&file).await.unwrap();
            warm.push(started.elapsed());
        }
        let phases = warm_phases(&component(krate));
        let (c50, cmax) = (summary(cold.clone()).0, *cold.iter().max().unwrap());
        let (w50, wmax) = (summary(warm.clone()).0, *warm.iter().max().unwrap());
        println!(
            "  {label} ({size:.1} MB): cold p50 {c50:?} max {cmax:?};  warm p50 {w50:?} max {wmax:?}"
        );
        println!("    warm, by phase (p50): {phases}");
    }
}

/// Where a warm load's time goes: the steps `loader::load` takes before linking, each
/// timed alone (p50 of 10); the rest of a load is linking, pre-instantiating and
/// `describe`.
fn warm_phases(file: &Path) -> String {
    let engine = PluginEngine::new(&PluginsConfig::default(), 256 << 20).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(file).unwrap();
    let hash = cache::content_hash(&bytes);
    cache::compile(&engine, &bytes, &hash, Some(cache.path())).unwrap();
    let p50 = |mut step: Box<dyn FnMut()>| {
        let mut samples = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            step();
            samples.push(started.elapsed());
        }
        summary(samples).0
    };
    let read = p50(Box::new(|| {
        std::hint::black_box(std::fs::read(file).unwrap());
    }));
    let manifest = p50(Box::new(|| {
        std::hint::black_box(manifest::read(&bytes).unwrap());
    }));
    let hashing = p50(Box::new(|| {
        std::hint::black_box(blake3::hash(&bytes));
    }));
    let compile = p50(Box::new(|| {
        let (_, origin) = cache::compile(&engine, &bytes, &hash, Some(cache.path())).unwrap();
        assert_eq!(origin, cache::Origin::CacheHit);
    }));
    // The artifact read into memory and deserialized from there, as loads were made
    // before the sealed memfd: code and memory images copied again.
    let artifact = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .unwrap();
    let in_memory = p50(Box::new(|| {
        let bytes = std::fs::read(&artifact).unwrap();
        // SAFETY: written by `cache::compile` of this engine just above.
        let component = unsafe { Component::deserialize(engine.engine(), &bytes) }.unwrap();
        std::hint::black_box(component);
    }));
    format!(
        "read {read:?}, manifest {manifest:?}, blake3 {hashing:?}, compiled-cache load {compile:?} \
         (read into memory instead: {in_memory:?})"
    )
}

async fn callbacks() {
    let tmp = tempfile::tempdir().unwrap();
    let host = host_with(tmp.path(), "probe_v2", "probe", true);
    host.load_dir().await;
    let event = PlayerEvent {
        guild_id: GUILD_ID,
        kind: PlayerEventKind::TrackEnded(EndReason::Finished),
        track: None,
        position_ms: 0,
        at_ms: 0,
    };
    let (p50, p99) = timed(CALLS, async || {
        host.player_event("probe", &event).await.unwrap()
    })
    .await;
    println!("0.2.0 callbacks in process, {CALLS} sequential calls:");
    println!("  on-player-event (probe-v2, no channel set): p50 {p50:?}  p99 {p99:?}");
    let press = Press {
        id: "count".into(),
        values: Vec::new(),
        message_id: 1,
        context: context(),
    };
    let (p50, p99) = timed(CALLS, async || host.press("probe", &press).await.unwrap()).await;
    println!("  on-press (kv read + write, update):         p50 {p50:?}  p99 {p99:?}");
}

async fn press_to_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LocalDiscord::start().await.unwrap();
    let world = server.world();
    let mut config = Config {
        data_dir: tmp.path().join("data"),
        store: StoreConfig::default(),
        ..Config::default()
    };
    config.plugins.dir = tmp.path().join("plugins");
    config.plugins.bundled = false;
    std::fs::create_dir_all(&config.plugins.dir).unwrap();
    std::fs::copy(component("probe_v2"), config.plugins.dir.join("probe.wasm")).unwrap();
    config.plugins.grants.insert(
        "probe".into(),
        Grant {
            interfaces: vec!["kv".into()],
            ..Grant::default()
        },
    );
    let options = BotOptions {
        token: "bench-token".into(),
        api_base: Some(server.base_url()),
        dev_guild: Some(GUILD_ID),
        prefix: "!".into(),
        mention_order: Vec::new(),
        shards: minstrel::shards::ShardPlan::Single,
    };
    let host = minstrel::app::start(&config, options).await.unwrap();
    let registered = |w: &minstrel_local::discord::World| {
        w.guild_commands().iter().any(|c| c["name"] == "buttons")
    };
    assert!(world.wait_for(Duration::from_secs(60), registered).await);
    let id = world.send_message(ALICE, "!buttons", 1);
    assert!(
        world
            .wait_for(Duration::from_secs(30), |w| !w.replies_to(id).is_empty())
            .await
    );
    let message: u64 = world.replies_to(id)[0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut samples = Vec::new();
    for i in 0..220 {
        let started = Instant::now();
        let token = world
            .press(ALICE, message, "mp:probe:count", &[], 1)
            .unwrap();
        let answered = world
            .wait_for(Duration::from_secs(30), |w| {
                !w.interaction_calls(&token).is_empty()
            })
            .await;
        assert!(answered, "press {i} not answered");
        if i >= 20 {
            samples.push(started.elapsed());
        }
    }
    let (p50, p99) = summary(samples);
    println!("button press -> update, through the bot and the local server, 200 presses:");
    println!("  p50 {p50:?}  p99 {p99:?}");
    host.shutdown().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // `cargo bench ... -- loads` runs only the sections whose name holds `loads`.
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    runtime.block_on(async {
        if run("per_language") {
            per_language().await;
        }
        if run("large_loads") {
            large_loads().await;
        }
        if run("callbacks") {
            callbacks().await;
        }
        if run("press_to_answer") {
            press_to_answer().await;
        }
    });
}
