//! How a plugin's reply (or the host's own notice) becomes a Discord message: text split
//! at 2,000 characters, embeds and files; and the one wording of a failed call. Used
//! by plugin commands, mentions and live replies alike.

use poise::serenity_prelude as serenity;
use serenity::{
    ButtonStyle, CreateActionRow, CreateAttachment, CreateButton, CreateEmbed, CreateMessage,
    CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption,
};

use super::{Error, split};
use crate::plugins::types::{self, Component, Reply};

/// The reply's rows of buttons and select menus (their ids already namespaced by the
/// plugin runtime).
pub fn components(reply: &Reply) -> Vec<CreateActionRow> {
    reply
        .components
        .iter()
        .map(|row| match row.as_slice() {
            [Component::Select(menu)] => {
                let options = menu
                    .options
                    .iter()
                    .map(|o| {
                        let option = CreateSelectMenuOption::new(&o.label, &o.value);
                        match &o.description {
                            Some(d) => option.description(d),
                            None => option,
                        }
                    })
                    .collect();
                let mut select =
                    CreateSelectMenu::new(&menu.id, CreateSelectMenuKind::String { options });
                if let Some(p) = &menu.placeholder {
                    select = select.placeholder(p);
                }
                CreateActionRow::SelectMenu(select)
            }
            buttons => CreateActionRow::Buttons(
                buttons
                    .iter()
                    .filter_map(|c| match c {
                        Component::Button(b) => Some(
                            CreateButton::new(&b.id)
                                .label(&b.label)
                                .disabled(b.disabled)
                                .style(match b.style {
                                    types::ButtonStyle::Primary => ButtonStyle::Primary,
                                    types::ButtonStyle::Secondary => ButtonStyle::Secondary,
                                    types::ButtonStyle::Success => ButtonStyle::Success,
                                    types::ButtonStyle::Danger => ButtonStyle::Danger,
                                }),
                        ),
                        Component::Select(_) => None,
                    })
                    .collect(),
            ),
        })
        .collect()
}

/// Whether the reply has more than text (it must go out with the first message part).
pub fn has_extras(reply: &Reply) -> bool {
    !reply.embeds.is_empty() || !reply.attachments.is_empty() || !reply.components.is_empty()
}

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
        components: vec![],
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
    if parts.is_empty() && has_extras(reply) {
        parts.push(String::new());
    }
    for (i, part) in parts.into_iter().enumerate() {
        let mut message = CreateMessage::new().content(part);
        if i == 0 {
            message = message
                .reference_message(msg)
                .embeds(embeds(reply))
                .components(components(reply))
                .files(attachments(reply));
        }
        sent.push(msg.channel_id.send_message(http, message).await?);
    }
    Ok(sent)
}
