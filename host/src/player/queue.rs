//! A guild's queue as plain data: what is playing, what comes next, and the loop mode.
//! No I/O here, so every operation is unit-tested and the queue serialises as is.

use serde::{Deserialize, Serialize};

/// A song as the player knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Song {
    /// The source plugin that resolved it (and fetches its audio).
    pub source: String,
    /// The source's canonical id: the cache key is `(source, id)`.
    pub id: String,
    pub title: String,
    pub duration_ms: Option<u64>,
    pub page_url: Option<String>,
    /// Who asked for it.
    pub requested_by: u64,
    /// Tells apart two queue entries of the same song; set by the player on enqueue.
    #[serde(default)]
    pub uid: u64,
    /// Where a live stream plays from (its source marked it live): never cached, no
    /// end, no seeking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoopMode {
    #[default]
    Off,
    /// Repeat the current song.
    Track,
    /// When the queue runs out, start it again.
    Queue,
}

impl LoopMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "off" | "none" => Some(Self::Off),
            "track" | "song" | "one" => Some(Self::Track),
            "queue" | "all" => Some(Self::Queue),
            _ => None,
        }
    }
}

impl std::fmt::Display for LoopMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Off => "off",
            Self::Track => "track",
            Self::Queue => "queue",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("the queue has no song at position {0}")]
    NoSuchPosition(usize),
    #[error("the queue is full ({0} songs)")]
    Full(usize),
    #[error("one member may have at most {0} songs in the queue")]
    FullForUser(usize),
}

/// How many songs a queue holds, counting the current song, the upcoming ones and the
/// played ones kept for `loop queue` (they come round again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_songs: usize,
    /// Songs one member (`requested_by`) may have in the queue.
    pub max_per_user: usize,
}

/// The current song and the upcoming ones. Positions shown to users are 1-based over
/// `upcoming`; the current song is "now playing", not position 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    pub current: Option<Song>,
    pub upcoming: Vec<Song>,
    /// Songs already played, kept for `loop queue`.
    #[serde(default)]
    pub played: Vec<Song>,
    pub loop_mode: LoopMode,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.upcoming.len() + usize::from(self.current.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every song held: current, upcoming and played (kept for `loop queue`).
    fn held(&self) -> impl Iterator<Item = &Song> {
        self.current
            .iter()
            .chain(&self.upcoming)
            .chain(&self.played)
    }

    /// Whether `limits` leave room for one more song requested by `user`.
    pub fn room(&self, user: u64, limits: Limits) -> Result<(), QueueError> {
        if self.held().count() >= limits.max_songs {
            return Err(QueueError::Full(limits.max_songs));
        }
        if self.held().filter(|s| s.requested_by == user).count() >= limits.max_per_user {
            return Err(QueueError::FullForUser(limits.max_per_user));
        }
        Ok(())
    }

    /// Appends `song` within `limits`; returns its 1-based position in `upcoming` (0
    /// when it becomes the current song because nothing was playing).
    pub fn push(&mut self, song: Song, limits: Limits) -> Result<usize, QueueError> {
        self.room(song.requested_by, limits)?;
        if self.current.is_none() {
            self.current = Some(song);
            return Ok(0);
        }
        self.upcoming.push(song);
        Ok(self.upcoming.len())
    }

    /// Moves to the next song after the current one finished (honouring the loop mode)
    /// and returns it.
    pub fn advance(&mut self) -> Option<&Song> {
        match self.loop_mode {
            LoopMode::Track if self.current.is_some() => {}
            _ => self.next_song(),
        }
        self.current.as_ref()
    }

    /// Skips the current song whatever the loop mode (a user's skip beats `loop track`).
    pub fn skip(&mut self) -> Option<&Song> {
        self.next_song();
        self.current.as_ref()
    }

    fn next_song(&mut self) {
        if let Some(done) = self.current.take() {
            self.played.push(done);
        }
        if self.upcoming.is_empty() && self.loop_mode == LoopMode::Queue {
            self.upcoming = std::mem::take(&mut self.played);
        }
        if !self.upcoming.is_empty() {
            self.current = Some(self.upcoming.remove(0));
        }
        if self.loop_mode != LoopMode::Queue {
            self.played.clear();
        }
    }

    /// Empties the queue (current song included).
    pub fn clear(&mut self) {
        self.current = None;
        self.upcoming.clear();
        self.played.clear();
    }

    /// Removes the song at 1-based `position` in `upcoming`.
    pub fn remove(&mut self, position: usize) -> Result<Song, QueueError> {
        let index = self.index(position)?;
        Ok(self.upcoming.remove(index))
    }

    /// Moves the song at 1-based `from` to 1-based `to` in `upcoming`.
    pub fn move_song(&mut self, from: usize, to: usize) -> Result<&Song, QueueError> {
        let from = self.index(from)?;
        let to = self.index(to)?;
        let song = self.upcoming.remove(from);
        self.upcoming.insert(to, song);
        Ok(&self.upcoming[to])
    }

    /// Shuffles `upcoming` with `rng` (a `u64 -> u64` source, so tests are repeatable).
    pub fn shuffle(&mut self, mut rng: impl FnMut() -> u64) {
        // Fisher-Yates.
        for i in (1..self.upcoming.len()).rev() {
            let j = (rng() % (i as u64 + 1)) as usize;
            self.upcoming.swap(i, j);
        }
    }

    /// The songs on 1-based page `page` of `per_page`, with their positions, and the
    /// number of pages (at least 1).
    pub fn page(&self, page: usize, per_page: usize) -> (Vec<(usize, &Song)>, usize) {
        let per_page = per_page.max(1);
        let pages = self.upcoming.len().div_ceil(per_page).max(1);
        let page = page.clamp(1, pages);
        let items = self
            .upcoming
            .iter()
            .enumerate()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|(i, s)| (i + 1, s))
            .collect();
        (items, pages)
    }

    /// The song after the current one, as `advance` would pick it (for prefetching).
    pub fn peek_next(&self) -> Option<&Song> {
        match self.loop_mode {
            LoopMode::Track => self.current.as_ref(),
            LoopMode::Queue => self.upcoming.first().or_else(|| {
                self.played
                    .first()
                    .or(self.current.as_ref().filter(|_| self.upcoming.is_empty()))
            }),
            LoopMode::Off => self.upcoming.first(),
        }
    }

    fn index(&self, position: usize) -> Result<usize, QueueError> {
        if position == 0 || position > self.upcoming.len() {
            return Err(QueueError::NoSuchPosition(position));
        }
        Ok(position - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song(n: u32) -> Song {
        Song {
            source: "test".into(),
            id: n.to_string(),
            title: format!("song {n}"),
            duration_ms: Some(1_000),
            page_url: None,
            requested_by: 1,
            uid: n as u64,
            live: None,
        }
    }

    fn ids(q: &Queue) -> Vec<String> {
        q.current
            .iter()
            .chain(&q.upcoming)
            .map(|s| s.id.clone())
            .collect()
    }

    const ROOMY: Limits = Limits {
        max_songs: 1_000,
        max_per_user: 1_000,
    };

    fn queue(n: u32) -> Queue {
        let mut q = Queue::default();
        for i in 1..=n {
            q.push(song(i), ROOMY).unwrap();
        }
        q
    }

    #[test]
    fn push_sets_current_first_then_appends() {
        let mut q = Queue::default();
        assert_eq!(q.push(song(1), ROOMY), Ok(0));
        assert_eq!(q.push(song(2), ROOMY), Ok(1));
        assert_eq!(q.push(song(3), ROOMY), Ok(2));
        assert_eq!(ids(&q), ["1", "2", "3"]);
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn advance_without_loop_runs_out() {
        let mut q = queue(2);
        assert_eq!(q.advance().map(|s| s.id.as_str()), Some("2"));
        assert_eq!(q.advance(), None);
        assert!(q.is_empty());
        assert!(q.played.is_empty());
    }

    #[test]
    fn loop_track_repeats_until_skipped() {
        let mut q = queue(2);
        q.loop_mode = LoopMode::Track;
        assert_eq!(q.advance().map(|s| s.id.as_str()), Some("1"));
        assert_eq!(q.peek_next().map(|s| s.id.as_str()), Some("1"));
        assert_eq!(q.skip().map(|s| s.id.as_str()), Some("2"));
    }

    #[test]
    fn loop_queue_starts_over() {
        let mut q = queue(3);
        q.loop_mode = LoopMode::Queue;
        let mut seen = vec![];
        for _ in 0..7 {
            seen.push(q.current.as_ref().unwrap().id.clone());
            q.advance();
        }
        assert_eq!(seen, ["1", "2", "3", "1", "2", "3", "1"]);
        // One song looping on its own.
        let mut q = queue(1);
        q.loop_mode = LoopMode::Queue;
        assert_eq!(q.peek_next().map(|s| s.id.as_str()), Some("1"));
        assert_eq!(q.advance().map(|s| s.id.as_str()), Some("1"));
    }

    #[test]
    fn peek_next_agrees_with_advance() {
        for mode in [LoopMode::Off, LoopMode::Track, LoopMode::Queue] {
            let mut q = queue(3);
            q.loop_mode = mode;
            for _ in 0..6 {
                let expected = q.peek_next().cloned();
                assert_eq!(q.advance().cloned(), expected, "{mode}");
            }
        }
    }

    #[test]
    fn remove_and_move_use_one_based_positions() {
        let mut q = queue(5); // current 1, upcoming 2 3 4 5
        assert_eq!(q.remove(2).unwrap().id, "3");
        assert_eq!(ids(&q), ["1", "2", "4", "5"]);
        assert_eq!(q.move_song(3, 1).unwrap().id, "5");
        assert_eq!(ids(&q), ["1", "5", "2", "4"]);
        assert_eq!(q.remove(0), Err(QueueError::NoSuchPosition(0)));
        assert_eq!(q.remove(4), Err(QueueError::NoSuchPosition(4)));
        assert!(q.move_song(1, 9).is_err());
        assert_eq!(ids(&q), ["1", "5", "2", "4"], "failed moves change nothing");
    }

    #[test]
    fn shuffle_keeps_every_song_and_the_current_one() {
        let mut q = queue(50);
        let mut state = 7u64;
        q.shuffle(|| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            state >> 33
        });
        assert_eq!(q.current.as_ref().unwrap().id, "1");
        let mut got: Vec<u32> = q.upcoming.iter().map(|s| s.id.parse().unwrap()).collect();
        assert_ne!(got, (2..=50).collect::<Vec<_>>(), "order changed");
        got.sort();
        assert_eq!(got, (2..=50).collect::<Vec<_>>());
    }

    #[test]
    fn pages() {
        let q = queue(24); // 23 upcoming
        let (items, pages) = q.page(1, 10);
        assert_eq!(pages, 3);
        assert_eq!(
            items.first().map(|(p, s)| (*p, s.id.as_str())),
            Some((1, "2"))
        );
        let (items, _) = q.page(3, 10);
        assert_eq!(items.len(), 3);
        assert_eq!(items.last().map(|(p, _)| *p), Some(23));
        let (items, _) = q.page(99, 10);
        assert_eq!(items.len(), 3, "pages past the end clamp to the last");
        let empty = Queue::default();
        let (items, pages) = empty.page(1, 10);
        assert_eq!((items.len(), pages), (0, 1));
    }

    #[test]
    fn full_queue_refuses() {
        let limits = Limits {
            max_songs: 3,
            ..ROOMY
        };
        let mut q = queue(3);
        assert_eq!(q.push(song(4), limits), Err(QueueError::Full(3)));
        assert_eq!(q.len(), 3, "a refused song is not queued");
        q.remove(1).unwrap();
        assert_eq!(
            q.push(song(4), limits),
            Ok(2),
            "room again once a song left"
        );
    }

    #[test]
    fn songs_kept_for_loop_queue_count_against_the_cap() {
        let limits = Limits {
            max_songs: 3,
            ..ROOMY
        };
        let mut q = queue(3);
        q.loop_mode = LoopMode::Queue;
        q.advance();
        // Two songs are left to play, but the played one comes round again.
        assert_eq!((q.len(), q.played.len()), (2, 1));
        assert_eq!(q.push(song(4), limits), Err(QueueError::Full(3)));
        // Without the loop, played songs are dropped and make room.
        q.loop_mode = LoopMode::Off;
        q.advance();
        assert!(q.played.is_empty());
        assert_eq!(q.push(song(4), limits), Ok(1));
    }

    #[test]
    fn one_member_may_hold_only_their_share() {
        let limits = Limits {
            max_songs: 10,
            max_per_user: 2,
        };
        let by = |n: u32, user: u64| Song {
            requested_by: user,
            ..song(n)
        };
        let mut q = Queue::default();
        assert_eq!(q.push(by(1, 7), limits), Ok(0));
        assert_eq!(q.push(by(2, 7), limits), Ok(1));
        assert_eq!(q.push(by(3, 7), limits), Err(QueueError::FullForUser(2)));
        assert_eq!(q.push(by(4, 8), limits), Ok(2), "others still may");
        // Their current song counts; once it has played, they have room again.
        q.advance();
        assert_eq!(q.push(by(5, 7), limits), Ok(2));
    }

    #[test]
    fn round_trips_through_json() {
        let mut q = queue(3);
        q.loop_mode = LoopMode::Queue;
        q.advance();
        let json = serde_json::to_string(&q).unwrap();
        assert_eq!(serde_json::from_str::<Queue>(&json).unwrap(), q);
    }
}
