//! Playback and the store under it, end to end (the real bot against the local Discord
//! server and its voice endpoint, the tone source plugin, real ffmpeg): a restarted host
//! resumes the queue it finds in the database, and eviction and repair running against
//! the same data dir never touch a queued song.
//!
//! songbird's mixer scheduler is process-global and lives on the runtime that first
//! used it, so every test runs on one shared runtime (see [`run`]). The helpers these
//! files share are in `common/playback.rs`.

use std::time::Duration;

use minstrel_local::discord::LocalDiscord;
use minstrel_tests::bot::WAIT;
use minstrel_tests::playback::{
    alice_joins, command, config, music_stops, start_bot, wait_packets, wait_quiet,
};
use minstrel_tests::voice::run;
use minstrel_tests::{test_config, wait_for};
use serde_json::Value;

#[test]
fn a_restart_in_the_middle_of_a_queue_resumes_it() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let config = config(tmp.path());
        let host = start_bot(&server, &config).await;
        alice_joins(world).await;
        command(world, "!play tone:440:20", |c| c.starts_with("Playing")).await;
        command(world, "!play tone:660:3", |c| c.starts_with("Queued")).await;
        wait_packets(world, 100).await; // 2 s in
        host.shutdown().await;
        // The music stopped with the bot.
        let before = music_stops(world, 0, 20).await;

        // A new bot process would read the same database: so does a new host here.
        let host = start_bot(&server, &config).await;
        wait_packets(world, before + 50).await;
        let text = command(world, "!nowplaying", |c| c.contains("440 Hz")).await;
        // It went on from where it stopped (about 2 s in), not from the start.
        let position = text.split("] ").nth(1).unwrap_or_default();
        assert!(
            !position.starts_with("0:00") && !position.starts_with("0:01"),
            "{text}"
        );
        let text = command(world, "!queue", |c| c.contains("Now playing")).await;
        assert!(
            text.contains("1. 660 Hz tone, 3 s"),
            "the rest of the queue came back: {text}"
        );
        host.shutdown().await;
    });
}

#[test]
fn eviction_and_reconcile_racing_playback_never_touch_a_queued_song() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let config = config(tmp.path());
        let host = start_bot(&server, &config).await;
        alice_joins(world).await;
        for (i, tone) in ["440:2", "550:2", "660:2"].iter().enumerate() {
            let expected = if i == 0 { "Playing" } else { "Queued" };
            command(world, &format!("!play tone:{tone}"), |c| {
                c.starts_with(expected)
            })
            .await;
        }
        // A second handle on the data dir, as another process would have, evicting
        // everything it may and repairing whatever it thinks is wrong, as fast as it can.
        let other = minstrel::store::Store::open(&config.data_dir, test_config())
            .await
            .unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cleaner = {
            let (other, stop) = (other.clone(), stop.clone());
            tokio::spawn(async move {
                let mut rounds = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    other.evict_to(0).await.unwrap();
                    other.reconcile(false, true).await.unwrap();
                    rounds += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                rounds
            })
        };
        wait_packets(world, 280).await;
        let packets = wait_quiet(world, Duration::from_millis(800), WAIT).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let rounds = cleaner.await.unwrap();
        assert!(rounds > 20, "the cleaner ran {rounds} rounds");
        // All three songs played whole: nothing was deleted under them.
        assert!(
            (290..=306).contains(&packets),
            "{packets} audio packets for 3 x 2 s"
        );
        let complaints: Vec<Value> = world
            .bot_messages()
            .into_iter()
            .filter(|m| {
                let c = m["content"].as_str().unwrap_or_default();
                c.starts_with("Could not") || c.starts_with("Skipped")
            })
            .collect();
        assert!(complaints.is_empty(), "{complaints:?}");
        // Once nothing is queued the leases go, and eviction can take it all.
        let all_evicted = async || {
            if other.stats().await.unwrap().index.blobs == 0 {
                return true;
            }
            other.evict_to(0).await.unwrap();
            false
        };
        assert!(wait_for(WAIT, all_evicted).await, "the songs stayed leased");
        host.shutdown().await;
    });
}
