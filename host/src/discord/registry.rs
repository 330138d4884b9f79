//! Registering the bot's commands with Discord: the built-ins and the loaded plugin
//! commands (per guild in dev, globally in production), re-registered whenever the set
//! of loaded command plugins changes (hot load, replace, remove).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use poise::serenity_prelude as serenity;
use serenity::{CommandOptionType, CreateCommand, CreateCommandOption};

use super::Error;
use super::plugin_commands::CommandTable;
use crate::plugins::types::{CommandSpec, OptionKind};
use crate::plugins::{PluginHost, World};

/// The wait after a registration failed for the first time; it doubles with each
/// further failure, up to [`RETRY_CAP`].
pub const RETRY_FIRST: Duration = Duration::from_secs(1);
pub const RETRY_CAP: Duration = Duration::from_secs(60);

/// Keeps Discord's command registrations in step with the loaded command plugins.
pub struct Registry {
    pub plugins: PluginHost,
    pub dev_guild: Option<u64>,
    /// The built-in commands, as registered. The plugin host refuses plugin commands
    /// that take their names (see [`PluginHost::reserve_commands`]).
    pub builtins: Vec<CreateCommand>,
    /// Shared with [`Data`]: what dispatch consults.
    pub table: Arc<Mutex<CommandTable>>,
}

impl Registry {
    /// Registers built-ins plus plugin commands (bulk overwrite) and updates the
    /// dispatch table. Returns the number of plugin commands.
    pub async fn register(&self, http: &serenity::Http) -> Result<usize, Error> {
        let (table, refused) = self.plugins.command_table();
        for (plugin, refused) in refused {
            for r in refused {
                tracing::warn!(%plugin, command = %r.name, reason = %r.reason, "plugin command not registered");
            }
        }
        let mut commands = self.builtins.clone();
        commands.extend(table.values().map(|(_, spec)| to_discord(spec)));
        let count = table.len();
        // Serve the new commands before Discord shows them, so an invocation that
        // follows the registration at once finds its plugin.
        *self.table.lock().expect("commands") = table;
        self.put(http, commands).await?;
        self.plugins.set_commands_unregistered(None);
        Ok(count)
    }

    /// One bulk overwrite of the commands, per guild in dev, globally in production.
    async fn put(&self, http: &serenity::Http, commands: Vec<CreateCommand>) -> Result<(), Error> {
        match self.dev_guild {
            Some(guild) => {
                serenity::GuildId::new(guild)
                    .set_commands(http, commands)
                    .await?;
            }
            None => {
                serenity::Command::set_global_commands(http, commands).await?;
            }
        }
        Ok(())
    }

    /// [`Registry::register`] until Discord accepts (see [`retrying`]).
    pub async fn register_retrying(&self, http: &serenity::Http) -> Result<usize, Error> {
        retrying(|| self.register(http)).await
    }

    /// The first registration. The load-time check only approximates Discord's rules,
    /// so when Discord answers 400 to the commands with plugin commands among them, the
    /// built-ins are registered alone and the plugin commands are marked as not
    /// registered: one bad spec does not keep the bot from serving. Any other refusal,
    /// or a 400 for the built-ins alone, is returned.
    async fn register_first(&self, http: &serenity::Http) -> Result<usize, Error> {
        let error = match self.register_retrying(http).await {
            Err(e)
                if status(&e) == Some(400) && !self.table.lock().expect("commands").is_empty() =>
            {
                e
            }
            result => return result,
        };
        let reason = format!("Discord refused the plugin commands: {}", describe(&error));
        tracing::error!(%reason, "registering the built-in commands alone");
        self.table.lock().expect("commands").clear();
        retrying(|| self.put(http, self.builtins.clone())).await?;
        self.plugins.set_commands_unregistered(Some(reason));
        Ok(0)
    }

    /// Changes when a command plugin is added, replaced or removed.
    pub fn fingerprint(&self) -> String {
        self.plugins
            .list()
            .into_iter()
            .filter(|p| p.world == Some(World::Command))
            .map(|p| format!("{}={}", p.name, p.hash.unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Registers the commands, then re-registers whenever the fingerprint changes,
    /// until `shutdown` (or until the bot's data is gone). If Discord refuses the first registration of the
    /// built-ins (see [`Registry::register_first`]), the bot cannot work as configured:
    /// the refusal goes to `fatal`, which stops it.
    pub fn spawn(
        self,
        http: Arc<serenity::Http>,
        fatal: tokio::sync::watch::Sender<Option<String>>,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        tokio::spawn(shutdown.clone().run_until_cancelled_owned(async move {
            let mut seen = self.fingerprint();
            match self.register_first(&http).await {
                Ok(count) => tracing::info!(plugin_commands = count, "commands registered"),
                Err(e) => {
                    let reason = format!(
                        "Discord refused to register the bot's commands: {}",
                        describe(&e)
                    );
                    fatal.send_replace(Some(reason));
                    return;
                }
            }
            // Data holds the other reference to the table; once it is dropped, stop.
            while Arc::strong_count(&self.table) > 1 && !shutdown.is_cancelled() {
                tokio::time::sleep(WATCH_PERIOD).await;
                let now = self.fingerprint();
                if now == seen {
                    continue;
                }
                // Taken before registering: after a refusal, the next attempt waits for
                // the next change instead of repeating the same request.
                seen = now;
                match self.register_retrying(&http).await {
                    Ok(count) => tracing::info!(plugin_commands = count, "commands re-registered"),
                    Err(e) => tracing::error!(
                        error = %describe(&e),
                        "Discord refused the commands; they stay as they were until the plugins change"
                    ),
                }
            }
        }));
    }
}

/// Runs `attempt` until Discord accepts. A failure that may pass (no connection, 429,
/// 5xx) is retried after [`RETRY_FIRST`], doubled after each further failure up to
/// [`RETRY_CAP`]; a refusal (any other 4xx) is returned, since sending the same request
/// again cannot change the answer.
async fn retrying<T, F>(mut attempt: impl FnMut() -> F) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    let mut delay = RETRY_FIRST;
    loop {
        match attempt().await {
            Err(e) if retryable(&e) => {
                tracing::warn!(error = %e, retry_in_secs = delay.as_secs(), "registering commands failed; will retry");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RETRY_CAP);
            }
            result => return result,
        }
    }
}

/// The HTTP status Discord answered with, if it answered.
fn status(error: &Error) -> Option<u16> {
    match error.downcast_ref::<serenity::Error>() {
        Some(serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(answer))) => {
            Some(answer.status_code.as_u16())
        }
        _ => None,
    }
}

/// Whether sending the same request again may succeed.
fn retryable(error: &Error) -> bool {
    status(error).is_none_or(|s| s == 429 || s >= 500)
}

/// How often the registry looks for changed command plugins.
const WATCH_PERIOD: Duration = Duration::from_millis(250);

pub fn to_discord(spec: &CommandSpec) -> CreateCommand {
    let mut command = CreateCommand::new(&spec.name).description(&spec.description);
    for option in &spec.options {
        let kind = match option.kind {
            OptionKind::Text => CommandOptionType::String,
            OptionKind::Integer => CommandOptionType::Integer,
            OptionKind::Number => CommandOptionType::Number,
            OptionKind::Boolean => CommandOptionType::Boolean,
            OptionKind::User => CommandOptionType::User,
            OptionKind::Channel => CommandOptionType::Channel,
        };
        command = command.add_option(
            CreateCommandOption::new(kind, &option.name, &option.description)
                .required(option.required)
                .set_autocomplete(option.autocomplete),
        );
    }
    command
}

/// One line for a Discord API error: status and Discord's message.
pub fn describe(error: &Error) -> String {
    match error.downcast_ref::<serenity::Error>() {
        Some(serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(answer))) => {
            format!(
                "{} (Discord error {}: {})",
                answer.status_code, answer.error.code, answer.error.message
            )
        }
        _ => format!("{error:#}"),
    }
}
