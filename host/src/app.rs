//! Starting and stopping the whole host, in one place: the store (reconciled at
//! start-up), the host services, the plugin runtime (loaded, and watched for hot
//! reload), the guild players and the bot. Shared by `minstrel run` and `minstrel dev`.
//!
//! The one cycle is broken here, once: plugins reach the players (the `player`
//! interface) and the players reach the plugins (source plugins find and fetch songs).
//! The players are attached to the services before any plugin is loaded.
//!
//! Every background task the host starts stops on [`Host::shutdown`]: the players save
//! their queues and leave voice, the bot disconnects, the shutdown token stops the
//! command registry, the plugin watcher and the admin listener, and the store stops its
//! keeper.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::discord::{self, BotOptions, RunningBot};
use crate::media::Media;
use crate::player::Players;
use crate::plugins::{HostServices, PluginHost};
use crate::services::Services;
use crate::store::Store;

/// A running host. Call [`Host::shutdown`] to stop it cleanly (dropping it stops the
/// plugin watcher and the registry, but saves nothing).
pub struct Host {
    pub store: Store,
    pub plugins: PluginHost,
    pub players: Players,
    pub services: Arc<Services>,
    pub bot: RunningBot,
    /// Where the admin listener serves, when `[admin] listen` is set.
    pub admin: Option<std::net::SocketAddr>,
    shutdown: CancellationToken,
    _stop_on_drop: tokio_util::sync::DropGuard,
    watch: Option<crate::plugins::watcher::WatchHandle>,
}

/// Runs the bot until `shutdown` completes (then saves the queues, leaves voice and
/// stops every task) or the bot stops on its own (a refused token, a lost connection).
pub async fn run(
    config: &Config,
    bot: BotOptions,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut host = start(config, bot).await?;
    tokio::select! {
        () = shutdown => {
            tracing::info!("shutting down: saving queues and leaving voice");
            host.shutdown().await;
            Ok(())
        }
        result = host.bot.wait() => {
            host.shutdown.cancel();
            host.store.close().await;
            result
        }
    }
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
    let admin = crate::admin::bind(&config.admin).await?;
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
    let media = Media::new(config.media.clone());
    let services = Arc::new(Services::new(llm, Some(media.clone())));
    let plugins = PluginHost::with_store(
        config.plugins.clone(),
        &config.data_dir,
        plugin_services(Arc::clone(&services) as Arc<dyn HostServices>),
        store.clone(),
    )
    .map_err(|e| anyhow::anyhow!("starting the plugin runtime: {e:#}"))?;
    let connection = discord::Connection::new(&bot);
    let players = Players::new(
        store.clone(),
        plugins.clone(),
        config.player.clone(),
        connection.voice(),
        connection.http(),
    );
    services.attach_players(players.clone());
    services.attach_messenger(Arc::new(discord::poster::Poster::new(connection.http())));

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
    let bundled = plugins.load_bundled().await;
    let failed = bundled.iter().filter(|(_, r)| r.is_err()).count();
    tracing::info!(
        loaded = bundled.len() - failed,
        failed,
        "bundled plugins loaded"
    );
    // A plugin may use yt-dlp: start a warm one, so that the first `/play` suggestion
    // finds it ready.
    if plugins
        .list()
        .iter()
        .any(|p| p.state != "failed" && p.granted.allows("media"))
    {
        tokio::spawn(async move { media.warm().await });
    }
    let watch = if config.plugins.hot_reload {
        Some(
            crate::plugins::watcher::spawn(plugins.clone())
                .context("watching the plugins folder")?,
        )
    } else {
        None
    };
    let shutdown = CancellationToken::new();
    crate::plugins::scheduler::spawn(
        plugins.clone(),
        store.clone(),
        bot.shards.owned(),
        shutdown.clone(),
    );
    let running = discord::start(
        bot,
        connection,
        store.clone(),
        plugins.clone(),
        players.clone(),
        shutdown.clone(),
    )
    .await?;
    let watched = crate::admin::Watched {
        store: store.clone(),
        plugins: plugins.clone(),
        players: players.clone(),
        gateway: running.gateway(),
    };
    let admin = admin.map(|bound| crate::admin::serve(bound, watched, shutdown.clone()));
    Ok(Host {
        store,
        plugins,
        players,
        services,
        bot: running,
        admin,
        _stop_on_drop: shutdown.clone().drop_guard(),
        shutdown,
        watch,
    })
}

impl Host {
    /// Saves and stops the players (their queues resume at the next start, mid-song),
    /// disconnects the bot, then stops every background task.
    pub async fn shutdown(mut self) {
        self.players.shutdown().await;
        self.shutdown.cancel();
        if let Some(watch) = self.watch.take() {
            watch.shutdown().await;
        }
        self.bot.shutdown().await;
        self.store.close().await;
    }
}

/// Completes on Ctrl-C or SIGTERM (what `systemctl stop` and `docker stop` send).
pub async fn signals() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; Ctrl-C still stops the bot");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
