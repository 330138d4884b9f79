//! The local Discord server in a process of its own, so that a benchmark's bot does not
//! share its threads with the server and the harness. Prints its base URL on the first
//! line, then serves one command per line on stdin, answering each with one line:
//!
//! - `warm`: waits for a bot to IDENTIFY and answer a `!version`, then sends 50 more
//!   and waits for their answers; answers `ready` (or `timeout`).
//! - `run N EVERY`: sends N messages as alice, every EVERY-th `!version` and the rest
//!   chat, then waits until the bot has posted once per command; answers
//!   `done MICROSECONDS` from the first send to the last post (or `timeout`).
//!
//! It stops at the end of stdin.

use std::time::{Duration, Instant};

use minstrel_local::discord::LocalDiscord;
use minstrel_local::discord::World;
use minstrel_local::discord::payloads::ALICE;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const LIMIT: Duration = Duration::from_secs(300);
const WARM_UP: u64 = 50;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = LocalDiscord::start().await?;
    let world = server.world();
    let mut out = tokio::io::stdout();
    out.write_all(format!("{}\n", server.base_url()).as_bytes())
        .await?;
    out.flush().await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["warm"] => warm(world).await,
            ["run", n, every] => match (n.parse(), every.parse()) {
                (Ok(n), Ok(every)) if every > 0 => run(world, n, every).await,
                _ => format!("error: bad numbers in {line:?}"),
            },
            _ => format!("error: unknown command {line:?}"),
        };
        out.write_all(format!("{answer}\n").as_bytes()).await?;
        out.flush().await?;
    }
    Ok(())
}

async fn warm(world: &World) -> String {
    let identified = world
        .wait_for(LIMIT, |w| !w.identified_shards().is_empty())
        .await;
    if !identified {
        return "timeout".into();
    }
    // Until the bot has set itself up, a command may go unanswered: ask until one is.
    let mut answered = false;
    let deadline = Instant::now() + LIMIT;
    while !answered && Instant::now() < deadline {
        let before = world.bot_posts();
        world.send_message(ALICE, "!version", 1);
        answered = world
            .wait_for(Duration::from_secs(1), |w| w.bot_posts() > before)
            .await;
    }
    if !answered {
        return "timeout".into();
    }
    let before = world.bot_posts();
    for _ in 0..WARM_UP {
        world.send_message(ALICE, "!version", 1);
    }
    let answered = world
        .wait_for(LIMIT, |w| w.bot_posts() >= before + WARM_UP)
        .await;
    if answered { "ready" } else { "timeout" }.into()
}

async fn run(world: &World, n: u64, every: u64) -> String {
    let before = world.bot_posts();
    let started = Instant::now();
    for i in 0..n {
        let text = if i % every == 0 {
            "!version"
        } else {
            "just chatting about the songs"
        };
        world.send_message(ALICE, text, 1);
    }
    let commands = n.div_ceil(every);
    let answered = world
        .wait_for(LIMIT, |w| w.bot_posts() >= before + commands)
        .await;
    if answered {
        format!("done {}", started.elapsed().as_micros())
    } else {
        "timeout".into()
    }
}
