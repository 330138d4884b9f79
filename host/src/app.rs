//! Starting the whole host: the store (reconciled at startup), the plugin runtime
//! (loaded, and watched for hot reload), and the bot. Shared by `minstrel run` and
//! `minstrel dev`.

use std::sync::Arc;

use anyhow::Context as _;

use crate::config::Config;
use crate::discord::{self, BotOptions, RunningBot};
use crate::media::Media;
use crate::plugins::{HostServices, PluginHost};
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
    start_with(config, bot, |services| services).await
}

/// [`start`], with the services the plugins reach passed through `plugin_services`
/// first. This is where an end-to-end test puts a stand-in for a remote site (YouTube,
/// say) in front of the real services; the bot, the players and everything else are
/// unchanged.
pub async fn start_with(
    config: &Config,
    bot: BotOptions,
    plugin_services: impl FnOnce(Arc<dyn HostServices>) -> Arc<dyn HostServices>,
) -> anyhow::Result<Host> {
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
    let plugins = PluginHost::with_store(
        config.plugins.clone(),
        &config.data_dir,
        plugin_services(Arc::clone(&services) as Arc<dyn HostServices>),
        store.clone(),
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
