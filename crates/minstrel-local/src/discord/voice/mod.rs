//! The local voice endpoint: what songbird's driver connects to after the gateway's
//! VOICE_SERVER_UPDATE names `localhost:PORT`.
//!
//! - [`cert`]: the process's self-signed certificate for `localhost` and the trust
//!   bundle (`SSL_CERT_FILE`) that makes rustls-native-certs accept it.
//! - [`signalling`]: the voice websocket over TLS (HELLO, IDENTIFY -> READY, heartbeats,
//!   SELECT_PROTOCOL -> SESSION_DESCRIPTION, SPEAKING, RESUME -> RESUMED).
//! - [`udp`]: the media socket task: IP discovery, keepalives, RTP decryption, recording.
//! - [`crypto`]: the AEAD "rtpsize" modes. [`rtp`]: datagram and Opus TOC parsing.
//! - [`recorder`]: one Ogg Opus file per guild. [`stats`]: counters and arrival timing.
//!
//! [`Voice`] is the shared state: the grants the gateway issued (guild -> user, session
//! id, token), the SSRCs handed out, and per-guild [`VoiceStats`]. The gateway grants;
//! the signalling session checks a client's IDENTIFY or RESUME against the grant and
//! refuses anything else with close code 4004 (4006 for a resume).
//!
//! DAVE (end-to-end encryption) is never negotiated: SESSION_DESCRIPTION carries
//! `dave_protocol_version: 0`, so packets carry plain Opus inside the transport cipher.

pub mod cert;
pub mod crypto;
pub mod recorder;
pub mod rtp;
pub mod signalling;
pub mod stats;
pub mod udp;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};

pub use cert::{
    add_to_bundle, certificate_pem, is_written_bundle, trust_bundle, trust_in_this_process,
    write_trust_bundle,
};
pub use stats::{Arrival, LATE_GAP, VoiceStats};

/// What the gateway gave one user for one guild's voice connection: the values
/// songbird's `ConnectionInfo` is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoiceGrant {
    pub guild_id: u64,
    pub channel_id: u64,
    pub user_id: u64,
    pub session_id: String,
    pub token: String,
    /// `localhost:PORT`, as in VOICE_SERVER_UPDATE.
    pub endpoint: String,
}

#[derive(Default)]
struct Inner {
    grants: BTreeMap<u64, VoiceGrant>,
    /// SSRC -> guild, from READY.
    ssrcs: HashMap<u32, u64>,
    stats: BTreeMap<u64, VoiceStats>,
    /// Live signalling sessions: guild -> (generation, close request).
    sockets: BTreeMap<u64, (u64, mpsc::UnboundedSender<u16>)>,
}

/// The endpoint's shared state; see the module docs.
pub struct Voice {
    ws_addr: SocketAddr,
    udp_addr: SocketAddr,
    recordings: Option<PathBuf>,
    inner: Mutex<Inner>,
    changed: Notify,
    udp: mpsc::UnboundedSender<udp::UdpMessage>,
    next_ssrc: AtomicU32,
    next_generation: AtomicU32,
}

/// A running endpoint (TLS websocket listener and UDP socket); stops when dropped.
pub struct VoiceServer {
    voice: Arc<Voice>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl VoiceServer {
    /// Binds both sockets on 127.0.0.1. With `recordings`, each guild's audio is
    /// written to `recordings/guild-<id>-<n>.ogg`.
    pub async fn start(recordings: Option<PathBuf>) -> std::io::Result<VoiceServer> {
        let tls = cert::certificate()?.tls.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
        let (udp_tx, udp_rx) = mpsc::unbounded_channel();
        let voice = Arc::new(Voice {
            ws_addr: listener.local_addr()?,
            udp_addr: socket.local_addr()?,
            recordings,
            inner: Mutex::default(),
            changed: Notify::new(),
            udp: udp_tx,
            next_ssrc: AtomicU32::new(1),
            next_generation: AtomicU32::new(1),
        });
        let tasks = vec![
            tokio::spawn(signalling::accept_loop(Arc::clone(&voice), listener, tls)),
            tokio::spawn(udp::runner(Arc::clone(&voice), socket, udp_rx)),
        ];
        Ok(VoiceServer { voice, tasks })
    }

    pub fn voice(&self) -> &Arc<Voice> {
        &self.voice
    }
}

impl Drop for VoiceServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Voice {
    /// `localhost:PORT`: the endpoint VOICE_SERVER_UPDATE names (the certificate is for
    /// `localhost`, and songbird prefixes `wss://`).
    pub fn endpoint(&self) -> String {
        format!("localhost:{}", self.ws_addr.port())
    }

    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// The folder recordings go to, if any.
    pub fn recordings(&self) -> Option<&std::path::Path> {
        self.recordings.as_deref()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("voice state")
    }

    /// Issues a fresh token for `user` in `guild` (replacing any earlier grant there).
    pub fn grant(
        &self,
        guild_id: u64,
        channel_id: u64,
        user_id: u64,
        session_id: &str,
    ) -> VoiceGrant {
        let grant = VoiceGrant {
            guild_id,
            channel_id,
            user_id,
            session_id: session_id.to_string(),
            token: random_hex(16),
            endpoint: self.endpoint(),
        };
        self.inner().grants.insert(guild_id, grant.clone());
        grant
    }

    /// Withdraws the guild's grant (the user left the channel), closes its voice
    /// socket (4014, disconnected) and finishes its recording.
    pub fn revoke(&self, guild_id: u64) {
        let socket = {
            let mut inner = self.inner();
            inner.grants.remove(&guild_id);
            inner.ssrcs.retain(|_, g| *g != guild_id);
            inner.stats.entry(guild_id).or_default().connected = false;
            inner.sockets.remove(&guild_id)
        };
        self.changed.notify_waiters();
        if let Some((_, close)) = socket {
            let _ = close.send(signalling::CLOSE_DISCONNECTED);
        }
        let (done, _) = oneshot::channel();
        let _ = self.udp.send(udp::UdpMessage::Finish { guild_id, done });
    }

    pub fn current_grant(&self, guild_id: u64) -> Option<VoiceGrant> {
        self.inner().grants.get(&guild_id).cloned()
    }

    /// A copy of the guild's counters (all zero if nothing connected yet).
    pub fn stats(&self, guild_id: u64) -> VoiceStats {
        self.inner()
            .stats
            .get(&guild_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until `cond` holds for the guild's stats (re-checked on every change), up
    /// to `limit`. Returns whether it held.
    pub async fn wait_for(
        &self,
        guild_id: u64,
        limit: Duration,
        mut cond: impl FnMut(&VoiceStats) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.changed.notified();
            if cond(&self.stats(guild_id)) {
                return true;
            }
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(deadline) => return cond(&self.stats(guild_id)),
            }
        }
    }

    /// Waits until at least `n` packets of the guild have been decrypted.
    pub async fn wait_for_packets(&self, guild_id: u64, n: u64, limit: Duration) -> bool {
        self.wait_for(guild_id, limit, |s| s.packets >= n).await
    }

    /// Closes the guild's voice socket with 4015 ("voice server crashed"), which a client
    /// answers by reconnecting with RESUME. Returns whether a socket was open.
    pub fn crash_socket(&self, guild_id: u64) -> bool {
        let socket = self.inner().sockets.get(&guild_id).cloned();
        socket.is_some_and(|(_, close)| close.send(signalling::CLOSE_SERVER_CRASH).is_ok())
    }

    /// Ends the guild's current recording (marking its last page end-of-stream) and
    /// returns its path; later packets start a new file.
    pub async fn finish_recording(&self, guild_id: u64) -> Option<PathBuf> {
        let (done, rx) = oneshot::channel();
        self.udp
            .send(udp::UdpMessage::Finish { guild_id, done })
            .ok()?;
        rx.await.ok().flatten()
    }

    pub(super) fn update(&self, guild_id: u64, f: impl FnOnce(&mut VoiceStats)) {
        f(self.inner().stats.entry(guild_id).or_default());
        self.changed.notify_waiters();
    }

    fn issue_ssrc(&self, guild_id: u64) -> u32 {
        let ssrc = self.next_ssrc.fetch_add(1, Ordering::Relaxed);
        self.inner().ssrcs.insert(ssrc, guild_id);
        ssrc
    }

    pub(super) fn guild_of_ssrc(&self, ssrc: u32) -> Option<u64> {
        self.inner().ssrcs.get(&ssrc).copied()
    }

    /// Registers a live signalling session; returns its generation.
    fn attach_socket(&self, guild_id: u64, close: mpsc::UnboundedSender<u16>) -> u64 {
        let generation = u64::from(self.next_generation.fetch_add(1, Ordering::Relaxed));
        self.inner().sockets.insert(guild_id, (generation, close));
        generation
    }

    /// Forgets a session that ended, unless a newer one replaced it.
    fn detach_socket(&self, guild_id: u64, generation: u64) {
        let mut inner = self.inner();
        if inner
            .sockets
            .get(&guild_id)
            .is_some_and(|(g, _)| *g == generation)
        {
            inner.sockets.remove(&guild_id);
            inner.stats.entry(guild_id).or_default().connected = false;
            drop(inner);
            self.changed.notify_waiters();
        }
    }
}

/// `n` random bytes as hex (tokens, session ids).
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    random_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn random_bytes(out: &mut [u8]) {
    use aes_gcm::aead::rand_core::RngCore;
    aes_gcm::aead::OsRng.fill_bytes(out);
}
