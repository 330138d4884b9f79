//! The first-party plugins built into the binary (see `host/build.rs`), and the grants
//! they load with unless the operator writes their own.
//!
//! Only these bytes get the default grants: a file of the same name in the plugins
//! folder replaces the bundled plugin and gets what the operator grants it, nothing
//! more, so dropping a `youtube.wasm` there cannot inherit `media`.

use crate::config::plugins::{Grant, PluginsConfig};

/// One plugin built into the binary.
pub struct Bundled {
    pub name: &'static str,
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// Every bundled plugin, in the order they load (and mention plugins are asked): a
/// specialised mention plugin (chart) before a general one (ask-mention).
pub fn all() -> &'static [Bundled] {
    BUNDLED
}

/// The bundled plugin named `name`.
pub fn find(name: &str) -> Option<&'static Bundled> {
    BUNDLED.iter().find(|b| b.name == name)
}

/// Long enough for a download of a whole song (the media service has its own limits).
const FETCH_TIMEOUT_MS: u64 = 600_000;

/// What bundled plugin `name` is granted when `[plugins.grants.NAME]` is absent.
pub fn default_grant(name: &str, config: &PluginsConfig) -> Grant {
    let interfaces = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
    match name {
        "youtube" => Grant {
            interfaces: interfaces(&["media"]),
            call_timeout_ms: Some(FETCH_TIMEOUT_MS),
            ..Grant::default()
        },
        // The interface, but no host: it reaches nothing until the operator grants hosts.
        "http" => Grant {
            interfaces: interfaces(&["http"]),
            call_timeout_ms: Some(FETCH_TIMEOUT_MS),
            ..Grant::default()
        },
        // Likewise: its streams are reached only at the hosts the operator grants.
        "radio" => Grant {
            interfaces: interfaces(&["http"]),
            ..Grant::default()
        },
        "local" => Grant {
            files_dir: config.music_dir.clone(),
            call_timeout_ms: Some(FETCH_TIMEOUT_MS),
            ..Grant::default()
        },
        "ask-mention" => Grant {
            interfaces: interfaces(&["llm", "draft"]),
            call_timeout_ms: Some(120_000),
            ..Grant::default()
        },
        "chart" => Grant {
            interfaces: interfaces(&["llm"]),
            call_timeout_ms: Some(120_000),
            ..Grant::default()
        },
        "poll" => Grant {
            interfaces: interfaces(&["kv"]),
            ..Grant::default()
        },
        // Five kv entries per guild it follows, and the lyrics of songs played lately
        // (from LRCLIB, for `/controls lyrics:true`).
        "nowplaying" => Grant {
            interfaces: interfaces(&[
                "player",
                "player-events",
                "kv",
                "timers",
                "messages",
                "http",
            ]),
            http_hosts: vec!["lrclib.net".into()],
            kv_quota: Some(20_000),
            ..Grant::default()
        },
        // Up to 25 playlists and an index per member and per server, and a history per
        // server.
        // LRCLIB, a free lyrics service without keys; `[plugins.config.lyrics] base_url`
        // points it at another (whose host the operator then grants).
        "lyrics" => Grant {
            interfaces: interfaces(&["http", "player"]),
            http_hosts: vec!["lrclib.net".into()],
            ..Grant::default()
        },
        "playlists" => Grant {
            interfaces: interfaces(&["player", "player-events", "kv"]),
            kv_quota: Some(100_000),
            ..Grant::default()
        },
        // Off in every server until `/sponsorblock enabled:true` there.
        "sponsorblock" => Grant {
            interfaces: interfaces(&[
                "http",
                "player",
                "player-events",
                "kv",
                "timers",
                "messages",
            ]),
            http_hosts: vec!["sponsor.ajay.app".into()],
            kv_quota: Some(50_000),
            ..Grant::default()
        },
        // Off in every server until `/autoplay enabled:true` there.
        "autoplay" => Grant {
            interfaces: interfaces(&["player", "player-events", "kv", "messages", "media"]),
            kv_quota: Some(50_000),
            ..Grant::default()
        },
        // Spotify's Web API needs the operator's client credentials for albums and
        // playlists (`[plugins.config.links]`); Deezer and Apple's lookup need none.
        "links" => Grant {
            interfaces: interfaces(&["http", "kv", "media"]),
            http_hosts: [
                "api.spotify.com",
                "accounts.spotify.com",
                "open.spotify.com",
                "api.deezer.com",
                "itunes.apple.com",
                "api.music.apple.com",
            ]
            .map(String::from)
            .to_vec(),
            kv_quota: Some(100_000),
            call_timeout_ms: Some(FETCH_TIMEOUT_MS),
            ..Grant::default()
        },
        _ => Grant::default(),
    }
}
