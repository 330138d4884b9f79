//! The local Discord server in a process of its own, so that a benchmark's bot does not
//! share its threads with the server and the harness. Prints its base URL on the first
//! line, then serves one command per line on stdin, answering each with one line:
//!
//! - `warm`: [`World::warm_up`]; answers `ready` (or `timeout`).
//! - `run N EVERY`: [`World::burst`]; answers `done MICROSECONDS` (or `timeout`).
//!
//! It stops at the end of stdin.

use std::time::Duration;

use minstrel_local::discord::{LocalDiscord, World};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const LIMIT: Duration = Duration::from_secs(300);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = LocalDiscord::start().await?;
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
            _ => format!("error: unknown command {line:?}"),
        };
        out.write_all(format!("{answer}\n").as_bytes()).await?;
        out.flush().await?;
    }
    Ok(())
}
