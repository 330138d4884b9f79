//! `minstrel plugin ...`: check a file, list what the configured folder loads, scaffold a
//! new plugin crate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;

use super::scaffold::{Kind, Lang, scaffold, write_files};

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
    /// Create a plugin project (Rust, Python or JavaScript) that builds as it is.
    New {
        /// Crate name (also the folder created).
        name: String,
        #[arg(long, value_enum)]
        kind: Kind,
        /// Parent folder (default: the working directory).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The language: a Rust crate, or a Python (componentize-py) or JavaScript
        /// (componentize-js) project.
        #[arg(long, value_enum, default_value = "rust")]
        lang: Lang,
        /// Rust: path to a minstrel-sdk crate to build against (default: a copy of the
        /// SDK this binary was built with, written into the new crate with the WIT
        /// package).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
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
            lang,
            dir,
            sdk,
        } => {
            let (path, build) = scaffold(&name, kind, lang, &dir, sdk.as_deref())?;
            println!("created {}", path.display());
            println!("build:  (cd {} && {build})", path.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn check(file: &Path, json: bool, config: &PluginsConfig) -> ExitCode {
    let outcome = match tokio::fs::read(file).await {
        Ok(bytes) => plugins::check(config, bytes).await,
        Err(e) => Err(format!("cannot read the file: {e}")),
    };
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
                for key in &m.settings {
                    let marks = match (key.required, key.secret) {
                        (true, true) => " (required, secret)",
                        (true, false) => " (required)",
                        (false, true) => " (secret)",
                        (false, false) => "",
                    };
                    println!("setting:     {}{marks}: {}", key.name, key.description);
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
    host.load_bundled().await;
    let statuses = host.list();
    if json {
        println!("{}", serde_json::to_string(&statuses)?);
        return Ok(ExitCode::SUCCESS);
    }
    if statuses.is_empty() {
        println!("no plugins in {} and none bundled", config.dir.display());
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
        if status.bundled {
            println!("{:<20} bundled with this binary", "");
        }
        if let Some(error) = &status.last_error {
            println!("{:<20} error: {error}", "");
        }
        for key in &status.settings {
            let state = if key.set { "set" } else { "not set" };
            let secret = if key.secret { ", secret" } else { "" };
            println!("{:<20} setting {}: {state}{secret}", "", key.name);
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
