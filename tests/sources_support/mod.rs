//! Helpers shared by `media` and `sources` (included with `#[path]`; not a test target):
//! real audio made by ffmpeg, the media service on test limits, and host services that
//! answer probes from recorded yt-dlp metadata.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use minstrel::config::MediaConfig;
use minstrel::llm::ChatRequest;
use minstrel::media::{AudioWriter, Entry, MediaError, SearchSite};
use minstrel::media::{Media, info};
use minstrel::plugins::host_services::{Control, Playing, QueueEntry};
use minstrel::plugins::types::Reply;
use minstrel::plugins::{
    Asker, ChatStream, Grant, HostServices, NoServices, PluginHost, PluginsConfig, ServiceError,
    Track,
};

/// An Ogg Opus file of `seconds` of a sine tone, made by the real ffmpeg.
pub fn ogg_opus(seconds: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tone.ogg");
    let opus = ["-c:a", "libopus", "-b:a", "48k"];
    minstrel_tests::voice::sine(&path, 440, seconds, &opus);
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"OggS"));
    bytes
}

/// The media service with short limits, allowed to reach the loopback test server.
pub fn media_config() -> MediaConfig {
    MediaConfig {
        probe_timeout_secs: 30,
        download_timeout_secs: 30,
        stall_secs: 2,
        max_download_bytes: 8 << 20,
        max_entries: 50,
        allow_private_addresses: true,
        ..MediaConfig::default()
    }
}

/// Recorded yt-dlp output (tests/fixtures/ytdlp/NAME.json), parsed by the host's parser.
pub fn recorded(name: &str, asked: &str) -> info::Info {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/ytdlp/{name}.json"));
    let json = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    info::parse(&json, asked, 50).unwrap()
}

/// Host services standing in for YouTube: probes and searches are answered from the
/// recorded metadata (through the host's real yt-dlp JSON parser), and downloads of a
/// video go, through the real media service and yt-dlp, to the audio file `audio` names
/// for it on the loopback server. Everything asked is recorded; the other services (LLM,
/// player) are `rest`'s.
pub struct Recorded {
    pub probes: HashMap<String, &'static str>,
    pub audio: HashMap<String, String>,
    pub media: Media,
    pub asked: Mutex<Vec<String>>,
    pub downloads: AtomicUsize,
    /// How long a search takes (a slow site).
    pub search_delay: std::time::Duration,
    /// Set when the stand-in wraps a running host's services.
    pub rest: OnceLock<Arc<dyn HostServices>>,
}

impl Recorded {
    pub fn new(media: Media) -> Self {
        Self {
            probes: HashMap::new(),
            audio: HashMap::new(),
            media,
            asked: Mutex::default(),
            downloads: AtomicUsize::new(0),
            search_delay: std::time::Duration::ZERO,
            rest: OnceLock::new(),
        }
    }

    fn rest(&self) -> Arc<dyn HostServices> {
        self.rest
            .get()
            .cloned()
            .unwrap_or_else(|| Arc::new(NoServices))
    }

    /// The requests of one kind (`probe`, `search`, `download`), in order.
    pub fn asked_for(&self, kind: &str) -> Vec<String> {
        let prefix = format!("{kind} ");
        self.asked()
            .into_iter()
            .filter(|a| a.starts_with(&prefix))
            .collect()
    }

    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }

    pub fn downloads(&self) -> usize {
        self.downloads.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl HostServices for Recorded {
    async fn chat(
        &self,
        plugin: &str,
        user: Option<u64>,
        request: ChatRequest,
    ) -> Result<String, ServiceError> {
        self.rest().chat(plugin, user, request).await
    }

    async fn chat_stream(
        &self,
        plugin: &str,
        user: Option<u64>,
        request: ChatRequest,
    ) -> Result<Box<dyn ChatStream>, ServiceError> {
        self.rest().chat_stream(plugin, user, request).await
    }

    async fn enqueue(
        &self,
        plugin: &str,
        guild_id: u64,
        query: String,
        at: Option<u32>,
        asker: Option<&Asker>,
    ) -> Result<Track, ServiceError> {
        self.rest()
            .enqueue(plugin, guild_id, query, at, asker)
            .await
    }

    async fn skip(
        &self,
        plugin: &str,
        guild_id: u64,
        asker: Option<&Asker>,
    ) -> Result<Option<Track>, ServiceError> {
        self.rest().skip(plugin, guild_id, asker).await
    }

    async fn queue(&self, plugin: &str, guild_id: u64) -> Result<Vec<QueueEntry>, ServiceError> {
        self.rest().queue(plugin, guild_id).await
    }

    async fn now_playing(
        &self,
        plugin: &str,
        guild_id: u64,
    ) -> Result<Option<Playing>, ServiceError> {
        self.rest().now_playing(plugin, guild_id).await
    }

    async fn control(
        &self,
        plugin: &str,
        guild_id: u64,
        control: Control,
        asker: Option<&Asker>,
    ) -> Result<(), ServiceError> {
        self.rest().control(plugin, guild_id, control, asker).await
    }

    async fn post(
        &self,
        plugin: &str,
        guild_id: u64,
        channel_id: u64,
        edit: Option<u64>,
        reply: Reply,
    ) -> Result<u64, ServiceError> {
        self.rest()
            .post(plugin, guild_id, channel_id, edit, reply)
            .await
    }

    async fn probe(&self, _plugin: &str, url: String) -> Result<info::Info, ServiceError> {
        self.asked.lock().unwrap().push(format!("probe {url}"));
        let name = self
            .probes
            .get(&url)
            .ok_or_else(|| MediaError::BadUrl(format!("no recording for {url}")))?;
        Ok(recorded(name, &url))
    }

    async fn search(
        &self,
        _plugin: &str,
        site: SearchSite,
        query: String,
        limit: u32,
    ) -> Result<Vec<Entry>, ServiceError> {
        self.asked
            .lock()
            .unwrap()
            .push(format!("search SearchSite::{site:?} {query} {limit}"));
        tokio::time::sleep(self.search_delay).await;
        let info = recorded("search", &query);
        Ok(info.entries)
    }

    async fn download_audio(
        &self,
        _plugin: &str,
        url: String,
        into: &mut dyn AudioWriter,
    ) -> Result<(), ServiceError> {
        self.asked.lock().unwrap().push(format!("download {url}"));
        let local = self
            .audio
            .get(&url)
            .ok_or_else(|| MediaError::BadUrl(format!("no audio for {url}")))?;
        self.downloads.fetch_add(1, Ordering::SeqCst);
        self.media.download_audio(local, into).await?;
        Ok(())
    }
}

/// Collects what a plugin writes.
#[derive(Clone, Default)]
pub struct Collect(pub Arc<Mutex<Vec<u8>>>);

impl Collect {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

#[async_trait]
impl AudioWriter for Collect {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(())
    }
}

/// A plugin host serving the source plugin `name` (from the built component `crate_name`)
/// with `grant` (its call timeout raised to fit real downloads) and `services`.
pub async fn source_host(
    tmp: &Path,
    crate_name: &str,
    name: &str,
    mut grant: Grant,
    services: Arc<dyn HostServices>,
) -> PluginHost {
    let dir = tmp.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        minstrel_tests::component(crate_name),
        dir.join(format!("{name}.wasm")),
    )
    .unwrap();
    grant.call_timeout_ms.get_or_insert(60_000);
    let mut config = PluginsConfig {
        dir: dir.clone(),
        hot_reload: false,
        max_concurrent_calls: 16,
        bundled: false,
        ..PluginsConfig::default()
    };
    config.grants.insert(name.to_string(), grant);
    let host = PluginHost::new(config, &tmp.join("data"), services).expect("plugin runtime");
    for (path, result) in host.load_dir().await {
        result.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    host
}

pub fn grant(interfaces: &[&str]) -> Grant {
    Grant {
        interfaces: interfaces.iter().map(|s| s.to_string()).collect(),
        ..Grant::default()
    }
}

/// The bot on `config`, its plugins' host services answered by `youtube` (which passes
/// what it does not stand in for to the real ones).
pub async fn start_bot_on_recorded(
    server: &minstrel_local::discord::LocalDiscord,
    config: &minstrel::config::Config,
    youtube: Arc<Recorded>,
) -> minstrel::app::Host {
    let options = minstrel_tests::bot::bot_options(server);
    minstrel_tests::bot::start_bot_with(server, config, options, "play", move |real| {
        let _ = youtube.rest.set(real);
        youtube
    })
    .await
}

pub const NEVER_GONNA: &str = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";
pub const PLAYLIST: &str =
    "https://www.youtube.com/playlist?list=PLminstrel0test0mix000000000000000";

/// The `youtube` source plugin with YouTube stood in for: probes and searches are
/// answered from recorded yt-dlp metadata (tests/fixtures/ytdlp), and the download of
/// each recorded video goes through the real media service and yt-dlp to a `secs` long
/// song on a loopback "remote" host (whose `/video.ogg` counts the downloads).
pub async fn youtube_source(
    dir: &Path,
    secs: u32,
) -> (
    minstrel_local::http::LocalHttp,
    minstrel::config::Config,
    Recorded,
) {
    use minstrel_local::http::{LocalHttp, Route};
    let song = minstrel_tests::voice::sine_ogg(dir, 440, secs);
    let remote = LocalHttp::start().await.unwrap();
    remote.route(
        "/video.ogg",
        Route::ok(std::fs::read(&song).unwrap()).typed("audio/ogg"),
    );
    let mut youtube = Recorded::new(Media::new(media_config()));
    youtube.probes.insert(NEVER_GONNA.into(), "video");
    youtube.probes.insert(PLAYLIST.into(), "playlist");
    for id in ["dQw4w9WgXcQ", "9bZkp7q19f0", "kJQP7kiw5Fk", "aqz-KE-bpKQ"] {
        let watch = format!("https://www.youtube.com/watch?v={id}");
        youtube.audio.insert(watch, remote.url("/video.ogg"));
    }
    let mut config =
        minstrel_tests::playback::config_with(dir, &[("tone", "tone"), ("youtube", "youtube")]);
    config
        .plugins
        .grants
        .insert("youtube".into(), grant(&["media"]));
    (remote, config, youtube)
}

/// A grant of `interfaces`, with HTTP to the loopback test server on `port` only.
pub fn loopback_grant(interfaces: &[&str], port: u16) -> Grant {
    Grant {
        http_hosts: vec!["127.0.0.1".into()],
        http_ports: vec![port],
        allow_private_addresses: true,
        ..grant(interfaces)
    }
}

/// Sets plugin `name`'s settings.
pub fn settings(config: &mut minstrel::config::Config, name: &str, values: &[(&str, String)]) {
    use minstrel::config::plugins::Setting;
    let values = values
        .iter()
        .map(|(key, value)| (key.to_string(), Setting(value.clone())))
        .collect();
    config.plugins.config.insert(name.to_string(), values);
}

/// A file of `tests/fixtures`.
pub fn fixture(path: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
