//! Presses on plugin buttons and select menus: routed by the component's namespaced id
//! to the plugin that made it (see [`crate::plugins::components`]), once per
//! interaction whichever process receives it (the caller claims it first).

use std::time::Duration;

use poise::serenity_prelude as serenity;
use serenity::{
    ComponentInteraction, ComponentInteractionDataKind, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, EditInteractionResponse,
};

use super::plugin_commands::plugin_context;
use super::reply::{components, embeds, failed, text_reply};
use super::{Data, Error, split};
use crate::plugins::components::route;
use crate::plugins::types::{Press, PressAnswer, Reply};

/// Slow plugin calls are acknowledged before Discord's 3-second window closes.
const DEFER_AFTER: Duration = Duration::from_millis(2000);

/// The plugin a component belongs to, if it is a plugin's.
pub fn owner(interaction: &ComponentInteraction) -> Option<&str> {
    route(&interaction.data.custom_id).map(|(plugin, _)| plugin)
}

/// Hands the press to its plugin and answers Discord with what the plugin said.
pub async fn handle(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &ComponentInteraction,
) -> Result<(), Error> {
    let Some((plugin, id)) = route(&interaction.data.custom_id) else {
        return Ok(());
    };
    let values = match &interaction.data.kind {
        ComponentInteractionDataKind::StringSelect { values } => values.clone(),
        _ => Vec::new(),
    };
    let press = Press {
        id: id.to_string(),
        values,
        message_id: interaction.message.id.get(),
        context: plugin_context(
            interaction.guild_id,
            interaction.channel_id,
            &interaction.user,
        ),
    };
    let member = interaction.member.as_ref();
    let asker = super::music::plugin_asker(
        ctx,
        &data.players,
        interaction.guild_id,
        interaction.user.id,
        member,
    )
    .await;
    let call = data.plugins.press_as(plugin, &press, asker);
    tokio::pin!(call);
    let early = tokio::select! {
        result = &mut call => Some(result),
        _ = tokio::time::sleep(DEFER_AFTER) => None,
    };
    let (result, deferred) = match early {
        Some(result) => (result, false),
        None => {
            interaction
                .create_response(&ctx.http, CreateInteractionResponse::Acknowledge)
                .await?;
            (call.await, true)
        }
    };
    let answer = result.unwrap_or_else(|e| {
        tracing::warn!(%plugin, id, error = %e, "plugin press failed");
        PressAnswer::Reply(text_reply(failed(&e), true))
    });
    match (answer, deferred) {
        (PressAnswer::Nothing, false) => {
            interaction
                .create_response(&ctx.http, CreateInteractionResponse::Acknowledge)
                .await?;
        }
        (PressAnswer::Nothing, true) => {}
        (PressAnswer::Update(reply), false) => {
            let message = message(&reply);
            interaction
                .create_response(&ctx.http, CreateInteractionResponse::UpdateMessage(message))
                .await?;
        }
        (PressAnswer::Update(reply), true) => {
            let first = split::split(&reply.content)
                .into_iter()
                .next()
                .unwrap_or_default();
            let edit = EditInteractionResponse::new()
                .content(first)
                .embeds(embeds(&reply))
                .components(components(&reply));
            interaction.edit_response(&ctx.http, edit).await?;
        }
        (PressAnswer::Reply(reply), false) => {
            let message = message(&reply).ephemeral(reply.ephemeral);
            interaction
                .create_response(&ctx.http, CreateInteractionResponse::Message(message))
                .await?;
        }
        (PressAnswer::Reply(reply), true) => {
            let first = split::split(&reply.content)
                .into_iter()
                .next()
                .unwrap_or_default();
            let followup = CreateInteractionResponseFollowup::new()
                .content(first)
                .ephemeral(reply.ephemeral)
                .embeds(embeds(&reply))
                .components(components(&reply));
            interaction.create_followup(&ctx.http, followup).await?;
        }
    }
    Ok(())
}

/// The first 2,000 characters of `reply`, with its embeds and components (a press
/// answers with one message).
fn message(reply: &Reply) -> CreateInteractionResponseMessage {
    let first = split::split(&reply.content)
        .into_iter()
        .next()
        .unwrap_or_default();
    CreateInteractionResponseMessage::new()
        .content(first)
        .embeds(embeds(reply))
        .components(components(reply))
}
