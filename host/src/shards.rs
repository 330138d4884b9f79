//! Which gateway shards this process runs, and so which guilds it owns.
//!
//! Discord sends a guild's events to one shard of the bot, `(guild_id >> 22) % count`.
//! A process running shards `first..=last` of `count` owns exactly the guilds on them:
//! it serves their events, drives their players, resumes their saved queues and fires
//! their timers; other processes on the same database own the rest, so no guild is ever
//! driven by two processes.

use std::fmt;

/// How many shards, and which: `[discord] shards`, `shard_ids` and `shard_count`, or
/// `minstrel run --shards A-B --shard-count N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardPlan {
    /// One shard, every guild (a bot in fewer than 2,500 guilds).
    Single,
    /// As many shards as Discord recommends (`GET /gateway/bot`), all in this process.
    Auto,
    /// This process's slice of a bot sharded over several processes or hosts.
    Slice(Owned),
}

/// The guilds of shards `first..=last` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owned {
    pub first: u32,
    pub last: u32,
    pub count: u32,
}

impl Owned {
    /// Every guild: one process runs every shard.
    pub const ALL: Owned = Owned {
        first: 0,
        last: 0,
        count: 1,
    };

    /// Shards `first..=last` of `count`, checked.
    pub fn new(first: u32, last: u32, count: u32) -> Result<Self, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if first > last || last >= count {
            return Err(format!(
                "shards {first}-{last} do not fit a shard count of {count} \
                 (ids run from 0 to {})",
                count - 1
            ));
        }
        Ok(Self { first, last, count })
    }

    /// The shard that receives `guild`'s events.
    pub fn shard_of(&self, guild: u64) -> u32 {
        ((guild >> 22) % u64::from(self.count)) as u32
    }

    pub fn owns(&self, guild: u64) -> bool {
        (self.first..=self.last).contains(&self.shard_of(guild))
    }
}

impl fmt::Display for Owned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "shard {} of {}", self.first, self.count)
        } else {
            write!(f, "shards {}-{} of {}", self.first, self.last, self.count)
        }
    }
}

impl ShardPlan {
    /// The plan from its settings: `shards` ("auto", or shard ids as `A-B` or `A`),
    /// `ids` (consecutive shard ids) and `count`.
    pub fn from_settings(
        shards: Option<&str>,
        ids: Option<&[u32]>,
        count: Option<u32>,
    ) -> Result<Self, String> {
        let ids: Option<(u32, u32)> = match (shards.map(str::trim), ids) {
            (Some(_), Some(_)) => {
                return Err("set either `shards` or `shard_ids`, not both".into());
            }
            (Some("auto"), None) => {
                if count.is_some() {
                    return Err("`shards = \"auto\"` takes its shard count from Discord: \
                         leave `shard_count` unset"
                        .into());
                }
                return Ok(Self::Auto);
            }
            (Some(range), None) => Some(parse_range(range)?),
            (None, Some(ids)) => Some(consecutive(ids)?),
            (None, None) => None,
        };
        match (ids, count) {
            (None, None) => Ok(Self::Single),
            (Some((first, last)), Some(count)) => Owned::new(first, last, count).map(Self::Slice),
            (Some(_), None) => Err("shard ids need `shard_count`, the bot's total".into()),
            (None, Some(_)) => Err("`shard_count` needs the shard ids this process runs".into()),
        }
    }

    /// The guilds this process owns.
    pub fn owned(&self) -> Owned {
        match self {
            Self::Single | Self::Auto => Owned::ALL,
            Self::Slice(owned) => *owned,
        }
    }
}

/// `A-B` or `A`.
fn parse_range(text: &str) -> Result<(u32, u32), String> {
    let number = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("shards {text:?}: expected \"auto\", an id or a range like 0-3"))
    };
    match text.split_once('-') {
        Some((first, last)) => Ok((number(first)?, number(last)?)),
        None => number(text).map(|id| (id, id)),
    }
}

/// The first and last of `ids`, which must be consecutive: one process runs one range.
fn consecutive(ids: &[u32]) -> Result<(u32, u32), String> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let (Some(&first), Some(&last)) = (sorted.first(), sorted.last()) else {
        return Err("`shard_ids` is empty".into());
    };
    if (last - first) as usize + 1 != sorted.len() {
        return Err(format!(
            "`shard_ids` {ids:?} must be consecutive (a process runs one range of shards)"
        ));
    }
    Ok((first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_from_settings() {
        assert_eq!(
            ShardPlan::from_settings(None, None, None),
            Ok(ShardPlan::Single)
        );
        assert_eq!(
            ShardPlan::from_settings(Some("auto"), None, None),
            Ok(ShardPlan::Auto)
        );
        let slice = ShardPlan::from_settings(Some("2-3"), None, Some(6)).unwrap();
        assert_eq!(
            slice,
            ShardPlan::Slice(Owned {
                first: 2,
                last: 3,
                count: 6
            })
        );
        assert_eq!(
            ShardPlan::from_settings(None, Some(&[5, 4]), Some(6)),
            Ok(ShardPlan::Slice(Owned {
                first: 4,
                last: 5,
                count: 6
            }))
        );
        for (shards, ids, count) in [
            (Some("0-3"), None, None),
            (Some("3-1"), None, Some(8)),
            (Some("0-8"), None, Some(8)),
            (Some("x"), None, Some(8)),
            (Some("auto"), None, Some(8)),
            (None, Some(&[0u32, 2][..]), Some(8)),
            (None, Some(&[][..]), Some(8)),
            (None, None, Some(8)),
            (Some("0"), Some(&[0u32][..]), Some(8)),
            (Some("0"), None, Some(0)),
        ] {
            assert!(
                ShardPlan::from_settings(shards, ids, count).is_err(),
                "{shards:?} {ids:?} {count:?}"
            );
        }
    }

    #[test]
    fn a_guild_is_owned_by_the_slice_of_its_shard() {
        // Guild ids with timestamp bits 7 and 8: shards 1 and 2 of 6.
        let (g7, g8) = ((7u64 << 22) | 123, (8u64 << 22) | 456);
        let slice = Owned::new(0, 1, 6).unwrap();
        assert_eq!(slice.shard_of(g7), 1);
        assert!(slice.owns(g7));
        assert!(!slice.owns(g8));
        assert!(Owned::ALL.owns(g7) && Owned::ALL.owns(g8));
        assert_eq!(slice.to_string(), "shards 0-1 of 6");
    }
}
