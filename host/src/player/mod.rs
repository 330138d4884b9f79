//! Playback: per-guild queues on songbird, playing leased renditions from the cache.
//!
//! - [`queue`]: a guild's queue as plain data (loop modes, shuffle, paging, limits).
//! - [`control`]: who may change a guild's playback, and how many votes skip a song.
//! - [`filter`]: the audio filters a guild may choose, rendered as renditions of their own.
//! - [`resolve`]: what a user typed -> songs, through the source plugins.
//! - [`rendition`]: loudness measurement and the Ogg Opus rendition (ffmpeg).
//! - [`prepare`]: song -> its rendition cached and leased (download and render once),
//!   or, not cached yet, [`stream`]ed from its download as it arrives.
//! - [`live`]: live streams (radio, HLS), played from their URL, never cached.
//! - [`guild`]: one task per guild owning its queue, call and leases.
//!
//! [`Players`] is the front door: it finds (or starts) a guild's task and sends it a
//! request. The only lock is the map from guild to task, held for a lookup; guilds never
//! wait on each other.

pub mod control;
pub mod events;
pub mod filter;
pub mod guild;
pub mod live;
pub mod prepare;
pub mod queue;
pub mod rendition;
pub mod resolve;
pub mod settings;
pub mod stream;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poise::serenity_prelude::Http;
use songbird::Songbird;
use tokio::sync::{mpsc, oneshot};

use crate::config::PlayerConfig;
use crate::plugins::PluginHost;
use crate::shards::Owned;
use crate::store::Store;

pub use filter::Filter;
pub use prepare::{Playable, Progress, Ready, Stage};
pub use queue::{Limits, LoopMode, Queue, QueueError, Song};
pub use resolve::{Found, ResolveError};

use guild::Request;

#[derive(Debug, thiserror::Error)]
pub enum PlayerError {
    #[error("nothing is playing")]
    NothingPlaying,
    #[error("join a voice channel first")]
    NotInVoice,
    #[error("I am playing in <#{0}>; join that channel or stop the music first")]
    OtherChannel(u64),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("{0}")]
    Resolve(String),
    #[error("could not get the audio: {0}")]
    Prepare(String),
    #[error("voice: {0}")]
    Voice(String),
    #[error("the player stopped")]
    Gone,
    #[error("this is a live stream: it cannot seek")]
    Live,
    #[error("the settings could not be saved: {0}")]
    Store(String),
}

impl From<ResolveError> for PlayerError {
    fn from(e: ResolveError) -> Self {
        Self::Resolve(e.to_string())
    }
}

/// Changes to a guild's playback.
#[derive(Debug, Clone)]
pub enum Command {
    /// Skip now (a DJ, or the bot in no voice channel).
    Skip,
    /// A listener's vote to skip the current song: it skips once the votes of people
    /// still in `listeners` reach [`control::votes_needed`]. One vote per user per song.
    VoteSkip {
        voter: u64,
        /// The people (not bots) in the bot's voice channel now.
        listeners: Vec<u64>,
    },
    Pause,
    Resume,
    Stop,
    Leave,
    /// Percent, 0-200.
    Volume(u8),
    Loop(LoopMode),
    Shuffle,
    /// 1-based position in the queue.
    Remove(usize),
    Move(usize, usize),
    Seek(Duration),
    /// Stay in the voice channel even when idle or alone (24/7).
    AlwaysOn(bool),
    /// Render songs through this filter from now on; the current song goes on from
    /// the same point once its filtered rendition is ready.
    Filter(Filter),
}

/// What a [`Command`] did.
#[derive(Debug, Clone)]
pub enum Outcome {
    Skipped {
        skipped: Option<Song>,
        now: Option<Song>,
    },
    /// A vote was counted (or was already counted: `again`); not enough yet.
    Voted {
        votes: usize,
        needed: usize,
        again: bool,
    },
    Paused,
    Resumed,
    Stopped,
    Left,
    Volume(u8),
    Loop(LoopMode),
    Shuffled(usize),
    Removed(Song),
    Moved(Song, usize),
    Seeked(Duration),
    AlwaysOn(bool),
    Filter(Filter),
}

/// The current song and where it is.
#[derive(Debug, Clone)]
pub struct NowPlaying {
    pub song: Song,
    pub position: Duration,
    pub paused: bool,
    /// Still being downloaded or rendered.
    pub preparing: bool,
    pub loop_mode: LoopMode,
    pub volume: u8,
    /// The filter of what plays now (the guild's choice, once its rendition is ready).
    pub filter: Filter,
    /// For a live stream, what the station says plays now (its ICY title).
    pub station_title: Option<String>,
}

/// One guild's player, for the status page.
#[derive(Debug, Clone)]
pub struct GuildStatus {
    pub guild: u64,
    pub now_playing: Option<NowPlaying>,
    /// Songs waiting after the current one.
    pub queued: usize,
}

/// What queueing songs did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The first song's position (0: it plays now).
    pub position: usize,
    /// Songs queued.
    pub added: usize,
    /// Songs that did not fit, and the limit they hit.
    pub left_out: Option<(usize, QueueError)>,
}

/// What every guild task shares.
pub(crate) struct Shared {
    pub store: Store,
    pub plugins: PluginHost,
    pub config: PlayerConfig,
    pub renderer: rendition::Renderer,
    pub events: events::Events,
    pub songbird: Arc<Songbird>,
    pub http: Arc<Http>,
}

impl Shared {
    /// The settings in force in `guild`: its own over the operator's.
    async fn settings(&self, guild: u64) -> settings::Effective {
        settings::GuildSettings::load(&self.store, guild)
            .await
            .over(&self.config)
    }
}

/// Every guild's player; cheap to clone.
#[derive(Clone)]
pub struct Players {
    shared: Arc<Shared>,
    guilds: Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Request>>>>,
}

impl Players {
    pub fn new(
        store: Store,
        plugins: PluginHost,
        config: PlayerConfig,
        songbird: Arc<Songbird>,
        http: Arc<Http>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                events: events::Events::new(plugins.clone()),
                plugins,
                renderer: rendition::Renderer::new(config.clone()),
                config,
                songbird,
                http,
            }),
            guilds: Arc::default(),
        }
    }

    pub fn config(&self) -> &PlayerConfig {
        &self.shared.config
    }

    /// Every guild whose player has a song playing or queued, by guild id.
    pub async fn status(&self) -> Vec<GuildStatus> {
        let mut guilds: Vec<u64> = self
            .guilds
            .lock()
            .expect("guild map")
            .keys()
            .copied()
            .collect();
        guilds.sort_unstable();
        let mut out = Vec::new();
        for guild in guilds {
            let (Ok(now_playing), Ok(queue)) =
                (self.now_playing(guild).await, self.queue(guild).await)
            else {
                continue;
            };
            if now_playing.is_some() || !queue.upcoming.is_empty() {
                out.push(GuildStatus {
                    guild,
                    now_playing,
                    queued: queue.upcoming.len(),
                });
            }
        }
        out
    }

    /// Guilds where the bot is in a voice channel.
    pub async fn in_voice(&self) -> usize {
        let calls: Vec<_> = self.shared.songbird.iter().map(|(_, call)| call).collect();
        let mut count = 0;
        for call in calls {
            if call.lock().await.current_channel().is_some() {
                count += 1;
            }
        }
        count
    }

    fn guild(&self, guild: u64) -> mpsc::UnboundedSender<Request> {
        let mut guilds = self.guilds.lock().expect("guild map");
        guilds
            .entry(guild)
            .or_insert_with(|| guild::spawn(guild, Arc::clone(&self.shared), None))
            .clone()
    }

    async fn ask<T>(
        &self,
        guild: u64,
        request: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, PlayerError> {
        let (tx, rx) = oneshot::channel();
        self.guild(guild)
            .send(request(tx))
            .map_err(|_| PlayerError::Gone)?;
        rx.await.map_err(|_| PlayerError::Gone)
    }

    /// The songs `query` names (search words or a URL), for `user`, from the sources
    /// `guild` allows (any, for no guild).
    pub async fn resolve(
        &self,
        guild: Option<u64>,
        query: &str,
        user: u64,
    ) -> Result<Found, PlayerError> {
        let settings = match guild {
            Some(guild) => Some(self.settings(guild).await),
            None => None,
        };
        let allows = |source: &str| settings.as_ref().is_none_or(|s| s.allows(source));
        Ok(resolve::resolve(&self.shared.plugins, query, user, allows).await?)
    }

    /// The settings in force in `guild`: its own over the operator's.
    pub async fn settings(&self, guild: u64) -> settings::Effective {
        self.shared.settings(guild).await
    }

    /// What `guild` set for itself.
    pub async fn guild_settings(&self, guild: u64) -> settings::GuildSettings {
        settings::GuildSettings::load(&self.shared.store, guild).await
    }

    /// Replaces what `guild` set for itself; a new default volume applies to its player
    /// now.
    pub async fn set_guild_settings(
        &self,
        guild: u64,
        settings: &settings::GuildSettings,
    ) -> Result<(), PlayerError> {
        let before = self.guild_settings(guild).await;
        settings
            .save(&self.shared.store, guild)
            .await
            .map_err(|e| PlayerError::Store(e.to_string()))?;
        if settings.default_volume != before.default_volume {
            let volume = settings.over(&self.shared.config).default_volume;
            self.command(guild, Command::Volume(volume)).await.ok();
        }
        Ok(())
    }

    /// Makes `song` playable through `filter` as soon as it can be: its cached
    /// rendition, else its download as it arrives (see [`prepare::start`]).
    pub async fn prepare(
        &self,
        song: &Song,
        filter: Filter,
        progress: &Progress,
    ) -> Result<Playable, PlayerError> {
        let shared = &self.shared;
        prepare::start(
            &shared.store,
            &shared.plugins,
            &shared.renderer,
            song,
            filter,
            progress,
        )
        .await
        .map_err(|e| PlayerError::Prepare(e.to_string()))
    }

    /// Queues `songs` in `guild`, joining voice channel `voice` (default: the one the
    /// player is in) if needed and starting playback if nothing plays. `ready` is the
    /// first song, already prepared. Songs past the queue's limits (`[player]
    /// max_queue`, `max_queue_per_user`) are left out; none fitting is an error.
    pub async fn add(
        &self,
        guild: u64,
        voice: Option<u64>,
        text: Option<u64>,
        songs: Vec<Song>,
        ready: Option<Playable>,
    ) -> Result<Queued, PlayerError> {
        self.ask(guild, |reply| Request::Enqueue {
            songs,
            ready,
            voice,
            text,
            at: None,
            reply,
        })
        .await?
    }

    /// [`Players::add`] in voice channel `voice` (default: the one the player is in),
    /// with the first song at position `at` of the queue (0: next) when something
    /// already plays.
    pub async fn add_at(
        &self,
        guild: u64,
        voice: Option<u64>,
        songs: Vec<Song>,
        at: Option<usize>,
    ) -> Result<Queued, PlayerError> {
        self.ask(guild, |reply| Request::Enqueue {
            songs,
            ready: None,
            voice,
            text: None,
            at,
            reply,
        })
        .await?
    }

    /// Whether `guild`'s queue has room for one more song requested by `user`: a cheap
    /// check before fetching a song that [`Players::add`] would refuse. `add` still has
    /// the final word (the queue may fill meanwhile). Also the filter the guild's songs
    /// are rendered through, to prepare that rendition and no other.
    pub async fn room(&self, guild: u64, user: u64) -> Result<Filter, PlayerError> {
        self.ask(guild, |reply| Request::Room { user, reply })
            .await?
    }

    pub async fn command(&self, guild: u64, command: Command) -> Result<Outcome, PlayerError> {
        self.ask(guild, |reply| Request::Command(command, reply))
            .await?
    }

    pub async fn now_playing(&self, guild: u64) -> Result<Option<NowPlaying>, PlayerError> {
        self.ask(guild, Request::NowPlaying).await
    }

    pub async fn queue(&self, guild: u64) -> Result<Queue, PlayerError> {
        self.ask(guild, Request::Queue).await
    }

    /// Tells a guild's player whether the bot is now alone in its voice channel.
    pub fn set_alone(&self, guild: u64, alone: bool) {
        let sender = self.guilds.lock().expect("guild map").get(&guild).cloned();
        if let Some(sender) = sender {
            let _ = sender.send(Request::Alone(alone));
        }
    }

    /// Saves every guild's player and leaves its voice channel (the bot is stopping;
    /// the queues resume at the next start).
    pub async fn shutdown(&self) {
        let senders: Vec<_> = self
            .guilds
            .lock()
            .expect("guild map")
            .drain()
            .map(|(_, tx)| tx)
            .collect();
        let waits = senders.into_iter().filter_map(|tx| {
            let (done, wait) = oneshot::channel();
            tx.send(Request::Shutdown(done)).ok().map(|()| wait)
        });
        futures::future::join_all(waits).await;
    }

    /// Starts the players saved in the database (queues survive restarts) of the guilds
    /// this process owns. Returns how many guilds resumed playing.
    pub async fn resume_saved(&self, owned: Owned) -> Result<usize, PlayerError> {
        let saved = self
            .shared
            .store
            .saved_players()
            .await
            .map_err(|e| PlayerError::Prepare(e.to_string()))?;
        let mut resumed = 0;
        let mut guilds = self.guilds.lock().expect("guild map");
        // Other processes own the other guilds' queues (see `crate::shards`).
        for (guild, json) in saved.into_iter().filter(|(g, _)| owned.owns(*g)) {
            let state: guild::Saved = match serde_json::from_str(&json) {
                Ok(state) => state,
                Err(e) => {
                    tracing::warn!(guild, error = %e, "ignoring an unreadable saved player");
                    continue;
                }
            };
            if guilds.contains_key(&guild) {
                continue;
            }
            resumed += usize::from(state.queue.current.is_some() && state.voice_channel.is_some());
            guilds.insert(
                guild,
                guild::spawn(guild, Arc::clone(&self.shared), Some(state)),
            );
        }
        Ok(resumed)
    }
}

/// `[=====>-----] 1:02 / 3:30`
pub fn progress_bar(position: Duration, duration: Option<Duration>, width: usize) -> String {
    let Some(duration) = duration.filter(|d| !d.is_zero()) else {
        return clock(position);
    };
    let done = ((position.as_secs_f64() / duration.as_secs_f64()).clamp(0.0, 1.0) * width as f64)
        .round() as usize;
    let bar: String = (0..width)
        .map(|i| match i.cmp(&done) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal => '>',
            std::cmp::Ordering::Greater => '-',
        })
        .collect();
    format!("[{bar}] {} / {}", clock(position), clock(duration))
}

/// `m:ss`, or `h:mm:ss` past an hour.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Parses `90`, `1:30` or `1:02:03` as a position.
pub fn parse_clock(s: &str) -> Option<Duration> {
    let mut total = 0u64;
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    for part in parts {
        total = total.checked_mul(60)? + part.parse::<u64>().ok()?;
    }
    Some(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks() {
        assert_eq!(clock(Duration::from_secs(62)), "1:02");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(parse_clock("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_clock("1:30"), Some(Duration::from_secs(90)));
        assert_eq!(parse_clock("1:02:03"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_clock("1::3"), None);
        assert_eq!(parse_clock("x"), None);
        assert_eq!(parse_clock("1:2:3:4"), None);
    }

    #[test]
    fn bars() {
        let bar = progress_bar(Duration::from_secs(30), Some(Duration::from_secs(60)), 10);
        assert_eq!(bar, "[=====>----] 0:30 / 1:00");
        let end = progress_bar(Duration::from_secs(90), Some(Duration::from_secs(60)), 4);
        assert_eq!(end, "[====] 1:30 / 1:00");
        assert_eq!(progress_bar(Duration::from_secs(5), None, 10), "0:05");
    }
}
