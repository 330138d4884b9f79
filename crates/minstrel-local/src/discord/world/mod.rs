//! The local server's state, and the API a test (or a person in `minstrel dev`) uses to
//! act as a user: send messages, mention the bot, invoke slash commands and
//! autocomplete, press buttons and choose in select menus, join and leave voice
//! channels, have any event delivered twice, and read back what the bot did (and,
//! through [`World::voice`], what it played).
//!
//! One `World` behind one lock; its methods are split by concern: `guilds` (the guilds
//! and how they are sharded), `sessions` (the event log and gateway sessions), `chat`
//! (messages and interactions), `voice` (voice states).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, broadcast, watch};

use super::voice::Voice;

mod chat;
mod guilds;
mod load;
mod sessions;
mod voice;

pub use load::RealTime;

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
    /// The bot token presented (`Authorization`, without `Bot `): which of several bot
    /// processes made the call, when each has its own.
    #[serde(skip)]
    pub token: String,
    /// When the request arrived.
    #[serde(skip)]
    pub at: std::time::Instant,
    /// The answer's status and JSON body (`Null` when empty); 0 until answered.
    pub status: u16,
    pub response: Value,
}

/// A gateway dispatch: event name and payload, and the guild it is about (its
/// `guild_id`), which decides the shard that receives it.
#[derive(Debug, Clone)]
pub struct Dispatch {
    pub t: &'static str,
    pub d: Value,
    pub guild: Option<u64>,
}

impl Dispatch {
    pub fn new(t: &'static str, d: Value) -> Self {
        let guild = d["guild_id"].as_str().and_then(|g| g.parse().ok());
        Self { t, d, guild }
    }
}

/// Discord's default for when a single shard holds too many guilds (close 4011).
const MAX_GUILDS_PER_SHARD: usize = 2_500;

/// What the server tells connected gateway sessions to do.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Control {
    /// Send op 7 RECONNECT: the client closes and resumes.
    Reconnect,
}

/// What a RESUME gets: the connection's generation, the dispatches to re-send with
/// their sequence numbers, and the sequence number of RESUMED.
pub(crate) struct Resumed {
    pub generation: u64,
    pub replay: Vec<(u64, Dispatch)>,
    pub seq: u64,
}

/// A gateway session as the server remembers it, across connections: its shard, where
/// it is in the event log, its sequence number, and what it was sent lately.
struct Session {
    /// `[id, count]` from its IDENTIFY: it delivers the events of guilds on that shard.
    shard: [u64; 2],
    /// Next index of `State::log` to deliver.
    cursor: usize,
    seq: u64,
    recent: VecDeque<(u64, Dispatch)>,
    /// Bumped on resume: a connection holding an older value has been superseded.
    generation: u64,
    /// Dispatches for this session alone (answers to its voice state updates).
    own: VecDeque<Dispatch>,
}

/// Sharding as the server applies it (see [`World::set_sharding`]).
#[derive(Debug, Clone, Copy)]
struct Sharding {
    max_guilds_per_shard: usize,
    /// `GET /gateway/bot`'s `shards`; None: one per 1,000 guilds, as Discord advises.
    recommended: Option<u64>,
    max_concurrency: u64,
}

impl Default for Sharding {
    fn default() -> Self {
        Self {
            max_guilds_per_shard: MAX_GUILDS_PER_SHARD,
            recommended: None,
            max_concurrency: 1,
        }
    }
}

#[derive(Default)]
struct State {
    /// Guilds added to the dev guild (see [`World::add_guilds`]).
    added_guilds: u64,
    sharding: Sharding,
    /// `[id, count]` of every IDENTIFY, in order.
    identified_shards: Vec<[u64; 2]>,
    messages: BTreeMap<u64, Value>,
    /// Messages the bot has posted, deleted ones included.
    bot_posts: u64,
    calls: Vec<RestCall>,
    guild_commands: Vec<Value>,
    global_commands: Vec<Value>,
    /// Interaction token -> the message standing for its original response.
    originals: BTreeMap<String, u64>,
    /// Interaction token -> the interaction's id and channel.
    interactions: BTreeMap<String, (u64, u64)>,
    /// Interaction token -> the message whose component was used (see [`World::press`]):
    /// the message that response types 6 and 7 acknowledge and update.
    components: BTreeMap<String, u64>,
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
    /// See [`World::disallow_message_content`].
    message_content_disallowed: bool,
    /// See [`World::deny_bot_voice`].
    bot_voice_denied: std::collections::BTreeSet<u64>,
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
    pub(crate) fn new(addr: SocketAddr, voice: Arc<Voice>) -> Self {
        Self {
            addr,
            voice,
            state: Mutex::default(),
            logged: watch::Sender::new(0),
            control: broadcast::channel(16).0,
            changed: Notify::new(),
            next_id: AtomicU64::new(first_id()),
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
        self.state().identified_shards.len() as u64
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

    /// From now on the Message Content intent is not enabled for the bot, as when the
    /// developer portal's switch is off: the application's flags lack it, and an
    /// IDENTIFY asking for it is closed with 4014 (disallowed intents).
    pub fn disallow_message_content(&self) {
        self.state().message_content_disallowed = true;
    }

    pub(crate) fn message_content_allowed(&self) -> bool {
        !self.state().message_content_disallowed
    }

    /// From now on voice channel `channel` has a permission overwrite denying the bot
    /// Connect and Speak, as a server owner might set by mistake (seen by REST readers
    /// of the guild's channels, e.g. `minstrel doctor`).
    pub fn deny_bot_voice(&self, channel: u64) {
        self.state().bot_voice_denied.insert(channel);
    }

    /// Channel `id` as REST returns it, with the bot's overwrites.
    pub(crate) fn channel_payload(&self, id: u64) -> serde_json::Value {
        let mut channel = super::payloads::channel(id);
        if self.state().bot_voice_denied.contains(&id) {
            channel["permission_overwrites"] = serde_json::json!([{
                "id": super::payloads::BOT_ID.to_string(), "type": 1, "allow": "0",
                "deny": super::payloads::CONNECT_AND_SPEAK,
            }]);
        }
        channel
    }

    /// Whether `presented` (an `Authorization` header or an IDENTIFY's token, with or
    /// without the `Bot ` prefix) is accepted.
    pub(crate) fn token_accepted(&self, presented: &str) -> bool {
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
    pub(crate) fn rejects_command_named(&self, name: &str) -> bool {
        self.state().rejected_command_names.contains(name)
    }

    /// The failure to answer the current registration with, if one is due.
    pub(crate) fn take_registration_failure(&self) -> Option<u16> {
        self.state().registration_failures.pop_front()
    }

    /// Tells every connected gateway session to reconnect (op 7); the client resumes.
    pub fn force_reconnect(&self) {
        let _ = self.control.send(Control::Reconnect);
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

    /// How many messages the bot has posted, deleted ones included: a count to wait on
    /// that costs nothing however many there are.
    pub fn bot_posts(&self) -> u64 {
        self.state().bot_posts
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
}

/// The first id this server hands out: a Discord snowflake of the current time. Ids of
/// a later server are larger than any an earlier one gave, as Discord's are, so a bot
/// that keeps its claims in a data folder (`minstrel dev` run again) never takes a new
/// message for one it has already answered.
fn first_id() -> u64 {
    const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    now.saturating_sub(DISCORD_EPOCH_MS) << 22
}
