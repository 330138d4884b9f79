//! Playback benchmarks, through the real bot and songbird against the local voice
//! endpoint (which decrypts and times every packet):
//!
//! 1. Time from `!play` to the first audio packet, for an uncached track (tone source +
//!    loudness measurement + Opus rendition) and a cached one.
//!    And for an uncached 4-minute song that a loopback host sends at 1 MB/s through the
//!    `http` source: played from its download as it arrives, against waiting for the
//!    whole download and its rendition, alternating in one host. And for a live
//!    station (the `radio` source, a loopback Icecast-style server).
//! 2. The most guilds that play at once in real time through Minstrel's players, against
//!    bare songbird drivers playing the same rendition in the same run, with the voice
//!    endpoint in a process of its own (`local-discord`: build it first, `cargo build
//!    --release -p minstrel-local --bin local-discord`). Real time: every guild receives
//!    at least 98% of its 20 ms packets over the window and at most 1% of packet gaps
//!    exceed 40 ms (`World::real_time`).
//!
//! Run: `scripts/build-plugins.sh && cargo bench -p minstrel --bench playback`
//! (`--profile dev` for a quicker build; the ratio compares both in the same build;
//! `-- --first-play` stops after 1).

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use minstrel::app;
use minstrel::config::MediaConfig;
use minstrel::config::plugins::Setting;
use minstrel::config::{Config, PlayerConfig};
use minstrel::discord::BotOptions;
use minstrel::media::{AudioWriter, Media};
use minstrel::player::rendition::Renderer;
use minstrel::player::{Command, Filter, Playable, Players, Progress, Song, prepare};
use minstrel::plugins::Grant;
use minstrel_local::discord::payloads::{ALICE, GUILD_ID, MUSIC};
use minstrel_local::discord::process::ServerProcess;
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_local::http::{LocalHttp, Route};
use minstrel_local::radio::LocalRadio;
use songbird::ConnectionInfo;
use songbird::driver::Driver;
use songbird::input::File;

const WINDOW: Duration = Duration::from_secs(5);
const RUNS: usize = 5;

fn main() {
    // SAFETY: one thread: the runtime starts below.
    unsafe { minstrel_local::discord::voice::trust_in_this_process() }.expect("voice trust bundle");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run());
}

fn built_plugin(name: &str) -> std::path::PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../plugins/target/wasm32-wasip2/release/{name}.wasm"
    ));
    assert!(path.exists(), "run scripts/build-plugins.sh first");
    path
}

fn audio_packets(world: &World, guild: u64) -> u64 {
    let s = world.voice().stats(guild);
    s.packets - s.silence_frames
}

async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

/// Sends `!text` and returns the time until the next audio packet arrives.
async fn play_to_first_packet(world: &World, text: &str) -> Duration {
    let before = audio_packets(world, GUILD_ID);
    let start = Instant::now();
    world.send_message(ALICE, text, 1);
    assert!(
        wait_until(Duration::from_secs(60), || audio_packets(world, GUILD_ID)
            > before)
        .await,
        "no audio after {text}"
    );
    start.elapsed()
}

async fn stop(world: &World) {
    world.send_message(ALICE, "!stop", 1);
    let mut last = audio_packets(world, GUILD_ID);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = audio_packets(world, GUILD_ID);
        if now == last {
            return;
        }
        last = now;
    }
}

/// A 440 Hz tone of `secs` seconds encoded with `codec` (the extension of `path`
/// picks the container), by the real ffmpeg; its bytes.
fn sine(path: &Path, secs: u32, codec: &[&str]) -> Vec<u8> {
    let made = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={secs}"))
        .args(codec)
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success(), "ffmpeg made no {}", path.display());
    std::fs::read(path).unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn song() -> Song {
    Song {
        source: "tone".into(),
        id: "440:120".into(),
        title: "440 Hz".into(),
        duration_ms: Some(120_000),
        page_url: None,
        requested_by: ALICE,
        uid: 0,
        live: None,
    }
}

/// `/play` -> first packet for an uncached 4-minute song sent at 1 MB/s through the
/// `http` source: streamed from its download (the default) against the whole download
/// and rendition first (`stream_first_play = false`), alternating, each on a URL of its
/// own. Both go through the players as `/play` does: resolve, prepare, add.
async fn first_play_of_a_download(
    host: &app::Host,
    world: &World,
    config: &Config,
    remote: &LocalHttp,
    dir: &Path,
) {
    let codec = ["-ac", "2", "-c:a", "libopus", "-b:a", "128k", "-vbr", "off"];
    let body = sine(&dir.join("four-minutes.ogg"), 240, &codec);
    let whole = Renderer::new(PlayerConfig {
        stream_first_play: false,
        ..config.player.clone()
    });
    let players = &host.players;
    let mut times = [Vec::new(), Vec::new()];
    for run in 0..2 * RUNS {
        let url = sent_at_a_megabyte_a_second(remote, &format!("/song-{run}.ogg"), &body);
        let streamed = run % 2 == 0;
        let before = audio_packets(world, GUILD_ID);
        let start = Instant::now();
        let songs = players.resolve(None, &url, ALICE).await.unwrap().to_play();
        let progress = Progress::default();
        let playable = if streamed {
            players
                .prepare(&songs[0], Filter::Off, &progress)
                .await
                .unwrap()
        } else {
            let (store, plugins) = (&host.store, &host.plugins);
            let ready = prepare::prepare(store, plugins, &whole, &songs[0], Filter::Off, &progress);
            Playable::Rendition(ready.await.unwrap())
        };
        players
            .add(GUILD_ID, Some(MUSIC), None, songs.clone(), Some(playable))
            .await
            .unwrap();
        assert!(
            wait_until(Duration::from_secs(120), || audio_packets(world, GUILD_ID)
                > before)
            .await,
            "no audio from {url}"
        );
        times[usize::from(!streamed)].push(start.elapsed());
        stop(world).await;
        // The streamed play's rendition is made in the background: let it finish before
        // the next run, which would otherwise share the cores with it.
        let key = prepare::rendition_key(&config.player, &songs[0], Filter::Off);
        assert!(
            wait_for_async(Duration::from_secs(120), || host.store.lookup(&key)).await,
            "no rendition of {url}"
        );
    }
    let [streamed, whole] = times.map(median);
    println!(
        "play -> first packet (4 min song at 1 MB/s through http, {RUNS} runs each): \
         streamed median {:.0} ms, whole download first median {:.0} ms (ratio {:.2})",
        streamed.as_secs_f64() * 1e3,
        whole.as_secs_f64() * 1e3,
        whole.as_secs_f64() / streamed.as_secs_f64()
    );
    ytdlp_download_of(remote, &body).await;
}

/// Serves `body` at `path` of `remote`, sent at 1 MB/s; returns its URL.
fn sent_at_a_megabyte_a_second(remote: &LocalHttp, path: &str, body: &[u8]) -> String {
    let route = Route::ok(body.to_vec()).typed("audio/ogg");
    remote.route(path, route.at_rate(1_000_000));
    remote.url(path)
}

/// Through yt-dlp the download starts later: the real media service downloading the same
/// song from the same loopback host at 1 MB/s, the time to its first byte and to its end.
async fn ytdlp_download_of(remote: &LocalHttp, body: &[u8]) {
    /// Notes when the first bytes arrive.
    struct FirstBytes {
        started: Instant,
        first: Option<Duration>,
    }
    #[async_trait::async_trait]
    impl AudioWriter for FirstBytes {
        async fn write(&mut self, _bytes: &[u8]) -> Result<(), String> {
            self.first.get_or_insert(self.started.elapsed());
            Ok(())
        }
    }
    let media = Media::new(MediaConfig {
        allow_private_addresses: true,
        ..MediaConfig::default()
    });
    let (mut first, mut whole) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let url = sent_at_a_megabyte_a_second(remote, &format!("/ytdlp-{run}.ogg"), body);
        let mut bytes = FirstBytes {
            started: Instant::now(),
            first: None,
        };
        media.download_audio(&url, &mut bytes).await.unwrap();
        whole.push(bytes.started.elapsed());
        first.push(bytes.first.expect("yt-dlp wrote the song"));
    }
    println!(
        "yt-dlp download of the same song ({RUNS} runs): first byte median {:.0} ms, \
         whole median {:.0} ms",
        median(first).as_secs_f64() * 1e3,
        median(whole).as_secs_f64() * 1e3
    );
}

/// Polls `lookup` until it finds something, for at most `limit`.
async fn wait_for_async<F, T, E>(limit: Duration, mut lookup: impl FnMut() -> F) -> bool
where
    F: Future<Output = Result<Option<T>, E>>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = lookup().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Starts Minstrel's players in `guilds`, joining through the gateway, all at once.
async fn start_minstrel(players: &Players, guilds: &[u64]) {
    let joins = guilds.iter().map(|g| async move {
        let ready = players
            .prepare(&song(), Filter::Off, &Progress::default())
            .await
            .unwrap();
        players
            .add(*g, Some(MUSIC), None, vec![song()], Some(ready))
            .await
            .unwrap();
    });
    futures::future::join_all(joins).await;
}

/// Connects bare songbird drivers in `guilds` of the server process, each playing
/// `path`.
async fn start_bare(server: &mut ServerProcess, path: &Path, guilds: &[u64]) -> Vec<Driver> {
    let id = |v: u64| NonZeroU64::new(v).unwrap();
    let mut drivers = Vec::new();
    for g in guilds {
        let grant = server.grant(*g).await;
        let mut driver = Driver::new(songbird::Config::default());
        driver
            .connect(ConnectionInfo {
                channel_id: id(grant.channel_id).into(),
                endpoint: grant.endpoint.clone(),
                guild_id: id(grant.guild_id).into(),
                session_id: grant.session_id.clone(),
                token: grant.token.clone(),
                user_id: id(grant.user_id).into(),
            })
            .await
            .expect("driver connects");
        let file: PathBuf = path.into();
        driver.play_input(File::new(file).into());
        drivers.push(driver);
    }
    drivers
}

async fn run() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LocalDiscord::start().await.unwrap();
    let world = Arc::clone(server.world());
    let mut config = Config {
        data_dir: tmp.path().join("data"),
        ..Config::default()
    };
    config.plugins.dir = tmp.path().join("plugins");
    config.plugins.bundled = false;
    config.plugins.call_timeout_ms = 60_000;
    config.plugins.host_calls_per_call = 1_000_000;
    std::fs::create_dir_all(&config.plugins.dir).unwrap();
    for name in ["tone", "http", "radio"] {
        let installed = config.plugins.dir.join(format!("{name}.wasm"));
        std::fs::copy(built_plugin(name), installed).unwrap();
    }
    let remote = LocalHttp::start().await.unwrap();
    config.plugins.grants.insert(
        "http".into(),
        Grant {
            interfaces: vec!["http".into()],
            http_hosts: vec!["127.0.0.1".into()],
            http_ports: vec![remote.port()],
            allow_private_addresses: true,
            ..Grant::default()
        },
    );
    // A station sending 128 kbit/s MP3 in real time, after a 32 KiB burst.
    let mp3 = ["-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k"];
    let station = sine(&tmp.path().join("station.mp3"), 10, &mp3);
    let radio = LocalRadio::start(station, 16_000, "On Air").await.unwrap();
    config.plugins.grants.insert(
        "radio".into(),
        Grant {
            interfaces: vec!["http".into()],
            http_hosts: vec!["127.0.0.1".into()],
            http_ports: vec![radio.port()],
            allow_private_addresses: true,
            ..Grant::default()
        },
    );
    config.plugins.config.insert(
        "radio".into(),
        [(
            "stations".to_string(),
            Setting(format!("local={}", radio.url())),
        )]
        .into_iter()
        .collect(),
    );
    let options = BotOptions {
        token: "bench".into(),
        api_base: Some(server.base_url()),
        dev_guild: Some(GUILD_ID),
        prefix: "!".into(),
        mention_order: Vec::new(),
        shards: minstrel::shards::ShardPlan::Single,
    };
    let host = app::start(&config, options.clone()).await.unwrap();
    assert!(
        world
            .wait_for(Duration::from_secs(60), |w| !w.guild_commands().is_empty())
            .await
    );
    world.join_voice(ALICE, MUSIC).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 1. /play to first packet. The first play joins the channel; it is not counted.
    play_to_first_packet(&world, "!play tone:200:30").await;
    stop(&world).await;
    let mut uncached = Vec::new();
    for i in 0..RUNS {
        uncached.push(play_to_first_packet(&world, &format!("!play tone:{}:180", 300 + i)).await);
        stop(&world).await;
    }
    let mut cached = Vec::new();
    for i in 0..RUNS {
        cached.push(play_to_first_packet(&world, &format!("!play tone:{}:180", 300 + i)).await);
        stop(&world).await;
    }
    println!(
        "play -> first packet (3 min track, {RUNS} runs): uncached median {:.0} ms, cached median {:.1} ms",
        median(uncached).as_secs_f64() * 1e3,
        median(cached).as_secs_f64() * 1e3
    );
    let mut live = Vec::new();
    for _ in 0..RUNS {
        live.push(play_to_first_packet(&world, "!play radio:local").await);
        stop(&world).await;
    }
    println!(
        "play -> first packet of a live station (MP3 at 128 kbit/s after a 32 KiB burst, {RUNS} runs, {} connections): median {:.0} ms",
        radio.connections(),
        median(live).as_secs_f64() * 1e3
    );
    first_play_of_a_download(&host, &world, &config, &remote, tmp.path()).await;
    world.send_message(ALICE, "!leave", 1);
    if std::env::args().any(|a| a == "--first-play") {
        host.shutdown().await;
        return;
    }

    host.shutdown().await;

    // 2. Guilds in real time: Minstrel's players vs bare songbird, same file, same run,
    // with the voice endpoint (which decrypts and times every packet) in a process of
    // its own. Each side ramps up, keeping the guilds already playing, until a step
    // falls out of real time.
    let mut server = ServerProcess::start().await;
    let ramp = Config {
        data_dir: tmp.path().join("data-ramp"),
        ..config.clone()
    };
    let options = BotOptions {
        api_base: Some(server.base_url.clone()),
        ..options
    };
    let host = app::start(&ramp, options).await.unwrap();
    let players = host.players.clone();
    let rendition = match players
        .prepare(&song(), Filter::Off, &Progress::default())
        .await
        .unwrap()
    {
        Playable::Rendition(ready) => ready,
        Playable::Streamed(mut streamed) => streamed
            .rendition
            .take()
            .expect("the rendition is being made")
            .await
            .unwrap()
            .unwrap(),
        Playable::Live(_) => unreachable!("the tone is no live stream"),
    };
    let steps = [
        100usize, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 2000, 2500, 3000,
    ];
    let mut best = [0usize; 2];
    for side in 0..2 {
        let base = 100_000 + side as u64 * 10_000;
        let mut playing = 0usize;
        let mut drivers = Vec::new();
        for n in steps {
            let (from, to) = (base + playing as u64, base + n as u64);
            server.voice_guilds(from, to).await;
            let guilds: Vec<u64> = (from..to).collect();
            if side == 0 {
                start_minstrel(&players, &guilds).await;
            } else {
                drivers.extend(start_bare(&mut server, &rendition.path, &guilds).await);
            }
            playing = n;
            let found = server.real_time(base, to, WINDOW).await;
            println!(
                "{}, {n} guilds: {} (worst guild {}/250 packets, {} late gaps)",
                ["minstrel", "bare songbird"][side],
                if found.ok {
                    "real time"
                } else {
                    "NOT real time"
                },
                found.worst_packets,
                found.worst_late,
            );
            if !found.ok {
                break;
            }
            best[side] = n;
        }
        // Stop this side before measuring the other.
        for i in 0..playing as u64 {
            if side == 0 {
                let _ = players.command(base + i, Command::Leave).await;
            }
        }
        server.revoke(base, base + playing as u64).await;
        for mut driver in drivers {
            driver.leave();
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    println!(
        "most guilds in real time, endpoint in its own process: minstrel {}, bare songbird {} (ratio {:.2})",
        best[0],
        best[1],
        best[0] as f64 / best[1].max(1) as f64
    );
    drop(rendition);
    host.shutdown().await;
}
