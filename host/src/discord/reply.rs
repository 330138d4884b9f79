//! How a plugin's reply (or the host's own notice) becomes a Discord message: text split
//! at 2,000 characters, embeds and files; and the one wording of a failed call. Used
//! by plugin commands, mentions and live replies alike.

use poise::serenity_prelude as serenity;
use serenity::{CreateAttachment, CreateEmbed, CreateMessage};

use super::{Error, split};
use crate::plugins::types::Reply;

pub fn embeds(reply: &Reply) -> Vec<CreateEmbed> {
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

pub fn attachments(reply: &Reply) -> Vec<CreateAttachment> {
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
