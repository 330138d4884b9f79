//! Voice states: users joining and leaving channels, the bot's voice state updates and
//! the grants songbird connects with.

use std::sync::Arc;

use serde_json::Value;

use super::{Dispatch, VoiceMember, World};
use crate::discord::payloads::{self, BOT_ID, GUILD_ID};
use crate::discord::voice::{Voice, VoiceGrant, VoiceStats};

impl World {
    // ---- voice ------------------------------------------------------------------

    /// `user` (not the bot) joins voice `channel` (of any of the bot's guilds), or
    /// moves there; the bot's session for that guild's shard sees VOICE_STATE_UPDATE.
    /// A test user may be in voice in several guilds at once.
    pub fn join_voice(&self, user: u64, channel: u64) -> Result<(), String> {
        let guild = self.voice_guild(channel)?;
        let session_id = format!("voice-{}", self.next_id());
        let state = self.set_voice_state(guild, user, Some(channel), &session_id, false, false);
        self.dispatch("VOICE_STATE_UPDATE", state, 1);
        Ok(())
    }

    /// `user` leaves voice, in every guild; the bot sees VOICE_STATE_UPDATE with no
    /// channel.
    pub fn leave_voice(&self, user: u64) {
        let joined: Vec<(u64, String)> = self
            .state()
            .voice_states
            .iter()
            .filter(|((_, u), _)| *u == user)
            .map(|((guild, _), m)| (*guild, m.session_id.clone()))
            .collect();
        let joined = if joined.is_empty() {
            vec![(GUILD_ID, String::new())]
        } else {
            joined
        };
        for (guild, session_id) in joined {
            let state = self.set_voice_state(guild, user, None, &session_id, false, false);
            self.dispatch("VOICE_STATE_UPDATE", state, 1);
        }
    }

    /// The voice channel `user` is connected to, if any (the bot included); the dev
    /// guild's first when in several.
    pub fn voice_channel_of(&self, user: u64) -> Option<u64> {
        self.state()
            .voice_states
            .iter()
            .find(|((_, u), _)| *u == user)
            .map(|(_, m)| m.channel)
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

    /// The counters of the dev guild's voice connection (see [`VoiceStats`]).
    pub fn voice_stats(&self) -> VoiceStats {
        self.voice.stats(GUILD_ID)
    }

    /// Puts `user` in voice `channel` and issues the voice token, as op 4 would, without
    /// a gateway session: for driving a bare `songbird::Driver` with the grant's values.
    pub fn grant_voice(&self, user: u64, channel: u64) -> Result<VoiceGrant, String> {
        let guild = self.voice_guild(channel)?;
        let session_id = format!("session-{}", self.next_id());
        self.set_voice_state(guild, user, Some(channel), &session_id, false, false);
        Ok(self.voice.grant(guild, channel, user, &session_id))
    }

    /// The guild of voice channel `channel`, or why it is none.
    fn voice_guild(&self, channel: u64) -> Result<u64, String> {
        if !self.knows_channel(channel) || !payloads::is_voice(channel) {
            return Err(format!("{channel} is not a voice channel"));
        }
        Ok(payloads::guild_of(channel))
    }

    /// GUILD_CREATE's `voice_states` for `guild`.
    pub(crate) fn voice_states(&self, guild: u64) -> Vec<Value> {
        self.state()
            .voice_states
            .range((guild, 0)..=(guild, u64::MAX))
            .map(|((_, user), m)| {
                let mut v = payloads::voice_state(
                    guild,
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
    /// that session. Unknown guilds and channels other than the guild's voice channels
    /// are ignored, as by Discord.
    pub(crate) fn bot_voice_update(&self, session_id: &str, d: &Value) -> Vec<Dispatch> {
        let id = |v: &Value| {
            v.as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .or(v.as_u64())
        };
        let Some(guild) = id(&d["guild_id"]) else {
            return Vec::new();
        };
        let voice_only = self.state().voice_only_guilds.contains(&guild);
        if !voice_only && !self.knows_guild(guild) {
            return Vec::new();
        }
        let channel = id(&d["channel_id"]);
        let in_guild = |c: u64| {
            if voice_only {
                payloads::VOICE_CHANNELS.contains(&c)
            } else {
                payloads::guild_of(c) == guild && payloads::is_voice(c)
            }
        };
        if channel.is_some_and(|c| !in_guild(c)) {
            return Vec::new();
        }
        let self_mute = d["self_mute"].as_bool().unwrap_or(false);
        let self_deaf = d["self_deaf"].as_bool().unwrap_or(false);
        let state = if voice_only {
            payloads::voice_state(guild, BOT_ID, channel, session_id, self_mute, self_deaf)
        } else {
            self.set_voice_state(guild, BOT_ID, channel, session_id, self_mute, self_deaf)
        };
        let mut out = vec![Dispatch::new("VOICE_STATE_UPDATE", state)];
        match channel {
            Some(channel) => {
                let grant = self.voice.grant(guild, channel, BOT_ID, session_id);
                out.push(Dispatch::new(
                    "VOICE_SERVER_UPDATE",
                    payloads::voice_server_update(guild, &grant.token, &grant.endpoint),
                ));
            }
            None => self.voice.revoke(guild),
        }
        out
    }

    /// Guilds that exist only to have the bot join voice in them (benchmarks of many
    /// guilds playing at once): no GUILD_CREATE, no members; they share the dev guild's
    /// voice channels.
    pub fn add_voice_only_guilds(&self, guilds: impl IntoIterator<Item = u64>) {
        self.state().voice_only_guilds.extend(guilds);
    }

    /// Records the user's voice state in `guild` and returns it as a payload.
    fn set_voice_state(
        &self,
        guild: u64,
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
                state.voice_states.insert((guild, user), member);
            }
            None => {
                state.voice_states.remove(&(guild, user));
            }
        }
        drop(state);
        self.changed.notify_waiters();
        payloads::voice_state(guild, user, channel, session_id, self_mute, self_deaf)
    }
}
