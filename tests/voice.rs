//! Voice on the local Discord-compatible server: the real songbird driver connects to
//! the local endpoint over TLS + UDP, streams an Ogg Opus file made by ffmpeg, and the
//! endpoint decrypts, counts and records what it hears.
//!
//! songbird trusts the endpoint's self-signed certificate through `SSL_CERT_FILE`, which
//! every test sets through [`run`] before it starts its runtime (see
//! `minstrel_local::discord::voice::trust_in_this_process` for why that is sound).

use std::num::{NonZeroU8, NonZeroU64};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use minstrel_local::discord::payloads::{ALICE, BOB, BOT_ID, GUILD_ID, LOUNGE, MUSIC};
use minstrel_local::discord::voice::rtp::SILENCE;
use minstrel_local::discord::{LocalDiscord, VoiceGrant, VoiceStats};
use minstrel_tests::voice::{run, sine_ogg};
use minstrel_tests::wait_for;
use serde_json::{Value, json};
use songbird::Config;
use songbird::ConnectionInfo;
use songbird::driver::{CryptoMode, Driver, retry::Retry};
use songbird::tracks::{PlayMode, TrackHandle};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(20);

/// The audio packets of an Ogg Opus file (the two header packets left out).
fn ogg_packets(path: &Path) -> Vec<Vec<u8>> {
    let mut reader = ogg::PacketReader::new(std::fs::File::open(path).unwrap());
    let mut packets = Vec::new();
    while let Some(p) = reader.read_packet().unwrap() {
        packets.push(p.data);
    }
    packets.split_off(2)
}

/// Seconds of audio ffmpeg decodes from `path` (stereo s16 at 48 kHz, counted in bytes).
fn decoded_secs(path: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "s16le", "-ac", "2", "-ar", "48000", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg could not decode {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.len() as f64 / 4.0 / 48_000.0
}

fn ffprobe_secs(path: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn info(grant: &VoiceGrant) -> ConnectionInfo {
    let id = |v: u64| NonZeroU64::new(v).unwrap();
    ConnectionInfo {
        channel_id: id(grant.channel_id).into(),
        endpoint: grant.endpoint.clone(),
        guild_id: id(grant.guild_id).into(),
        session_id: grant.session_id.clone(),
        token: grant.token.clone(),
        user_id: id(grant.user_id).into(),
    }
}

async fn connected_driver(server: &LocalDiscord, config: Config) -> Driver {
    let grant = server.world().grant_voice(BOT_ID, MUSIC).unwrap();
    let mut driver = Driver::new(config);
    driver.connect(info(&grant)).await.expect("driver connects");
    driver
}

fn audio_packets(s: &VoiceStats) -> u64 {
    s.packets - s.silence_frames
}

async fn wait(server: &LocalDiscord, what: &str, cond: impl FnMut(&VoiceStats) -> bool) {
    let voice = server.world().voice();
    assert!(
        voice.wait_for(GUILD_ID, WAIT, cond).await,
        "timed out waiting for {what}: {:?}",
        voice.stats(GUILD_ID)
    );
}

async fn wait_ended(track: &TrackHandle) {
    let ended = async || match track.get_info().await {
        Ok(info) => info.playing == PlayMode::End || info.playing == PlayMode::Stop,
        Err(_) => true, // the track is gone: it ended
    };
    assert!(wait_for(WAIT, ended).await, "track never ended");
}

#[test]
fn a_played_file_arrives_whole_decrypted_and_recorded() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let source = sine_ogg(dir.path(), 440, 3);
        let sent = ogg_packets(&source);
        // 3 s of 20 ms frames, plus the frame the encoder's delay spills into.
        assert!((150..=152).contains(&sent.len()), "{} packets", sent.len());

        let server = LocalDiscord::start_recording(dir.path().join("voice"))
            .await
            .unwrap();
        let mut driver = connected_driver(&server, Config::default()).await;
        let track = driver.play_input(songbird::input::File::new(source.clone()).into());
        wait(&server, "speaking", |s| s.speaking).await;
        wait_ended(&track).await;
        let n = sent.len() as u64;
        wait(&server, "all packets and the trailing silence", |s| {
            audio_packets(s) >= n && s.silence_frames >= 5
        })
        .await;

        let stats = server.world().voice_stats();
        // Shown with --nocapture; timing is measured here, not asserted.
        eprintln!(
            "arrival: {} intervals, mean {:?}, max {:?}, {} late",
            stats.arrival.intervals,
            stats.arrival.mean_gap(),
            stats.arrival.max_gap,
            stats.arrival.late
        );
        assert!(stats.connected);
        assert_eq!(stats.identifies, 1);
        assert_eq!(stats.rejected, 0);
        assert_eq!(stats.mode.as_deref(), Some("aead_aes256_gcm_rtpsize"));
        assert_eq!(stats.decrypt_failures, 0);
        assert_eq!(audio_packets(&stats), n, "{stats:?}");
        assert_eq!(stats.silence_frames, 5);
        assert!((stats.audio_secs() - (n as f64 * 0.02 + 0.1)).abs() < 1e-9);

        let path = server
            .world()
            .voice()
            .finish_recording(GUILD_ID)
            .await
            .expect("a recording");
        assert_eq!(Some(&path), stats.ogg_path.as_ref());
        let heard = ogg_packets(&path);
        // Opus passthrough: the file's packets reach the server byte for byte.
        assert_eq!(heard.len(), sent.len() + 5);
        assert!(heard[..sent.len()] == sent[..], "packets were re-encoded");
        assert!(heard[sent.len()..].iter().all(|p| p[..] == SILENCE));
        let secs = n as f64 * 0.02 + 0.1;
        let decoded = decoded_secs(&path);
        assert!(
            (decoded - secs).abs() < 0.03,
            "decoded {decoded} s, want {secs}"
        );
        let probed = ffprobe_secs(&path);
        assert!(
            (probed - secs).abs() < 0.03,
            "ffprobe says {probed} s, want {secs}"
        );
        driver.leave();
    });
}

#[test]
fn xchacha_is_negotiated_when_the_client_prefers_it() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let source = sine_ogg(dir.path(), 440, 1);
        let server = LocalDiscord::start().await.unwrap();
        let config = Config::default().crypto_mode(CryptoMode::XChaCha20Poly1305);
        let mut driver = connected_driver(&server, config).await;
        driver.play_input(songbird::input::File::new(source).into());
        wait(&server, "a second of packets", |s| audio_packets(s) >= 50).await;
        let stats = server.world().voice_stats();
        assert_eq!(
            stats.mode.as_deref(),
            Some("aead_xchacha20_poly1305_rtpsize")
        );
        assert_eq!(stats.decrypt_failures, 0);
        assert!(stats.ogg_path.is_none(), "start() does not record");
    });
}

#[test]
fn pause_resume_and_stop_shape_the_stream() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let source = sine_ogg(dir.path(), 440, 3);
        let n = ogg_packets(&source).len() as u64;
        let server = LocalDiscord::start().await.unwrap();
        let mut driver = connected_driver(&server, Config::default()).await;
        let voice = server.world().voice();

        let track = driver.play_input(songbird::input::File::new(source.clone()).into());
        wait(&server, "a second of audio", |s| audio_packets(s) >= 50).await;
        track.pause().unwrap();
        // A pause ends the talk spurt: five silence frames, then nothing.
        wait(&server, "silence after the pause", |s| {
            s.silence_frames >= 5
        })
        .await;
        let paused = voice.stats(GUILD_ID);
        assert_eq!(paused.silence_frames, 5);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            voice.stats(GUILD_ID).packets,
            paused.packets,
            "packets arrived while paused"
        );

        track.play().unwrap();
        wait_ended(&track).await;
        wait(&server, "the rest of the file", |s| {
            audio_packets(s) >= n && s.silence_frames >= 10
        })
        .await;
        let whole = voice.stats(GUILD_ID);
        // Nothing lost or repeated across the pause; the pause is not counted as late.
        assert_eq!(audio_packets(&whole), n, "{whole:?}");
        assert_eq!(whole.silence_frames, 10);
        assert_eq!(whole.decrypt_failures, 0);
        assert!(
            whole.arrival.max_gap < Duration::from_millis(400),
            "{whole:?}"
        );

        // Stop part-way: the stream ends early.
        let track = driver.play_input(songbird::input::File::new(source).into());
        wait(&server, "half a second more", |s| {
            audio_packets(s) >= n + 25
        })
        .await;
        track.stop().unwrap();
        wait(&server, "silence after the stop", |s| {
            s.silence_frames >= 15
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stopped = voice.stats(GUILD_ID);
        let second = audio_packets(&stopped) - n;
        assert!(second < n / 2, "{second} packets after stop at ~25");
        assert_eq!(stopped.silence_frames, 15);
    });
}

#[test]
fn a_wrong_token_is_refused() {
    run(async {
        let server = LocalDiscord::start().await.unwrap();
        let mut grant = server.world().grant_voice(BOT_ID, MUSIC).unwrap();
        grant.token = "not-the-token".into();
        let retry = Retry {
            retry_limit: Some(NonZeroU8::MIN),
            ..Retry::default()
        };
        let mut driver = Driver::new(Config::default().driver_retry(retry));
        let result = driver.connect(info(&grant)).await;
        assert!(result.is_err(), "connected with a wrong token");
        let stats = server.world().voice_stats();
        assert!(stats.rejected >= 1, "{stats:?}");
        assert_eq!(stats.identifies, 0);
        assert!(!stats.connected);
        assert_eq!(stats.packets, 0);
    });
}

#[test]
fn the_client_resumes_after_the_voice_socket_drops() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let source = sine_ogg(dir.path(), 440, 3);
        let n = ogg_packets(&source).len() as u64;
        let server = LocalDiscord::start().await.unwrap();
        let mut driver = connected_driver(&server, Config::default()).await;
        let track = driver.play_input(songbird::input::File::new(source).into());
        wait(&server, "some audio", |s| audio_packets(s) >= 30).await;
        assert!(server.world().voice().crash_socket(GUILD_ID));
        wait(&server, "a resume", |s| s.resumes == 1 && s.connected).await;
        wait_ended(&track).await;
        wait(&server, "the whole file", |s| audio_packets(s) >= n).await;
        let stats = server.world().voice_stats();
        assert_eq!(stats.identifies, 1, "resumed, not identified again");
        assert_eq!(stats.decrypt_failures, 0);
        assert_eq!(audio_packets(&stats), n);
    });
}

/// A raw gateway client standing in for the bot's shard.
struct Shard {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Shard {
    async fn connect(server: &LocalDiscord) -> Shard {
        let url = format!("{}/gw", server.base_url().replace("http://", "ws://"));
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut shard = Shard { ws };
        assert_eq!(shard.recv().await["op"], 10);
        shard
            .send(json!({"op": 2, "d": {"token": "t", "intents": 0, "properties": {}}}))
            .await;
        shard
    }

    async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    async fn recv(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a gateway frame")
                .unwrap()
                .unwrap();
            if let Message::Text(t) = frame {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }

    /// The next dispatch named `t`, skipping others.
    async fn dispatch(&mut self, t: &str) -> Value {
        loop {
            let v = self.recv().await;
            if v["t"] == t {
                return v["d"].clone();
            }
        }
    }
}

#[test]
fn op4_answers_with_voice_state_and_server_and_the_driver_connects() {
    run(async {
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        world.join_voice(BOB, MUSIC).unwrap();
        let mut shard = Shard::connect(&server).await;
        let ready = shard.dispatch("READY").await;
        let session_id = ready["session_id"].as_str().unwrap().to_string();
        let guild = shard.dispatch("GUILD_CREATE").await;
        let states = guild["voice_states"].as_array().unwrap();
        assert_eq!(states.len(), 1);
        assert_eq!(states[0]["user_id"], BOB.to_string());
        assert_eq!(states[0]["channel_id"], MUSIC.to_string());

        shard
            .send(json!({"op": 4, "d": {"guild_id": GUILD_ID.to_string(),
                "channel_id": MUSIC.to_string(), "self_mute": false, "self_deaf": true}}))
            .await;
        let state = shard.dispatch("VOICE_STATE_UPDATE").await;
        assert_eq!(state["user_id"], BOT_ID.to_string());
        assert_eq!(state["channel_id"], MUSIC.to_string());
        assert_eq!(state["session_id"], session_id.as_str());
        assert_eq!(state["self_deaf"], true);
        let update = shard.dispatch("VOICE_SERVER_UPDATE").await;
        let endpoint = update["endpoint"].as_str().unwrap();
        assert!(endpoint.starts_with("localhost:"), "{endpoint}");
        assert_eq!(world.voice_channel_of(BOT_ID), Some(MUSIC));
        let mut members = world.voice_members(MUSIC);
        members.sort();
        assert_eq!(members, vec![BOT_ID, BOB]);

        let grant = VoiceGrant {
            guild_id: GUILD_ID,
            channel_id: MUSIC,
            user_id: BOT_ID,
            session_id: session_id.clone(),
            token: update["token"].as_str().unwrap().to_string(),
            endpoint: endpoint.to_string(),
        };
        let mut driver = Driver::new(Config::default());
        driver.connect(info(&grant)).await.expect("driver connects");
        assert!(world.voice_stats().connected);

        // A user joining is seen by the bot.
        world.join_voice(ALICE, LOUNGE).unwrap();
        let alice = shard.dispatch("VOICE_STATE_UPDATE").await;
        assert_eq!(alice["user_id"], ALICE.to_string());
        assert_eq!(alice["channel_id"], LOUNGE.to_string());
        assert!(
            world.join_voice(ALICE, 4000).is_err(),
            "#general is not voice"
        );

        // Leaving: no channel, and the endpoint closes the voice socket.
        shard
            .send(json!({"op": 4, "d": {"guild_id": GUILD_ID.to_string(),
                "channel_id": null, "self_mute": false, "self_deaf": false}}))
            .await;
        let left = shard.dispatch("VOICE_STATE_UPDATE").await;
        assert_eq!(left["user_id"], BOT_ID.to_string());
        assert!(left["channel_id"].is_null());
        assert_eq!(world.voice_channel_of(BOT_ID), None);
        wait(&server, "the voice socket to close", |s| !s.connected).await;
        assert!(world.voice().current_grant(GUILD_ID).is_none());
        world.leave_voice(BOB);
        assert_eq!(world.voice_members(MUSIC), Vec::<u64>::new());
    });
}
