//! Starting the whole host: the store (reconciled at startup), the plugin runtime
//! (loaded, and watched for hot reload), and the bot. Shared by `minstrel run` and
//! `minstrel dev`.

use std::sync::Arc;

use anyhow::Context as _;

use crate::config::Config;
use crate::discord::{self, BotOptions, RunningBot};
use crate::media::Media;
use crate::plugins::PluginHost;
use crate::services::Services;
use crate::store::Store;

/// A running host. Dropping it stops the plugin watcher; call [`Host::shutdown`] to
/// stop the bot cleanly.
pub struct Host {
    pub store: Store,
    pub plugins: PluginHost,
    pub bot: RunningBot,
    pub services: Arc<Services>,
    _watch: Option<crate::plugins::watcher::WatchHandle>,
}

pub async fn start(config: &Config, bot: BotOptions) -> anyhow::Result<Host> {
    let store = Store::open(&config.data_dir, config.store.clone())
        .await
        .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
    let report = store.reconcile(false, true).await?;
    if report.problems() > 0 {
        tracing::info!(?report, "startup reconcile repaired the store");
    }
    let llm = crate::llm::LlmClient::from_config(&config.llm)?;
    if llm.is_none() {
        tracing::info!("no [llm] base_url: plugins asking for an LLM get \"not configured\"");
    }
    let services = Arc::new(
        Services {
            llm,
            ..Services::default()
        }
        .with_media(Media::new(config.media.clone())),
    );
    let plugins = PluginHost::new(
        config.plugins.clone(),
        &config.data_dir,
        Arc::clone(&services) as Arc<dyn crate::plugins::HostServices>,
    )
    .map_err(|e| anyhow::anyhow!("starting the plugin runtime: {e:#}"))?;
    std::fs::create_dir_all(&config.plugins.dir).with_context(|| {
        format!(
            "creating the plugins folder {}",
            config.plugins.dir.display()
        )
    })?;
    for (path, result) in plugins.load_dir().await {
        match result {
            Ok(report) => tracing::info!(plugin = %path.display(), ?report, "plugin loaded"),
            Err(e) => tracing::warn!(plugin = %path.display(), error = %e, "plugin not loaded"),
        }
    }
    let watch = if config.plugins.hot_reload {
        Some(plugins.watch().context("watching the plugins folder")?)
    } else {
        None
    };
    let running = discord::start(
        bot,
        store.clone(),
        plugins.clone(),
        config.player.clone(),
        Arc::clone(&services),
    )
    .await?;
    Ok(Host {
        store,
        plugins,
        bot: running,
        services,
        _watch: watch,
    })
}

impl Host {
    /// Saves and stops the players (their queues resume at the next start), then stops
    /// the bot.
    pub async fn shutdown(self) {
        if let Some(players) = self.services.player.get() {
            players.shutdown().await;
        }
        self.bot.shutdown().await;
    }
}
