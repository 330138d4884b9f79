//! Player events for plugins granted `player-events`: a track started or ended, the
//! queue ran out, the bot joined or left voice.
//!
//! Playback never waits for a plugin: [`Events::emit`] only puts the event in each
//! listening plugin's queue (bounded; a full queue drops the event for that plugin and
//! counts it). One task per plugin delivers its queue in order, one call at a time, so
//! each plugin sees a guild's events in the order they happened, each at most once; a
//! slow, looping or trapping plugin only delays (or loses) its own events.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use super::queue::Song;
use crate::plugins::PluginHost;
use crate::plugins::types::{EndReason, PlayerEvent, PlayerEventKind, Track};

/// Events waiting per plugin before new ones are dropped for it.
const QUEUE: usize = 256;

/// What happened, in the player's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happened {
    Started,
    Ended(EndReason),
    QueueEnded,
    Joined(u64),
    Left,
}

/// The dispatcher; one per [`super::Players`].
pub(crate) struct Events {
    plugins: PluginHost,
    queues: Mutex<HashMap<String, mpsc::Sender<PlayerEvent>>>,
    dropped: AtomicU64,
}

impl Events {
    pub fn new(plugins: PluginHost) -> Self {
        Self {
            plugins,
            queues: Mutex::new(HashMap::new()),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues the event for every listening plugin; never waits.
    pub fn emit(&self, guild: u64, happened: Happened, song: Option<&Song>, position: Duration) {
        let kind = match happened {
            Happened::Started => "track_started",
            Happened::Ended(_) => "track_ended",
            Happened::QueueEnded => "queue_ended",
            Happened::Joined(_) => "joined_voice",
            Happened::Left => "left_voice",
        };
        metrics::counter!(crate::metrics::PLAYER_EVENTS, "kind" => kind).increment(1);
        let listeners = self.plugins.listeners();
        if listeners.is_empty() {
            return;
        }
        let event = PlayerEvent {
            guild_id: guild,
            kind: match happened {
                Happened::Started => PlayerEventKind::TrackStarted,
                Happened::Ended(reason) => PlayerEventKind::TrackEnded(reason),
                Happened::QueueEnded => PlayerEventKind::QueueEnded,
                Happened::Joined(channel) => PlayerEventKind::JoinedVoice(channel),
                Happened::Left => PlayerEventKind::LeftVoice,
            },
            track: song.map(|song| Track {
                id: song.id.clone(),
                title: song.title.clone(),
                duration_ms: song.duration_ms,
                artwork_url: None,
                page_url: song.page_url.clone(),
            }),
            position_ms: position.as_millis() as u64,
            at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        };
        let mut queues = self.queues.lock().expect("events lock");
        for name in listeners {
            let tx = queues
                .entry(name.clone())
                .or_insert_with(|| self.deliver(name.clone()));
            if tx.try_send(event.clone()).is_err() {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(plugin = %name, dropped, "a plugin is too slow for player events; dropping some");
                }
            }
        }
    }

    /// The task that hands `name` its events, one call at a time.
    fn deliver(&self, name: String) -> mpsc::Sender<PlayerEvent> {
        let (tx, mut rx) = mpsc::channel::<PlayerEvent>(QUEUE);
        let plugins = self.plugins.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                // Failures are logged and counted by the runtime; the next event goes on.
                let _ = plugins.player_event(&name, &event).await;
            }
        });
        tx
    }
}
