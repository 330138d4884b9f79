//! `minstrel source resolve|fetch`: a source plugin called the way the player calls
//! it, from the command line, with the configured grants and the real media service.
//! Resolving prints the tracks; fetching puts one into the cache store through
//! [`PluginFetch`] (once, however many processes ask).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;

use crate::config::Config;
use crate::fetch::PluginFetch;
use crate::media::Media;
use crate::plugins::PluginHost;
use crate::services::Services;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// The tracks a source plugin finds for QUERY (a URL or free text).
    Resolve {
        /// The plugin's name (its file stem in the plugins folder).
        plugin: String,
        query: String,
        #[arg(long)]
        json: bool,
    },
    /// Fetch track ID of a source plugin into the cache store.
    Fetch {
        plugin: String,
        /// A track id from `resolve`, e.g. `youtube:dQw4w9WgXcQ`.
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: SourceCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let plugin = match &command {
        SourceCommand::Resolve { plugin, .. } | SourceCommand::Fetch { plugin, .. } => plugin,
    };
    let services = Services::new(None, Some(Media::new(config.media.clone())));
    // The bot's store: its cache, and the plugin's kv entries.
    let store = Store::open(&config.data_dir, config.store.clone())
        .await
        .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
    let host = PluginHost::with_store(
        config.plugins.clone(),
        &config.data_dir,
        Arc::new(services),
        store.clone(),
    )
    .map_err(|e| anyhow::anyhow!("starting the plugin runtime: {e}"))?;
    host.load_one(plugin).await.with_context(|| {
        format!(
            "loading plugin {plugin} (from {}, or bundled)",
            config.plugins.dir.display()
        )
    })?;
    match command {
        SourceCommand::Resolve {
            plugin,
            query,
            json,
        } => {
            let tracks = host.resolve(&plugin, &query).await?;
            if json {
                let tracks: Vec<serde_json::Value> = tracks
                    .iter()
                    .map(|found| {
                        let t = &found.track;
                        serde_json::json!({
                            "id": t.id,
                            "title": t.title,
                            "duration_ms": t.duration_ms,
                            "artwork_url": t.artwork_url,
                            "page_url": t.page_url,
                            "live": found.live,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(tracks));
            } else if tracks.is_empty() {
                println!("no tracks");
            }
            if !json {
                for found in &tracks {
                    let track = &found.track;
                    let seconds = match (&found.live, track.duration_ms) {
                        (Some(url), _) => format!("live at {url}"),
                        (None, Some(ms)) => format!("{}s", ms / 1000),
                        (None, None) => "-".to_string(),
                    };
                    println!("{}  {}  ({seconds})", track.id, track.title);
                }
            }
        }
        SourceCommand::Fetch { plugin, id, json } => {
            let fetch = PluginFetch::new(host.clone(), &plugin, &id);
            let fetched = store
                .get_or_fetch(&fetch.key(), fetch)
                .await
                .with_context(|| format!("fetching {id} from {plugin}"))?;
            super::print_fetched(&fetched, json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
