//! Load for benchmarks: a bot warmed up on `!version`, then bursts of messages timed
//! until every command among them is answered; and whether guilds' voice arrives in
//! real time. The same code drives the server in the bench's process and in a process
//! of its own (`local-discord`).

use std::time::{Duration, Instant};

use super::World;
use crate::discord::payloads::ALICE;

/// What [`World::real_time`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealTime {
    /// Every guild got at least 98% of its 20 ms packets in the window, and at most 1%
    /// of its gaps between packets exceeded 40 ms.
    pub ok: bool,
    /// The fewest packets a guild got, and the most late gaps one had.
    pub worst_packets: u64,
    pub worst_late: u64,
}

/// The command every burst sends; the bot answers each with one post.
pub const COMMAND: &str = "!version";
/// Commands answered before a burst is timed.
const WARM_UP: u64 = 50;

impl World {
    /// Waits for a bot to IDENTIFY and answer a [`COMMAND`] (until it has set itself up
    /// one may go unanswered, so it asks again each second), then sends 50 more and
    /// waits for their answers. False if `limit` passes first.
    pub async fn warm_up(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let left = || deadline.saturating_duration_since(Instant::now());
        if !self
            .wait_for(left(), |w| !w.identified_shards().is_empty())
            .await
        {
            return false;
        }
        let mut answered = false;
        while !answered && Instant::now() < deadline {
            let before = self.bot_posts();
            self.send_message(ALICE, COMMAND, 1);
            answered = self
                .wait_for(Duration::from_secs(1).min(left()), |w| {
                    w.bot_posts() > before
                })
                .await;
        }
        answered && self.burst(WARM_UP, 1, left()).await.is_some()
    }

    /// Sends `n` messages as alice, every `every`-th a [`COMMAND`] and the rest chat,
    /// and returns the time from the first send until the bot has posted once per
    /// command; `None` if `limit` passes first.
    pub async fn burst(&self, n: u64, every: u64, limit: Duration) -> Option<Duration> {
        let before = self.bot_posts();
        let started = Instant::now();
        for i in 0..n {
            let text = if i % every == 0 {
                COMMAND
            } else {
                "just chatting about the songs"
            };
            self.send_message(ALICE, text, 1);
        }
        let commands = n.div_ceil(every);
        let answered = self
            .wait_for(limit, |w| w.bot_posts() >= before + commands)
            .await;
        answered.then(|| started.elapsed())
    }

    /// Whether `guilds` all play in real time over `window`, once each has had a packet
    /// (waiting at most `limit` for that) and half a second more.
    pub async fn real_time(&self, guilds: &[u64], window: Duration, limit: Duration) -> RealTime {
        let voice = self.voice();
        let audio = |g: u64| {
            let s = voice.stats(g);
            s.packets - s.silence_frames
        };
        let all_playing = self
            .wait_for(limit, |_| guilds.iter().all(|g| audio(*g) > 0))
            .await;
        if !all_playing {
            return RealTime {
                ok: false,
                worst_packets: 0,
                worst_late: 0,
            };
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let start: Vec<_> = guilds.iter().map(|g| voice.stats(*g)).collect();
        tokio::time::sleep(window).await;
        let expected = window.as_millis() as u64 / 20;
        let mut found = RealTime {
            ok: true,
            worst_packets: u64::MAX,
            worst_late: 0,
        };
        for (g, before) in guilds.iter().zip(start) {
            let after = voice.stats(*g);
            let packets = after.packets - before.packets;
            let late = after.arrival.late - before.arrival.late;
            let intervals = (after.arrival.intervals - before.arrival.intervals).max(1);
            found.worst_packets = found.worst_packets.min(packets);
            found.worst_late = found.worst_late.max(late);
            found.ok &= packets * 100 >= expected * 98 && late * 100 <= intervals;
        }
        found
    }
}
