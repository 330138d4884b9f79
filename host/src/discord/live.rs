//! A reply shown while it is written: posted as soon as there is text, edited in place
//! at most once a second per message while the plugin works, split at 2,000 characters
//! (parts beyond the first follow as new messages), and finally replaced by the
//! plugin's final reply: its first part edits the first message, the rest follow.
//!
//! The spacing is measured from the moment Discord answered the previous write, so two
//! writes to one message can never arrive less than [`EDIT_INTERVAL`] apart, however
//! long each request took.

use poise::serenity_prelude as serenity;
use serenity::{CreateMessage, EditMessage};
use tokio::time::Instant;

use super::reply::{attachments, components, embeds, has_extras, send_reply};
use super::{Error, split};
use crate::plugins::types::Reply;

/// Shortest time between two writes to one message.
pub const EDIT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// One posted message of the reply.
struct Sent {
    id: serenity::MessageId,
    content: String,
    /// When Discord answered the last write of this message.
    written: Instant,
}

pub struct LiveReply<'a> {
    http: &'a serenity::Http,
    /// The message being answered.
    to: &'a serenity::Message,
    sent: Vec<Sent>,
}

impl<'a> LiveReply<'a> {
    pub fn new(http: &'a serenity::Http, to: &'a serenity::Message) -> Self {
        Self {
            http,
            to,
            sent: Vec::new(),
        }
    }

    /// When the next live update may be written: at once before the first post, then
    /// one interval after the latest write.
    pub fn next_write(&self) -> Instant {
        self.sent
            .iter()
            .map(|s| s.written + EDIT_INTERVAL)
            .max()
            .unwrap_or_else(Instant::now)
    }

    /// Shows `draft` (the text so far): new parts are posted, changed parts edited.
    /// Call it no earlier than [`LiveReply::next_write`].
    pub async fn show(&mut self, draft: &str) -> Result<(), Error> {
        for (i, part) in split::split(draft).into_iter().enumerate() {
            match self.sent.get(i) {
                Some(sent) if sent.content == part => {}
                Some(_) => self.edit(i, part, None).await?,
                None => self.post(part).await?,
            }
        }
        Ok(())
    }

    /// Replaces the draft with `reply`. With nothing shown yet this is a plain reply.
    pub async fn finish(mut self, reply: &Reply) -> Result<(), Error> {
        if self.sent.is_empty() {
            send_reply(self.http, self.to, reply).await?;
            return Ok(());
        }
        let mut parts = split::split(&reply.content);
        if parts.is_empty() {
            parts.push(String::new());
        }
        let extras = has_extras(reply);
        let count = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            let with = (i == 0 && extras).then_some(reply);
            match self.sent.get(i) {
                Some(sent) if sent.content == part && with.is_none() => {}
                Some(sent) => {
                    tokio::time::sleep_until(sent.written + EDIT_INTERVAL).await;
                    self.edit(i, part, with).await?;
                }
                None => self.post(part).await?,
            }
        }
        // The draft ran to more messages than the final reply needs.
        for stale in self.sent.drain(count..) {
            self.to
                .channel_id
                .delete_message(self.http, stale.id)
                .await?;
        }
        Ok(())
    }

    async fn post(&mut self, part: String) -> Result<(), Error> {
        let mut message = CreateMessage::new().content(&part);
        if self.sent.is_empty() {
            message = message.reference_message(self.to);
        }
        let posted = self.to.channel_id.send_message(self.http, message).await?;
        self.sent.push(Sent {
            id: posted.id,
            content: part,
            written: Instant::now(),
        });
        Ok(())
    }

    async fn edit(&mut self, i: usize, part: String, with: Option<&Reply>) -> Result<(), Error> {
        let mut edit = EditMessage::new().content(&part);
        if let Some(reply) = with {
            edit = edit.embeds(embeds(reply)).components(components(reply));
            for file in attachments(reply) {
                edit = edit.new_attachment(file);
            }
        }
        let id = self.sent[i].id;
        self.to.channel_id.edit_message(self.http, id, edit).await?;
        self.sent[i].content = part;
        self.sent[i].written = Instant::now();
        Ok(())
    }
}
