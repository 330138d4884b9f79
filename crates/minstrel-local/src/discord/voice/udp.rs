//! The media socket task: one UDP socket for every guild, demultiplexed by SSRC as
//! Discord's servers do. It owns the ciphers and recorders (sent to it as messages), so
//! the shared state's lock only guards counters.
//!
//! Recording writes are small buffered writes on this task; at 50 packets per second per
//! guild that is cheap enough for a local server.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::Voice;
use super::crypto::Cipher;
use super::recorder::Recorder;
use super::rtp::{self, Header};

pub enum UdpMessage {
    /// SELECT_PROTOCOL completed: decrypt `ssrc`'s packets with `cipher`.
    Stream {
        ssrc: u32,
        guild_id: u64,
        cipher: Cipher,
    },
    /// Close the guild's recording; answers with its path.
    Finish {
        guild_id: u64,
        done: oneshot::Sender<Option<PathBuf>>,
    },
}

pub(super) async fn runner(
    voice: Arc<Voice>,
    socket: UdpSocket,
    mut rx: mpsc::UnboundedReceiver<UdpMessage>,
) {
    let mut streams: HashMap<u32, (u64, Cipher)> = HashMap::new();
    let mut recorders: HashMap<u64, Recorder> = HashMap::new();
    let mut files = 0u32;
    let mut buf = vec![0u8; 2048];
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(UdpMessage::Stream { ssrc, guild_id, cipher }) => {
                    streams.retain(|_, (g, _)| *g != guild_id);
                    streams.insert(ssrc, (guild_id, cipher));
                }
                Some(UdpMessage::Finish { guild_id, done }) => {
                    let path = recorders.remove(&guild_id).and_then(|r| match r.finish() {
                        Ok(path) => Some(path),
                        Err(e) => {
                            tracing::warn!(error = %e, "finishing a voice recording");
                            None
                        }
                    });
                    let _ = done.send(path);
                }
                None => return,
            },
            received = socket.recv_from(&mut buf) => {
                let Ok((len, from)) = received else { continue };
                let packet = &buf[..len];
                let now = Instant::now();
                if let Some(ssrc) = rtp::discovery_request(packet) {
                    if voice.guild_of_ssrc(ssrc).is_some() {
                        let _ = socket.send_to(&rtp::discovery_response(ssrc, from), from).await;
                    }
                    continue;
                }
                if len < 12 {
                    // Keepalive: the client's SSRC (4 bytes, big-endian).
                    let guild = packet
                        .get(..4)
                        .and_then(|b| voice.guild_of_ssrc(u32::from_be_bytes(b.try_into().ok()?)));
                    if let Some(guild) = guild {
                        voice.update(guild, |s| s.keepalives += 1);
                    }
                    continue;
                }
                if Header::payload_type(packet) != rtp::OPUS_PAYLOAD_TYPE {
                    continue;
                }
                let Some(header) = Header::parse(packet) else { continue };
                let Some((guild, cipher)) = streams.get(&header.ssrc) else { continue };
                let guild = *guild;
                match cipher.open_rtp(packet) {
                    Ok(opus) => {
                        let samples = rtp::opus_samples(&opus).unwrap_or(0);
                        voice.update(guild, |s| s.record_packet(now, &opus, samples));
                        record(&voice, &mut recorders, &mut files, guild, opus);
                    }
                    Err(e) => {
                        tracing::debug!(?e, ssrc = header.ssrc, "voice packet not decrypted");
                        voice.update(guild, |s| s.decrypt_failures += 1);
                    }
                }
            }
        }
    }
}

/// Appends to the guild's recording, starting a new file if it has none.
fn record(
    voice: &Voice,
    recorders: &mut HashMap<u64, Recorder>,
    files: &mut u32,
    guild: u64,
    opus: Vec<u8>,
) {
    let Some(dir) = voice.recordings() else {
        return;
    };
    let recorder = match recorders.entry(guild) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(e) => {
            *files += 1;
            let path = dir.join(format!("guild-{guild}-{files}.ogg"));
            match Recorder::create(&path, *files) {
                Ok(r) => {
                    voice.update(guild, |s| s.ogg_path = Some(path));
                    e.insert(r)
                }
                Err(err) => {
                    tracing::warn!(error = %err, path = %path.display(), "voice recording");
                    return;
                }
            }
        }
    };
    if let Err(e) = recorder.push(opus) {
        tracing::warn!(error = %e, path = %recorder.path().display(), "voice recording");
    }
}
