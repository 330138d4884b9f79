//! Voice states: users joining and leaving channels, the bot's voice state updates and
//! the grants songbird connects with.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Dispatch, VoiceMember, World};
use crate::discord::payloads::{self, BOT_ID, GUILD_ID};
use crate::discord::voice::{Voice, VoiceGrant, VoiceStats};

impl World {
    // ---- voice ------------------------------------------------------------------

    /// `user` (not the bot) joins voice `channel`, or moves there; every connected bot
    /// sees VOICE_STATE_UPDATE.
    pub fn join_voice(&self, user: u64, channel: u64) -> Result<(), String> {
        if !payloads::VOICE_CHANNELS.contains(&channel) {
            return Err(format!("{channel} is not a voice channel"));
        }
        let session_id = format!("voice-{}", self.next_id());
        let state = self.set_voice_state(user, Some(channel), &session_id, false, false);
        self.dispatch("VOICE_STATE_UPDATE", state, 1);
        Ok(())
    }

    /// `user` leaves voice; every connected bot sees VOICE_STATE_UPDATE with no channel.
    pub fn leave_voice(&self, user: u64) {
        let session_id = self
            .voice_member(user)
            .map(|m| m.session_id)
            .unwrap_or_default();
        let state = self.set_voice_state(user, None, &session_id, false, false);
        self.dispatch("VOICE_STATE_UPDATE", state, 1);
    }

    /// The voice channel `user` is connected to, if any (the bot included).
    pub fn voice_channel_of(&self, user: u64) -> Option<u64> {
        self.voice_member(user).map(|m| m.channel)
    }

    /// Users connected to voice `channel`, by id.
    pub fn voice_members(&self, channel: u64) -> Vec<u64> {
        self.state()
            .voice_states
            .iter()
            .filter(|(_, m)| m.channel == channel)
            .map(|((_, user), _)| *user)
            .collect()
    }

    /// The voice endpoint's state: grants, stats, recordings.
    pub fn voice(&self) -> &Arc<Voice> {
        &self.voice
    }

    /// The counters of the guild's voice connection (see [`VoiceStats`]).
    pub fn voice_stats(&self) -> VoiceStats {
        self.voice.stats(GUILD_ID)
    }

    /// Puts `user` in voice `channel` and issues the voice token, as op 4 would, without
    /// a gateway session: for driving a bare `songbird::Driver` with the grant's values.
    pub fn grant_voice(&self, user: u64, channel: u64) -> Result<VoiceGrant, String> {
        if !payloads::VOICE_CHANNELS.contains(&channel) {
            return Err(format!("{channel} is not a voice channel"));
        }
        let session_id = format!("session-{}", self.next_id());
        self.set_voice_state(user, Some(channel), &session_id, false, false);
        Ok(self.voice.grant(GUILD_ID, channel, user, &session_id))
    }

    /// GUILD_CREATE's `voice_states`.
    pub(crate) fn voice_states(&self) -> Vec<Value> {
        self.state()
            .voice_states
            .iter()
            .map(|((_, user), m)| {
                let mut v = payloads::voice_state(
                    *user,
                    Some(m.channel),
                    &m.session_id,
                    m.self_mute,
                    m.self_deaf,
                );
                if let Value::Object(o) = &mut v {
                    o.remove("guild_id");
                }
                v
            })
            .collect()
    }

    /// The bot's op 4 on gateway session `session_id`: the dispatches that answer it on
    /// that session. Other guilds and non-voice channels are ignored, as by Discord.
    pub(crate) fn bot_voice_update(&self, session_id: &str, d: &Value) -> Vec<Dispatch> {
        let guild = d["guild_id"]
            .as_str()
            .and_then(|g| g.parse::<u64>().ok())
            .or(d["guild_id"].as_u64());
        let voice_only = guild.filter(|g| self.state().voice_only_guilds.contains(g));
        if guild != Some(GUILD_ID) && voice_only.is_none() {
            return Vec::new();
        }
        let channel = d["channel_id"]
            .as_str()
            .and_then(|c| c.parse::<u64>().ok())
            .or(d["channel_id"].as_u64());
        if channel.is_some_and(|c| !payloads::VOICE_CHANNELS.contains(&c)) {
            return Vec::new();
        }
        let self_mute = d["self_mute"].as_bool().unwrap_or(false);
        let self_deaf = d["self_deaf"].as_bool().unwrap_or(false);
        if let Some(guild) = voice_only {
            return self.voice_only_update(guild, channel, session_id, self_mute, self_deaf);
        }
        let state = self.set_voice_state(BOT_ID, channel, session_id, self_mute, self_deaf);
        let mut out = vec![Dispatch {
            t: "VOICE_STATE_UPDATE",
            d: state,
        }];
        match channel {
            Some(channel) => {
                let grant = self.voice.grant(GUILD_ID, channel, BOT_ID, session_id);
                out.push(Dispatch {
                    t: "VOICE_SERVER_UPDATE",
                    d: payloads::voice_server_update(&grant.token, &grant.endpoint),
                });
            }
            None => self.voice.revoke(GUILD_ID),
        }
        out
    }

    /// Guilds that exist only to have the bot join voice in them (benchmarks of many
    /// guilds playing at once). They share the dev guild's voice channels.
    pub fn add_voice_only_guilds(&self, guilds: impl IntoIterator<Item = u64>) {
        self.state().voice_only_guilds.extend(guilds);
    }

    fn voice_only_update(
        &self,
        guild: u64,
        channel: Option<u64>,
        session_id: &str,
        self_mute: bool,
        self_deaf: bool,
    ) -> Vec<Dispatch> {
        let in_guild = |mut payload: Value| {
            payload["guild_id"] = json!(guild.to_string());
            payload
        };
        let state = payloads::voice_state(BOT_ID, channel, session_id, self_mute, self_deaf);
        let mut out = vec![Dispatch {
            t: "VOICE_STATE_UPDATE",
            d: in_guild(state),
        }];
        match channel {
            Some(channel) => {
                let grant = self.voice.grant(guild, channel, BOT_ID, session_id);
                out.push(Dispatch {
                    t: "VOICE_SERVER_UPDATE",
                    d: in_guild(payloads::voice_server_update(&grant.token, &grant.endpoint)),
                });
            }
            None => self.voice.revoke(guild),
        }
        out
    }

    fn voice_member(&self, user: u64) -> Option<VoiceMember> {
        self.state().voice_states.get(&(GUILD_ID, user)).cloned()
    }

    /// Records the user's voice state and returns it as a payload.
    fn set_voice_state(
        &self,
        user: u64,
        channel: Option<u64>,
        session_id: &str,
        self_mute: bool,
        self_deaf: bool,
    ) -> Value {
        let mut state = self.state();
        match channel {
            Some(channel) => {
                let member = VoiceMember {
                    channel,
                    session_id: session_id.to_string(),
                    self_mute,
                    self_deaf,
                };
                state.voice_states.insert((GUILD_ID, user), member);
            }
            None => {
                state.voice_states.remove(&(GUILD_ID, user));
            }
        }
        drop(state);
        self.changed.notify_waiters();
        payloads::voice_state(user, channel, session_id, self_mute, self_deaf)
    }
}
