//! The local Discord server in a process of its own (`local-discord`, see
//! `src/bin/local-discord.rs`), from the side that drives it: a benchmark whose bot must
//! not share its threads with the server. One command per line on the server's stdin,
//! one answer per line on its stdout.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::payloads::{BOT_ID, MUSIC};
use super::{RealTime, VoiceGrant};

/// A running `local-discord`; killed when dropped.
pub struct ServerProcess {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    /// The server's REST and gateway base URL.
    pub base_url: String,
}

impl ServerProcess {
    /// Starts the `local-discord` built in the same target folder as the running
    /// executable (a bench or test binary under `target/PROFILE/deps`).
    pub async fn start() -> Self {
        let bin = built_binary();
        assert!(
            bin.exists(),
            "build it first: cargo build --release -p minstrel-local --bin local-discord"
        );
        let mut command = Command::new(bin);
        // This process's voice clients trust what its SSL_CERT_FILE lists: add the
        // server's certificate there, if that is a bundle written for this process
        // (never the system's own, which SSL_CERT_FILE may name too).
        if let Some(bundle) = std::env::var_os("SSL_CERT_FILE")
            && crate::discord::voice::is_written_bundle(std::path::Path::new(&bundle))
        {
            command.arg("--trust").arg(bundle);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("local-discord starts");
        let stdin = child.stdin.take().expect("piped");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let base_url = lines
            .next_line()
            .await
            .expect("reading local-discord")
            .expect("the server's URL");
        Self {
            _child: child,
            stdin,
            lines,
            base_url,
        }
    }

    /// Sends one command line; its answer.
    pub async fn ask(&mut self, command: &str) -> String {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .expect("writing to local-discord");
        self.lines
            .next_line()
            .await
            .expect("reading local-discord")
            .expect("an answer")
    }

    /// Events per second of [`super::World::burst`]`(n, every)`.
    pub async fn run(&mut self, n: u64, every: u64) -> f64 {
        let answer = self.ask(&format!("run {n} {every}")).await;
        let micros: f64 = answer
            .strip_prefix("done ")
            .unwrap_or_else(|| panic!("the server answered {answer:?}"))
            .parse()
            .expect("microseconds");
        n as f64 / (micros / 1e6)
    }

    /// Makes guilds `from..to` voice-only guilds with the Music channel.
    pub async fn voice_guilds(&mut self, from: u64, to: u64) {
        let answer = self.ask(&format!("guilds {from} {to}")).await;
        assert_eq!(answer, "ok");
    }

    /// A voice grant for the bot in `guild`'s Music channel (for a bare songbird driver).
    pub async fn grant(&mut self, guild: u64) -> VoiceGrant {
        let answer = self.ask(&format!("grant {guild}")).await;
        let words: Vec<&str> = answer.split_whitespace().collect();
        let ["grant", session, token, endpoint] = words.as_slice() else {
            panic!("the server answered {answer:?}");
        };
        VoiceGrant {
            guild_id: guild,
            channel_id: MUSIC,
            user_id: BOT_ID,
            session_id: session.to_string(),
            token: token.to_string(),
            endpoint: endpoint.to_string(),
        }
    }

    /// [`super::World::real_time`] for guilds `from..to`.
    pub async fn real_time(&mut self, from: u64, to: u64, window: Duration) -> RealTime {
        let answer = self
            .ask(&format!("real-time {from} {to} {}", window.as_millis()))
            .await;
        let words: Vec<&str> = answer.split_whitespace().collect();
        let [verdict, packets, late] = words.as_slice() else {
            panic!("the server answered {answer:?}");
        };
        RealTime {
            ok: *verdict == "ok",
            worst_packets: packets.parse().expect("packets"),
            worst_late: late.parse().expect("late gaps"),
        }
    }

    /// Withdraws the voice grants of guilds `from..to` (their connections close).
    pub async fn revoke(&mut self, from: u64, to: u64) {
        let answer = self.ask(&format!("revoke {from} {to}")).await;
        assert_eq!(answer, "ok");
    }
}

/// `target/PROFILE/local-discord`, beside `target/PROFILE/deps/` where the running
/// executable is.
fn built_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("an executable under target/PROFILE/deps")
        .join("local-discord")
}
