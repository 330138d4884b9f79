//! A tiny HTTP/1.1 server on 127.0.0.1 that serves in-memory files: it stands in for a
//! remote audio host in `minstrel demo` and in the tests (no internet needed). It
//! counts requests per path and can pace a body (to keep a download in flight) or
//! stall it (to exercise timeouts). It answers HEAD, honours a single `Range:
//! bytes=a-b` (206 with `Content-Range`) and sends each route's content type.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One served file.
#[derive(Debug, Clone, Default)]
pub struct Route {
    pub body: Vec<u8>,
    pub status: u16,
    /// Sent in this many chunks...
    pub chunks: usize,
    /// ...with this pause before each.
    pub chunk_delay: Duration,
    /// Send headers and this many chunks, then go silent (keeping the connection open).
    pub stall_after: Option<usize>,
    /// Sends every body (a range too) at this many bytes a second, in 16 KiB chunks,
    /// instead of in `chunks`: a remote host of that speed.
    pub bytes_per_sec: Option<u64>,
    /// `Content-Type`; `application/octet-stream` when unset.
    pub content_type: Option<String>,
    /// A header (name in lower case, value) a request must carry, else it gets 401: an
    /// API that wants a key or a token.
    pub required_header: Option<(String, String)>,
}

impl Route {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self {
            body: body.into(),
            status: 200,
            chunks: 1,
            ..Self::default()
        }
    }

    /// Serves the body as `content_type`.
    pub fn typed(mut self, content_type: &str) -> Self {
        self.content_type = Some(content_type.to_string());
        self
    }

    /// Answers 401 to a request without header `name` (any case) set to `value`.
    pub fn requiring(mut self, name: &str, value: &str) -> Self {
        self.required_header = Some((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Spreads the body over `chunks` pieces with `delay` before each.
    pub fn paced(mut self, chunks: usize, delay: Duration) -> Self {
        self.chunks = chunks.max(1);
        self.chunk_delay = delay;
        self
    }

    /// Sends at `bytes_per_sec` (see [`Route::bytes_per_sec`]).
    pub fn at_rate(mut self, bytes_per_sec: u64) -> Self {
        self.bytes_per_sec = Some(bytes_per_sec.max(1));
        self
    }
}

#[derive(Debug, Default)]
struct State {
    routes: HashMap<String, Route>,
    hits: HashMap<String, u64>,
    /// GETs from the first byte (no range, or one from 0): downloads begun.
    starts: HashMap<String, u64>,
}

/// A running server; stops when dropped.
#[derive(Debug)]
pub struct LocalHttp {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl LocalHttp {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, Arc::clone(&shared)));
            }
        });
        Ok(Self { addr, state, task })
    }

    pub fn route(&self, path: &str, route: Route) {
        let mut state = self.state.lock().expect("state");
        state.routes.insert(path.to_string(), route);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The port it listens on (plugins need it granted in `http_ports`).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Requests received for `path`.
    pub fn hits(&self, path: &str) -> u64 {
        let state = self.state.lock().expect("state");
        state.hits.get(path).copied().unwrap_or(0)
    }

    /// Downloads of `path` begun: GETs of its whole body or of a range from its first
    /// byte (a download in ranges counts once).
    pub fn downloads(&self, path: &str) -> u64 {
        let state = self.state.lock().expect("state");
        state.starts.get(path).copied().unwrap_or(0)
    }
}

impl Drop for LocalHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut conn: TcpStream, state: Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let mut words = head.split_whitespace();
    let method = words.next().unwrap_or("GET").to_string();
    let path = words.next().unwrap_or("/").to_string();
    let range = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("range"))
        .and_then(|(_, v)| parse_range(v.trim()));
    let route = {
        let mut state = state.lock().expect("state");
        *state.hits.entry(path.clone()).or_default() += 1;
        if method.eq_ignore_ascii_case("GET") && range.is_none_or(|(start, _)| start == 0) {
            *state.starts.entry(path.clone()).or_default() += 1;
        }
        state.routes.get(&path).cloned()
    };
    let mut route = route.unwrap_or(Route {
        body: b"not found".to_vec(),
        status: 404,
        chunks: 1,
        content_type: Some("text/plain".into()),
        ..Route::default()
    });
    if let Some((name, value)) = &route.required_header {
        let carried = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .any(|(k, v)| k.trim().eq_ignore_ascii_case(name) && v.trim() == value);
        if !carried {
            route = Route {
                body: b"unauthorized".to_vec(),
                status: 401,
                chunks: 1,
                content_type: Some("text/plain".into()),
                ..Route::default()
            };
        }
    }
    let total = route.body.len();
    let mut status = route.status;
    let mut extra = String::new();
    if let Some((start, end)) = range
        && status == 200
    {
        let end = end
            .unwrap_or(total.saturating_sub(1))
            .min(total.saturating_sub(1));
        if start >= total {
            status = 416;
            extra = format!("Content-Range: bytes */{total}\r\n");
            route.body.clear();
        } else {
            status = 206;
            extra = format!("Content-Range: bytes {start}-{end}/{total}\r\n");
            route.body = route.body[start..=end].to_vec();
        }
    }
    let content_type = route
        .content_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    let header = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: {content_type}\r\n{extra}Accept-Ranges: bytes\r\nConnection: close\r\n\r\n",
        route.body.len()
    );
    if conn.write_all(header.as_bytes()).await.is_err() {
        return;
    }
    if method.eq_ignore_ascii_case("HEAD") {
        let _ = conn.shutdown().await;
        return;
    }
    let (size, delay) = match route.bytes_per_sec {
        Some(rate) => (
            RATED_CHUNK,
            Duration::from_secs_f64(RATED_CHUNK as f64 / rate as f64),
        ),
        None => (
            route.body.len().div_ceil(route.chunks.max(1)).max(1),
            route.chunk_delay,
        ),
    };
    let started = tokio::time::Instant::now();
    for (i, piece) in route.body.chunks(size).enumerate() {
        if route.stall_after == Some(i) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        // Paced against the start, so the rate holds however long each write takes.
        tokio::time::sleep_until(started + delay * (i as u32 + 1)).await;
        if conn.write_all(piece).await.is_err() {
            return;
        }
    }
    let _ = conn.shutdown().await;
}

/// The piece a rated route sends at a time.
const RATED_CHUNK: usize = 16 * 1024;

/// `bytes=a-b` or `bytes=a-` (one range only).
fn parse_range(value: &str) -> Option<(usize, Option<usize>)> {
    let (start, end) = value.strip_prefix("bytes=")?.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let end = match end.trim() {
        "" => None,
        end => Some(end.parse().ok()?),
    };
    Some((start, end))
}
