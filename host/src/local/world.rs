//! The local server's state, and the API a test (or a person in `minstrel dev`) uses to
//! act as a user: send messages, mention the bot, invoke slash commands and
//! autocomplete, join and leave voice channels, have any event delivered twice, and
//! read back what the bot did (and, through [`World::voice`], what it played).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast, watch};

use super::payloads::{self, BOT_ID, GENERAL, GUILD_ID};
use super::voice::{Voice, VoiceGrant, VoiceStats};

const BOT_ID_STR: &str = "1000";

/// Already-delivered dispatches a session remembers for replay on resume.
const SESSION_MEMORY: usize = 1024;

/// One REST request the bot made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RestCall {
    pub method: String,
    pub path: String,
    /// The JSON body (for multipart requests, `payload_json`).
    pub body: Value,
    /// Uploaded files: (filename, bytes).
    #[serde(skip)]
    pub files: Vec<(String, Vec<u8>)>,
    /// When the request arrived.
    #[serde(skip)]
    pub at: std::time::Instant,
    /// The answer's status and JSON body (`Null` when empty); 0 until answered.
    pub status: u16,
    pub response: Value,
}

/// A gateway dispatch: event name and payload.
#[derive(Debug, Clone)]
pub struct Dispatch {
    pub t: &'static str,
    pub d: Value,
}

/// What the server tells connected gateway sessions to do.
#[derive(Debug, Clone, Copy)]
pub(super) enum Control {
    /// Send op 7 RECONNECT: the client closes and resumes.
    Reconnect,
}

/// What a RESUME gets: the connection's generation, the dispatches to re-send with
/// their sequence numbers, and the sequence number of RESUMED.
pub(super) struct Resumed {
    pub generation: u64,
    pub replay: Vec<(u64, Dispatch)>,
    pub seq: u64,
}

/// A gateway session as the server remembers it, across connections: where it is in
/// the event log, its sequence number, and what it was sent lately.
struct Session {
    /// Next index of `State::log` to deliver.
    cursor: usize,
    seq: u64,
    recent: VecDeque<(u64, Dispatch)>,
    /// Bumped on resume: a connection holding an older value has been superseded.
    generation: u64,
    /// Dispatches for this session alone (answers to its voice state updates).
    own: VecDeque<Dispatch>,
}

#[derive(Default)]
struct State {
    messages: BTreeMap<u64, Value>,
    calls: Vec<RestCall>,
    guild_commands: Vec<Value>,
    global_commands: Vec<Value>,
    /// Interaction token -> the message standing for its original response.
    originals: BTreeMap<String, u64>,
    /// Interaction token -> the interaction's id and channel.
    interactions: BTreeMap<String, (u64, u64)>,
    identifies: u64,
    /// (guild, user) -> where the user is connected.
    voice_states: BTreeMap<(u64, u64), VoiceMember>,
    /// Attachment id -> bytes, served at the attachment's URL.
    files: BTreeMap<u64, Vec<u8>>,
    /// See [`World::add_voice_only_guilds`].
    voice_only_guilds: std::collections::BTreeSet<u64>,
    resumes: u64,
    /// Dispatches replayed to resuming sessions although they had received them.
    replayed: u64,
    /// How many already-delivered dispatches a resume replays (as Discord may).
    resume_replay: usize,
    /// Every dispatch, in order; each session delivers it from its cursor, so events
    /// sent while a session is disconnected reach it when it resumes.
    log: Vec<Dispatch>,
    sessions: HashMap<String, Session>,
    /// See [`World::require_token`].
    token: Option<String>,
    /// See [`World::fail_command_registrations`]: answers still to give, in order.
    registration_failures: VecDeque<u16>,
    /// See [`World::reject_command_named`].
    rejected_command_names: HashSet<String>,
}

#[derive(Clone, Debug)]
struct VoiceMember {
    channel: u64,
    session_id: String,
    self_mute: bool,
    self_deaf: bool,
}

pub struct World {
    addr: SocketAddr,
    state: Mutex<State>,
    /// The length of the event log, for sessions to wait on.
    logged: watch::Sender<usize>,
    control: broadcast::Sender<Control>,
    changed: Notify,
    next_id: AtomicU64,
    voice: Arc<Voice>,
}

impl World {
    pub(super) fn new(addr: SocketAddr, voice: Arc<Voice>) -> Self {
        Self {
            addr,
            voice,
            state: Mutex::default(),
            logged: watch::Sender::new(0),
            control: broadcast::channel(16).0,
            changed: Notify::new(),
            next_id: AtomicU64::new(100_000),
        }
    }

    pub fn gateway_url(&self) -> String {
        format!("ws://{}/gw", self.addr)
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("world state")
    }

    /// Gateway sessions identified so far.
    pub fn identifies(&self) -> u64 {
        self.state().identifies
    }

    /// Gateway sessions resumed so far.
    pub fn resumes(&self) -> u64 {
        self.state().resumes
    }

    /// Dispatches sent again to resuming sessions that had already received them.
    pub fn replayed(&self) -> u64 {
        self.state().replayed
    }

    /// From now on a resume replays the last `n` dispatches the session had already
    /// received (Discord may replay events; the bot must not answer twice).
    pub fn set_resume_replay(&self, n: usize) {
        self.state().resume_replay = n;
    }

    /// From now on only `token` is accepted, as Discord accepts only the bot's token:
    /// REST calls with another `Authorization` get 401, an IDENTIFY with another token
    /// is closed with 4004 (authentication failed).
    pub fn require_token(&self, token: &str) {
        self.state().token = Some(token.to_string());
    }

    /// Whether `presented` (an `Authorization` header or an IDENTIFY's token, with or
    /// without the `Bot ` prefix) is accepted.
    pub(super) fn token_accepted(&self, presented: &str) -> bool {
        let presented = presented.strip_prefix("Bot ").unwrap_or(presented);
        self.state()
            .token
            .as_deref()
            .is_none_or(|token| token == presented)
    }

    /// The next `times` command registrations (bulk overwrites, guild or global) are
    /// answered with HTTP `status` and change nothing: a Discord outage (5xx), a rate
    /// limit (429) or a refusal (403 Missing Access, when the bot was invited without
    /// the `applications.commands` scope).
    pub fn fail_command_registrations(&self, times: usize, status: u16) {
        self.state()
            .registration_failures
            .extend(std::iter::repeat_n(status, times));
    }

    /// Command registrations that include a command called `name` are answered 400
    /// Invalid Form Body and change nothing, as when Discord's rules reject a name that
    /// the bot's own check let through.
    pub fn reject_command_named(&self, name: &str) {
        self.state().rejected_command_names.insert(name.to_string());
    }

    /// Whether [`World::reject_command_named`] named `name`.
    pub(super) fn rejects_command_named(&self, name: &str) -> bool {
        self.state().rejected_command_names.contains(name)
    }

    /// The failure to answer the current registration with, if one is due.
    pub(super) fn take_registration_failure(&self) -> Option<u16> {
        self.state().registration_failures.pop_front()
    }

    /// Tells every connected gateway session to reconnect (op 7); the client resumes.
    pub fn force_reconnect(&self) {
        let _ = self.control.send(Control::Reconnect);
    }

    /// Appends to the event log; sessions deliver it `copies` times.
    pub(super) fn dispatch(&self, t: &'static str, d: Value, copies: usize) {
        let len = {
            let mut state = self.state();
            for _ in 0..copies {
                state.log.push(Dispatch { t, d: d.clone() });
            }
            state.log.len()
        };
        self.logged.send_replace(len);
    }

    // ---- gateway sessions -------------------------------------------------------

    pub(super) fn watch_log(&self) -> watch::Receiver<usize> {
        self.logged.subscribe()
    }

    pub(super) fn control(&self) -> broadcast::Receiver<Control> {
        self.control.subscribe()
    }

    /// A new session (IDENTIFY) that delivers events logged from now on. Returns its id;
    /// READY and GUILD_CREATE take sequence numbers 1 and 2.
    pub(super) fn open_session(&self) -> String {
        let id = format!("session-{}", self.next_id());
        let mut state = self.state();
        let cursor = state.log.len();
        state.sessions.insert(
            id.clone(),
            Session {
                cursor,
                seq: 2,
                recent: VecDeque::new(),
                generation: 0,
                own: VecDeque::new(),
            },
        );
        state.identifies += 1;
        drop(state);
        self.changed.notify_waiters();
        id
    }

    /// A RESUME of session `id` whose client saw up to `seq`: the new connection's
    /// generation, the dispatches to replay (the missed ones, and as many already
    /// received ones as set by [`World::set_resume_replay`]) and the sequence number
    /// of RESUMED. `None` if the session is unknown.
    pub(super) fn resume_session(&self, id: &str, seq: u64) -> Option<Resumed> {
        let mut guard = self.state();
        let state = &mut *guard;
        let replay_from = seq.saturating_sub(state.resume_replay as u64);
        let session = state.sessions.get_mut(id)?;
        session.generation += 1;
        let frames: Vec<(u64, Dispatch)> = session
            .recent
            .iter()
            .filter(|(s, _)| *s > replay_from)
            .cloned()
            .collect();
        let again = frames.iter().filter(|(s, _)| *s <= seq).count() as u64;
        session.seq += 1;
        let resumed = Resumed {
            generation: session.generation,
            replay: frames,
            seq: session.seq,
        };
        state.resumes += 1;
        state.replayed += again;
        drop(guard);
        self.changed.notify_waiters();
        Some(resumed)
    }

    /// The next dispatches for session `id` with their sequence numbers, marked sent.
    /// `None` if a newer connection resumed the session.
    pub(super) fn next_frames(&self, id: &str, generation: u64) -> Option<Vec<(u64, Dispatch)>> {
        let mut guard = self.state();
        let state = &mut *guard;
        let session = state.sessions.get_mut(id)?;
        if session.generation != generation {
            return None;
        }
        let mut frames = Vec::new();
        let own: Vec<Dispatch> = session.own.drain(..).collect();
        for dispatch in own.iter().chain(&state.log[session.cursor..]) {
            session.seq += 1;
            frames.push((session.seq, dispatch.clone()));
            session.recent.push_back((session.seq, dispatch.clone()));
        }
        session.cursor = state.log.len();
        while session.recent.len() > SESSION_MEMORY {
            session.recent.pop_front();
        }
        Some(frames)
    }

    /// Queues `dispatches` for session `id` alone and wakes the sessions.
    pub(super) fn dispatch_to_session(&self, id: &str, dispatches: Vec<Dispatch>) {
        if let Some(session) = self.state().sessions.get_mut(id) {
            session.own.extend(dispatches);
        }
        self.logged.send_modify(|_| {});
    }

    // ---- acting as a user -------------------------------------------------------

    /// `author` posts `content` in #general; delivered `copies` times. Returns its id.
    pub fn send_message(&self, author: u64, content: &str, copies: usize) -> u64 {
        self.send_message_with(author, content, json!({}), copies)
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
        let id = self.next_id();
        let msg = payloads::message(id, GENERAL, author, content, extra);
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
            payloads::interaction(id, &token, kind, user, data),
            copies,
        );
        token
    }

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
    pub(super) fn voice_states(&self) -> Vec<Value> {
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
    pub(super) fn bot_voice_update(&self, session_id: &str, d: &Value) -> Vec<Dispatch> {
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

    // ---- what the bot did -------------------------------------------------------

    pub fn calls(&self) -> Vec<RestCall> {
        self.state().calls.clone()
    }

    pub fn message(&self, id: u64) -> Option<Value> {
        self.state().messages.get(&id).cloned()
    }

    /// Messages the bot posted in reply to message `id`.
    pub fn replies_to(&self, id: u64) -> Vec<Value> {
        let id = id.to_string();
        self.state()
            .messages
            .values()
            .filter(|m| m["author"]["id"].as_str() == Some(BOT_ID_STR))
            .filter(|m| m["message_reference"]["message_id"] == id.as_str())
            .cloned()
            .collect()
    }

    /// Messages posted by the bot, oldest first.
    pub fn bot_messages(&self) -> Vec<Value> {
        self.state()
            .messages
            .values()
            .filter(|m| m["author"]["id"].as_str() == Some(BOT_ID_STR))
            .cloned()
            .collect()
    }

    /// REST calls answering the interaction with `token` (callback, follow-ups, edits).
    pub fn interaction_calls(&self, token: &str) -> Vec<RestCall> {
        let marker = format!("/{token}");
        self.state()
            .calls
            .iter()
            .filter(|c| c.path.contains(&marker))
            .cloned()
            .collect()
    }

    pub fn guild_commands(&self) -> Vec<Value> {
        self.state().guild_commands.clone()
    }

    pub fn global_commands(&self) -> Vec<Value> {
        self.state().global_commands.clone()
    }

    /// Waits until `cond` holds (re-checked whenever the world changes), up to `limit`.
    pub async fn wait_for(&self, limit: Duration, mut cond: impl FnMut(&World) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.changed.notified();
            if cond(self) {
                return true;
            }
            let step = tokio::time::sleep_until(
                deadline.min(tokio::time::Instant::now() + Duration::from_millis(50)),
            );
            tokio::select! {
                _ = changed => {}
                _ = step => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return cond(self);
            }
        }
    }

    // ---- used by the REST routes -----------------------------------------------

    /// Records a request as it arrives (before its effects); returns its index for
    /// [`World::answered`].
    pub(super) fn record(&self, call: RestCall) -> usize {
        let index = {
            let mut state = self.state();
            state.calls.push(call);
            state.calls.len() - 1
        };
        self.changed.notify_waiters();
        index
    }

    /// Adds the answer to recorded request `index`.
    pub(super) fn answered(&self, index: usize, status: u16, response: Value) {
        if let Some(call) = self.state().calls.get_mut(index) {
            call.status = status;
            call.response = response;
        }
        self.changed.notify_waiters();
    }

    /// Stores a message the bot posted; `files` become attachments.
    pub(super) fn bot_post(
        &self,
        channel: u64,
        body: &Value,
        files: &[(String, Vec<u8>)],
    ) -> Value {
        let id = self.next_id();
        let content = body["content"].as_str().unwrap_or_default();
        let mut extra = json!({
            "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
            "attachments": self.attachments(files),
            "flags": body.get("flags").cloned().unwrap_or(json!(0)),
        });
        if let Some(reference) = body.get("message_reference").filter(|r| r.is_object()) {
            extra["message_reference"] = json!({
                "type": 0,
                "message_id": reference["message_id"],
                "channel_id": channel.to_string(),
                "guild_id": payloads::GUILD_ID.to_string(),
            });
            extra["type"] = json!(19);
        }
        let msg = payloads::message(id, channel, BOT_ID, content, extra);
        self.state().messages.insert(id, msg.clone());
        self.changed.notify_waiters();
        msg
    }

    pub(super) fn bot_edit(
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
    pub(super) fn bot_delete(&self, id: u64) -> Option<()> {
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

    pub(super) fn interaction_channel(&self, token: &str) -> Option<u64> {
        self.state().interactions.get(token).map(|(_, c)| *c)
    }

    pub(super) fn set_original(&self, token: &str, message: u64) {
        self.state().originals.insert(token.to_string(), message);
    }

    pub(super) fn original(&self, token: &str) -> Option<u64> {
        self.state().originals.get(token).copied()
    }

    pub(super) fn set_commands(&self, guild: bool, commands: Vec<Value>) -> Vec<Value> {
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
