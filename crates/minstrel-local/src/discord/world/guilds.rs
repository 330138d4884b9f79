//! The guilds the bot is in, and sharding: which shard receives a guild's events
//! (Discord's `(guild_id >> 22) % shard_count`), how many guilds a shard may hold, and
//! what `GET /gateway/bot` recommends.

use serde_json::{Value, json};

use super::World;
use crate::discord::payloads::{self, GUILD_ID};

impl World {
    /// Adds `n` guilds, each with the dev guild's members and roles and its own
    /// #general, Music and Lounge (see [`payloads::channels`]); sessions already
    /// connected get GUILD_CREATE on the guild's shard, as when the bot joins a guild.
    /// Returns their ids, which spread evenly over any shard count.
    pub fn add_guilds(&self, n: u64) -> Vec<u64> {
        let added: Vec<u64> = {
            let mut state = self.state();
            let first = state.added_guilds + 1;
            state.added_guilds += n;
            (first..first + n).map(payloads::added_guild).collect()
        };
        for guild in &added {
            let created = payloads::guild(*guild, Vec::new());
            self.dispatch("GUILD_CREATE", created, 1);
        }
        added
    }

    /// Every guild the bot is in, the dev guild ([`GUILD_ID`]) first.
    pub fn guilds(&self) -> Vec<u64> {
        let added = self.state().added_guilds;
        std::iter::once(GUILD_ID)
            .chain((1..=added).map(payloads::added_guild))
            .collect()
    }

    pub(crate) fn knows_guild(&self, guild: u64) -> bool {
        guild == GUILD_ID
            || (guild == payloads::added_guild(guild >> 22)
                && (1..=self.state().added_guilds).contains(&(guild >> 22)))
    }

    /// Whether `channel` is a channel of one of the bot's guilds.
    pub(crate) fn knows_channel(&self, channel: u64) -> bool {
        let guild = payloads::guild_of(channel);
        let c = payloads::channels(guild);
        self.knows_guild(guild) && [c.general, c.music, c.lounge].contains(&channel)
    }

    /// From now on an IDENTIFY whose shard would hold more than `n` guilds is closed
    /// with 4011 (sharding required); Discord's limit is 2,500.
    pub fn set_max_guilds_per_shard(&self, n: usize) {
        self.state().sharding.max_guilds_per_shard = n;
    }

    /// From now on `GET /gateway/bot` recommends `shards` shards and allows
    /// `max_concurrency` IDENTIFYs at once (by default one shard per 1,000 guilds, and
    /// one at a time).
    pub fn set_recommended_shards(&self, shards: u64, max_concurrency: u64) {
        let mut state = self.state();
        state.sharding.recommended = Some(shards);
        state.sharding.max_concurrency = max_concurrency;
    }

    /// The `[id, count]` of every IDENTIFY so far, in order.
    pub fn identified_shards(&self) -> Vec<[u64; 2]> {
        self.state().identified_shards.clone()
    }

    /// `GET /gateway/bot`: the URL, the recommended shard count and the session start
    /// limit.
    pub(crate) fn gateway_bot(&self) -> Value {
        let guilds = self.guilds().len() as u64;
        let state = self.state();
        let sharding = state.sharding;
        let shards = sharding
            .recommended
            .unwrap_or_else(|| guilds.div_ceil(1_000).max(1));
        let remaining = 1_000u64.saturating_sub(state.identified_shards.len() as u64);
        drop(state);
        json!({"url": self.gateway_url(), "shards": shards,
               "session_start_limit": {"total": 1000, "remaining": remaining,
                                       "reset_after": 86_400_000u64,
                                       "max_concurrency": sharding.max_concurrency}})
    }
}
