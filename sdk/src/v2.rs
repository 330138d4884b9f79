//! Plugins for `minstrel:plugin` API 0.2.0.
//!
//! The crate root serves API 0.1.0 (kept for the plugins built with it); this module
//! serves 0.2.0 with the same shape: implement [`Source`], [`Command`] or [`Mention`]
//! and call the matching macro once. Use only this module's types and interfaces in a
//! 0.2 plugin: calling a root-level interface (say `minstrel_sdk::log::info`) makes the
//! component import it at version 0.1.0 as well, and the host refuses a component that
//! mixes versions.
//!
//! # Worlds
//!
//! - **`source`** ([`Source`], [`export_source!`]): an audio source. `claims` picks the
//!   URLs it handles, `resolve` turns a query into tracks, `fetch` streams a track's
//!   audio into an [`audio::Sink`]; a live stream (radio) is marked with
//!   [`live::mark`] in `resolve` instead, and the host plays its URL. It may use
//!   [`log`], [`kv`], [`http`], [`media`], [`config`] and [`live`].
//! - **`command`** ([`Command`], [`export_command!`]): chat commands (`commands`, `run`,
//!   `autocomplete`) and the interactive callbacks: `on_press` (a button or menu of its
//!   replies was used), `on_player_event` (a track started or ended, the queue ended,
//!   the bot joined or left voice) and `on_timer` (a timer it scheduled is due). It
//!   may use [`log`], [`kv`], [`http`], [`llm`], [`player`], [`config`], [`timers`],
//!   [`messages`] and [`media`]'s probes and searches. A plugin that only listens to the player is a command plugin with no
//!   commands: `commands` and `run` have defaults for that.
//! - **`mention`** ([`Mention`], [`export_mention!`]): answers messages that mention the
//!   bot (`claims`, `handle`), streaming text through [`draft`], plus `on_press` and
//!   `on_timer`. It may use [`log`], [`kv`], [`http`], [`llm`], [`draft`], [`config`],
//!   [`timers`] and [`messages`].
//!
//! # What 0.2.0 adds
//!
//! - **`describe`**: every world exports what the plugin is and asks for (a
//!   [`PluginInfo`]): the crate's name and version, HTTP hosts, kv quota, settings and
//!   whether it wants player events. The export macro builds it from its arguments and
//!   passes it to the trait's `describe`, which returns it unchanged by default. No
//!   custom sections are embedded: the host reads the API version from the imports
//!   and the rest from `describe`.
//! - **Settings** ([`config`]): declared with `settings = [...]` in the macro, read with
//!   [`config::get`]. Need no grant; a plugin sees only its own.
//! - **Components**: a [`Reply`] carries rows of [`Button`]s and [`SelectMenu`]s
//!   ([`reply`], [`button`], [`select`], [`Reply::row`]). A press reaches the plugin's
//!   `on_press` with the component's id; it answers with a [`PressAnswer`] (`Update`
//!   the message, send a new `Reply`, or `Nothing`). The default answers the error
//!   `no such component`.
//! - **Player events** (command world; ask with `player_events = true`, the operator
//!   grants `player-events`): `on_player_event` gets a [`PlayerEvent`]. It does nothing
//!   by default.
//! - **Timers** ([`timers`], grant `timers`): [`timers::after`] and [`timers::at`]
//!   schedule `on_timer` with a payload, once, also after a restart. `on_timer` does
//!   nothing by default.
//! - **Messages** ([`messages`], grant `messages`): post or edit a message in the guild
//!   the call serves.
//! - **Player** ([`player`]): `now_playing`, `enqueue_at`, `seek`, `pause`, `stop` and
//!   `set_loop` beside `enqueue`, `skip` and `queue`.
//!
//! # Macros
//!
//! The export macros are exported at the crate root (where `export_source!` etc. are
//! 0.1's) as [`export_source_v2!`](crate::export_source_v2!),
//! [`export_command_v2!`](crate::export_command_v2!) and
//! [`export_mention_v2!`](crate::export_mention_v2!), and re-exported here as
//! [`export_source!`], [`export_command!`] and [`export_mention!`]:
//! `minstrel_sdk::v2::export_command!(...)` and `minstrel_sdk::export_command_v2!(...)`
//! are the same macro. Each takes the plugin type and then, all optional but in this
//! order:
//!
//! ```text
//! http = ["api.example.org", ...],         hosts the plugin asks to reach
//! kv_quota = 64,                           kv entries it asks to keep
//! settings = [
//!     "channel": "Channel id for reminders",
//!     "token": "The API token" (secret, required),
//! ],                                       settings it reads (flags: secret, required)
//! player_events = true,                    on_player_event calls (command world only)
//! ```
//!
//! The world's bindings are generated in the plugin crate by the macro and name the SDK
//! by its crate name: depend on it as `minstrel-sdk`, not renamed.
//!
//! # Example
//!
//! A command with a button, a timer and player events:
//!
//! ```no_run
//! use minstrel_sdk::v2::{
//!     self, ButtonStyle, Command, CommandSpec, Invocation, PlayerEvent, Press, PressAnswer,
//!     Reply, Timer, button, log, messages, player, reply, timers,
//! };
//!
//! struct Remind;
//!
//! impl Command for Remind {
//!     fn commands() -> Vec<CommandSpec> {
//!         vec![CommandSpec {
//!             name: "remind".into(),
//!             description: "Remind me in a minute".into(),
//!             options: Vec::new(),
//!         }]
//!     }
//!
//!     fn run(invocation: Invocation) -> Result<Reply, String> {
//!         let channel = invocation.context.channel_id;
//!         timers::after(60_000, channel.to_string().as_bytes())?;
//!         Ok(reply("I will remind you.")
//!             .row([button("cancel", "Never mind").style(ButtonStyle::Danger)]))
//!     }
//!
//!     fn on_press(press: Press) -> Result<PressAnswer, String> {
//!         match press.id.as_str() {
//!             "cancel" => Ok(PressAnswer::Update(reply("Fine, I will remind you anyway."))),
//!             _ => Err("no such component".into()),
//!         }
//!     }
//!
//!     fn on_timer(timer: Timer) {
//!         let channel = String::from_utf8_lossy(&timer.payload).parse::<u64>();
//!         if let Ok(channel) = channel {
//!             let _ = messages::send_text(channel, "Reminder!");
//!         }
//!     }
//!
//!     fn on_player_event(event: PlayerEvent) {
//!         log::info(&format!("{:?} in {}", event.kind, event.guild_id));
//!         let _ = player::now_playing(event.guild_id);
//!     }
//! }
//!
//! v2::export_command!(
//!     Remind,
//!     settings = [
//!         "greeting": "What to say first",
//!         "token": "An API token" (secret, required),
//!     ],
//!     player_events = true,
//! );
//! ```

// Generated bindings of the 0.2.0 interfaces, private to the SDK: the types, and a
// function per host call. The worlds (the exports) are generated in the plugin crate by
// the export macros, reusing these through `with` (see `__world_v2!`).
//
// Why not one `generate!` per world here, as for 0.1: every world-level `use` of a world
// (`use types.{reply, ...}`) becomes an import of the component that links its
// bindings, used or not (wit-component keeps world-level types unconditionally). The
// SDK's object file is linked into every plugin, so 0.2 worlds generated here would
// make each 0.1 plugin import `minstrel:plugin/types@0.2.0` too, and the host refuses a
// component importing two API versions. A world of interface imports only, as here,
// costs a plugin nothing: unused interface imports are dropped.
// Generated code: its functions take one argument per WIT record field.
#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({
        inline: "
            package minstrel:sdk;
            world interfaces-v2 {
                import minstrel:plugin/types@0.2.0;
                import minstrel:plugin/log@0.2.0;
                import minstrel:plugin/kv@0.2.0;
                import minstrel:plugin/http@0.2.0;
                import minstrel:plugin/llm@0.2.0;
                import minstrel:plugin/player@0.2.0;
                import minstrel:plugin/config@0.2.0;
                import minstrel:plugin/timers@0.2.0;
                import minstrel:plugin/messages@0.2.0;
                import minstrel:plugin/audio@0.2.0;
                import minstrel:plugin/media@0.2.0;
                import minstrel:plugin/draft@0.2.0;
                import minstrel:plugin/live@0.2.0;
            }
        ",
        path: "../wit/since_v0.2.0",
        generate_all,
        // No `#[used]` reference forcing this world's `component-type` section into
        // every plugin: the world a plugin exports (generated in the plugin crate)
        // describes every import already.
        disable_custom_section_link_helpers: true,
    });
}

// The macro `__generate_v2!`, which calls `wit_bindgen::generate!` with the absolute
// path of the 0.2.0 WIT folder (written by build.rs).
include!(concat!(env!("OUT_DIR"), "/generate_v2.rs"));

/// The `minstrel:plugin` API version this module implements.
pub const API_VERSION: &str = "0.2.0";

// From the `types` interface, the one place they are defined (the world bindings a
// plugin generates alias some of them at their root: the same types).
pub use bindings::minstrel::plugin::types::{
    Attachment, Button, ButtonStyle, CommandSpec, Component, ConfigKey, Context, EarlierMessage,
    Embed, EndReason, Invocation, Message, OptionKind, OptionSpec, OptionValue, PlayerEvent,
    PlayerEventKind, PluginInfo, Press, PressAnswer, Reply, SelectMenu, SelectOption, Timer, Track,
};

#[doc(inline)]
pub use crate::export_command_v2 as export_command;
#[doc(inline)]
pub use crate::export_mention_v2 as export_mention;
#[doc(inline)]
pub use crate::export_source_v2 as export_source;

/// Logging into the host's log, under a span with the plugin's name. Rate-limited by
/// the host: a plugin that floods it loses lines.
pub mod log {
    pub use super::bindings::minstrel::plugin::log::{Level, log};

    /// Logs at trace level.
    pub fn trace(message: &str) {
        log(Level::Trace, message);
    }
    /// Logs at debug level.
    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }
    /// Logs at info level.
    pub fn info(message: &str) {
        log(Level::Info, message);
    }
    /// Logs at warn level.
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }
    /// Logs at error level.
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
}

/// A key-value store private to the plugin, kept across calls, reloads and restarts,
/// with TTLs. Bounded by the quota the operator grants (ask with `kv_quota = N`).
pub mod kv {
    pub use super::bindings::minstrel::plugin::kv::{delete, get, set};

    /// The value of `key` as UTF-8 text, if present, unexpired and valid UTF-8.
    pub fn get_string(key: &str) -> Result<Option<String>, String> {
        Ok(get(key)?.and_then(|bytes| String::from_utf8(bytes).ok()))
    }
}

/// Outgoing HTTP to the hosts the operator granted (ask with `http = [...]`).
pub mod http {
    pub use super::bindings::minstrel::plugin::http::{Request, Response, fetch};

    /// A plain GET of `url`.
    pub fn get(url: &str) -> Result<Response, String> {
        fetch(&Request {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
        })
    }

    /// `text` percent-encoded to stand in a URL's query or path (RFC 3986: only the
    /// unreserved characters are kept).
    ///
    /// ```
    /// use minstrel_sdk::v2::http::encode;
    /// assert_eq!(encode("AC/DC & co ✓"), "AC%2FDC%20%26%20co%20%E2%9C%93");
    /// ```
    pub fn encode(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(byte as char)
                }
                other => out.push_str(&format!("%{other:02X}")),
            }
        }
        out
    }
}

/// The operator's OpenAI-compatible chat endpoint (command and mention plugins).
pub mod llm {
    pub use super::bindings::minstrel::plugin::llm::{
        ChatMessage, ChatRequest, Completion, Role, chat, chat_stream,
    };
}

/// The guild's player (command plugins). A call may only use the player of the guild
/// it serves: the invocation's, the press's, the event's or the timer's.
pub mod player {
    pub use super::bindings::minstrel::plugin::player::{
        LoopMode, Playing, Queued, enqueue, enqueue_at, now_playing, on_air, pause, queue, seek,
        set_loop, skip, stop,
    };
}

/// Media extraction run by the host: yt-dlp with a fixed argument template. `probe`
/// describes a URL (a playlist with its entries), `search` finds items on a site by
/// free text (both for source and command plugins), `download_audio` streams the best
/// audio into a source's sink.
pub mod media {
    pub use super::bindings::minstrel::plugin::media::{
        MediaEntry, MediaInfo, SearchSite, download_audio, probe, search,
    };
}

/// Where a source plugin writes audio.
pub mod audio {
    pub use super::bindings::minstrel::plugin::audio::Sink;
}

/// Live streams (source plugins): [`live::mark`] a track during `resolve` and the host
/// plays it from its URL as it arrives (Icecast/Shoutcast radio, HLS), never caching
/// it and never calling `fetch` for it. The host reaches the URL as it would the
/// plugin's own `http` requests: list the stream's hosts in the plugin's grant.
pub mod live {
    pub use super::bindings::minstrel::plugin::live::mark;
}

/// The plugin's own settings from the operator (`[plugins.config.NAME]`). Declare them
/// with `settings = [...]` in the export macro so the operator sees them.
pub mod config {
    pub use super::bindings::minstrel::plugin::config::get;

    /// The value of `key`, or an error naming the setting when the operator did not
    /// set it.
    pub fn require(key: &str) -> Result<String, String> {
        get(key).ok_or_else(|| format!("the setting {key} is not set"))
    }
}

/// Callbacks later (command and mention plugins): `on_timer` is called once with the
/// payload when a timer is due, also after a restart. Limits: 1,000 pending timers,
/// 16 KiB of payload, at most a year ahead.
pub mod timers {
    pub use super::bindings::minstrel::plugin::timers::{after, at, cancel};

    /// Schedules a timer `delay` from now (whole milliseconds); returns its id.
    pub fn after_duration(delay: std::time::Duration, payload: &[u8]) -> Result<u64, String> {
        after(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            payload,
        )
    }
}

/// Messages the plugin posts on its own, in a channel of the guild the call serves
/// (command and mention plugins). Presses on their components reach `on_press`.
pub mod messages {
    pub use super::bindings::minstrel::plugin::messages::{edit, send};

    /// Posts a plain text message in `channel_id`; returns its id.
    pub fn send_text(channel_id: u64, content: impl Into<String>) -> Result<u64, String> {
        send(channel_id, &super::reply(content))
    }
}

/// The reply being written while a mention is handled (mention plugins).
pub mod draft {
    pub use super::bindings::minstrel::plugin::draft::append;
}

/// A position or length as `m:ss`, or `h:mm:ss` from an hour.
///
/// ```
/// use minstrel_sdk::v2::clock;
/// assert_eq!((clock(65_400), clock(3_723_000)), ("1:05".into(), "1:02:03".into()));
/// ```
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// `text` escaped to show as itself inside a message, on one line, by the rules the
/// host uses for song titles: Discord's markdown characters are backslash-escaped, line
/// breaks become spaces, and `@` is followed by a zero-width space so `@everyone` and
/// `<@id>` never read as mentions (the host's allowed mentions already keep them from
/// pinging).
///
/// ```
/// use minstrel_sdk::v2::escape;
/// assert_eq!(escape("**hi** [x](y)"), "\\*\\*hi\\*\\* \\[x\\](y)");
/// assert_eq!(escape("<@&1> @everyone\nx"), "\\<@\u{200B}&1\\> @\u{200B}everyone x");
/// ```
pub fn escape(text: &str) -> String {
    const SPECIAL: &[char] = &['\\', '*', '_', '~', '`', '|', '[', ']', '<', '>'];
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '@' => out.push_str("@\u{200B}"),
            c if SPECIAL.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `text` (at least 1), ending in `…` when cut: for select
/// menu labels (100 characters) and other length limits.
///
/// ```
/// assert_eq!(minstrel_sdk::v2::shorten("a long title", 6), "a lon…");
/// ```
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.max(1) - 1).collect();
    out.push('…');
    out
}

/// A plain, public text reply without embeds, attachments or components.
pub fn reply(content: impl Into<String>) -> Reply {
    Reply {
        content: content.into(),
        embeds: Vec::new(),
        attachments: Vec::new(),
        ephemeral: false,
        components: Vec::new(),
    }
}

/// An enabled [`ButtonStyle::Primary`] button; `id` is what `on_press` receives.
pub fn button(id: impl Into<String>, label: impl Into<String>) -> Button {
    Button {
        id: id.into(),
        label: label.into(),
        style: ButtonStyle::Primary,
        disabled: false,
    }
}

/// A select menu with `(value, label)` options; `id` is what `on_press` receives, with
/// the chosen value in `press.values`.
pub fn select<V, L>(id: impl Into<String>, options: impl IntoIterator<Item = (V, L)>) -> SelectMenu
where
    V: Into<String>,
    L: Into<String>,
{
    SelectMenu {
        id: id.into(),
        placeholder: None,
        options: options
            .into_iter()
            .map(|(value, label)| SelectOption {
                value: value.into(),
                label: label.into(),
                description: None,
            })
            .collect(),
    }
}

impl Reply {
    /// A plain, public text reply (the same as [`reply`]).
    pub fn text(content: impl Into<String>) -> Self {
        reply(content)
    }

    /// Makes the reply visible to the invoking user only.
    pub fn ephemeral(mut self) -> Self {
        self.ephemeral = true;
        self
    }

    /// Adds a row of components: up to 5 buttons, or one select menu.
    pub fn row<C: Into<Component>>(mut self, components: impl IntoIterator<Item = C>) -> Self {
        self.components
            .push(components.into_iter().map(Into::into).collect());
        self
    }
}

impl Button {
    /// Sets the button's style.
    pub fn style(mut self, style: ButtonStyle) -> Self {
        self.style = style;
        self
    }

    /// Greys the button out (true) or enables it (false).
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }
}

impl SelectMenu {
    /// Sets the text shown while nothing is chosen.
    pub fn placeholder(mut self, placeholder: impl Into<String>) -> Self {
        self.placeholder = Some(placeholder.into());
        self
    }
}

impl From<Button> for Component {
    fn from(button: Button) -> Self {
        Component::Button(button)
    }
}

impl From<SelectMenu> for Component {
    fn from(menu: SelectMenu) -> Self {
        Component::Select(menu)
    }
}

impl Context {
    /// The guild the call serves, or an error for a direct message.
    pub fn guild(&self) -> Result<u64, String> {
        self.guild_id
            .ok_or_else(|| "this works only in a server".to_string())
    }
}

impl Invocation {
    /// The value of option `name`, if given.
    pub fn option(&self, name: &str) -> Option<&OptionValue> {
        self.options
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// The text value of option `name`, if given as text.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.option(name) {
            Some(OptionValue::Text(text)) => Some(text),
            _ => None,
        }
    }

    /// The integer value of option `name`, if given as an integer.
    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.option(name) {
            Some(OptionValue::Integer(value)) => Some(*value),
            _ => None,
        }
    }
}

/// An audio source (the `source` world): turns queries and URLs into tracks and streams
/// their audio.
///
/// ```no_run
/// use minstrel_sdk::v2::{self, Source, Track, audio::Sink};
///
/// struct Tones;
///
/// impl Source for Tones {
///     fn claims(url: String) -> bool {
///         url.starts_with("tone://")
///     }
///
///     fn resolve(query: String) -> Result<Vec<Track>, String> {
///         let hz: u32 = query.trim_start_matches("tone://").parse().map_err(|_| "not a number")?;
///         Ok(vec![Track {
///             id: format!("tone:{hz}"),
///             title: format!("{hz} Hz"),
///             duration_ms: Some(1_000),
///             artwork_url: None,
///             page_url: None,
///         }])
///     }
///
///     fn fetch(id: String, into: &Sink) -> Result<(), String> {
///         into.write(id.as_bytes())
///     }
/// }
///
/// v2::export_source!(Tones, http = ["tones.example.org"], kv_quota = 64);
/// ```
pub trait Source {
    /// What the plugin is and asks for. `info` is built by the export macro (the
    /// crate's name and version and the macro's arguments); the default returns it.
    fn describe(info: PluginInfo) -> PluginInfo {
        info
    }
    /// Whether this source handles `url`. The default claims nothing.
    fn claims(url: String) -> bool {
        let _ = url;
        false
    }
    /// Tracks matching `query`, best first.
    fn resolve(query: String) -> Result<Vec<Track>, String>;
    /// Streams the audio of track `id` into `into`.
    fn fetch(id: String, into: &audio::Sink) -> Result<(), String>;
}

/// Chat commands and interactive callbacks (the `command` world).
///
/// Every method has a default, so a plugin implements what it uses: a plugin that only
/// listens to the player implements `on_player_event` alone.
///
/// ```no_run
/// use minstrel_sdk::v2::{self, Command, PlayerEvent, log};
///
/// struct Listener;
///
/// impl Command for Listener {
///     fn on_player_event(event: PlayerEvent) {
///         log::info(&format!("{:?}", event.kind));
///     }
/// }
///
/// v2::export_command!(Listener, player_events = true);
/// ```
pub trait Command {
    /// What the plugin is and asks for. `info` is built by the export macro (the
    /// crate's name and version and the macro's arguments); the default returns it.
    fn describe(info: PluginInfo) -> PluginInfo {
        info
    }
    /// The commands this plugin offers. None by default.
    fn commands() -> Vec<CommandSpec> {
        Vec::new()
    }
    /// Runs one invocation. The default refuses every command.
    fn run(invocation: Invocation) -> Result<Reply, String> {
        Err(format!("unknown command {}", invocation.command))
    }
    /// Suggestions while the user types an option marked `autocomplete`. None by default.
    fn autocomplete(
        command: String,
        option_name: String,
        partial: String,
        context: Context,
    ) -> Vec<String> {
        let _ = (command, option_name, partial, context);
        Vec::new()
    }
    /// A user pressed one of this plugin's buttons or chose in one of its menus
    /// (`press.id` is the component's id). The default answers an error.
    fn on_press(press: Press) -> Result<PressAnswer, String> {
        let _ = press;
        Err("no such component".into())
    }
    /// Something happened in a guild's player (with `player_events = true` and the
    /// operator's grant). Does nothing by default.
    fn on_player_event(event: PlayerEvent) {
        let _ = event;
    }
    /// A timer this plugin scheduled is due. Does nothing by default.
    fn on_timer(timer: Timer) {
        let _ = timer;
    }
}

/// Answers messages that mention the bot (the `mention` world).
///
/// ```no_run
/// use minstrel_sdk::v2::{self, Mention, Message, Reply, draft, llm};
///
/// struct Ask;
///
/// impl Mention for Ask {
///     fn handle(message: Message) -> Result<Reply, String> {
///         let request = llm::ChatRequest {
///             model: v2::config::get("model"),
///             messages: vec![llm::ChatMessage { role: llm::Role::User, content: message.content }],
///             max_tokens: Some(400),
///             temperature: None,
///         };
///         let stream = llm::chat_stream(&request)?;
///         let mut answer = String::new();
///         while let Some(piece) = stream.next()? {
///             draft::append(&piece);
///             answer.push_str(&piece);
///         }
///         Ok(Reply::text(answer))
///     }
/// }
///
/// v2::export_mention!(Ask, settings = ["model": "The model to ask; the operator's default if unset"]);
/// ```
pub trait Mention {
    /// What the plugin is and asks for. `info` is built by the export macro (the
    /// crate's name and version and the macro's arguments); the default returns it.
    fn describe(info: PluginInfo) -> PluginInfo {
        info
    }
    /// Whether this plugin takes `message`. The operator orders the mention plugins and
    /// the first that claims a message handles it; the default claims every message.
    /// Called for every mention: keep it quick.
    fn claims(message: &Message) -> bool {
        let _ = message;
        true
    }
    /// Handles one mention.
    fn handle(message: Message) -> Result<Reply, String>;
    /// A user pressed one of this plugin's buttons or chose in one of its menus. The
    /// default answers an error.
    fn on_press(press: Press) -> Result<PressAnswer, String> {
        let _ = press;
        Err("no such component".into())
    }
    /// A timer this plugin scheduled is due. Does nothing by default.
    fn on_timer(timer: Timer) {
        let _ = timer;
    }
}

/// Exports a [`v2::Source`](crate::v2::Source) implementation as the plugin's 0.2.0
/// `source` world; also available as `minstrel_sdk::v2::export_source!`.
///
/// Optional arguments, in this order: `http = ["host", ...]`, `kv_quota = N`,
/// `settings = ["name": "description" (secret, required), ...]` (the flags in
/// parentheses are optional). They and the crate's name and version make the
/// [`PluginInfo`](crate::v2::PluginInfo) that `describe` returns.
///
/// The plugin must depend on the SDK under its own name, `minstrel_sdk` (the bindings
/// generated in the plugin crate name it).
#[macro_export]
macro_rules! export_source_v2 {
    ($plugin:ty $(, $($describe:tt)*)?) => {
        const _: () = {
            $crate::__world_v2!(source);
            struct MinstrelExport;
            impl bindings::Guest for MinstrelExport {
                fn describe() -> $crate::v2::PluginInfo {
                    <$plugin as $crate::v2::Source>::describe(
                        $crate::__describe_v2!(other $(, $($describe)*)?)
                    )
                }
                fn claims(url: ::std::string::String) -> bool {
                    <$plugin as $crate::v2::Source>::claims(url)
                }
                fn resolve(
                    query: ::std::string::String,
                ) -> ::std::result::Result<::std::vec::Vec<$crate::v2::Track>, ::std::string::String> {
                    <$plugin as $crate::v2::Source>::resolve(query)
                }
                fn fetch(
                    id: ::std::string::String,
                    into: &$crate::v2::audio::Sink,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    <$plugin as $crate::v2::Source>::fetch(id, into)
                }
            }
            bindings::export!(MinstrelExport with_types_in bindings);
        };
    };
}

/// Exports a [`v2::Command`](crate::v2::Command) implementation as the plugin's 0.2.0
/// `command` world; also available as `minstrel_sdk::v2::export_command!`.
///
/// Takes the optional arguments of [`export_source_v2!`](crate::export_source_v2!)
/// and, last, `player_events = true` to ask for `on_player_event` calls.
#[macro_export]
macro_rules! export_command_v2 {
    ($plugin:ty $(, $($describe:tt)*)?) => {
        const _: () = {
            $crate::__world_v2!(command);
            struct MinstrelExport;
            impl bindings::Guest for MinstrelExport {
                fn describe() -> $crate::v2::PluginInfo {
                    <$plugin as $crate::v2::Command>::describe(
                        $crate::__describe_v2!(command $(, $($describe)*)?)
                    )
                }
                fn commands() -> ::std::vec::Vec<$crate::v2::CommandSpec> {
                    <$plugin as $crate::v2::Command>::commands()
                }
                fn run(
                    invocation: $crate::v2::Invocation,
                ) -> ::std::result::Result<$crate::v2::Reply, ::std::string::String> {
                    <$plugin as $crate::v2::Command>::run(invocation)
                }
                fn autocomplete(
                    command: ::std::string::String,
                    option_name: ::std::string::String,
                    partial: ::std::string::String,
                    context: $crate::v2::Context,
                ) -> ::std::vec::Vec<::std::string::String> {
                    <$plugin as $crate::v2::Command>::autocomplete(command, option_name, partial, context)
                }
                fn on_press(
                    press: $crate::v2::Press,
                ) -> ::std::result::Result<$crate::v2::PressAnswer, ::std::string::String> {
                    <$plugin as $crate::v2::Command>::on_press(press)
                }
                fn on_player_event(event: $crate::v2::PlayerEvent) {
                    <$plugin as $crate::v2::Command>::on_player_event(event)
                }
                fn on_timer(timer: $crate::v2::Timer) {
                    <$plugin as $crate::v2::Command>::on_timer(timer)
                }
            }
            bindings::export!(MinstrelExport with_types_in bindings);
        };
    };
}

/// Exports a [`v2::Mention`](crate::v2::Mention) implementation as the plugin's 0.2.0
/// `mention` world; also available as `minstrel_sdk::v2::export_mention!`.
///
/// Takes the same optional arguments as [`export_source_v2!`](crate::export_source_v2!).
#[macro_export]
macro_rules! export_mention_v2 {
    ($plugin:ty $(, $($describe:tt)*)?) => {
        const _: () = {
            $crate::__world_v2!(mention);
            struct MinstrelExport;
            impl bindings::Guest for MinstrelExport {
                fn describe() -> $crate::v2::PluginInfo {
                    <$plugin as $crate::v2::Mention>::describe(
                        $crate::__describe_v2!(other $(, $($describe)*)?)
                    )
                }
                fn claims(message: $crate::v2::Message) -> bool {
                    <$plugin as $crate::v2::Mention>::claims(&message)
                }
                fn handle(
                    message: $crate::v2::Message,
                ) -> ::std::result::Result<$crate::v2::Reply, ::std::string::String> {
                    <$plugin as $crate::v2::Mention>::handle(message)
                }
                fn on_press(
                    press: $crate::v2::Press,
                ) -> ::std::result::Result<$crate::v2::PressAnswer, ::std::string::String> {
                    <$plugin as $crate::v2::Mention>::on_press(press)
                }
                fn on_timer(timer: $crate::v2::Timer) {
                    <$plugin as $crate::v2::Mention>::on_timer(timer)
                }
            }
            bindings::export!(MinstrelExport with_types_in bindings);
        };
    };
}

/// Generates a 0.2.0 world's bindings (its `Guest` trait, its exports and the
/// `component-type` section describing it) as module `bindings` in the plugin crate,
/// reusing the SDK's interface bindings, so the types are the SDK's.
///
/// Each world is an inline one that `include`s the real one (the component is the
/// same: same imports, same exports) and also `use`s the 0.2.0 types of the names
/// the 0.1 worlds `use` (`track`, `sink`, `message`, `command-spec`, `invocation`,
/// `reply`, `context`). The SDK's 0.1 bindings are linked into every plugin, and their
/// world-level types would otherwise be added to a 0.2 plugin's imports at 0.1.0;
/// wit-component merges world-level types by name, the plugin's own section first, so
/// these names resolve to 0.2.0. The cost: a `command` or `mention` plugin also imports
/// `minstrel:plugin/audio@0.2.0` (for `sink`), as a 0.1 plugin imports `audio@0.1.0`.
#[doc(hidden)]
#[macro_export]
macro_rules! __world_v2 {
    (source) => {
        // Generated code: its functions take one argument per WIT record field.
        #[allow(clippy::too_many_arguments)]
        mod bindings {
            $crate::__generate_v2!(
                inline: "
                    package minstrel:sdk;
                    world source-v2 {
                        include minstrel:plugin/source@0.2.0;
                        use minstrel:plugin/types@0.2.0.{command-spec, invocation, reply, context, message};
                    }
                ",
                with: {
                    "minstrel:plugin/types@0.2.0": ::minstrel_sdk::v2::__private::interfaces::types,
                    "minstrel:plugin/log@0.2.0": ::minstrel_sdk::v2::__private::interfaces::log,
                    "minstrel:plugin/kv@0.2.0": ::minstrel_sdk::v2::__private::interfaces::kv,
                    "minstrel:plugin/http@0.2.0": ::minstrel_sdk::v2::__private::interfaces::http,
                    "minstrel:plugin/media@0.2.0": ::minstrel_sdk::v2::__private::interfaces::media,
                    "minstrel:plugin/audio@0.2.0": ::minstrel_sdk::v2::__private::interfaces::audio,
                    "minstrel:plugin/config@0.2.0": ::minstrel_sdk::v2::__private::interfaces::config,
                    "minstrel:plugin/live@0.2.0": ::minstrel_sdk::v2::__private::interfaces::live,
                },
                runtime_path: "::minstrel_sdk::v2::__private::wit_bindgen::rt",
            );
        }
    };
    (command) => {
        // Generated code: its functions take one argument per WIT record field.
        #[allow(clippy::too_many_arguments)]
        mod bindings {
            $crate::__generate_v2!(
                inline: "
                    package minstrel:sdk;
                    world command-v2 {
                        include minstrel:plugin/command@0.2.0;
                        use minstrel:plugin/types@0.2.0.{track, message};
                        use minstrel:plugin/audio@0.2.0.{sink};
                    }
                ",
                with: {
                    "minstrel:plugin/types@0.2.0": ::minstrel_sdk::v2::__private::interfaces::types,
                    "minstrel:plugin/log@0.2.0": ::minstrel_sdk::v2::__private::interfaces::log,
                    "minstrel:plugin/kv@0.2.0": ::minstrel_sdk::v2::__private::interfaces::kv,
                    "minstrel:plugin/http@0.2.0": ::minstrel_sdk::v2::__private::interfaces::http,
                    "minstrel:plugin/llm@0.2.0": ::minstrel_sdk::v2::__private::interfaces::llm,
                    "minstrel:plugin/player@0.2.0": ::minstrel_sdk::v2::__private::interfaces::player,
                    "minstrel:plugin/media@0.2.0": ::minstrel_sdk::v2::__private::interfaces::media,
                    "minstrel:plugin/config@0.2.0": ::minstrel_sdk::v2::__private::interfaces::config,
                    "minstrel:plugin/timers@0.2.0": ::minstrel_sdk::v2::__private::interfaces::timers,
                    "minstrel:plugin/messages@0.2.0": ::minstrel_sdk::v2::__private::interfaces::messages,
                    "minstrel:plugin/audio@0.2.0": ::minstrel_sdk::v2::__private::interfaces::audio,
                },
                runtime_path: "::minstrel_sdk::v2::__private::wit_bindgen::rt",
            );
        }
    };
    (mention) => {
        // Generated code: its functions take one argument per WIT record field.
        #[allow(clippy::too_many_arguments)]
        mod bindings {
            $crate::__generate_v2!(
                inline: "
                    package minstrel:sdk;
                    world mention-v2 {
                        include minstrel:plugin/mention@0.2.0;
                        use minstrel:plugin/types@0.2.0.{track, command-spec, invocation, context};
                        use minstrel:plugin/audio@0.2.0.{sink};
                    }
                ",
                with: {
                    "minstrel:plugin/types@0.2.0": ::minstrel_sdk::v2::__private::interfaces::types,
                    "minstrel:plugin/log@0.2.0": ::minstrel_sdk::v2::__private::interfaces::log,
                    "minstrel:plugin/kv@0.2.0": ::minstrel_sdk::v2::__private::interfaces::kv,
                    "minstrel:plugin/http@0.2.0": ::minstrel_sdk::v2::__private::interfaces::http,
                    "minstrel:plugin/llm@0.2.0": ::minstrel_sdk::v2::__private::interfaces::llm,
                    "minstrel:plugin/draft@0.2.0": ::minstrel_sdk::v2::__private::interfaces::draft,
                    "minstrel:plugin/config@0.2.0": ::minstrel_sdk::v2::__private::interfaces::config,
                    "minstrel:plugin/timers@0.2.0": ::minstrel_sdk::v2::__private::interfaces::timers,
                    "minstrel:plugin/messages@0.2.0": ::minstrel_sdk::v2::__private::interfaces::messages,
                    "minstrel:plugin/audio@0.2.0": ::minstrel_sdk::v2::__private::interfaces::audio,
                },
                runtime_path: "::minstrel_sdk::v2::__private::wit_bindgen::rt",
            );
        }
    };
}

/// The [`PluginInfo`](crate::v2::PluginInfo) an export macro passes to `describe`:
/// the name and version of the crate that expands it (the plugin's) and the macro's
/// arguments. `command` also accepts `player_events`; `other` (source, mention) does
/// not.
#[doc(hidden)]
#[macro_export]
macro_rules! __describe_v2 {
    (
        command
        $(, http = [$($host:literal),* $(,)?])?
        $(, kv_quota = $quota:literal)?
        $(, settings = [$($name:literal : $description:literal $(($($flag:ident),* $(,)?))?),* $(,)?])?
        $(, player_events = $events:literal)?
        $(,)?
    ) => {
        $crate::v2::__private::info(
            ::core::env!("CARGO_PKG_NAME"),
            ::core::env!("CARGO_PKG_VERSION"),
            &[$($($host),*)?],
            &[$($quota)?],
            ::std::vec![$($(
                $crate::v2::__private::setting(
                    $name,
                    $description,
                    &[$($($crate::v2::__private::Flag::$flag),*)?],
                )
            ),*)?],
            &[$($events)?],
        )
    };
    (
        other
        $(, http = [$($host:literal),* $(,)?])?
        $(, kv_quota = $quota:literal)?
        $(, settings = [$($name:literal : $description:literal $(($($flag:ident),* $(,)?))?),* $(,)?])?
        $(,)?
    ) => {
        $crate::v2::__private::info(
            ::core::env!("CARGO_PKG_NAME"),
            ::core::env!("CARGO_PKG_VERSION"),
            &[$($($host),*)?],
            &[$($quota)?],
            ::std::vec![$($(
                $crate::v2::__private::setting(
                    $name,
                    $description,
                    &[$($($crate::v2::__private::Flag::$flag),*)?],
                )
            ),*)?],
            &[],
        )
    };
}

#[doc(hidden)]
pub mod __private {
    use super::{ConfigKey, PluginInfo};

    /// The interface bindings the worlds generated in plugin crates reuse.
    pub use super::bindings::minstrel::plugin as interfaces;
    /// The runtime of the generated bindings, and the macro generating them.
    pub use wit_bindgen;

    /// A flag of a setting in the export macros (`"token": "..." (secret, required)`).
    /// Lower case so the macro can name a variant by the flag as written; an unknown
    /// flag is a compile error.
    #[allow(non_camel_case_types)]
    #[derive(Clone, Copy)]
    pub enum Flag {
        secret,
        required,
    }

    /// One setting with its flags.
    pub fn setting(name: &str, description: &str, flags: &[Flag]) -> ConfigKey {
        ConfigKey {
            name: name.into(),
            description: description.into(),
            secret: flags.iter().any(|flag| matches!(flag, Flag::secret)),
            required: flags.iter().any(|flag| matches!(flag, Flag::required)),
        }
    }

    /// The plugin info; `kv_quota` and `player_events` hold at most one value (empty:
    /// not given).
    pub fn info(
        name: &str,
        version: &str,
        http_hosts: &[&str],
        kv_quota: &[u32],
        config_keys: Vec<ConfigKey>,
        player_events: &[bool],
    ) -> PluginInfo {
        PluginInfo {
            name: name.into(),
            version: version.into(),
            http_hosts: http_hosts.iter().map(|host| (*host).into()).collect(),
            kv_quota: kv_quota.first().copied(),
            config_keys,
            player_events: player_events.first().copied().unwrap_or(false),
        }
    }
}
