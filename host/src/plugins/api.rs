//! Bindings to the WIT contract, one module per API version the host serves.
//!
//! `minstrel:plugin@0.2.0` ([`v0_2_0`]) is the full implementation: the host's own
//! types are its types. `minstrel:plugin@0.1.0` ([`v0_1_0`]) is served by adapters
//! (as Zed's extension host does per `since_vX.Y.Z`): interfaces that did not change
//! are implemented once for both versions (a macro per file in `plugins/host/`), and
//! the records of the worlds' exports are converted in [`super::adapt`]. The version a
//! component was built against is read from its own `minstrel:plugin` imports (and,
//! from the Rust SDK, its `minstrel:api-version` custom section) before anything is
//! compiled (see [`super::manifest`]), and [`served`] decides.

use std::fmt;

/// The prefix of every interface of the `minstrel:plugin` package.
pub const PACKAGE: &str = "minstrel:plugin/";

/// An API version a component declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl ApiVersion {
    /// The newest version this host serves.
    pub const LATEST: ApiVersion = ApiVersion {
        major: 0,
        minor: 2,
        patch: 0,
    };

    /// `0.1.0`, served through adapters.
    pub const V0_1_0: ApiVersion = ApiVersion {
        major: 0,
        minor: 1,
        patch: 0,
    };

    /// Parses `MAJOR.MINOR.PATCH`.
    pub fn parse(text: &str) -> Option<ApiVersion> {
        let mut parts = text.trim().splitn(3, '.').map(|p| p.parse::<u32>().ok());
        Some(ApiVersion {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
        })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Versions served, oldest first.
pub const SERVED: &[ApiVersion] = &[ApiVersion::V0_1_0, ApiVersion::LATEST];

/// The WIT package of each served version, as `(path, text)` under a `wit/` folder:
/// what `minstrel plugin wit` writes, so an author needs no clone of the repository.
pub const WIT_FILES: &[(&str, &str)] = &[
    (
        "since_v0.1.0/types.wit",
        include_str!("../../../wit/since_v0.1.0/types.wit"),
    ),
    (
        "since_v0.1.0/worlds.wit",
        include_str!("../../../wit/since_v0.1.0/worlds.wit"),
    ),
    (
        "since_v0.2.0/types.wit",
        include_str!("../../../wit/since_v0.2.0/types.wit"),
    ),
    (
        "since_v0.2.0/worlds.wit",
        include_str!("../../../wit/since_v0.2.0/worlds.wit"),
    ),
];

/// Whether a component built against `version` can be served. Before 1.0 a minor
/// release may break, so the match is on major.minor (patch releases only add docs).
pub fn served(version: ApiVersion) -> bool {
    SERVED
        .iter()
        .any(|v| v.major == version.major && v.minor == version.minor)
}

/// `minstrel:plugin@0.1.0`.
pub mod v0_1_0 {
    /// The `source` world, which also generates the shared interfaces.
    pub mod source {
        wasmtime::component::bindgen!({
            path: "../wit/since_v0.1.0",
            world: "source",
            imports: { default: async | trappable },
            exports: { default: async },
            with: {
                "minstrel:plugin/audio.sink": crate::plugins::host::audio::AudioSink,
            },
        });
    }

    /// The `command` world.
    pub mod command {
        wasmtime::component::bindgen!({
            path: "../wit/since_v0.1.0",
            world: "command",
            imports: { default: async | trappable },
            exports: { default: async },
            with: {
                "minstrel:plugin/types": super::source::minstrel::plugin::types,
                "minstrel:plugin/log": super::source::minstrel::plugin::log,
                "minstrel:plugin/kv": super::source::minstrel::plugin::kv,
                "minstrel:plugin/http": super::source::minstrel::plugin::http,
                "minstrel:plugin/llm.completion": crate::plugins::host::llm::CompletionStream,
            },
        });
    }

    /// The `mention` world.
    pub mod mention {
        wasmtime::component::bindgen!({
            path: "../wit/since_v0.1.0",
            world: "mention",
            imports: { default: async | trappable },
            exports: { default: async },
            with: {
                "minstrel:plugin/types": super::source::minstrel::plugin::types,
                "minstrel:plugin/log": super::source::minstrel::plugin::log,
                "minstrel:plugin/kv": super::source::minstrel::plugin::kv,
                "minstrel:plugin/http": super::source::minstrel::plugin::http,
                "minstrel:plugin/llm": super::command::minstrel::plugin::llm,
            },
        });
    }

    pub use command::minstrel::plugin::{llm, player};
    pub use mention::minstrel::plugin::draft;
    pub use source::minstrel::plugin::{audio, http, kv, log, media, types};
}

/// `minstrel:plugin@0.2.0`.
pub mod v0_2_0 {
    /// The `source` world, which also generates the shared interfaces.
    pub mod source {
        wasmtime::component::bindgen!({
            path: "../wit/since_v0.2.0",
            world: "source",
            imports: { default: async | trappable },
            exports: { default: async },
            with: {
                "minstrel:plugin/audio.sink": crate::plugins::host::audio::AudioSink,
            },
        });
    }

    /// The `command` world.
    pub mod command {
        wasmtime::component::bindgen!({
            path: "../wit/since_v0.2.0",
            world: "command",
            imports: { default: async | trappable },
            exports: { default: async },
            with: {
                "minstrel:plugin/types": super::source::minstrel::plugin::types,
                "minstrel:plugin/log": super::source::minstrel::plugin::log,
                "minstrel:plugin/kv": super::source::minstrel::plugin::kv,
                "minstrel:plugin/http": super::source::minstrel::plugin::http,
                "minstrel:plugin/config": super::source::minstrel::plugin::config,
                "minstrel:plugin/audio": super::source::minstrel::plugin::audio,
                "minstrel:plugin/media": super::source::minstrel::plugin::media,
                "minstrel:plugin/llm.completion": crate::plugins::host::llm::CompletionStream,
            },
        });
    }

    /// The `mention` world.
    pub mod mention {
        wasmtime::component::bindgen!({
            path: "../wit/since_v0.2.0",
            world: "mention",
            imports: { default: async | trappable },
            exports: { default: async },
            with: {
                "minstrel:plugin/types": super::source::minstrel::plugin::types,
                "minstrel:plugin/log": super::source::minstrel::plugin::log,
                "minstrel:plugin/kv": super::source::minstrel::plugin::kv,
                "minstrel:plugin/http": super::source::minstrel::plugin::http,
                "minstrel:plugin/llm": super::command::minstrel::plugin::llm,
                "minstrel:plugin/config": super::source::minstrel::plugin::config,
                "minstrel:plugin/timers": super::command::minstrel::plugin::timers,
                "minstrel:plugin/messages": super::command::minstrel::plugin::messages,
            },
        });
    }

    pub use command::minstrel::plugin::{llm, messages, player, timers};
    pub use mention::minstrel::plugin::draft;
    pub use source::minstrel::plugin::{audio, config, http, kv, live, log, media, types};
}
