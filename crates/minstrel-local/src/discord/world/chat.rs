//! Messages and interactions: what a user sends (acting as a user), and what the bot
//! posts, edits and registers through the REST routes.

use serde_json::{Value, json};

use super::{RestCall, World};
use crate::discord::payloads::{self, BOT_ID, GENERAL};

impl World {
    // ---- acting as a user -------------------------------------------------------

    /// `author` posts `content` in #general; delivered `copies` times. Returns its id.
    pub fn send_message(&self, author: u64, content: &str, copies: usize) -> u64 {
        self.send_message_with(author, content, json!({}), copies)
    }

    /// `author` posts `content` in `channel` (any guild's, see [`World::add_guilds`]);
    /// delivered `copies` times, on the shard of the channel's guild. Returns its id.
    pub fn send_message_in(&self, channel: u64, author: u64, content: &str, copies: usize) -> u64 {
        self.post_as_user(channel, author, content, json!({}), copies)
    }

    /// [`World::send_message`] with extra message fields (e.g. `message_reference`,
    /// `attachments`).
    pub fn send_message_with(
        &self,
        author: u64,
        content: &str,
        extra: Value,
        copies: usize,
    ) -> u64 {
        self.post_as_user(GENERAL, author, content, extra, copies)
    }

    fn post_as_user(
        &self,
        channel: u64,
        author: u64,
        content: &str,
        extra: Value,
        copies: usize,
    ) -> u64 {
        let id = self.next_id();
        let msg = payloads::message(id, channel, author, content, extra);
        self.state().messages.insert(id, msg.clone());
        self.dispatch("MESSAGE_CREATE", msg, copies);
        id
    }

    /// `author` posts `content` with files attached: (filename, content type, bytes).
    /// Their URLs serve the bytes, as Discord's CDN does. Returns the message id.
    pub fn send_message_with_files(
        &self,
        author: u64,
        content: &str,
        files: &[(&str, &str, Vec<u8>)],
    ) -> u64 {
        let attachments: Vec<Value> = files
            .iter()
            .map(|(name, content_type, bytes)| {
                let mut attachment = self.attachment(name, bytes);
                attachment["content_type"] = json!(content_type);
                attachment
            })
            .collect();
        self.send_message_with(author, content, json!({ "attachments": attachments }), 1)
    }

    /// The bytes of attachment `id`.
    pub fn file(&self, id: u64) -> Option<Vec<u8>> {
        self.state().files.get(&id).cloned()
    }

    /// `user` invokes slash command `name` with `options` (Discord's option objects);
    /// delivered `copies` times. Returns the interaction token.
    pub fn slash(&self, user: u64, name: &str, options: Value, copies: usize) -> String {
        self.interaction(2, user, name, options, copies)
    }

    /// `user` types into an autocomplete option (mark it `"focused": true`).
    pub fn autocomplete(&self, user: u64, name: &str, options: Value) -> String {
        self.interaction(4, user, name, options, 1)
    }

    fn interaction(
        &self,
        kind: u8,
        user: u64,
        name: &str,
        options: Value,
        copies: usize,
    ) -> String {
        let id = self.next_id();
        let token = format!("itok-{id}");
        let command_id = {
            let state = self.state();
            state
                .guild_commands
                .iter()
                .chain(state.global_commands.iter())
                .find(|c| c["name"] == name)
                .and_then(|c| c["id"].as_str().map(str::to_string))
                .unwrap_or_else(|| "1".into())
        };
        let data = json!({"id": command_id, "name": name, "type": 1, "options": options});
        self.state()
            .interactions
            .insert(token.clone(), (id, GENERAL));
        self.dispatch(
            "INTERACTION_CREATE",
            payloads::interaction(id, &token, kind, user, GENERAL, data),
            copies,
        );
        token
    }

    /// `user` presses button `custom_id` (no `values`) or chooses `values` in select
    /// menu `custom_id` on message `message_id`; delivered `copies` times. The
    /// component's type is the message's own (so a select left empty is still a
    /// select); a `custom_id` the message lacks is taken for a button when `values` is
    /// empty, else a string select, so a test can press a stale component. Returns the
    /// interaction token, or `None` if there is no such message.
    pub fn press(
        &self,
        user: u64,
        message_id: u64,
        custom_id: &str,
        values: &[&str],
        copies: usize,
    ) -> Option<String> {
        let message = self.message(message_id)?;
        let channel = message["channel_id"]
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or(GENERAL);
        let kind =
            component_type(&message, custom_id).unwrap_or(if values.is_empty() { 2 } else { 3 });
        let mut data = json!({"custom_id": custom_id, "component_type": kind});
        // Buttons carry no values; every kind of select does.
        if kind != 2 {
            data["values"] = json!(values);
        }
        let id = self.next_id();
        let token = format!("itok-{id}");
        {
            let mut state = self.state();
            state.interactions.insert(token.clone(), (id, channel));
            state.components.insert(token.clone(), message_id);
        }
        let payload = payloads::component_interaction(id, &token, user, channel, data, message);
        self.dispatch("INTERACTION_CREATE", payload, copies);
        Some(token)
    }

    // ---- used by the REST routes -----------------------------------------------

    /// Records a request as it arrives (before its effects); returns its index for
    /// [`World::answered`].
    pub(crate) fn record(&self, call: RestCall) -> usize {
        let index = {
            let mut state = self.state();
            state.calls.push(call);
            state.calls.len() - 1
        };
        self.changed.notify_waiters();
        index
    }

    /// Adds the answer to recorded request `index`.
    pub(crate) fn answered(&self, index: usize, status: u16, response: Value) {
        if let Some(call) = self.state().calls.get_mut(index) {
            call.status = status;
            call.response = response;
        }
        self.changed.notify_waiters();
    }

    /// Stores a message the bot posted; `files` become attachments.
    pub(crate) fn bot_post(
        &self,
        channel: u64,
        body: &Value,
        files: &[(String, Vec<u8>)],
    ) -> Value {
        let id = self.next_id();
        let content = body["content"].as_str().unwrap_or_default();
        let components = body.get("components").filter(|c| c.is_array());
        let mut extra = json!({
            "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
            "attachments": self.attachments(files),
            "flags": body.get("flags").cloned().unwrap_or(json!(0)),
            "components": components.cloned().unwrap_or(json!([])),
        });
        if let Some(reference) = body.get("message_reference").filter(|r| r.is_object()) {
            extra["message_reference"] = json!({
                "type": 0,
                "message_id": reference["message_id"],
                "channel_id": channel.to_string(),
                "guild_id": payloads::guild_of(channel).to_string(),
            });
            extra["type"] = json!(19);
        }
        let msg = payloads::message(id, channel, BOT_ID, content, extra);
        let mut state = self.state();
        state.messages.insert(id, msg.clone());
        state.bot_posts += 1;
        drop(state);
        self.changed.notify_waiters();
        msg
    }

    /// Edits a stored message: `content`, `embeds` and `components` are replaced when
    /// the body has them (a field left out is kept, as on Discord), attachments when
    /// files come with it.
    pub(crate) fn bot_edit(
        &self,
        id: u64,
        body: &Value,
        files: &[(String, Vec<u8>)],
    ) -> Option<Value> {
        let attachments = self.attachments(files);
        let mut state = self.state();
        let msg = state.messages.get_mut(&id)?;
        if let Some(content) = body.get("content").filter(|c| c.is_string()) {
            msg["content"] = content.clone();
        }
        if let Some(embeds) = body.get("embeds").filter(|e| e.is_array()) {
            msg["embeds"] = embeds.clone();
        }
        if let Some(components) = body.get("components").filter(|c| c.is_array()) {
            msg["components"] = components.clone();
        }
        if !files.is_empty() {
            msg["attachments"] = attachments;
        }
        msg["edited_timestamp"] = json!(payloads::timestamp());
        let msg = msg.clone();
        drop(state);
        self.changed.notify_waiters();
        Some(msg)
    }

    /// Removes a message (the bot may delete any, as with Manage Messages).
    pub(crate) fn bot_delete(&self, id: u64) -> Option<()> {
        self.state().messages.remove(&id)?;
        self.changed.notify_waiters();
        Some(())
    }

    fn attachments(&self, files: &[(String, Vec<u8>)]) -> Value {
        files
            .iter()
            .map(|(name, bytes)| self.attachment(name, bytes))
            .collect()
    }

    /// An attachment object for `bytes`, kept so its URL serves them.
    fn attachment(&self, name: &str, bytes: &[u8]) -> Value {
        let id = self.next_id();
        self.state().files.insert(id, bytes.to_vec());
        let url = format!("http://{}/attachments/{id}/{name}", self.addr);
        json!({"id": id.to_string(), "filename": name, "size": bytes.len(),
               "url": url, "proxy_url": url})
    }

    pub(crate) fn interaction_channel(&self, token: &str) -> Option<u64> {
        self.state().interactions.get(token).map(|(_, c)| *c)
    }

    /// The message whose component interaction `token` answers (see [`World::press`]);
    /// `None` for commands and autocomplete.
    pub(crate) fn component_message(&self, token: &str) -> Option<u64> {
        self.state().components.get(token).copied()
    }

    pub(crate) fn set_original(&self, token: &str, message: u64) {
        self.state().originals.insert(token.to_string(), message);
    }

    pub(crate) fn original(&self, token: &str) -> Option<u64> {
        self.state().originals.get(token).copied()
    }

    pub(crate) fn set_commands(&self, guild: bool, commands: Vec<Value>) -> Vec<Value> {
        let stored: Vec<Value> = commands
            .into_iter()
            .map(|mut c| {
                let id = self.next_id();
                c["id"] = json!(id.to_string());
                c["application_id"] = json!(BOT_ID.to_string());
                c["version"] = json!(id.to_string());
                if c.get("type").is_none() {
                    c["type"] = json!(1);
                }
                if c.get("default_member_permissions").is_none() {
                    c["default_member_permissions"] = Value::Null;
                }
                // Discord answers with the options as stored: unset limits are absent,
                // not null (clients send nulls).
                if let Some(options) = c.get_mut("options") {
                    drop_nulls(options);
                }
                if guild {
                    c["guild_id"] = json!(payloads::GUILD_ID.to_string());
                }
                c
            })
            .collect();
        let mut state = self.state();
        if guild {
            state.guild_commands = stored.clone();
        } else {
            state.global_commands = stored.clone();
        }
        drop(state);
        self.changed.notify_waiters();
        stored
    }
}

/// The type of the component called `custom_id` in `message`'s action rows, if any.
fn component_type(message: &Value, custom_id: &str) -> Option<u64> {
    message["components"]
        .as_array()?
        .iter()
        .filter_map(|row| row["components"].as_array())
        .flatten()
        .find(|c| c["custom_id"] == custom_id)
        .and_then(|c| c["type"].as_u64())
}

/// Removes null-valued fields from every object in `value`.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}
