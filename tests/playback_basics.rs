//! Playback end to end: the real bot (poise + songbird) against the local Discord server
//! and its voice endpoint, the tone source plugin, real ffmpeg. What arrives at the
//! endpoint is decrypted and counted, so the tests assert on the audio itself. This file:
//! a song streamed whole and replayed from the cache, the controls (pause, resume, skip,
//! stop), and when the bot leaves the voice channel.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]). The helpers these
//! files share are in `common/playback.rs`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use minstrel_local::discord::LocalDiscord;
use minstrel_local::discord::World;
use minstrel_local::discord::payloads::{ALICE, BOT_ID, GUILD_ID, MUSIC};
use minstrel_tests::bot::WAIT;
use minstrel_tests::playback::{
    alice_joins, audio_packets, command, config, heard_whole, music_stops, start_bot, stats,
    wait_packets, wait_quiet,
};
use minstrel_tests::voice::run;

/// Seconds of audio ffmpeg decodes from `path`.
fn decoded_secs(path: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "s16le", "-ac", "2", "-ar", "48000", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.len() as f64 / (48_000.0 * 4.0)
}

#[test]
fn play_streams_the_track_and_a_cached_track_replays() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start_recording(tmp.path().join("voice"))
            .await
            .unwrap();
        let world = server.world();
        let host = start_bot(&server, &config(tmp.path())).await;

        // Not in a voice channel: a clear refusal, nothing plays.
        let text = command(world, "!play tone:440:3", |c| c.contains("voice channel")).await;
        assert!(text.contains("join a voice channel"), "{text}");

        alice_joins(world).await;
        let text = command(world, "!play tone:440:3", |c| c.starts_with("Playing")).await;
        assert_eq!(text, "Playing **440 Hz tone, 3 s**");
        let packets = heard_whole(world, 3).await;
        let s = stats(world);
        assert_eq!(s.decrypt_failures, 0);
        assert!(s.mode.is_some(), "an encryption mode was negotiated");

        // The same song again: from the cache, the same amount of audio.
        let text = command(world, "!play tone:440:3", |c| c.starts_with("Playing")).await;
        assert_eq!(text, "Playing **440 Hz tone, 3 s** (cached)");
        wait_packets(world, packets + 100).await;
        let total = wait_quiet(world, Duration::from_millis(600), WAIT).await;
        assert!(
            (290..=312).contains(&total),
            "{total} audio packets for 2 x 3 s"
        );

        let recording = world
            .voice()
            .finish_recording(GUILD_ID)
            .await
            .expect("recorded");
        let secs = decoded_secs(&recording);
        assert!(
            (5.7..6.6).contains(&secs),
            "the recording decodes to {secs} s"
        );
        host.shutdown().await;
    });
}

#[test]
fn pause_resume_skip_and_stop_change_the_stream() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config(tmp.path())).await;
        alice_joins(world).await;

        command(world, "!play tone:440:30", |c| c.starts_with("Playing")).await;
        let text = command(world, "!play tone:660:30", |c| c.starts_with("Queued")).await;
        assert_eq!(text, "Queued **660 Hz tone, 30 s** at position 1");
        wait_packets(world, 25).await;

        command(world, "!pause", |c| c == "Paused.").await;
        let paused_at = music_stops(world, 0, 30).await;
        let text = command(world, "!nowplaying", |c| c.contains("440 Hz")).await;
        assert!(text.contains("(paused)"), "{text}");

        command(world, "!resume", |c| c == "Resumed.").await;
        wait_packets(world, paused_at + 25).await;

        let text = command(world, "!skip", |c| c.starts_with("Skipped")).await;
        assert_eq!(
            text,
            "Skipped **440 Hz tone, 30 s**. Up next: **660 Hz tone, 30 s**"
        );
        let at_skip = audio_packets(world);
        wait_packets(world, at_skip + 25).await;
        let text = command(world, "!nowplaying", |c| c.contains("660 Hz")).await;
        assert!(text.contains("/ 0:30"), "{text}");

        command(world, "!stop", |c| c.starts_with("Stopped")).await;
        music_stops(world, at_skip, 30).await;
        let text = command(world, "!queue", |c| c.contains("empty")).await;
        assert_eq!(text, "The queue is empty.");
        host.shutdown().await;
    });
}

/// Waits until the bot is in voice `channel` (`Some`) or in none (`None`).
async fn bot_in_voice(world: &World, channel: Option<u64>, within: Duration) -> bool {
    world
        .wait_for(within, |w| w.voice_channel_of(BOT_ID) == channel)
        .await
}

#[test]
fn the_bot_leaves_when_idle_or_alone_unless_it_is_on_24_7() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = config(tmp.path());
        config.player.idle_disconnect_secs = 3;
        config.player.alone_disconnect_secs = 1;
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let host = start_bot(&server, &config).await;
        alice_joins(world).await;

        // Idle: the song ends, and 3 s later the bot leaves (not before).
        command(world, "!play tone:440:1", |c| c.starts_with("Playing")).await;
        assert!(bot_in_voice(world, Some(MUSIC), WAIT).await);
        wait_packets(world, 40).await;
        let ended = wait_quiet(world, Duration::from_millis(300), WAIT).await;
        assert!(ended >= 45, "{ended} audio packets for 1 s");
        assert!(
            !bot_in_voice(world, None, Duration::from_millis(1200)).await,
            "left before the idle time"
        );
        assert!(
            bot_in_voice(world, None, WAIT).await,
            "never left when idle"
        );

        // Alone: alice leaves in the middle of a song; the bot follows 1 s later and
        // the music stops.
        command(world, "!play tone:440:30", |c| c.starts_with("Playing")).await;
        assert!(bot_in_voice(world, Some(MUSIC), WAIT).await);
        wait_packets(world, ended + 25).await;
        world.leave_voice(ALICE);
        assert!(
            bot_in_voice(world, None, WAIT).await,
            "never left when alone"
        );
        music_stops(world, ended, 30).await;

        // Leaving keeps the queue; `!stop` empties it.
        alice_joins(world).await;
        let text = command(world, "!queue", |c| c.starts_with("Now playing")).await;
        assert!(text.contains("440 Hz tone, 30 s"), "{text}");
        command(world, "!stop", |c| c.starts_with("Stopped")).await;

        // 24/7: neither idle nor alone makes it leave; turned off, it leaves.
        let text = command(world, "!247 true", |c| c.starts_with("24/7")).await;
        assert_eq!(text, "24/7 on: I stay in the voice channel.");
        let before = audio_packets(world);
        command(world, "!play tone:440:1", |c| c.starts_with("Playing")).await;
        assert!(bot_in_voice(world, Some(MUSIC), WAIT).await);
        world.leave_voice(ALICE);
        // Alone from now on, and idle once the song has played out: it stays through
        // both timers and beyond.
        wait_packets(world, before + 45).await;
        wait_quiet(world, Duration::from_millis(300), WAIT).await;
        let both_timers = Duration::from_secs(config.player.idle_disconnect_secs + 2);
        assert!(
            !bot_in_voice(world, None, both_timers).await,
            "left while on 24/7"
        );
        command(world, "!247 false", |c| c.starts_with("24/7")).await;
        assert!(
            bot_in_voice(world, None, WAIT).await,
            "stayed after 24/7 off"
        );
        host.shutdown().await;
    });
}
