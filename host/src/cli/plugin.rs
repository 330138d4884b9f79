//! `minstrel plugin ...`: check a file, list what the configured folder loads, scaffold a
//! new plugin crate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};

use crate::plugins::{self, NoServices, PluginHost, PluginsConfig, World};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Validate a plugin file: a component, built against an API version this host
    /// serves, exporting one Minstrel world. Exits non-zero with a one-line reason.
    Check {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Load the plugins folder with the configured grants and show each plugin's state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Write the WIT package this binary serves (every served API version) into DIR,
    /// for building a plugin in any language without a clone of Minstrel's repository.
    Wit {
        #[arg(long, default_value = "wit")]
        out: PathBuf,
    },
    /// Create a plugin crate that builds with
    /// `cargo build --target wasm32-wasip2 --release`.
    New {
        /// Crate name (also the folder created).
        name: String,
        #[arg(long, value_enum)]
        kind: Kind,
        /// Parent folder (default: the working directory).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Path to a minstrel-sdk crate to build against (default: a copy of the SDK this
        /// binary was built with, written into the new crate with the WIT package).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Source,
    Command,
    Mention,
}

/// Runs a `minstrel plugin` command.
pub async fn run(
    command: PluginCommand,
    config: &PluginsConfig,
    data_dir: &Path,
) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::Check { file, json } => Ok(check(&file, json, config).await),
        PluginCommand::List { json } => list(config, data_dir, json).await,
        PluginCommand::Wit { out } => {
            write_files(&out, plugins::WIT_FILES)?;
            for (path, _) in plugins::WIT_FILES {
                println!("wrote {}", out.join(path).display());
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::New {
            name,
            kind,
            dir,
            sdk,
        } => {
            let path = scaffold(&name, kind, &dir, sdk.as_deref())?;
            println!("created {}", path.display());
            println!(
                "build:  (cd {} && cargo build --target wasm32-wasip2 --release)",
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn check(file: &Path, json: bool, config: &PluginsConfig) -> ExitCode {
    let file = file.to_path_buf();
    let config = config.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let bytes = std::fs::read(&file).map_err(|e| format!("cannot read the file: {e}"))?;
        plugins::check(&config, &bytes)
    })
    .await
    .unwrap_or_else(|e| Err(format!("checker failed: {e}")));
    match outcome {
        Ok(inspection) => {
            if json {
                let value = serde_json::json!({ "ok": true, "plugin": inspection });
                println!("{value}");
            } else {
                let m = &inspection.manifest;
                println!("ok: {} plugin", inspection.world.name());
                println!("api version: {}", m.api_version);
                println!(
                    "built from:  {} {}",
                    m.name.as_deref().unwrap_or("?"),
                    m.version.as_deref().unwrap_or("?")
                );
                let asks: Vec<&str> = inspection.asks.iter().map(String::as_str).collect();
                println!("asks for:    {}", none_if_empty(&asks.join(", ")));
                println!("http hosts:  {}", none_if_empty(&m.http_hosts.join(", ")));
                if let Some(quota) = m.kv_quota {
                    println!("kv quota:    {quota}");
                }
                println!("hash:        {}", inspection.hash);
            }
            ExitCode::SUCCESS
        }
        Err(reason) => {
            if json {
                println!("{}", serde_json::json!({ "ok": false, "error": reason }));
            } else {
                eprintln!("invalid plugin: {reason}");
            }
            ExitCode::from(2)
        }
    }
}

fn none_if_empty(text: &str) -> &str {
    if text.is_empty() { "(nothing)" } else { text }
}

async fn list(config: &PluginsConfig, data_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let host = PluginHost::new(config.clone(), data_dir, Arc::new(NoServices))
        .map_err(|e| anyhow::anyhow!("starting the plugin runtime: {e}"))?;
    // Plugin commands named like a built-in are refused, as the bot would.
    host.reserve_commands(crate::discord::builtin_command_names());
    host.load_dir().await;
    let statuses = host.list();
    if json {
        println!("{}", serde_json::to_string(&statuses)?);
        return Ok(ExitCode::SUCCESS);
    }
    if statuses.is_empty() {
        println!("no plugins in {}", config.dir.display());
    }
    for status in &statuses {
        let world = status.world.map_or("-", World::name);
        println!(
            "{:<20} {:<9} {:<8} api {:<6} v{:<8} granted: {}",
            status.name,
            status.state,
            world,
            status.api_version.as_deref().unwrap_or("-"),
            status.version.as_deref().unwrap_or("-"),
            status
                .granted
                .interfaces
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        );
        let missing: Vec<&String> = status
            .asks
            .iter()
            .filter(|a| !status.granted.interfaces.contains(*a))
            .collect();
        if !missing.is_empty() {
            println!("{:<20} asks for ungranted: {missing:?}", "");
        }
        if let Some(error) = &status.last_error {
            println!("{:<20} error: {error}", "");
        }
        if !status.commands.is_empty() {
            println!("{:<20} commands: /{}", "", status.commands.join(", /"));
        }
        for refused in &status.refused_commands {
            println!("{:<20} refused {:?}: {}", "", refused.name, refused.reason);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The SDK this binary was built with, as `(path, text)` under its folder. A new plugin
/// gets a copy (`minstrel-sdk/`, beside the WIT package in `wit/`, where the SDK's
/// bindings look for it), so it builds without a clone of Minstrel's repository.
const SDK_FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../../sdk/Cargo.toml")),
    ("src/lib.rs", include_str!("../../../sdk/src/lib.rs")),
    (
        "src/bindings.rs",
        include_str!("../../../sdk/src/bindings.rs"),
    ),
];

/// Writes `files` (relative paths) under `dir`.
fn write_files(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    for (path, text) in files {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

/// Writes a new plugin crate `dir/name`. Returns its folder.
pub fn scaffold(name: &str, kind: Kind, dir: &Path, sdk: Option<&Path>) -> anyhow::Result<PathBuf> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        bail!("plugin names are ASCII letters, digits, '-' and '_', not starting with a digit");
    }
    let sdk = match sdk {
        Some(path) => Some(
            path.canonicalize()
                .with_context(|| format!("no SDK at {}", path.display()))?,
        ),
        None => None,
    };
    let root = dir.join(name);
    if root.exists() {
        bail!("{} already exists", root.display());
    }
    std::fs::create_dir_all(root.join("src"))?;
    let sdk_path = match sdk {
        Some(sdk) => sdk.display().to_string().replace('\\', "/"),
        None => {
            write_files(&root.join("minstrel-sdk"), SDK_FILES)?;
            write_files(&root.join("wit"), plugins::WIT_FILES)?;
            "minstrel-sdk".to_string()
        }
    };
    let manifest = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
minstrel-sdk = {{ path = "{sdk_path}" }}

[profile.release]
opt-level = "s"
strip = "debuginfo"

# A workspace of its own, so the crate builds wherever it is placed.
[workspace]
"#
    );
    std::fs::write(root.join("Cargo.toml"), manifest)?;
    std::fs::write(root.join(".gitignore"), "/target\n")?;
    std::fs::write(root.join("src/lib.rs"), template(kind))?;
    Ok(root)
}

fn template(kind: Kind) -> &'static str {
    match kind {
        Kind::Source => {
            r#"//! A Minstrel source plugin.

use minstrel_sdk::{Source, Track, audio::Sink};

struct Plugin;

impl Source for Plugin {
    fn claims(url: String) -> bool {
        url.starts_with("example://")
    }

    fn resolve(query: String) -> Result<Vec<Track>, String> {
        Ok(vec![Track {
            id: format!("example:{query}"),
            title: query,
            duration_ms: None,
            artwork_url: None,
            page_url: None,
        }])
    }

    fn fetch(id: String, into: &Sink) -> Result<(), String> {
        into.write(id.as_bytes())
    }
}

minstrel_sdk::export_source!(Plugin);
"#
        }
        Kind::Command => {
            r#"//! A Minstrel command plugin.

use minstrel_sdk::{Command, CommandSpec, Invocation, Reply};

struct Plugin;

impl Command for Plugin {
    fn commands() -> Vec<CommandSpec> {
        vec![CommandSpec {
            name: "hi".into(),
            description: "Says hi".into(),
            options: Vec::new(),
        }]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        match invocation.command.as_str() {
            "hi" => Ok(Reply::text("Hi!")),
            other => Err(format!("unknown command {other}")),
        }
    }
}

minstrel_sdk::export_command!(Plugin);
"#
        }
        Kind::Mention => {
            r#"//! A Minstrel mention plugin.

use minstrel_sdk::{Mention, Message, Reply};

struct Plugin;

impl Mention for Plugin {
    fn handle(message: Message) -> Result<Reply, String> {
        Ok(Reply::text(format!("You said: {}", message.content)))
    }
}

minstrel_sdk::export_mention!(Plugin);
"#
        }
    }
}
