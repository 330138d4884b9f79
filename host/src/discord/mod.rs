//! The Discord front: poise commands (built-in and from command plugins), mentions
//! routed to mention plugins, exactly-once handling through the store's claims.
//!
//! - [`bot`]: building and starting the serenity client and poise framework, against
//!   Discord or the local server.
//! - [`commands`]: the built-in commands (`help`, `ping`, `plugins`, `cache`).
//! - [`plugin_commands`]: dispatch of plugin commands (slash, autocomplete, prefix).
//! - [`registry`]: registering the commands with Discord, again when plugins change.
//! - [`reply`]: a plugin's reply as Discord messages (split, embeds, files).
//! - [`music`]: the playback commands (`play`, `skip`, `queue`, ...).
//! - [`keystrokes`]: debounce and per-user rate limit of `/play` search suggestions.
//! - [`attachments`]: the bounded download of a mention's files for the plugin.
//! - [`mentions`]: messages that mention the bot: which plugin answers, and the call.
//! - [`presses`]: presses on plugin buttons and select menus, routed to their plugin.
//! - [`poster`]: messages plugins post on their own (`messages` interface).
//! - [`live`]: a reply shown while it is written (posted, edited at most once a second).
//! - [`split`]: splitting replies at 2,000 characters.
//!
//! **Mentions.** Everything the bot sends or edits goes out with the allowed mentions
//! of [`bot::allowed_mentions`], set once as the HTTP client's default: no `@everyone`,
//! `@here`, role or user pings from text, whoever wrote it (a song title, a plugin, an
//! LLM). A reply may notify the author of the message it answers, who asked.
//!
//! The data path: event -> claim (store) -> route (built-in, plugin command or
//! mention plugin) -> plugin call -> reply. A claim is taken before any side effect, so
//! an event delivered twice, replayed after a resume or seen by a second process
//! produces one reply.

pub mod attachments;
pub mod bot;
pub mod commands;
pub mod keystrokes;
pub mod live;
pub mod mentions;
pub mod music;
pub mod plugin_commands;
pub mod poster;
pub mod presses;
pub mod probe;
pub mod registry;
pub mod reply;
pub mod settings;
pub mod split;

use std::sync::{Arc, Mutex};

use crate::player::Players;
use crate::plugins::PluginHost;
use crate::store::Store;

pub use bot::{BotOptions, Connection, Gateway, RunningBot, start};

pub type Error = anyhow::Error;
pub type Context<'a> = poise::Context<'a, Data, Error>;

/// What every handler can reach.
pub struct Data {
    pub store: Store,
    pub plugins: PluginHost,
    pub options: BotOptions,
    /// Plugin commands as last registered.
    pub plugin_commands: Arc<Mutex<plugin_commands::CommandTable>>,
    pub players: Players,
    /// Debounce and rate limit of `/play` search suggestions.
    pub keystrokes: keystrokes::Keystrokes,
}

/// The built-in commands (slash and prefix).
pub fn builtin_commands() -> Vec<poise::Command<Data, Error>> {
    commands::all()
        .into_iter()
        .chain(music::all())
        .chain([settings::settings()])
        .collect()
}

/// Names of the built-in commands: plugin commands may not take them.
pub fn builtin_command_names() -> Vec<String> {
    builtin_commands()
        .iter()
        .flat_map(|c| std::iter::once(&c.name).chain(c.aliases.iter()))
        .map(|name| name.to_string())
        .collect()
}

/// Claim kinds: one per kind of event that can produce a reply.
pub mod claim {
    pub const MESSAGE: &str = "message";
    pub const INTERACTION: &str = "interaction";
}
