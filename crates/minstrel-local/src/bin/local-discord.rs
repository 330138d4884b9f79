//! The local Discord server in a process of its own, so that a benchmark's bot does not
//! share its threads with the server and the harness. Prints its base URL on the first
//! line, then serves one command per line on stdin, answering each with one line:
//!
//! - `warm`: [`World::warm_up`]; answers `ready` (or `timeout`).
//! - `run N EVERY`: [`World::burst`]; answers `done MICROSECONDS` (or `timeout`).
//! - `guilds FROM TO`: guilds `FROM..TO` become voice-only guilds; answers `ok`.
//! - `grant GUILD`: a voice grant for the bot in the guild's Music channel; answers
//!   `grant SESSION TOKEN ENDPOINT`.
//! - `real-time FROM TO WINDOW_MS`: [`World::real_time`] of guilds `FROM..TO`; answers
//!   `ok` or `slow`, then the worst guild's packets and late gaps.
//! - `revoke FROM TO`: withdraws those guilds' voice grants; answers `ok`.
//!
//! [`minstrel_local::discord::process::ServerProcess`] is the other side.
//!
//! It stops at the end of stdin. `--trust BUNDLE` first adds its voice endpoint's
//! certificate to the trust bundle at BUNDLE (the driving process's `SSL_CERT_FILE`).

use std::time::Duration;

use minstrel_local::discord::payloads::{BOT_ID, MUSIC};
use minstrel_local::discord::{LocalDiscord, World};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const LIMIT: Duration = Duration::from_secs(300);
/// How long `real-time` waits for every guild's first packet.
const PLAYING_WITHIN: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = LocalDiscord::start().await?;
    // `--trust BUNDLE`: the driving process's SSL_CERT_FILE, which its voice clients
    // read on every connection; they then trust this server's endpoint too.
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, bundle] = args.as_slice()
        && flag == "--trust"
    {
        minstrel_local::discord::voice::add_to_bundle(std::path::Path::new(bundle))?;
    }
    let world: &World = server.world();
    let mut out = tokio::io::stdout();
    out.write_all(format!("{}\n", server.base_url()).as_bytes())
        .await?;
    out.flush().await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["warm"] => match world.warm_up(LIMIT).await {
                true => "ready".to_string(),
                false => "timeout".to_string(),
            },
            ["run", n, every] => match (n.parse(), every.parse()) {
                (Ok(n), Ok(every)) if every > 0 => match world.burst(n, every, LIMIT).await {
                    Some(took) => format!("done {}", took.as_micros()),
                    None => "timeout".to_string(),
                },
                _ => format!("error: bad numbers in {line:?}"),
            },
            ["guilds", from, to] => match (from.parse::<u64>(), to.parse::<u64>()) {
                (Ok(from), Ok(to)) => {
                    world.add_voice_only_guilds(from..to);
                    "ok".to_string()
                }
                _ => format!("error: bad numbers in {line:?}"),
            },
            ["grant", guild] => match guild.parse::<u64>() {
                Ok(guild) => {
                    let grant = world
                        .voice()
                        .grant(guild, MUSIC, BOT_ID, &format!("bare-{guild}"));
                    format!(
                        "grant {} {} {}",
                        grant.session_id, grant.token, grant.endpoint
                    )
                }
                Err(_) => format!("error: bad guild in {line:?}"),
            },
            ["real-time", from, to, window] => {
                match (from.parse::<u64>(), to.parse::<u64>(), window.parse()) {
                    (Ok(from), Ok(to), Ok(window)) => {
                        let guilds: Vec<u64> = (from..to).collect();
                        let window = Duration::from_millis(window);
                        let found = world.real_time(&guilds, window, PLAYING_WITHIN).await;
                        let verdict = if found.ok { "ok" } else { "slow" };
                        format!("{verdict} {} {}", found.worst_packets, found.worst_late)
                    }
                    _ => format!("error: bad numbers in {line:?}"),
                }
            }
            ["revoke", from, to] => match (from.parse::<u64>(), to.parse::<u64>()) {
                (Ok(from), Ok(to)) => {
                    (from..to).for_each(|guild| world.voice().revoke(guild));
                    "ok".to_string()
                }
                _ => format!("error: bad numbers in {line:?}"),
            },
            _ => format!("error: unknown command {line:?}"),
        };
        out.write_all(format!("{answer}\n").as_bytes()).await?;
        out.flush().await?;
    }
    Ok(())
}
