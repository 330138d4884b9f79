//! Stopping the bot the way an operator's service manager does: SIGTERM to a real
//! `minstrel run` process (`systemctl stop`, `docker stop`) saves the queues, leaves
//! voice and exits cleanly; the next process resumes the song where it stopped.

use minstrel_local::discord::LocalDiscord;
use minstrel_local::discord::payloads::{ALICE, BOT_ID, MUSIC};
use minstrel_tests::bot::{BotProcess, WAIT, caught_up, run_command};
use minstrel_tests::built::component;
use minstrel_tests::playback::{audio_packets, command, wait_packets};
use minstrel_tests::voice::run;

/// `minstrel run` on `dir` against `server` with the tone source, once it serves.
async fn bot(server: &LocalDiscord, dir: &std::path::Path, name: &str) -> BotProcess {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(component("tone"), plugins.join("tone.wasm")).unwrap();
    let trust = minstrel_local::discord::voice::trust_bundle().unwrap();
    let mut cmd = run_command(server, &dir.join("data"), &plugins, "test-token");
    // songbird trusts the local voice endpoint's certificate through this.
    BotProcess::start(cmd.env("SSL_CERT_FILE", trust), name).await
}

#[test]
fn sigterm_saves_the_queue_and_the_next_process_resumes_the_song() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        world.join_voice(ALICE, MUSIC).unwrap();

        let mut first = bot(&server, tmp.path(), "first").await;
        caught_up(world).await;
        command(world, "!play tone:440:20", |c| c.starts_with("Playing")).await;
        command(world, "!play tone:660:3", |c| c.starts_with("Queued")).await;
        wait_packets(world, 150).await; // 3 s in

        let status = first.terminate().await;
        assert!(
            status.success(),
            "SIGTERM should stop the bot cleanly: {status}"
        );
        // It left the voice channel rather than dropping off it.
        assert!(
            world
                .wait_for(WAIT, |w| w.voice_channel_of(BOT_ID).is_none())
                .await,
            "the bot is still in {:?}",
            world.voice_channel_of(BOT_ID)
        );
        let stopped = audio_packets(world);

        let _second = bot(&server, tmp.path(), "second").await;
        wait_packets(world, stopped + 50).await;
        let text = command(world, "!nowplaying", |c| c.contains("440 Hz")).await;
        // It went on from where it stopped (3 s in or later), not from the start.
        let position = text.split("] ").nth(1).unwrap_or_default();
        assert!(
            !["0:00", "0:01", "0:02"]
                .iter()
                .any(|start| position.starts_with(start)),
            "{text}"
        );
        let text = command(world, "!queue", |c| c.contains("Now playing")).await;
        assert!(
            text.contains("1. 660 Hz tone, 3 s"),
            "the rest of the queue came back: {text}"
        );
    });
}
