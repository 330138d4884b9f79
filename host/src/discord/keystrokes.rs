//! What a user types into `/play` becomes searches only at a human pace: a keystroke
//! that a newer one from the same user replaces within the debounce window starts no
//! search, and each user starts at most `suggestions_per_minute` searches. Cached
//! results are answered without either check (they cost nothing).
//!
//! "Newer" is by interaction id (a snowflake: later keystrokes have larger ids), not by
//! arrival: the handlers of one user's keystrokes run concurrently, in any order.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::PlayerConfig;
use crate::llm::limit::RateLimit;

/// Above this many users, users with no recent keystroke are dropped.
const PRUNE_ABOVE: usize = 1024;

/// Whether a keystroke may start a search.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Search,
    /// A newer keystroke of the same user asks for something else.
    Superseded,
    /// The user has started too many searches this minute.
    Limited,
}

pub struct Keystrokes {
    debounce: Duration,
    limit: RateLimit,
    /// Per user: the newest keystroke's interaction id and text, and when it was seen.
    latest: Mutex<HashMap<u64, (u64, String, Instant)>>,
}

impl Keystrokes {
    pub fn new(config: &PlayerConfig) -> Self {
        Self {
            debounce: Duration::from_millis(config.suggest_debounce_ms),
            limit: RateLimit::new(config.suggestions_per_minute),
            latest: Mutex::default(),
        }
    }

    /// The debounce window: answers must leave room for it.
    pub fn debounce(&self) -> Duration {
        self.debounce
    }

    /// Waits out the debounce window, then says whether `user`'s keystroke `id`
    /// (its interaction id) with `text` may start a search. Keystrokes with the same
    /// text are not each other's newer one: they share one search through the cache.
    pub async fn settle(&self, user: u64, id: u64, text: &str) -> Verdict {
        self.note(user, id, text);
        tokio::time::sleep(self.debounce).await;
        let newer = {
            let latest = self.latest.lock().expect("keystrokes");
            latest
                .get(&user)
                .is_some_and(|(newest, newest_text, _)| *newest > id && newest_text != text)
        };
        if newer {
            return Verdict::Superseded;
        }
        match self.limit.check(&user.to_string(), Instant::now()) {
            Ok(()) => Verdict::Search,
            Err(_) => Verdict::Limited,
        }
    }

    fn note(&self, user: u64, id: u64, text: &str) {
        let now = Instant::now();
        let mut latest = self.latest.lock().expect("keystrokes");
        if latest.len() > PRUNE_ABOVE {
            let keep = self.debounce * 2;
            latest.retain(|_, (_, _, at)| now - *at < keep);
        }
        let entry = latest.entry(user).or_insert((0, String::new(), now));
        if id >= entry.0 {
            *entry = (id, text.to_string(), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keystrokes(per_minute: u32, debounce_ms: u64) -> Keystrokes {
        Keystrokes::new(&PlayerConfig {
            suggestions_per_minute: per_minute,
            suggest_debounce_ms: debounce_ms,
            ..PlayerConfig::default()
        })
    }

    // `join!` polls each future once before any debounce ends, so every keystroke is
    // noted before any is settled, whatever the machine's speed.
    #[tokio::test]
    async fn only_the_newest_of_a_burst_searches() {
        let keys = keystrokes(0, 300);
        // The newer keystroke (larger id) is handled first: it still wins.
        let (b, a, c) = tokio::join!(
            keys.settle(1, 11, "never"),
            keys.settle(1, 10, "nev"),
            keys.settle(2, 12, "nev"),
        );
        assert_eq!(a, Verdict::Superseded);
        assert_eq!(b, Verdict::Search);
        assert_eq!(
            c,
            Verdict::Search,
            "another user's keystroke is not superseded"
        );
        // The same text twice is one search shared through the cache, not a burst.
        let (d, e) = tokio::join!(keys.settle(1, 13, "never"), keys.settle(1, 14, "never"));
        assert_eq!((d, e), (Verdict::Search, Verdict::Search));
    }

    #[tokio::test]
    async fn each_user_has_a_search_budget() {
        let keys = keystrokes(2, 0);
        assert_eq!(keys.settle(1, 1, "aaa").await, Verdict::Search);
        assert_eq!(keys.settle(1, 2, "bbb").await, Verdict::Search);
        assert_eq!(keys.settle(1, 3, "ccc").await, Verdict::Limited);
        assert_eq!(keys.settle(2, 4, "ccc").await, Verdict::Search);
    }
}
