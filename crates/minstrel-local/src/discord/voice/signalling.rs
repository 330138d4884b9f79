//! The voice websocket (wss, text JSON frames), as songbird speaks it.
//!
//! songbird asks for gateway v4 (`?v=4`) and sends IDENTIFY without waiting for HELLO;
//! it waits for both HELLO and READY. Heartbeats are acknowledged in the shape they came
//! in: a bare nonce (v4) is echoed as `d: nonce`, an object `{t, seq_ack}` (v8) as
//! `d: {t}`. Opcodes this endpoint has no use for (DAVE, client flags) are ignored.

use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::crypto::{Cipher, Mode};
use super::{Voice, VoiceGrant, udp};

/// Milliseconds, as Discord sends it.
const HEARTBEAT_INTERVAL: f64 = 13_750.0;

pub const CLOSE_UNKNOWN_OPCODE: u16 = 4001;
pub const CLOSE_NOT_AUTHENTICATED: u16 = 4003;
pub const CLOSE_AUTHENTICATION_FAILED: u16 = 4004;
pub const CLOSE_SESSION_INVALID: u16 = 4006;
pub const CLOSE_DISCONNECTED: u16 = 4014;
pub const CLOSE_SERVER_CRASH: u16 = 4015;
pub const CLOSE_UNKNOWN_ENCRYPTION_MODE: u16 = 4016;

pub(super) async fn accept_loop(voice: Arc<Voice>, listener: TcpListener, tls: Arc<ServerConfig>) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let voice = Arc::clone(&voice);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            if let Err(e) = session(voice, acceptor, tcp).await {
                tracing::debug!(error = %e, "voice socket ended");
            }
        });
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_rustls::server::TlsStream<TcpStream>>;

/// Where a session is in the handshake.
struct Session {
    grant: Option<VoiceGrant>,
    ssrc: u32,
    generation: u64,
}

async fn session(
    voice: Arc<Voice>,
    acceptor: TlsAcceptor,
    tcp: TcpStream,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let tls = acceptor.accept(tcp).await?;
    let mut ws = tokio_tungstenite::accept_async(tls).await?;
    send(
        &mut ws,
        json!({"op": 8, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL}}),
    )
    .await?;
    let (close_tx, mut close_rx) = mpsc::unbounded_channel::<u16>();
    let mut state = Session {
        grant: None,
        ssrc: 0,
        generation: 0,
    };
    let result = loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            Some(code) = close_rx.recv() => break close(&mut ws, code).await,
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None => break Ok(()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => break Err(e.into()),
        };
        let Ok(payload) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        match handle(&voice, &mut state, &close_tx, &payload) {
            Reply::Send(frame) => send(&mut ws, frame).await?,
            Reply::Close(code) => break close(&mut ws, code).await,
            Reply::Nothing => {}
        }
    };
    if let Some(grant) = &state.grant {
        voice.detach_socket(grant.guild_id, state.generation);
    }
    result
}

enum Reply {
    Send(Value),
    Close(u16),
    Nothing,
}

fn handle(
    voice: &Voice,
    state: &mut Session,
    close_tx: &mpsc::UnboundedSender<u16>,
    payload: &Value,
) -> Reply {
    let d = &payload["d"];
    match payload["op"].as_u64() {
        // IDENTIFY
        Some(0) => {
            let Some(grant) = check(voice, d, Some(&d["user_id"])) else {
                return Reply::Close(CLOSE_AUTHENTICATION_FAILED);
            };
            state.ssrc = voice.issue_ssrc(grant.guild_id);
            state.generation = voice.attach_socket(grant.guild_id, close_tx.clone());
            voice.update(grant.guild_id, |s| {
                s.identifies += 1;
                s.connected = true;
            });
            state.grant = Some(grant);
            let modes: Vec<&str> = Mode::OFFERED.iter().map(|m| m.name()).collect();
            let udp = voice.udp_addr();
            Reply::Send(json!({"op": 2, "d": {
                "ssrc": state.ssrc, "ip": udp.ip().to_string(), "port": udp.port(),
                "modes": modes, "heartbeat_interval": HEARTBEAT_INTERVAL,
            }}))
        }
        // SELECT_PROTOCOL
        Some(1) => {
            let Some(grant) = &state.grant else {
                return Reply::Close(CLOSE_NOT_AUTHENTICATED);
            };
            let Some(mode) = d["data"]["mode"].as_str().and_then(Mode::from_name) else {
                return Reply::Close(CLOSE_UNKNOWN_ENCRYPTION_MODE);
            };
            let mut key = [0u8; 32];
            super::random_bytes(&mut key);
            let _ = voice.udp.send(udp::UdpMessage::Stream {
                ssrc: state.ssrc,
                guild_id: grant.guild_id,
                cipher: Cipher::new(mode, &key),
            });
            voice.update(grant.guild_id, |s| s.mode = Some(mode.name().to_string()));
            Reply::Send(json!({"op": 4, "d": {
                "mode": mode.name(), "secret_key": key.to_vec(),
                "audio_codec": "opus", "video_codec": null,
                "media_session_id": super::random_hex(16), "dave_protocol_version": 0,
            }}))
        }
        // HEARTBEAT: v8 sends {t, seq_ack}, earlier versions the bare nonce.
        Some(3) => match d.get("t") {
            Some(nonce) => Reply::Send(json!({"op": 6, "d": {"t": nonce}})),
            None => Reply::Send(json!({"op": 6, "d": d})),
        },
        // SPEAKING: a bitfield, microphone = 1.
        Some(5) => {
            if let Some(grant) = &state.grant {
                let on = d["speaking"].as_u64().unwrap_or(0) & 1 == 1;
                voice.update(grant.guild_id, |s| s.speaking = on);
            }
            Reply::Nothing
        }
        // RESUME: same grant, same SSRC and key; the UDP side never stopped.
        Some(7) => {
            let Some(grant) = check(voice, d, None) else {
                return Reply::Close(CLOSE_SESSION_INVALID);
            };
            state.generation = voice.attach_socket(grant.guild_id, close_tx.clone());
            voice.update(grant.guild_id, |s| {
                s.resumes += 1;
                s.connected = true;
            });
            state.grant = Some(grant);
            Reply::Send(json!({"op": 9, "d": null}))
        }
        Some(_) => Reply::Nothing,
        None => Reply::Close(CLOSE_UNKNOWN_OPCODE),
    }
}

/// The grant an IDENTIFY or RESUME names, if its token and session id (and user, for
/// IDENTIFY) match what the gateway issued. A refusal is counted.
fn check(voice: &Voice, d: &Value, user: Option<&Value>) -> Option<VoiceGrant> {
    let guild = snowflake(&d["server_id"]);
    let grant = guild.and_then(|g| voice.current_grant(g));
    let ok = grant.as_ref().is_some_and(|g| {
        d["token"].as_str() == Some(g.token.as_str())
            && d["session_id"].as_str() == Some(g.session_id.as_str())
            && user.is_none_or(|u| snowflake(u) == Some(g.user_id))
    });
    if !ok {
        tracing::warn!(payload = %d, "voice IDENTIFY/RESUME refused");
        if let Some(g) = guild {
            voice.update(g, |s| s.rejected += 1);
        }
        return None;
    }
    grant
}

/// Ids arrive as strings (Discord's convention) or numbers.
fn snowflake(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

async fn send(ws: &mut Ws, frame: Value) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    ws.send(Message::text(frame.to_string())).await
}

async fn close(ws: &mut Ws, code: u16) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: "".into(),
    };
    ws.close(Some(frame)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// songbird parses what this endpoint sends with serenity-voice-model; check every
    /// server payload against it.
    #[test]
    fn songbird_parses_every_payload() {
        use songbird::model::Event;
        // From text, as songbird reads frames (its visitor borrows keys, and meets "d"
        // before "op" because serde_json writes keys in order).
        let parse = |v: Value| -> Event {
            serde_json::from_str(&v.to_string()).unwrap_or_else(|e| panic!("{v}: {e}"))
        };
        let hello = parse(json!({"op": 8, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL}}));
        assert!(matches!(hello, Event::Hello(_)));
        let ready = parse(
            json!({"op": 2, "d": {"ssrc": 1, "ip": "127.0.0.1", "port": 5000,
            "modes": ["aead_aes256_gcm_rtpsize"], "heartbeat_interval": HEARTBEAT_INTERVAL}}),
        );
        assert!(matches!(ready, Event::Ready(r) if r.ssrc == 1 && r.port == 5000));
        let desc = parse(json!({"op": 4, "d": {"mode": "aead_aes256_gcm_rtpsize",
            "secret_key": vec![1u8; 32], "audio_codec": "opus", "video_codec": null,
            "media_session_id": "ab", "dave_protocol_version": 0}}));
        assert!(
            matches!(desc, Event::SessionDescription(d) if d.secret_key.len() == 32 && d.dave_protocol_version == 0)
        );
        assert!(
            matches!(parse(json!({"op": 6, "d": 12345})), Event::HeartbeatAck(a) if a.nonce == 12345)
        );
        assert!(matches!(parse(json!({"op": 9, "d": null})), Event::Resumed));
    }

    /// What songbird sends parses into what `handle` reads.
    #[test]
    fn songbird_payloads_have_the_fields_read_here() {
        use songbird::model::{Event, id, payload};
        let identify = serde_json::to_value(Event::from(payload::Identify {
            server_id: id::GuildId(2000),
            session_id: "s".into(),
            token: "t".into(),
            user_id: id::UserId(1000),
            max_dave_protocol_version: Some(1),
        }))
        .unwrap();
        assert_eq!(identify["op"], 0);
        assert_eq!(snowflake(&identify["d"]["server_id"]), Some(2000));
        assert_eq!(snowflake(&identify["d"]["user_id"]), Some(1000));
        assert_eq!(identify["d"]["token"], "t");
        let heartbeat = serde_json::to_value(Event::from(payload::Heartbeat { nonce: 7 })).unwrap();
        assert_eq!(heartbeat, json!({"op": 3, "d": 7}));
    }
}
