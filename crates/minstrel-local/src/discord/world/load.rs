//! Load for benchmarks: a bot warmed up on `!version`, then bursts of messages timed
//! until every command among them is answered. The same code drives the server in the
//! bench's process and in a process of its own (`local-discord`).

use std::time::{Duration, Instant};

use super::World;
use crate::discord::payloads::ALICE;

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
}
