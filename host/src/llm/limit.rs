//! Per-user request limit: at most N requests in any 60-second window (a sliding
//! window of request times per key). The lock is never held across an await.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Above this many keys, keys with no request in the window are dropped.
const PRUNE_ABOVE: usize = 1024;

pub struct RateLimit {
    per_minute: u32,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimit {
    /// `per_minute == 0` allows everything.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            seen: Mutex::default(),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Counts a request by `key` at `now`, or says how long until one is allowed.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let mut seen = self.seen.lock().expect("rate limit");
        if seen.len() > PRUNE_ABOVE {
            seen.retain(|_, times| times.back().is_some_and(|t| now - *t < WINDOW));
        }
        let times = seen.entry(key.to_string()).or_default();
        while times.front().is_some_and(|t| now - *t >= WINDOW) {
            times.pop_front();
        }
        if times.len() >= self.per_minute as usize {
            let oldest = *times.front().expect("non-empty");
            return Err(WINDOW - (now - oldest));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_n_per_minute_per_key() {
        let limit = RateLimit::new(2);
        let t0 = Instant::now();
        assert!(limit.check("a", t0).is_ok());
        assert!(limit.check("a", t0 + Duration::from_secs(10)).is_ok());
        let wait = limit.check("a", t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        assert!(limit.check("b", t0 + Duration::from_secs(20)).is_ok());
        assert!(limit.check("a", t0 + Duration::from_secs(60)).is_ok());
        assert!(RateLimit::new(0).check("a", t0).is_ok());
    }
}
