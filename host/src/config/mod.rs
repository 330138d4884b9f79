//! Configuration: `minstrel.toml` (see `minstrel.example.toml`) with environment overrides.
//!
//! Any key can be overridden from the environment as `MINSTREL_<SECTION>__<KEY>` (double
//! underscore between levels), for example `MINSTREL_STORE__MAX_CACHE_BYTES=1000000`.
//! Values are parsed as TOML scalars (numbers, booleans), falling back to plain strings.

pub mod plugins;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// Prefix of environment overrides.
const ENV_PREFIX: &str = "MINSTREL_";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Folder holding the database, the blobs and scratch space.
    pub data_dir: PathBuf,
    /// Logging: `log = "info"` for the level alone, or a `[log]` table.
    pub log: LogConfig,
    pub store: StoreConfig,
    /// The plugin runtime: folder, sandbox limits, grants (see [`plugins`]).
    pub plugins: plugins::PluginsConfig,
    pub discord: DiscordConfig,
    /// The operator's OpenAI-compatible chat endpoint, behind the plugins' `llm`.
    pub llm: LlmConfig,
    pub player: PlayerConfig,
    /// The media service (yt-dlp) behind the plugins' `media` interface.
    pub media: MediaConfig,
    /// The operator's listener: health and metrics (see `admin`).
    pub admin: AdminConfig,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info` or `minstrel=debug`. `RUST_LOG` wins when set.
    pub level: String,
    /// `text` for people, `json` (one object per line, with the fields of the event
    /// and its spans: guild, plugin, call) for log shippers.
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// `[admin]`: off unless `listen` is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of the health and metrics listener, e.g. `127.0.0.1:9400`.
    pub listen: Option<std::net::SocketAddr>,
    /// Bearer token `/metrics` requires; needed to listen beyond loopback. Prefer
    /// `MINSTREL_ADMIN__TOKEN` to writing it in the file.
    pub token: Option<plugins::Setting>,
}

/// The Discord connection. The bot token is read from the `DISCORD_TOKEN` environment
/// variable only, so it never sits in a config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscordConfig {
    /// Prefix for text commands, e.g. `!help`.
    pub prefix: String,
    /// Register commands in this guild only (instant; for testing a bot). Unset:
    /// register globally.
    pub dev_guild: Option<u64>,
    /// A Discord-compatible API base URL instead of Discord (e.g. a local server).
    pub api_base: Option<String>,
    /// Mention plugins in the order they are asked whether they take a message (their
    /// `claims` export); the first that claims it answers. Plugins not listed follow,
    /// by name.
    pub mention_order: Vec<String>,
    /// `"auto"`: as many shards as Discord recommends, all in this process. Or this
    /// process's shard ids as a range, `"0-3"`, with `shard_count`. Unset: one shard.
    pub shards: Option<String>,
    /// This process's shard ids (consecutive), with `shard_count`; instead of `shards`.
    pub shard_ids: Option<Vec<u32>>,
    /// The bot's total shard count, over every process.
    pub shard_count: Option<u32>,
}

impl DiscordConfig {
    /// Which shards this process runs (see [`crate::shards`]).
    pub fn shard_plan(&self) -> anyhow::Result<crate::shards::ShardPlan> {
        crate::shards::ShardPlan::from_settings(
            self.shards.as_deref(),
            self.shard_ids.as_deref(),
            self.shard_count,
        )
        .map_err(|e| anyhow::anyhow!("[discord] sharding: {e}"))
    }
}

impl Default for DiscordConfig {
    fn default() -> Self {
        Self {
            prefix: "!".into(),
            dev_guild: None,
            api_base: None,
            mention_order: Vec::new(),
            shards: None,
            shard_ids: None,
            shard_count: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("minstrel-data"),
            log: LogConfig::default(),
            store: StoreConfig::default(),
            plugins: plugins::PluginsConfig::default(),
            discord: DiscordConfig::default(),
            llm: LlmConfig::default(),
            player: PlayerConfig::default(),
            media: MediaConfig::default(),
            admin: AdminConfig::default(),
        }
    }
}

/// The LLM endpoint: any OpenAI-compatible `chat/completions` API. Without `base_url`
/// the bot has no LLM and plugins asking for one get a clear "not configured" error.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// The API root, e.g. `https://api.openai.com/v1`; requests go to
    /// `{base_url}/chat/completions`.
    pub base_url: Option<String>,
    /// The model used when a plugin does not name one.
    pub model: String,
    /// The key, sent as `Authorization: Bearer ...`. Prefer `api_key_env`.
    pub api_key: Option<String>,
    /// Name of an environment variable holding the key.
    pub api_key_env: Option<String>,
    /// Longest wait for an answer (and, when streaming, for each next piece), in seconds.
    pub timeout_secs: u64,
    /// Most conversation messages sent per request (system messages always go).
    pub max_context_messages: usize,
    /// Most characters of conversation sent per request; older messages go first.
    pub max_context_chars: usize,
    /// Requests per minute one Discord user may cause (0: unlimited).
    pub requests_per_minute: u32,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            model: "gpt-4o-mini".into(),
            api_key: None,
            api_key_env: None,
            timeout_secs: 60,
            max_context_messages: 20,
            max_context_chars: 16_000,
            requests_per_minute: 10,
        }
    }
}

// The key must never reach a log line.
impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("api_key_env", &self.api_key_env)
            .field("timeout_secs", &self.timeout_secs)
            .field("max_context_messages", &self.max_context_messages)
            .field("max_context_chars", &self.max_context_chars)
            .field("requests_per_minute", &self.requests_per_minute)
            .finish()
    }
}

impl LlmConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// Playback: renditions, normalisation and when to leave a voice channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlayerConfig {
    /// Bring every track to `target_lufs` (EBU R128) in its cached rendition.
    pub normalize: bool,
    /// Target integrated loudness, LUFS.
    pub target_lufs: f64,
    /// Opus bitrate of re-encoded renditions, kbit/s.
    pub bitrate_kbps: u32,
    /// Play a song not cached yet from its download as it arrives (with a gain measured
    /// on its first seconds), instead of after the download and its rendition.
    pub stream_first_play: bool,
    /// Leave after this long with nothing playing, in seconds.
    pub idle_disconnect_secs: u64,
    /// Leave after this long alone in the voice channel, in seconds.
    pub alone_disconnect_secs: u64,
    /// Songs listed per page of `queue`.
    pub queue_page_size: usize,
    /// The ffmpeg and ffprobe programs (scripts/setup.sh installs them).
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// Renditions made at once in this process (each runs ffprobe, then ffmpeg twice);
    /// more wait their turn.
    pub max_concurrent_renders: u32,
    /// Searches one user's typing into `/play` may start per minute (0: unlimited).
    pub suggestions_per_minute: u32,
    /// A keystroke replaced by the same user's next one within this long starts no
    /// search, in milliseconds.
    pub suggest_debounce_ms: u64,
    /// Members with this role (by name, any case, or by id) control the music from
    /// anywhere and skip without a vote, as members with Manage Server do. Empty: none.
    pub dj_role: String,
    /// A listener's skip is a vote; it skips when strictly more than this share of the
    /// people in the bot's voice channel voted (0.5: a majority).
    pub vote_skip_ratio: f64,
    /// Most songs a guild's queue holds, counting those kept for `loop queue`.
    pub max_queue: usize,
    /// Most songs one member may have in a guild's queue.
    pub max_queue_per_user: usize,
}

impl Default for PlayerConfig {
    fn default() -> Self {
        Self {
            normalize: true,
            target_lufs: -14.0,
            bitrate_kbps: 128,
            stream_first_play: true,
            idle_disconnect_secs: 300,
            alone_disconnect_secs: 60,
            queue_page_size: 10,
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            max_concurrent_renders: 2,
            suggestions_per_minute: 30,
            suggest_debounce_ms: 300,
            dj_role: "DJ".into(),
            vote_skip_ratio: 0.5,
            max_queue: 500,
            max_queue_per_user: 100,
        }
    }
}

impl PlayerConfig {
    pub fn idle_disconnect(&self) -> Duration {
        Duration::from_secs(self.idle_disconnect_secs)
    }
    pub fn alone_disconnect(&self) -> Duration {
        Duration::from_secs(self.alone_disconnect_secs)
    }
}

/// Limits and lifetimes of the cache store.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Where the store's index lives: unset for the data dir's SQLite database, or a
    /// `postgres://` URL shared by every process and host of one bot (see the README's
    /// "Outgrowing one machine").
    pub database_url: Option<String>,
    /// Eviction budget for cached blobs, in bytes.
    pub max_cache_bytes: u64,
    /// Largest single fetch, in bytes; larger downloads fail cleanly.
    pub max_fetch_bytes: u64,
    /// Wall-clock limit for one fetch, in seconds.
    pub fetch_timeout_secs: u64,
    /// A fetch that receives no data for this long fails, in seconds.
    pub fetch_stall_secs: u64,
    /// Lifetime of a lease; holders renew it at a third of this.
    pub lease_ttl_secs: u64,
    /// How long an event claim is remembered.
    pub claim_ttl_secs: u64,
    /// Scratch folders of guilds idle for this long are swept.
    pub scratch_idle_secs: u64,
    /// Temp files younger than this are never swept (a writer may be opening them).
    pub temp_grace_secs: u64,
    /// An expired metadata cache entry (search results) is kept this long to serve when
    /// a refresh fails, then purged, so typing never grows the database without bound.
    pub meta_keep_stale_secs: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            database_url: None,
            max_cache_bytes: 2 << 30,
            max_fetch_bytes: 256 << 20,
            fetch_timeout_secs: 600,
            fetch_stall_secs: 30,
            lease_ttl_secs: 60,
            claim_ttl_secs: 24 * 3600,
            scratch_idle_secs: 600,
            temp_grace_secs: 2,
            meta_keep_stale_secs: 24 * 3600,
        }
    }
}

/// The media service: how yt-dlp is run for plugins (see `media`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// The yt-dlp program: a name looked up in `PATH`, or a path.
    pub yt_dlp: PathBuf,
    /// Wall-clock limit of one probe or search, in seconds.
    pub probe_timeout_secs: u64,
    /// Wall-clock limit of one download, in seconds.
    pub download_timeout_secs: u64,
    /// A download that receives no data for this long, once data has started, fails
    /// (yt-dlp's socket timeout is twice this), in seconds. The first byte may take
    /// up to `probe_timeout_secs` (yt-dlp extracts first).
    pub stall_secs: u64,
    /// Largest download, in bytes; yt-dlp is stopped when it sends more.
    pub max_download_bytes: u64,
    /// Most playlist entries or search results returned.
    pub max_entries: u32,
    /// yt-dlp downloads running at once; more wait their turn.
    pub max_processes: u32,
    /// yt-dlp probes and searches (`/play` suggestions) running at once, apart from
    /// downloads, so neither kind waits for the other; more wait their turn.
    pub max_concurrent_searches: u32,
    /// Let plugins point yt-dlp at loopback and private addresses (local tests only).
    pub allow_private_addresses: bool,
    /// Probes and searches go to long-lived yt-dlp workers (yt-dlp's Python API) instead
    /// of a new process each, when yt-dlp is a Python install.
    pub workers: bool,
    /// Requests one worker serves before it is replaced by a fresh one.
    pub worker_requests: u32,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            yt_dlp: PathBuf::from("yt-dlp"),
            probe_timeout_secs: 60,
            download_timeout_secs: 600,
            stall_secs: 30,
            max_download_bytes: 256 << 20,
            max_entries: 100,
            max_processes: 4,
            max_concurrent_searches: 2,
            allow_private_addresses: false,
            workers: true,
            worker_requests: 100,
        }
    }
}

impl StoreConfig {
    pub fn fetch_timeout(&self) -> Duration {
        Duration::from_secs(self.fetch_timeout_secs)
    }
    pub fn fetch_stall(&self) -> Duration {
        Duration::from_secs(self.fetch_stall_secs)
    }
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_secs(self.lease_ttl_secs)
    }
    pub fn claim_ttl(&self) -> Duration {
        Duration::from_secs(self.claim_ttl_secs)
    }
    pub fn scratch_idle(&self) -> Duration {
        Duration::from_secs(self.scratch_idle_secs)
    }
    pub fn temp_grace(&self) -> Duration {
        Duration::from_secs(self.temp_grace_secs)
    }
    pub fn meta_keep_stale(&self) -> Duration {
        Duration::from_secs(self.meta_keep_stale_secs)
    }
}

impl Config {
    /// Loads `path` if given (it must exist), else `minstrel.toml` in the working directory if
    /// present, else defaults; then applies the process environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("reading config file {}", p.display()))?,
            None => std::fs::read_to_string("minstrel.toml").unwrap_or_default(),
        };
        Self::from_parts(&text, overrides(std::env::vars_os())?)
    }

    /// Builds a config from TOML text and `(name, value)` environment pairs.
    pub fn from_parts(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let mut table: toml::Table = toml::from_str(text).context("parsing config")?;
        log_as_table(&mut table);
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            if path.iter().any(String::is_empty) {
                bail!("malformed environment override {name}");
            }
            // `MINSTREL_LOG=debug` sets the level and keeps the file's format.
            let path = if path == ["log"] {
                vec!["log".to_string(), "level".to_string()]
            } else {
                path
            };
            set_path(&mut table, &path, parse_scalar(&value))
                .with_context(|| format!("applying environment override {name}"))?;
        }
        table
            .try_into()
            .context("invalid configuration (see minstrel.example.toml)")
    }
}

/// The `MINSTREL_` pairs of an environment. Other variables are skipped whatever their
/// bytes (`std::env::vars` would panic on a non-UTF-8 one); an override that is not UTF-8
/// is an error naming it.
fn overrides(
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for (name, value) in env {
        let lossy = name.to_string_lossy();
        if !lossy.starts_with(ENV_PREFIX) {
            continue;
        }
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
            bail!("environment override {lossy} is not valid UTF-8");
        };
        pairs.push((name.to_string(), value.to_string()));
    }
    Ok(pairs)
}

/// `log = "LEVEL"` (the older form) is `[log] level = "LEVEL"`.
fn log_as_table(table: &mut toml::Table) {
    if let Some(toml::Value::String(level)) = table.get("log") {
        let mut log = toml::Table::new();
        log.insert("level".into(), toml::Value::String(level.clone()));
        table.insert("log".into(), toml::Value::Table(log));
    }
}

fn parse_scalar(value: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> anyhow::Result<()> {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut node = table;
    for key in parents {
        let entry = node
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = match entry {
            toml::Value::Table(t) => t,
            _ => bail!("{key} is not a section"),
        };
    }
    node.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_without_file() {
        let c = Config::from_parts("", env(&[])).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("minstrel-data"));
        assert_eq!(c.store.max_cache_bytes, 2 << 30);
    }

    #[test]
    fn env_overrides_file() {
        let text = "data_dir = \"a\"\n[store]\nmax_cache_bytes = 10\n";
        let c = Config::from_parts(
            text,
            env(&[
                ("MINSTREL_STORE__MAX_CACHE_BYTES", "20"),
                ("MINSTREL_DATA_DIR", "/tmp/x y"),
                ("OTHER", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(c.store.max_cache_bytes, 20);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x y"));
    }

    #[test]
    fn plugin_settings_come_from_the_file_and_the_environment_and_are_never_shown() {
        let text = "[plugins.config.now-playing]\ninterval = 5\n[plugins.config.lyrics]\nbase_url = \"https://lrclib.example\"\n";
        let c = Config::from_parts(
            text,
            env(&[
                ("MINSTREL_PLUGINS__CONFIG__NOW_PLAYING__TOKEN", "s3cret"),
                (
                    "MINSTREL_PLUGINS__CONFIG__LYRICS__BASE_URL",
                    "https://other.example",
                ),
            ]),
        )
        .unwrap();
        let now = c.plugins.settings_for("now-playing");
        assert_eq!(now.get("interval").map(String::as_str), Some("5"));
        assert_eq!(now.get("token").map(String::as_str), Some("s3cret"));
        let lyrics = c.plugins.settings_for("lyrics");
        assert_eq!(
            lyrics.get("base_url").map(String::as_str),
            Some("https://other.example")
        );
        assert!(c.plugins.settings_for("someone-else").is_empty());
        let shown = format!(
            "{:?} {}",
            c.plugins,
            serde_json::to_string(&c.plugins).unwrap()
        );
        assert!(
            !shown.contains("s3cret") && !shown.contains("other.example"),
            "{shown}"
        );
        // A table is not a setting.
        assert!(Config::from_parts("[plugins.config.x.y]\nz = 1\n", env(&[])).is_err());
    }

    #[test]
    fn unknown_keys_and_bad_types_are_errors() {
        assert!(Config::from_parts("nope = 1", env(&[])).is_err());
        assert!(Config::from_parts("[store]\nmax_cache_bytes = \"lots\"", env(&[])).is_err());
        assert!(Config::from_parts("", env(&[("MINSTREL_STORE__BOGUS", "1")])).is_err());
    }

    #[test]
    fn non_utf8_variables_are_skipped_or_named() {
        use std::os::unix::ffi::OsStringExt;
        let bad = || OsString::from_vec(vec![0x66, 0xff]);
        let ok = overrides([
            (bad(), OsString::from("x")),
            (OsString::from("OTHER"), bad()),
            ("MINSTREL_DATA_DIR".into(), "d".into()),
        ])
        .unwrap();
        assert_eq!(ok, env(&[("MINSTREL_DATA_DIR", "d")]));
        let err = overrides([("MINSTREL_DATA_DIR".into(), bad())]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment override MINSTREL_DATA_DIR is not valid UTF-8"
        );
    }

    #[test]
    fn log_is_a_level_or_a_table_and_the_admin_token_stays_secret() {
        // The older form: the level alone.
        let c = Config::from_parts("log = \"debug\"\n", env(&[])).unwrap();
        assert_eq!(c.log.level, "debug");
        assert_eq!(c.log.format, LogFormat::Text);
        // The table; `MINSTREL_LOG` sets the level and keeps the format.
        let text = "[log]\nlevel = \"info\"\nformat = \"json\"\n";
        let c = Config::from_parts(text, env(&[("MINSTREL_LOG", "warn")])).unwrap();
        assert_eq!(
            (c.log.level.as_str(), c.log.format),
            ("warn", LogFormat::Json)
        );
        let c = Config::from_parts(
            "",
            env(&[
                ("MINSTREL_LOG__FORMAT", "json"),
                ("MINSTREL_ADMIN__LISTEN", "127.0.0.1:9400"),
                ("MINSTREL_ADMIN__TOKEN", "hunter2"),
            ]),
        )
        .unwrap();
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.admin.listen, Some("127.0.0.1:9400".parse().unwrap()));
        assert_eq!(c.admin.token.as_ref().unwrap().0, "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(Config::from_parts("[log]\nformat = \"xml\"\n", env(&[])).is_err());
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../../../minstrel.example.toml");
        Config::from_parts(text, env(&[])).unwrap();
    }
}
