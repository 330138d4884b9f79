//! Messages plugins post on their own (the `messages` interface): only in a channel of
//! the guild the plugin's call serves, with the client's allowed mentions (no pings),
//! the first 2,000 characters of the text, embeds and components.

use std::sync::Arc;

use async_trait::async_trait;
use poise::serenity_prelude as serenity;
use serenity::{ChannelId, CreateMessage, EditMessage, Http, MessageId};

use super::reply::{components, embeds};
use super::split;
use crate::plugins::types::Reply;
use crate::services::Messenger;

/// Posts through the bot's HTTP client.
pub struct Poster {
    http: Arc<Http>,
}

impl Poster {
    pub fn new(http: Arc<Http>) -> Self {
        Self { http }
    }
}

#[async_trait]
impl Messenger for Poster {
    async fn post(
        &self,
        guild: u64,
        channel: u64,
        edit: Option<u64>,
        reply: Reply,
    ) -> Result<u64, String> {
        let channel = ChannelId::new(channel.max(1));
        let in_guild = match channel.to_channel(&self.http).await {
            Ok(serenity::Channel::Guild(c)) => c.guild_id.get() == guild,
            Ok(_) => false,
            Err(e) => return Err(format!("no such channel: {e}")),
        };
        if !in_guild {
            return Err("a plugin may only post in the server it serves".into());
        }
        let text = split::split(&reply.content)
            .into_iter()
            .next()
            .unwrap_or_default();
        let sent = match edit {
            Some(id) => {
                let edit = EditMessage::new()
                    .content(text)
                    .embeds(embeds(&reply))
                    .components(components(&reply));
                channel
                    .edit_message(&self.http, MessageId::new(id.max(1)), edit)
                    .await
            }
            None => {
                let message = CreateMessage::new()
                    .content(text)
                    .embeds(embeds(&reply))
                    .components(components(&reply));
                channel.send_message(&self.http, message).await
            }
        };
        sent.map(|m| m.id.get())
            .map_err(|e| format!("Discord refused the message: {e}"))
    }
}
