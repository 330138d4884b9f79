//! Plugin runtime benchmarks. Run `scripts/build-plugins.sh`, then
//! `cargo bench -p minstrel --bench plugins`; results go in BENCHMARKS.md.
//!
//! 1. A call into a trivial command handler (fresh instance from the `InstancePre` +
//!    call + drop, as every call does) against a native Rust function doing the same
//!    work: p50/p99 and their ratio.
//! 2. Reload latency: from writing the file to the new version answering, through the
//!    watcher, with and without the compiled cache, for a file closed after writing
//!    (reloaded on the close event) and one left open (only the debounce reloads it);
//!    and the load alone (read + compile or cache load + link + pre-instantiate).
//! 3. Sandbox limits in time (tests/plugins_sandbox.rs checks only that they hold): how
//!    long after its limit a call that never yields is stopped, for a 400 ms and a
//!    100 ms limit; and a well-behaved plugin's call latency while attacks (spin,
//!    memory bomb, deep recursion, panic) run beside it, against none.

#[path = "../../tests/common/built.rs"]
mod built;

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use minstrel::plugins::types::{Context, Invocation, Reply};
use minstrel::plugins::{NoServices, PluginHost, PluginsConfig};

use built::component;

const CALLS: usize = 5_000;
const RELOADS: usize = 10;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

fn invocation() -> Invocation {
    Invocation {
        command: "version".into(),
        options: Vec::new(),
        context: Context {
            guild_id: Some(1),
            channel_id: 2,
            user_id: 3,
            user_name: "ada".into(),
        },
    }
}

/// What the plugin does, natively: match the command, build the reply.
#[inline(never)]
fn native(invocation: &Invocation) -> Result<Reply, String> {
    match invocation.command.as_str() {
        "version" => Ok(Reply {
            content: "a".into(),
            embeds: Vec::new(),
            attachments: Vec::new(),
            ephemeral: false,
            components: Vec::new(),
        }),
        other => Err(format!("unknown command {other}")),
    }
}

fn config(dir: &Path, cache: bool) -> PluginsConfig {
    PluginsConfig {
        dir: dir.to_path_buf(),
        compiled_cache: cache,
        debounce_ms: 50,
        ..PluginsConfig::default()
    }
}

async fn call_latency() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(component("reload_a"), dir.join("probe.wasm")).unwrap();
    let host = PluginHost::new(config(&dir, true), tmp.path(), Arc::new(NoServices)).unwrap();
    host.load_dir().await;
    let inv = invocation();
    for _ in 0..200 {
        host.run_command("probe", &inv).await.unwrap();
    }
    let mut plugin = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        let reply = host.run_command("probe", &inv).await.unwrap();
        plugin.push(started.elapsed());
        black_box(reply);
    }
    let mut native_samples = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        let reply = native(black_box(&inv)).unwrap();
        native_samples.push(started.elapsed());
        black_box(reply);
    }
    let (p50, p99) = summary(plugin);
    let (n50, n99) = summary(native_samples);
    println!("call: trivial command handler, {CALLS} sequential calls");
    println!("  plugin (fresh instance + call): p50 {p50:?}  p99 {p99:?}");
    println!("  native fn:                      p50 {n50:?}  p99 {n99:?}");
    println!(
        "  ratio p50 {:.0}x  p99 {:.0}x",
        p50.as_secs_f64() / n50.as_secs_f64().max(1e-9),
        p99.as_secs_f64() / n99.as_secs_f64().max(1e-9)
    );

    // The same under concurrency: 8 tasks calling at once on the runtime's workers.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let host = host.clone();
        let inv = inv.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..CALLS / 8 {
                host.run_command("probe", &inv).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "  throughput, 8 concurrent callers: {:.0} calls/s",
        (CALLS / 8 * 8) as f64 / elapsed.as_secs_f64()
    );
}

async fn reload_latency(cache: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("probe.wasm");
    std::fs::copy(component("reload_a"), &file).unwrap();
    let host = PluginHost::new(config(&dir, cache), tmp.path(), Arc::new(NoServices)).unwrap();
    host.load_dir().await;
    let versions = [
        (std::fs::read(component("reload_b")).unwrap(), "b"),
        (std::fs::read(component("reload_a")).unwrap(), "a"),
    ];
    // Warm the cache with both versions (when on), as a bot that has seen them before.
    for (bytes, _) in &versions {
        let warm = dir.join("warm.wasm");
        std::fs::write(&warm, bytes).unwrap();
        host.load_file(&warm).await.unwrap();
        host.unload("warm");
        std::fs::remove_file(&warm).unwrap();
    }

    // The load alone.
    let mut loads = Vec::new();
    for i in 0..RELOADS {
        let (bytes, _) = &versions[i % 2];
        std::fs::write(&file, bytes).unwrap();
        let started = Instant::now();
        host.load_file(&file).await.unwrap();
        loads.push(started.elapsed());
    }

    // File write -> new version serving, through the watcher.
    let watch = minstrel::plugins::watcher::spawn(host.clone()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Two ways to write, alternating: closed at once (reloaded on the close event), and
    // kept open until the new version serves (only the debounce can reload it: what
    // every write waited for before close events were used).
    let (mut closed, mut open) = (Vec::new(), Vec::new());
    for i in 0..RELOADS * 2 {
        let (bytes, expected) = &versions[i % 2];
        let started = Instant::now();
        let mut held = None;
        if i % 4 < 2 {
            std::fs::write(&file, bytes).unwrap();
        } else {
            use std::io::Write;
            let mut f = std::fs::File::create(&file).unwrap();
            f.write_all(bytes).unwrap();
            held = Some(f);
        }
        loop {
            let reply = host.run_command("probe", &invocation()).await.unwrap();
            if reply.content == *expected {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "reload never seen"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let took = started.elapsed();
        if held.is_some() {
            &mut open
        } else {
            &mut closed
        }
        .push(took);
        drop(held);
        // Let trailing file events (the late close) settle before the next write.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    watch.shutdown().await;
    let (l50, l99) = summary(loads);
    let (e50, e99) = summary(closed);
    let (o50, o99) = summary(open);
    let label = if cache {
        "with compiled cache"
    } else {
        "without compiled cache"
    };
    println!("reload {label}, {RELOADS} reloads alternating two versions:");
    println!("  load alone:                          p50 {l50:?}  max {l99:?}");
    println!("  file written and closed -> serving:  p50 {e50:?}  max {e99:?}");
    println!("  file written, left open -> serving (50 ms debounce): p50 {o50:?}  max {o99:?}");
}

/// The `hostile` and `hello` plugins under the limits the sandbox tests use, with
/// `call_timeout_ms`.
async fn sandbox_host(dir: &Path, call_timeout_ms: u64) -> PluginHost {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(component("hostile"), plugins.join("hostile.wasm")).unwrap();
    std::fs::copy(component("hello_command"), plugins.join("hello.wasm")).unwrap();
    let config = PluginsConfig {
        memory_bytes: 32 << 20,
        call_timeout_ms,
        host_calls_per_call: 1_000,
        max_concurrent_calls: 16,
        ..config(&plugins, true)
    };
    let host = PluginHost::new(config, dir, Arc::new(NoServices)).unwrap();
    for (path, loaded) in host.load_dir().await {
        loaded.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    host
}

fn command(name: &str) -> Invocation {
    Invocation {
        command: name.into(),
        ..invocation()
    }
}

/// `hello`'s call latency over `n` sequential calls: p50 and max.
async fn hello_latency(host: &PluginHost, n: usize) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        host.run_command("hello", &command("hello")).await.unwrap();
        samples.push(started.elapsed());
    }
    samples.sort();
    (percentile(&samples, 0.5), *samples.last().unwrap())
}

async fn sandbox_limits() {
    for limit_ms in [400, 100] {
        let tmp = tempfile::tempdir().unwrap();
        let host = sandbox_host(tmp.path(), limit_ms).await;
        let limit = Duration::from_millis(limit_ms);
        let mut over = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            let error = host
                .run_command("hostile", &command("spin"))
                .await
                .unwrap_err();
            assert_eq!(error.kind(), "timeout", "{error}");
            over.push(started.elapsed().saturating_sub(limit));
        }
        over.sort();
        println!(
            "spin under a {limit_ms} ms limit, 10 calls: stopped after the limit + p50 {:?}, max {:?}",
            percentile(&over, 0.5),
            over.last().unwrap()
        );
    }

    let tmp = tempfile::tempdir().unwrap();
    let host = sandbox_host(tmp.path(), 400).await;
    let (quiet50, quiet_max) = hello_latency(&host, 200).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut attackers = Vec::new();
    for name in ["spin", "bomb", "recurse", "panic", "spin"] {
        let (host, stop) = (host.clone(), stop.clone());
        attackers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                assert!(host.run_command("hostile", &command(name)).await.is_err());
            }
        }));
    }
    let (busy50, busy_max) = hello_latency(&host, 200).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for attacker in attackers {
        attacker.await.unwrap();
    }
    println!(
        "hello, 200 sequential calls: alone p50 {quiet50:?} max {quiet_max:?}; \
         beside 5 looping attacks p50 {busy50:?} max {busy_max:?}"
    );
}

fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        call_latency().await;
        reload_latency(true).await;
        reload_latency(false).await;
        sandbox_limits().await;
    });
}
