//! What the playback tests (`playback_*.rs`) share: their config and the bot on it, the
//! commands alice sends, and the audio the local voice endpoint hears. Packets are 20 ms,
//! so 50 make a second.

use std::path::Path;
use std::time::Duration;

use minstrel::app::Host;
use minstrel::config::Config;
use minstrel_local::discord::payloads::{ALICE, GUILD_ID, MUSIC};
use minstrel_local::discord::{LocalDiscord, VoiceStats, World};
use serde_json::Value;

use crate::bot::{self, WAIT, bot_options, caught_up, host_config, install};

/// The config of a test: the tone source, and a source asked before it that finds
/// something for any words (`tone:440` must still go to `tone`, the source that claims it).
pub fn config(dir: &Path) -> Config {
    config_with(dir, &[("tone", "tone"), ("echo_source", "echo")])
}

/// A config loading the built source plugins `sources` as (crate, plugin name).
pub fn config_with(dir: &Path, sources: &[(&str, &str)]) -> Config {
    let mut config = host_config(dir);
    config.plugins.call_timeout_ms = 30_000;
    config.plugins.host_calls_per_call = 100_000;
    for (krate, name) in sources {
        install(&config, krate, name);
    }
    config
}

/// The bot on `config`, once it has registered `/play`.
pub async fn start_bot(server: &LocalDiscord, config: &Config) -> Host {
    bot::start_bot(server, config, bot_options(server), "play").await
}

/// Sends `!text` as alice and waits for a reply whose content satisfies `done`.
pub async fn command(world: &World, text: &str, done: impl Fn(&str) -> bool) -> String {
    let id = world.send_message(ALICE, text, 1);
    let found = world
        .wait_for(WAIT, |w| {
            w.replies_to(id)
                .iter()
                .any(|m| m["content"].as_str().is_some_and(&done))
        })
        .await;
    let replies: Vec<Value> = world.replies_to(id);
    assert!(found, "{text}: unexpected replies {replies:?}");
    replies
        .iter()
        .filter_map(|m| m["content"].as_str())
        .find(|c| done(c))
        .unwrap()
        .to_string()
}

/// Alice joins the Music voice channel, and the bot has seen it.
pub async fn alice_joins(world: &World) {
    world.join_voice(ALICE, MUSIC).unwrap();
    caught_up(world).await;
}

/// What the voice endpoint has heard in the test guild.
pub fn stats(world: &World) -> VoiceStats {
    world.voice().stats(GUILD_ID)
}

/// Audio packets so far (silence frames left out).
pub fn audio_packets(world: &World) -> u64 {
    let s = stats(world);
    s.packets - s.silence_frames
}

/// Waits until at least `at_least` audio packets have arrived.
pub async fn wait_packets(world: &World, at_least: u64) {
    assert!(
        world.wait_for(WAIT, |w| audio_packets(w) >= at_least).await,
        "only {} audio packets arrived, expected {at_least}",
        audio_packets(world)
    );
}

/// Waits for the first song, `secs` long, to play out and checks that all of it arrived:
/// 20 ms packets, so a stream cut short or played twice fails. Returns the count.
pub async fn heard_whole(world: &World, secs: u64) -> u64 {
    wait_packets(world, secs * 45).await;
    let packets = wait_quiet(world, Duration::from_millis(600), WAIT).await;
    let expected = secs * 50;
    assert!(
        (expected - 5..=expected + 6).contains(&packets),
        "{packets} audio packets for {secs} s"
    );
    packets
}

/// Waits until no audio packet has arrived for `quiet`, failing if audio still flows
/// after `limit`. Returns the count.
pub async fn wait_quiet(world: &World, quiet: Duration, limit: Duration) -> u64 {
    let mut at = 0;
    let quieted = crate::wait_for(limit, async || {
        at = audio_packets(world);
        !more_audio_within(world, at, quiet).await
    })
    .await;
    assert!(
        quieted,
        "audio still arriving {limit:?} on: {} packets",
        audio_packets(world)
    );
    at
}

/// Whether more than `at` audio packets arrive within `limit`.
async fn more_audio_within(world: &World, at: u64, limit: Duration) -> bool {
    world
        .voice()
        .wait_for(GUILD_ID, limit, |s| s.packets - s.silence_frames > at)
        .await
}

/// How long the music may take to stop after whatever stops it; the songs stopped are
/// 20 s or longer, so music that only ends by playing out fails.
const STOPS_WITHIN: Duration = Duration::from_secs(8);

/// The song that started at packet `started`, `secs` long, has been stopped: the audio
/// stops within [`STOPS_WITHIN`], at least 10 s before the song would have ended, and
/// none follows for 3 s. Returns the count.
pub async fn music_stops(world: &World, started: u64, secs: u64) -> u64 {
    let stopped = wait_quiet(world, Duration::from_millis(500), STOPS_WITHIN).await;
    assert!(
        stopped < started + (secs - 10) * 50,
        "{} of the song's {} packets arrived",
        stopped - started,
        secs * 50
    );
    assert!(
        !more_audio_within(world, stopped, Duration::from_secs(3)).await,
        "audio came back after it stopped: {} packets",
        audio_packets(world) - stopped
    );
    stopped
}
