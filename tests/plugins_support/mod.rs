//! Helpers shared by the `plugins_*` tests (included with `#[path]`; not a test target).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minstrel::plugins::types::{Context, Invocation, OptionValue};
use minstrel::plugins::{HostServices, NoServices, PluginHost, PluginsConfig};

#[allow(unused_imports)] // Not every test file uses both.
pub use minstrel_tests::{component, components_dir};

/// Copies component `name` into `dir` as `as_name.wasm`.
pub fn install(dir: &Path, name: &str, as_name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let to = dir.join(format!("{as_name}.wasm"));
    std::fs::copy(component(name), &to).unwrap();
    to
}

/// A config whose folder is `dir`, with small limits so the hostile tests are quick.
pub fn config(dir: &Path) -> PluginsConfig {
    PluginsConfig {
        dir: dir.to_path_buf(),
        memory_bytes: 32 << 20,
        call_timeout_ms: 400,
        host_calls_per_call: 1_000,
        max_concurrent_calls: 16,
        debounce_ms: 50,
        bundled: false,
        ..PluginsConfig::default()
    }
}

pub fn host(config: PluginsConfig, data_dir: &Path) -> PluginHost {
    host_with(config, data_dir, Arc::new(NoServices))
}

pub fn host_with(
    config: PluginsConfig,
    data_dir: &Path,
    services: Arc<dyn HostServices>,
) -> PluginHost {
    PluginHost::new(config, data_dir, services).expect("plugin runtime")
}

pub fn context() -> Context {
    Context {
        guild_id: Some(1),
        channel_id: 2,
        user_id: 3,
        user_name: "ada".into(),
    }
}

pub fn invocation(command: &str, options: &[(&str, &str)]) -> Invocation {
    Invocation {
        command: command.into(),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), OptionValue::Text(v.to_string())))
            .collect(),
        context: context(),
    }
}
