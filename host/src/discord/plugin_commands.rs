//! Plugin commands: registered with Discord beside the built-ins (per guild in dev,
//! globally in production), re-registered whenever the set of loaded command plugins
//! changes (hot load, replace, remove), and dispatched from slash interactions,
//! autocomplete and prefix messages.

use std::time::Duration;

use poise::serenity_prelude as serenity;
use serenity::{
    CommandInteraction, CommandOptionType, CreateAttachment, CreateAutocompleteResponse,
    CreateCommand, CreateCommandOption, CreateEmbed, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage,
};

use std::sync::{Arc, Mutex};

use super::{Data, Error, split};
use crate::plugins::types::{
    CommandSpec, Context as PluginContext, Invocation, OptionKind, OptionValue, Reply,
};
use crate::plugins::{PluginHost, World};

/// Slow plugin calls are deferred before Discord's 3-second window closes.
const DEFER_AFTER: Duration = Duration::from_millis(2000);

/// Plugin commands by name: (plugin, spec).
pub type CommandTable = crate::plugins::commands::Table;

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
        let reason = format!(
            "Discord refused the plugin commands: {}",
            super::bot::describe(&error)
        );
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
    /// until the bot's data is gone. If Discord refuses the first registration of the
    /// built-ins (see [`Registry::register_first`]), the bot cannot work as configured:
    /// the refusal goes to `fatal`, which stops it.
    pub fn spawn(
        self,
        http: Arc<serenity::Http>,
        fatal: tokio::sync::watch::Sender<Option<String>>,
    ) {
        tokio::spawn(async move {
            let mut seen = self.fingerprint();
            match self.register_first(&http).await {
                Ok(count) => tracing::info!(plugin_commands = count, "commands registered"),
                Err(e) => {
                    let reason = format!(
                        "Discord refused to register the bot's commands: {}",
                        super::bot::describe(&e)
                    );
                    fatal.send_replace(Some(reason));
                    return;
                }
            }
            // Data holds the other reference to the table; once it is dropped, stop.
            while Arc::strong_count(&self.table) > 1 {
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
                        error = %super::bot::describe(&e),
                        "Discord refused the commands; they stay as they were until the plugins change"
                    ),
                }
            }
        });
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

fn plugin_context(
    guild: Option<serenity::GuildId>,
    channel: serenity::ChannelId,
    user: &serenity::User,
) -> PluginContext {
    PluginContext {
        guild_id: guild.map(|g| g.get()),
        channel_id: channel.get(),
        user_id: user.id.get(),
        user_name: user.name.clone(),
    }
}

fn option_value(value: &serenity::ResolvedValue<'_>) -> Option<OptionValue> {
    use serenity::ResolvedValue as V;
    Some(match value {
        V::String(s) => OptionValue::Text(s.to_string()),
        V::Integer(i) => OptionValue::Integer(*i),
        V::Number(n) => OptionValue::Number(*n),
        V::Boolean(b) => OptionValue::Boolean(*b),
        V::User(u, _) => OptionValue::User(u.id.get()),
        V::Channel(c) => OptionValue::Channel(c.id.get()),
        _ => return None,
    })
}

/// Which plugin serves command `name`, if any.
pub fn owner(data: &Data, name: &str) -> Option<(String, CommandSpec)> {
    data.plugin_commands
        .lock()
        .expect("commands")
        .get(name)
        .cloned()
}

pub(super) fn embeds(reply: &Reply) -> Vec<CreateEmbed> {
    reply
        .embeds
        .iter()
        .map(|e| {
            let mut embed = CreateEmbed::new();
            if let Some(t) = &e.title {
                embed = embed.title(t);
            }
            if let Some(d) = &e.description {
                embed = embed.description(d);
            }
            if let Some(u) = &e.url {
                embed = embed.url(u);
            }
            if let Some(c) = e.color {
                embed = embed.color(c);
            }
            if let Some(i) = &e.image_url {
                embed = embed.image(i);
            }
            embed
        })
        .collect()
}

pub(super) fn attachments(reply: &Reply) -> Vec<CreateAttachment> {
    reply
        .attachments
        .iter()
        .map(|a| CreateAttachment::bytes(a.data.clone(), a.filename.clone()))
        .collect()
}

/// What the user sees when a plugin call failed; the error may quote the plugin, so
/// it is shown as text.
pub fn failed(error: &impl std::fmt::Display) -> String {
    format!(
        "Sorry, that failed: {}",
        crate::markdown::escape(&error.to_string())
    )
}

/// A reply with text only (errors and notices the host writes itself).
pub fn text_reply(content: impl Into<String>, ephemeral: bool) -> Reply {
    Reply {
        content: content.into(),
        embeds: vec![],
        attachments: vec![],
        ephemeral,
    }
}

/// Handles a slash command served by a plugin.
pub async fn run_slash(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &CommandInteraction,
) -> Result<(), Error> {
    let Some((plugin, _)) = owner(data, &interaction.data.name) else {
        return Ok(());
    };
    let invocation = Invocation {
        command: interaction.data.name.clone(),
        options: interaction
            .data
            .options()
            .iter()
            .filter_map(|o| Some((o.name.to_string(), option_value(&o.value)?)))
            .collect(),
        context: plugin_context(
            interaction.guild_id,
            interaction.channel_id,
            &interaction.user,
        ),
    };
    let call = data.plugins.run_command(&plugin, &invocation);
    tokio::pin!(call);
    let result = tokio::select! {
        result = &mut call => Some(result),
        _ = tokio::time::sleep(DEFER_AFTER) => None,
    };
    let (result, deferred) = match result {
        Some(result) => (result, false),
        None => {
            interaction.defer(&ctx.http).await?;
            (call.await, true)
        }
    };
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => {
            tracing::warn!(%plugin, command = %interaction.data.name, error = %e, "plugin command failed");
            text_reply(failed(&e), true)
        }
    };
    let mut parts = split::split(&reply.content).into_iter();
    let first = parts.next().unwrap_or_default();
    if deferred {
        let mut followup = CreateInteractionResponseFollowup::new()
            .content(first)
            .ephemeral(reply.ephemeral)
            .embeds(embeds(&reply));
        for file in attachments(&reply) {
            followup = followup.add_file(file);
        }
        interaction.create_followup(&ctx.http, followup).await?;
    } else {
        let mut message = CreateInteractionResponseMessage::new()
            .content(first)
            .ephemeral(reply.ephemeral)
            .embeds(embeds(&reply));
        for file in attachments(&reply) {
            message = message.add_file(file);
        }
        interaction
            .create_response(&ctx.http, CreateInteractionResponse::Message(message))
            .await?;
    }
    for part in parts {
        let followup = CreateInteractionResponseFollowup::new()
            .content(part)
            .ephemeral(reply.ephemeral);
        interaction.create_followup(&ctx.http, followup).await?;
    }
    Ok(())
}

/// Answers autocomplete for a plugin command option.
pub async fn autocomplete(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &CommandInteraction,
) -> Result<(), Error> {
    let Some((plugin, _)) = owner(data, &interaction.data.name) else {
        return Ok(());
    };
    let Some(focused) = interaction.data.autocomplete() else {
        return Ok(());
    };
    let context = plugin_context(
        interaction.guild_id,
        interaction.channel_id,
        &interaction.user,
    );
    let choices = data
        .plugins
        .autocomplete(
            &plugin,
            &interaction.data.name,
            focused.name,
            focused.value,
            &context,
        )
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(%plugin, error = %e, "plugin autocomplete failed");
            Vec::new()
        });
    // Discord drops the whole answer if one choice breaks its limits: at most 25
    // choices, names and values of 1 to 100 characters.
    let mut response = CreateAutocompleteResponse::new();
    for choice in choices
        .into_iter()
        .filter(|c| (1..=100).contains(&c.chars().count()))
        .take(25)
    {
        response = response.add_string_choice(choice.clone(), choice);
    }
    interaction
        .create_response(&ctx.http, CreateInteractionResponse::Autocomplete(response))
        .await?;
    Ok(())
}

/// Handles `!name args...` for a plugin command: whitespace-separated arguments fill
/// the options in order, the last text option takes the rest of the line.
pub async fn run_prefix(
    ctx: &serenity::Context,
    data: &Data,
    msg: &serenity::Message,
    line: &str,
) -> Result<bool, Error> {
    let mut words = line.split_whitespace();
    let Some(name) = words.next() else {
        return Ok(false);
    };
    let Some((plugin, spec)) = owner(data, &name.to_lowercase()) else {
        return Ok(false);
    };
    let mut rest = line.trim_start()[name.len()..].trim_start();
    let mut options = Vec::new();
    for (i, option) in spec.options.iter().enumerate() {
        if rest.is_empty() {
            break;
        }
        let last = i + 1 == spec.options.len();
        let (word, tail) = match (last, &option.kind) {
            (true, OptionKind::Text) => (rest, ""),
            _ => rest.split_once(char::is_whitespace).unwrap_or((rest, "")),
        };
        rest = tail.trim_start();
        let value = match option.kind {
            OptionKind::Text => OptionValue::Text(word.to_string()),
            OptionKind::Integer => OptionValue::Integer(word.parse()?),
            OptionKind::Number => OptionValue::Number(word.parse()?),
            OptionKind::Boolean => OptionValue::Boolean(word.parse()?),
            OptionKind::User => OptionValue::User(parse_mention(word)?),
            OptionKind::Channel => OptionValue::Channel(parse_mention(word)?),
        };
        options.push((option.name.clone(), value));
    }
    let invocation = Invocation {
        command: spec.name.clone(),
        options,
        context: plugin_context(msg.guild_id, msg.channel_id, &msg.author),
    };
    let reply = match data.plugins.run_command(&plugin, &invocation).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::warn!(%plugin, command = %spec.name, error = %e, "plugin command failed");
            text_reply(failed(&e), false)
        }
    };
    send_reply(&ctx.http, msg, &reply).await?;
    Ok(true)
}

fn parse_mention(word: &str) -> Result<u64, Error> {
    let digits: String = word.chars().filter(char::is_ascii_digit).collect();
    Ok(digits.parse()?)
}

/// Posts `reply` as a reply to `msg`, split at 2,000 characters; files go with the
/// first part.
pub async fn send_reply(
    http: &serenity::Http,
    msg: &serenity::Message,
    reply: &Reply,
) -> Result<Vec<serenity::Message>, Error> {
    let mut sent = Vec::new();
    let mut parts = split::split(&reply.content);
    if parts.is_empty() && (!reply.attachments.is_empty() || !reply.embeds.is_empty()) {
        parts.push(String::new());
    }
    for (i, part) in parts.into_iter().enumerate() {
        let mut message = CreateMessage::new().content(part);
        if i == 0 {
            message = message
                .reference_message(msg)
                .embeds(embeds(reply))
                .files(attachments(reply));
        }
        sent.push(msg.channel_id.send_message(http, message).await?);
    }
    Ok(sent)
}
