//! Plugin commands dispatched from slash interactions, autocomplete and prefix messages
//! (their registration with Discord is `registry`, their replies `reply`).

use std::time::Duration;

use poise::serenity_prelude as serenity;
use serenity::{
    CommandInteraction, CreateAutocompleteResponse, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
};

use super::reply::{attachments, components, embeds, failed, send_reply, text_reply};
use super::{Data, Error, split};
use crate::plugins::types::{
    CommandSpec, Context as PluginContext, Invocation, OptionKind, OptionValue,
};

/// Slow plugin calls are deferred before Discord's 3-second window closes.
const DEFER_AFTER: Duration = Duration::from_millis(2000);

/// Plugin commands by name: (plugin, spec).
pub type CommandTable = crate::plugins::command_specs::Table;

pub(super) fn plugin_context(
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
    let member = interaction.member.as_deref();
    let asker = super::music::plugin_asker(
        ctx,
        &data.players,
        interaction.guild_id,
        interaction.user.id,
        member,
    )
    .await;
    let call = data.plugins.run_command_as(&plugin, &invocation, asker);
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
            .embeds(embeds(&reply))
            .components(components(&reply));
        for file in attachments(&reply) {
            followup = followup.add_file(file);
        }
        interaction.create_followup(&ctx.http, followup).await?;
    } else {
        let mut message = CreateInteractionResponseMessage::new()
            .content(first)
            .ephemeral(reply.ephemeral)
            .embeds(embeds(&reply))
            .components(components(&reply));
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
    let asker =
        super::music::plugin_asker(ctx, &data.players, msg.guild_id, msg.author.id, None).await;
    let reply = match data
        .plugins
        .run_command_as(&plugin, &invocation, asker)
        .await
    {
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
