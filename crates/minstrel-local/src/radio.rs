//! A loopback internet radio station in the manner of Icecast: `GET /stream` answers
//! `200` with `icy-name` and, to a listener that sends `Icy-MetaData: 1`, `icy-metaint`,
//! then sends its audio in a loop forever: a burst first (as Icecast's burst-on-connect
//! does), then at a set rate, with a metadata block after every `metaint` audio bytes
//! carrying `StreamTitle` when the title changed (an empty block otherwise). The test
//! changes the title and drops every listener at will, and counts connections.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Audio bytes between two metadata blocks.
pub const METAINT: usize = 8192;
/// Bytes sent at once to a new listener.
const BURST: usize = 32 * 1024;
/// Bytes sent at a time after the burst.
const CHUNK: usize = 2048;

#[derive(Debug, Default)]
struct State {
    title: String,
    /// Connections to `/stream`, and how many asked for metadata.
    connections: u64,
    with_metadata: u64,
}

/// A running station; stops when dropped.
#[derive(Debug)]
pub struct LocalRadio {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    /// Bumped to drop every listener.
    drops: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl LocalRadio {
    /// A station looping `audio` (say an MP3 file) at `bytes_per_sec`, its current
    /// title `title`.
    pub async fn start(audio: Vec<u8>, bytes_per_sec: u64, title: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            title: title.to_string(),
            ..State::default()
        }));
        let (drops, _) = watch::channel(0);
        let audio = Arc::new(audio);
        let task = tokio::spawn({
            let (state, drops) = (Arc::clone(&state), drops.clone());
            async move {
                while let Ok((conn, _)) = listener.accept().await {
                    let listener = Listener {
                        audio: Arc::clone(&audio),
                        rate: bytes_per_sec.max(1),
                        state: Arc::clone(&state),
                        dropped: drops.subscribe(),
                    };
                    tokio::spawn(listener.serve(conn));
                }
            }
        });
        Ok(Self {
            addr,
            state,
            drops,
            task,
        })
    }

    /// The stream's URL.
    pub fn url(&self) -> String {
        format!("http://{}/stream", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// What the next metadata block of each listener says.
    pub fn set_title(&self, title: &str) {
        self.state.lock().expect("state").title = title.to_string();
    }

    /// Closes every listener's connection (a station restart, a network cut).
    pub fn drop_listeners(&self) {
        self.drops.send_modify(|n| *n += 1);
    }

    /// Connections to the stream so far.
    pub fn connections(&self) -> u64 {
        self.state.lock().expect("state").connections
    }

    /// Of those, the ones that asked for metadata (`Icy-MetaData: 1`).
    pub fn with_metadata(&self) -> u64 {
        self.state.lock().expect("state").with_metadata
    }
}

impl Drop for LocalRadio {
    fn drop(&mut self) {
        self.task.abort();
        self.drop_listeners();
    }
}

struct Listener {
    audio: Arc<Vec<u8>>,
    rate: u64,
    state: Arc<Mutex<State>>,
    dropped: watch::Receiver<u64>,
}

impl Listener {
    async fn serve(mut self, mut conn: TcpStream) {
        let Some(head) = read_head(&mut conn).await else {
            return;
        };
        if !head.starts_with("GET /stream ") {
            let _ = conn
                .write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                .await;
            return;
        }
        let metadata = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .any(|(k, v)| k.trim().eq_ignore_ascii_case("icy-metadata") && v.trim() == "1");
        {
            let mut state = self.state.lock().expect("state");
            state.connections += 1;
            state.with_metadata += u64::from(metadata);
        }
        let metaint = if metadata {
            format!("icy-metaint: {METAINT}\r\n")
        } else {
            String::new()
        };
        let head = format!(
            "HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-name: Local FM\r\n{metaint}\r\n"
        );
        if conn.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let mut out = Outgoing {
            metadata,
            until_meta: METAINT,
            sent_title: None,
        };
        let started = tokio::time::Instant::now();
        let mut sent = 0usize;
        let mut at = 0usize;
        loop {
            let size = if sent < BURST { BURST } else { CHUNK };
            let mut audio = Vec::with_capacity(size);
            while audio.len() < size {
                let take = (size - audio.len()).min(self.audio.len() - at);
                audio.extend_from_slice(&self.audio[at..at + take]);
                at = (at + take) % self.audio.len();
            }
            let bytes = out.frame(&audio, &self.state.lock().expect("state").title);
            sent += size;
            // Paced against the start, past the burst.
            let due = started
                + Duration::from_secs_f64(sent.saturating_sub(BURST) as f64 / self.rate as f64);
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = self.dropped.changed() => return,
            }
            if conn.write_all(&bytes).await.is_err() {
                return;
            }
        }
    }
}

/// What one listener has been sent, to place its metadata blocks.
struct Outgoing {
    metadata: bool,
    /// Audio bytes before the next block.
    until_meta: usize,
    /// The title in the last block sent.
    sent_title: Option<String>,
}

impl Outgoing {
    /// `audio` as sent: with a metadata block wherever one is due.
    fn frame(&mut self, mut audio: &[u8], title: &str) -> Vec<u8> {
        if !self.metadata {
            return audio.to_vec();
        }
        let mut out = Vec::with_capacity(audio.len() + 64);
        while !audio.is_empty() {
            let n = self.until_meta.min(audio.len());
            out.extend_from_slice(&audio[..n]);
            audio = &audio[n..];
            self.until_meta -= n;
            if self.until_meta == 0 {
                if self.sent_title.as_deref() == Some(title) {
                    out.push(0);
                } else {
                    let mut block = format!("StreamTitle='{title}';").into_bytes();
                    block.resize(block.len().div_ceil(16) * 16, 0);
                    out.push((block.len() / 16) as u8);
                    out.extend_from_slice(&block);
                    self.sent_title = Some(title.to_string());
                }
                self.until_meta = METAINT;
            }
        }
        out
    }
}

async fn read_head(conn: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}
