//! What a guild's player task is asked: every change to a guild's playback is one of these.

use crate::player::filter::Filter;
use tokio::sync::oneshot;

use crate::player::prepare::Playable;
use crate::player::queue::{Queue, Song};
use crate::player::{Command, NowPlaying, Outcome, PlayerError, Queued};

/// A message to a guild's player task.
pub(in crate::player) enum Request {
    Enqueue {
        songs: Vec<Song>,
        /// The first song, prepared by the caller.
        ready: Option<Playable>,
        /// The voice channel to play in; `None`: the one the player is in.
        voice: Option<u64>,
        text: Option<u64>,
        /// Where in the queue the first song goes (0: next); `None`: last.
        at: Option<usize>,
        reply: oneshot::Sender<Result<Queued, PlayerError>>,
    },
    Command(Command, oneshot::Sender<Result<Outcome, PlayerError>>),
    NowPlaying(oneshot::Sender<Option<NowPlaying>>),
    Queue(oneshot::Sender<Queue>),
    /// Whether the queue has room for one more song requested by `user`, and the
    /// filter songs are rendered through.
    Room {
        user: u64,
        reply: oneshot::Sender<Result<Filter, PlayerError>>,
    },
    /// Whether the bot is alone in its voice channel now.
    Alone(bool),
    /// A track stopped (finished, failed, or was stopped).
    Ended {
        play_id: u64,
        error: Option<String>,
    },
    /// The download a streamed play read from failed while it played.
    StreamFailed {
        play_id: u64,
        error: String,
    },
    /// A background preparation finished.
    Prepared {
        uid: u64,
        /// The filter it was prepared with (the guild's may have changed since).
        filter: Filter,
        result: Result<Playable, String>,
    },
    /// The bot is stopping: save, leave the voice channel, end the task.
    Shutdown(oneshot::Sender<()>),
}
