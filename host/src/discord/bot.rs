//! Building the serenity client and the poise framework, and starting them against
//! Discord (token from the environment) or the local Discord-compatible server.

use std::sync::Arc;
use std::time::Duration;

use poise::serenity_prelude as serenity;

use songbird::SerenityInit;

use super::{Data, Error, claim, mentions, music, plugin_commands, presses, settings};
use tokio_util::sync::CancellationToken;

use crate::player::Players;
use crate::plugins::PluginHost;
use crate::shards::ShardPlan;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct BotOptions {
    pub token: String,
    /// Base URL of a Discord-compatible server (the local one); None for Discord.
    pub api_base: Option<String>,
    /// Register commands in this guild (instant, for development) instead of globally.
    pub dev_guild: Option<u64>,
    pub prefix: String,
    /// Mention plugins asked first, in this order (see `mentions`).
    pub mention_order: Vec<String>,
    /// The gateway shards this process runs, and so the guilds it serves.
    pub shards: ShardPlan,
}

/// A started bot; [`RunningBot::shutdown`] stops it.
pub struct RunningBot {
    shard_manager: Arc<serenity::ShardManager>,
    task: tokio::task::JoinHandle<Result<(), serenity::Error>>,
    /// Set when start-up failed in a way that retrying cannot fix (see [`RunningBot::wait`]).
    fatal: tokio::sync::watch::Sender<Option<String>>,
}

/// Whether the gateway connection is up; cheap to clone.
#[derive(Clone)]
pub struct Gateway(Arc<serenity::ShardManager>);

impl Gateway {
    /// True when every shard of this process is connected (and there is one).
    pub async fn connected(&self) -> bool {
        let runners = self.0.runners.lock().await;
        !runners.is_empty()
            && runners
                .values()
                .all(|r| r.stage == serenity::ConnectionStage::Connected)
    }
}

impl RunningBot {
    pub fn gateway(&self) -> Gateway {
        Gateway(Arc::clone(&self.shard_manager))
    }

    pub async fn shutdown(self) {
        self.shard_manager.shutdown_all().await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }

    /// Waits until the client stops (an error, or a shutdown from elsewhere), or until
    /// start-up failed for good: the setup failed, or Discord refused the commands. The
    /// bot is then stopped, so a process never stays up without serving its commands.
    /// Call [`RunningBot::shutdown`] only if this has not returned.
    pub async fn wait(&mut self) -> Result<(), Error> {
        let mut fatal = self.fatal.subscribe();
        tokio::select! {
            result = &mut self.task => match result? {
                Ok(()) => Ok(()),
                Err(e) => Err(anyhow::anyhow!(client_failure(&e))),
            },
            reason = fatal.wait_for(Option::is_some) => {
                let reason = reason?.clone().unwrap_or_default();
                self.shard_manager.shutdown_all().await;
                let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
                Err(anyhow::anyhow!(reason))
            }
        }
    }
}

/// The allowed mentions of everything the bot sends or edits, set once as the HTTP
/// client's default (serenity applies it to every message, edit, interaction response
/// and follow-up that sets none, and poise sets none: see `FrameworkOptions`). Nothing
/// in a text pings: not `@everyone`/`@here`, not roles, not users, whoever wrote the
/// text. The one notification left is `replied_user`: a reply notifies the author of
/// the message it answers, and the bot only replies to the message that asked it
/// something (a command, a mention), as Discord's own clients do.
pub fn allowed_mentions() -> serenity::CreateAllowedMentions {
    serenity::CreateAllowedMentions::new()
        .everyone(false)
        .all_users(false)
        .all_roles(false)
        .replied_user(true)
}

/// Why the client stopped, in one line that says what to do where it can.
fn client_failure(error: &serenity::Error) -> String {
    let unauthorized = match error {
        serenity::Error::Http(e) => e.status_code().is_some_and(|s| s.as_u16() == 401),
        serenity::Error::Gateway(serenity::GatewayError::InvalidAuthentication) => true,
        _ => false,
    };
    let intents = matches!(
        error,
        serenity::Error::Gateway(
            serenity::GatewayError::DisallowedGatewayIntents
                | serenity::GatewayError::InvalidGatewayIntents
        )
    );
    if unauthorized {
        "Discord rejected the bot token (401 Unauthorized): check DISCORD_TOKEN".to_string()
    } else if intents {
        format!(
            "Discord refused the gateway intents the bot needs (close 4014): {}",
            super::probe::ENABLE_MESSAGE_CONTENT
        )
    } else {
        format!("the connection to Discord failed: {error}")
    }
}

/// The REST client for `options`, with the allowed mentions of [`allowed_mentions`].
pub(super) fn http_client(options: &BotOptions) -> serenity::Http {
    let mut http =
        serenity::HttpBuilder::new(&options.token).default_allowed_mentions(allowed_mentions());
    if let Some(base) = &options.api_base {
        // The proxy is honoured only with the ratelimiter disabled.
        http = http
            .proxy(base.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    http.build()
}

/// The players' handles on Discord, made before the client connects so that the
/// players are built beside the rest of the host: songbird (registered with the client
/// in [`start`]) and a REST client for their announcements (serenity's client makes
/// its own from the same options).
pub struct Connection {
    http: Arc<serenity::Http>,
    voice: Arc<songbird::Songbird>,
}

impl Connection {
    pub fn new(options: &BotOptions) -> Self {
        // Many guilds joining at once (queues resumed after a restart) can take longer
        // than songbird's default 10 s for the gateway's answer; a slow join beats a lost
        // queue.
        let voice = songbird::Songbird::serenity_from_config(
            songbird::Config::default().gateway_timeout(Some(Duration::from_secs(120))),
        );
        Self {
            http: Arc::new(http_client(options)),
            voice,
        }
    }

    pub fn http(&self) -> Arc<serenity::Http> {
        Arc::clone(&self.http)
    }

    pub fn voice(&self) -> Arc<songbird::Songbird> {
        Arc::clone(&self.voice)
    }
}

/// Connects the bot. Once connected it resumes the saved queues and registers its
/// commands; the registry stops on `shutdown`.
pub async fn start(
    options: BotOptions,
    connection: Connection,
    store: Store,
    plugins: PluginHost,
    players: Players,
    shutdown: CancellationToken,
) -> Result<RunningBot, Error> {
    let data = Data {
        store,
        plugins,
        options: options.clone(),
        plugin_commands: Default::default(),
        keystrokes: super::keystrokes::Keystrokes::new(players.config()),
        players,
    };
    data.plugins
        .reserve_commands(super::builtin_command_names());
    let (fatal, _) = tokio::sync::watch::channel(None);
    let stop = fatal.clone();
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: super::builtin_commands(),
            prefix_options: poise::PrefixFrameworkOptions {
                prefix: Some(options.prefix.clone().into()),
                // Mentions belong to mention plugins.
                mention_as_prefix: false,
                ..Default::default()
            },
            command_check: Some(|ctx| Box::pin(claim_command(ctx))),
            post_command: |ctx| Box::pin(count_command(ctx, "ok")),
            on_error: |error| Box::pin(on_error(error)),
            event_handler: |framework, event| Box::pin(on_event(framework, event)),
            // Also the HTTP client's default (see `allowed_mentions`); set here as well
            // because serenity skips that default when editing an interaction response.
            allowed_mentions: Some(allowed_mentions()),
            ..Default::default()
        })
        .setup(move |ctx, _ready, framework| {
            Box::pin(async move {
                let result = setup(ctx, framework, data, shutdown, stop.clone()).await;
                if let Err(e) = &result {
                    stop.send_replace(Some(format!("start-up failed: {e:#}")));
                }
                result
            })
        })
        .build();
    let intents =
        serenity::GatewayIntents::non_privileged() | serenity::GatewayIntents::MESSAGE_CONTENT;
    let mut client = serenity::ClientBuilder::new_with_http(http_client(&options), intents)
        .framework(framework)
        .register_songbird_with(connection.voice)
        .await?;
    let shard_manager = client.shard_manager.clone();
    let plan = options.shards;
    let task = tokio::spawn(async move {
        match plan {
            ShardPlan::Single => client.start().await,
            ShardPlan::Auto => client.start_autosharded().await,
            // serenity 0.12 takes the range's end as the last shard to start.
            ShardPlan::Slice(owned) => {
                client
                    .start_shard_range(owned.first..owned.last, owned.count)
                    .await
            }
        }
    });
    Ok(RunningBot {
        shard_manager,
        task,
        fatal,
    })
}

/// Runs once the bot is connected: starts the players (resuming saved queues), then
/// the command registry. Commands are registered in the background, retried while
/// Discord fails, so events are served meanwhile; a refusal goes to `fatal`.
async fn setup(
    ctx: &serenity::Context,
    framework: &poise::Framework<Data, Error>,
    data: Data,
    shutdown: CancellationToken,
    fatal: tokio::sync::watch::Sender<Option<String>>,
) -> Result<Data, Error> {
    // Queues first: by the time the commands are visible, they can play.
    let resumed = data
        .players
        .resume_saved(data.options.shards.owned())
        .await?;
    if resumed > 0 {
        tracing::info!(guilds = resumed, "resumed saved queues");
    }
    tokio::spawn(check_shard_count(
        ctx.http.clone(),
        data.options.shards,
        ctx.cache.shard_count(),
    ));
    let registry = super::registry::Registry {
        plugins: data.plugins.clone(),
        dev_guild: data.options.dev_guild,
        builtins: poise::builtins::create_application_commands(&framework.options().commands),
        table: Arc::clone(&data.plugin_commands),
    };
    registry.spawn(ctx.http.clone(), fatal, shutdown);
    Ok(data)
}

/// Warns when the bot runs fewer shards than Discord recommends: Discord closes a shard
/// holding too many guilds (4011, from 2,500), and the bot cannot connect until it is
/// sharded.
async fn check_shard_count(http: Arc<serenity::Http>, plan: ShardPlan, running: u32) {
    let count = match plan {
        ShardPlan::Auto => return,
        ShardPlan::Single => 1,
        ShardPlan::Slice(owned) => owned.count,
    };
    match http.get_bot_gateway().await {
        Ok(gateway) if gateway.shards > count => tracing::warn!(
            recommended = gateway.shards,
            shard_count = count,
            running,
            "Discord recommends more shards than this bot runs: set [discord] shards = \"auto\", \
             or spread the recommended count over processes (shard_ids, shard_count)"
        ),
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "could not read Discord's recommended shard count"),
    }
}

/// The outcome of a command's claim, and when it was asked: the command's start.
struct Claimed(bool, std::time::Instant);

/// Claims the event behind a command before it runs: false (a duplicate) stops it
/// silently (see `on_error`).
async fn claim_command(ctx: super::Context<'_>) -> Result<bool, Error> {
    // poise runs this check once per command in the tree (`cache` then `cache gc`):
    // remember the outcome for the rest of this invocation.
    if let Some(claimed) = ctx.invocation_data::<Claimed>().await {
        return Ok(claimed.0);
    }
    let started = std::time::Instant::now();
    let won = claim_event(ctx).await?;
    ctx.set_invocation_data(Claimed(won, started)).await;
    Ok(won)
}

/// Counts a built-in command that ran (this process won its claim) and its duration.
async fn count_command(ctx: super::Context<'_>, outcome: &'static str) {
    let command = ctx.command().qualified_name.clone();
    if let Some(claimed) = ctx.invocation_data::<Claimed>().await {
        metrics::histogram!(crate::metrics::COMMAND_SECONDS, "command" => command.clone())
            .record(claimed.1.elapsed().as_secs_f64());
    }
    metrics::counter!(crate::metrics::COMMANDS, "command" => command, "outcome" => outcome)
        .increment(1);
}

async fn claim_event(ctx: super::Context<'_>) -> Result<bool, Error> {
    let kind = match ctx {
        poise::Context::Prefix(_) => claim::MESSAGE,
        poise::Context::Application(_) => claim::INTERACTION,
    };
    Ok(ctx.data().store.claim(kind, &ctx.id().to_string()).await?)
}

async fn on_error(error: poise::FrameworkError<'_, Data, Error>) {
    match error {
        // A duplicate delivery: already handled elsewhere.
        poise::FrameworkError::CommandCheckFailed { error: None, .. } => {}
        // Served by plugins (see on_event).
        poise::FrameworkError::UnknownCommand { .. }
        | poise::FrameworkError::UnknownInteraction { .. } => {}
        poise::FrameworkError::Command { error, ctx, .. } => {
            count_command(ctx, "failed").await;
            tracing::warn!(command = %ctx.command().qualified_name, error = %format!("{error:#}"), "command failed");
            let reply = poise::CreateReply::default()
                .content(super::reply::failed(&error))
                .ephemeral(true)
                .reply(true);
            if let Err(e) = ctx.send(reply).await {
                tracing::warn!(error = %e, "could not report a command error");
            }
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                tracing::warn!(error = %e, "error while handling an error");
            }
        }
    }
}

/// Counts every gateway event and serves it inside a span naming its kind and guild,
/// so every log line of its handling (plugin calls included) carries them.
async fn on_event(
    framework: poise::FrameworkContext<'_, Data, Error>,
    event: &serenity::FullEvent,
) -> Result<(), Error> {
    use tracing::Instrument;
    let kind = event.snake_case_name();
    metrics::counter!(crate::metrics::EVENTS, "kind" => kind).increment(1);
    let guild = match event {
        serenity::FullEvent::Message { new_message } => new_message.guild_id,
        serenity::FullEvent::VoiceStateUpdate { new, .. } => new.guild_id,
        serenity::FullEvent::InteractionCreate { interaction } => match interaction {
            serenity::Interaction::Command(c) | serenity::Interaction::Autocomplete(c) => {
                c.guild_id
            }
            serenity::Interaction::Component(c) => c.guild_id,
            serenity::Interaction::Modal(m) => m.guild_id,
            _ => None,
        },
        _ => None,
    };
    let span = tracing::info_span!("event", kind, guild = guild.map(|g| g.get()));
    serve_event(framework, event).instrument(span).await
}

// The claim is awaited inside each arm; a match guard cannot await.
#[allow(clippy::collapsible_match)]
async fn serve_event(
    framework: poise::FrameworkContext<'_, Data, Error>,
    event: &serenity::FullEvent,
) -> Result<(), Error> {
    let ctx = framework.serenity_context;
    let data = framework.user_data;
    match event {
        serenity::FullEvent::Message { new_message: msg } => {
            let bot = ctx.cache.current_user().id;
            if msg.author.bot || msg.author.id == bot {
                return Ok(());
            }
            let prefix = &data.options.prefix;
            if let Some(line) = msg.content.strip_prefix(prefix.as_str()) {
                let name = line
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_lowercase();
                // Built-ins are poise's; plugin commands are served here.
                if plugin_commands::owner(data, &name).is_some()
                    && data
                        .store
                        .claim(claim::MESSAGE, &msg.id.to_string())
                        .await?
                {
                    plugin_commands::run_prefix(ctx, data, msg, line).await?;
                }
                return Ok(());
            }
            if mentions::mentions_bot(msg, bot)
                && data
                    .store
                    .claim(claim::MESSAGE, &msg.id.to_string())
                    .await?
            {
                mentions::handle(ctx, data, msg, bot).await?;
            }
        }
        serenity::FullEvent::VoiceStateUpdate { new, .. } => {
            if let Some(guild) = new.guild_id
                && let Some(alone) = music::bot_alone(ctx, guild)
            {
                data.players.set_alone(guild.get(), alone);
            }
        }
        serenity::FullEvent::InteractionCreate { interaction } => match interaction {
            serenity::Interaction::Command(command)
                if plugin_commands::owner(data, &command.data.name).is_some() =>
            {
                if data
                    .store
                    .claim(claim::INTERACTION, &command.id.to_string())
                    .await?
                {
                    plugin_commands::run_slash(ctx, data, command).await?;
                }
            }
            serenity::Interaction::Component(press) if press.data.custom_id == settings::RESET => {
                if data
                    .store
                    .claim(claim::INTERACTION, &press.id.to_string())
                    .await?
                {
                    settings::press(ctx, data, press).await?;
                }
            }
            serenity::Interaction::Component(press) if presses::owner(press).is_some() => {
                if data
                    .store
                    .claim(claim::INTERACTION, &press.id.to_string())
                    .await?
                {
                    presses::handle(ctx, data, press).await?;
                }
            }
            serenity::Interaction::Autocomplete(command)
                if plugin_commands::owner(data, &command.data.name).is_some() =>
            {
                if data
                    .store
                    .claim(claim::INTERACTION, &command.id.to_string())
                    .await?
                {
                    plugin_commands::autocomplete(ctx, data, command).await?;
                }
            }
            _ => {}
        },
        _ => {}
    }
    Ok(())
}
