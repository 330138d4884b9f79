//! A guild's own settings (`/settings`, for members with Manage Server): each one the
//! guild has not set follows the operator's `[player]` default. Kept in the store as
//! JSON, read where they apply (so every bot process on the database sees a change at
//! once), and bounded by the operator's settings: a guild's queue is never longer than
//! `max_queue`.

use serde::{Deserialize, Serialize};

use crate::config::PlayerConfig;
use crate::store::Store;

/// What a guild changed; `None`: the operator's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GuildSettings {
    /// The DJ role, by id.
    pub dj_role: Option<u64>,
    pub vote_skip_ratio: Option<f64>,
    /// The volume a new queue starts at, in percent.
    pub default_volume: Option<u8>,
    /// Where the player's announcements go (else: where music was last asked for).
    pub announce_channel: Option<u64>,
    pub max_queue: Option<usize>,
    /// The source plugins `play` may use (else: all).
    pub allowed_sources: Option<Vec<String>>,
}

/// The settings in force in a guild.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    /// As `[player] dj_role`: a role name or id; empty: none.
    pub dj_role: String,
    pub vote_skip_ratio: f64,
    pub default_volume: u8,
    pub announce_channel: Option<u64>,
    pub max_queue: usize,
    pub allowed_sources: Option<Vec<String>>,
}

/// Largest volume, in percent (as `!volume`).
pub const MAX_VOLUME: u8 = 200;

impl GuildSettings {
    /// The settings in force: the guild's, within the operator's bounds, over the
    /// operator's defaults.
    pub fn over(&self, config: &PlayerConfig) -> Effective {
        Effective {
            dj_role: self
                .dj_role
                .map(|id| id.to_string())
                .unwrap_or_else(|| config.dj_role.clone()),
            vote_skip_ratio: self
                .vote_skip_ratio
                .filter(|r| r.is_finite())
                .map(|r| r.clamp(0.0, 1.0))
                .unwrap_or(config.vote_skip_ratio),
            default_volume: self.default_volume.unwrap_or(100).min(MAX_VOLUME),
            announce_channel: self.announce_channel,
            max_queue: self
                .max_queue
                .map(|m| m.clamp(1, config.max_queue.max(1)))
                .unwrap_or(config.max_queue),
            allowed_sources: self.allowed_sources.clone(),
        }
    }

    /// Guild `guild`'s settings; a store that fails (or a row that does not parse) gives
    /// the defaults, logged, rather than stopping the music.
    pub async fn load(store: &Store, guild: u64) -> Self {
        match store.guild_settings(guild).await {
            Ok(Some(json)) => serde_json::from_str(&json).unwrap_or_else(|error| {
                tracing::warn!(guild, %error, "unreadable guild settings; using the defaults");
                Self::default()
            }),
            Ok(None) => Self::default(),
            Err(error) => {
                tracing::warn!(guild, %error, "could not read the guild settings; using the defaults");
                Self::default()
            }
        }
    }

    pub async fn save(&self, store: &Store, guild: u64) -> crate::store::Result<()> {
        let json = serde_json::to_string(self).expect("settings serialise");
        store.set_guild_settings(guild, &json).await
    }
}

impl Effective {
    /// Whether `play` may use source plugin `source` here.
    pub fn allows(&self, source: &str) -> bool {
        self.allowed_sources
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guild_setting_overrides_the_default_within_the_operators_bounds() {
        let config = PlayerConfig {
            dj_role: "DJ".into(),
            vote_skip_ratio: 0.5,
            max_queue: 500,
            ..PlayerConfig::default()
        };
        let none = GuildSettings::default().over(&config);
        assert_eq!(
            (none.dj_role.as_str(), none.vote_skip_ratio, none.max_queue),
            ("DJ", 0.5, 500)
        );
        assert_eq!(none.default_volume, 100);
        assert!(none.allows("youtube"));
        let set = GuildSettings {
            dj_role: Some(77),
            vote_skip_ratio: Some(2.0),
            default_volume: Some(250),
            announce_channel: Some(9),
            max_queue: Some(10_000),
            allowed_sources: Some(vec!["local".into()]),
        }
        .over(&config);
        assert_eq!(set.dj_role, "77");
        assert_eq!(set.vote_skip_ratio, 1.0);
        assert_eq!(set.default_volume, MAX_VOLUME);
        assert_eq!(set.max_queue, 500, "never past the operator's");
        assert!(set.allows("local") && !set.allows("youtube"));
        let json = r#"{"max_queue": 20, "unknown": 1}"#;
        let parsed: GuildSettings = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.over(&config).max_queue, 20);
    }
}
