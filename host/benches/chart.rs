//! Chart rendering inside the sandbox. Run `scripts/build-plugins.sh`, then
//! `cargo bench -p minstrel --bench chart`; results go in BENCHMARKS.md.
//!
//! 1. Time of one `chart` mention call (fresh instance, parse, choose, draw 800x500,
//!    encode PNG) per chart type, for a 12-row and a 100-row table, under the default
//!    limits (`plugins.memory_bytes`, `plugins.call_timeout_ms`).
//! 2. The smallest memory cap, of a few, under which the 100-row charts still render.

#[path = "../../tests/common/built.rs"]
mod built;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use minstrel::plugins::types::{Context, Message};
use minstrel::plugins::{Grant, NoServices, PluginHost, PluginsConfig};

use built::component;

const CALLS: usize = 20;

fn table(rows: usize) -> String {
    let mut text = String::from("| day | visits | signups |\n|---|---|---|\n");
    for i in 0..rows {
        text.push_str(&format!(
            "| day {i} | {} | {} |\n",
            300 + (i * 37) % 200,
            20 + (i * 13) % 40
        ));
    }
    text
}

fn message(request: &str, rows: usize) -> Message {
    Message {
        id: 1,
        content: format!("{request}\n{}", table(rows)),
        context: Context {
            guild_id: Some(1),
            channel_id: 2,
            user_id: 3,
            user_name: "ada".into(),
        },
        attachments: Vec::new(),
        reply_chain: Vec::new(),
    }
}

async fn host(dir: &Path, memory_bytes: Option<u64>) -> PluginHost {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(component("chart"), plugins.join("chart.wasm")).unwrap();
    let mut config = PluginsConfig {
        dir: plugins,
        ..PluginsConfig::default()
    };
    if let Some(memory_bytes) = memory_bytes {
        config.grants.insert(
            "chart".into(),
            Grant {
                memory_bytes: Some(memory_bytes),
                ..Grant::default()
            },
        );
    }
    let host = PluginHost::new(config, dir, Arc::new(NoServices)).unwrap();
    host.load_dir().await;
    host
}

async fn render_times() {
    let tmp = tempfile::tempdir().unwrap();
    let host = host(tmp.path(), None).await;
    let defaults = PluginsConfig::default();
    println!(
        "chart: one mention call, {CALLS} calls each, default limits ({} MiB, {} ms)",
        defaults.memory_bytes >> 20,
        defaults.call_timeout_ms
    );
    for rows in [12, 100] {
        for request in ["bar chart", "line chart", "pie chart of visits"] {
            let msg = message(request, rows);
            let (first, _) = host.handle_mention("chart", &msg).await;
            let first = first.expect("chart renders");
            assert_eq!(first.attachments.len(), 1, "{}", first.content);
            let mut samples: Vec<Duration> = (0..CALLS).map(|_| Duration::ZERO).collect();
            for sample in &mut samples {
                let started = Instant::now();
                let (reply, _) = host.handle_mention("chart", &msg).await;
                *sample = started.elapsed();
                reply.unwrap();
            }
            samples.sort();
            println!(
                "  {rows:>3} rows, {request:<20} p50 {:>7.1} ms  max {:>7.1} ms  png {} KiB",
                samples[CALLS / 2].as_secs_f64() * 1e3,
                samples[CALLS - 1].as_secs_f64() * 1e3,
                first.attachments[0].data.len() / 1024
            );
        }
    }
}

async fn smallest_memory_cap() {
    for mib in [2u64, 3, 4, 8, 16, 32] {
        let tmp = tempfile::tempdir().unwrap();
        let host = host(tmp.path(), Some(mib << 20)).await;
        let mut ok = true;
        for request in ["bar chart", "line chart", "pie chart of visits"] {
            let (reply, _) = host.handle_mention("chart", &message(request, 100)).await;
            ok &= reply.is_ok_and(|r| r.attachments.len() == 1);
        }
        println!(
            "  memory cap {mib:>2} MiB: 100-row charts {}",
            if ok { "render" } else { "fail" }
        );
        if ok {
            break;
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        render_times().await;
        smallest_memory_cap().await;
    });
}
