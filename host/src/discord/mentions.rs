//! Messages that mention the bot go to a mention plugin. Precedence: the mention
//! plugins are tried in name order and the first one loaded handles the message (one
//! message, one handler, one reply).

use poise::serenity_prelude as serenity;

use super::plugin_commands::{send_reply, text_reply};
use super::{Data, Error};
use crate::plugins::World;
use crate::plugins::types::{Context as PluginContext, Message};

/// Whether `msg` addresses the bot by mention.
pub fn mentions_bot(msg: &serenity::Message, bot: serenity::UserId) -> bool {
    msg.mentions.iter().any(|u| u.id == bot)
        || msg.content.contains(&format!("<@{bot}>"))
        || msg.content.contains(&format!("<@!{bot}>"))
}

/// The text with the bot's mentions removed.
pub fn strip_mention(content: &str, bot: serenity::UserId) -> String {
    content
        .replace(&format!("<@{bot}>"), "")
        .replace(&format!("<@!{bot}>"), "")
        .trim()
        .to_string()
}

pub async fn handle(
    ctx: &serenity::Context,
    data: &Data,
    msg: &serenity::Message,
    bot: serenity::UserId,
) -> Result<(), Error> {
    let Some(plugin) = data.plugins.names(World::Mention).into_iter().next() else {
        let reply = text_reply(
            "No mention plugin is loaded, so I can't answer that. Try `/help`.",
            false,
        );
        send_reply(ctx, msg, &reply).await?;
        return Ok(());
    };
    let message = Message {
        id: msg.id.get(),
        content: strip_mention(&msg.content, bot),
        context: PluginContext {
            guild_id: msg.guild_id.map(|g| g.get()),
            channel_id: msg.channel_id.get(),
            user_id: msg.author.id.get(),
            user_name: msg.author.name.clone(),
        },
        attachments: super::attachments::collect(msg).await,
    };
    let (result, draft) = data.plugins.handle_mention(&plugin, &message).await;
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => {
            tracing::warn!(%plugin, error = %e, "mention plugin failed");
            let shown = if draft.is_empty() {
                String::new()
            } else {
                format!("{draft}\n\n")
            };
            text_reply(format!("{shown}Sorry, that failed: {e}"), false)
        }
    };
    send_reply(ctx, msg, &reply).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mention_is_stripped() {
        let bot = serenity::UserId::new(1000);
        assert_eq!(strip_mention("<@1000> hello there", bot), "hello there");
        assert_eq!(strip_mention("hey <@!1000>", bot), "hey");
        assert_eq!(strip_mention("<@1001> hi", bot), "<@1001> hi");
    }
}
