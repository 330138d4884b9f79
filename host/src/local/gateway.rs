//! The gateway websocket: HELLO, then IDENTIFY (answered with READY and GUILD_CREATE)
//! or RESUME (answered with RESUMED), heartbeat ACKs, and every dispatch of the world
//! with its own sequence number. Text frames with JSON, no compression.
//!
//! A voice state update (op 4) from the bot is answered on its own session only:
//! VOICE_STATE_UPDATE for the bot, then VOICE_SERVER_UPDATE naming the local voice
//! endpoint and a fresh token (or, when leaving, VOICE_STATE_UPDATE with no channel).

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::payloads;
use super::world::World;

const HEARTBEAT_MS: u64 = 5_000;

pub async fn upgrade(State(world): State<Arc<World>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| session(world, socket))
}

async fn send(socket: &mut WebSocket, payload: Value) -> bool {
    socket
        .send(Message::Text(payload.to_string().into()))
        .await
        .is_ok()
}

// Each arm awaits a send before deciding; a match guard cannot await.
#[allow(clippy::collapsible_match)]
async fn session(world: Arc<World>, mut socket: WebSocket) {
    if !send(
        &mut socket,
        json!({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS}}),
    )
    .await
    {
        return;
    }
    // Subscribe before answering IDENTIFY so no event between READY and the loop is lost.
    let mut events = world.subscribe();
    let mut seq: u64 = 0;
    let mut identified = false;
    let mut session_id = String::new();
    loop {
        tokio::select! {
            frame = socket.recv() => {
                let Some(Ok(frame)) = frame else { return };
                let payload: Value = match frame {
                    Message::Text(text) => match serde_json::from_str(&text) {
                        Ok(v) => v,
                        Err(_) => continue,
                    },
                    Message::Close(_) => return,
                    _ => continue,
                };
                match payload["op"].as_u64() {
                    Some(1) => {
                        if !send(&mut socket, json!({"op": 11})).await { return; }
                    }
                    Some(2) => {
                        identified = true;
                        session_id = format!("session-{}", world.next_id());
                        seq += 1;
                        let ready = payloads::ready(&session_id, &world.gateway_url());
                        if !send(&mut socket, json!({"op": 0, "s": seq, "t": "READY", "d": ready})).await { return; }
                        seq += 1;
                        if !send(&mut socket, json!({"op": 0, "s": seq, "t": "GUILD_CREATE", "d": payloads::guild(world.voice_states())})).await { return; }
                        world.identified();
                    }
                    Some(6) => {
                        identified = true;
                        session_id = payload["d"]["session_id"].as_str().unwrap_or_default().to_string();
                        seq = payload["d"]["seq"].as_u64().unwrap_or(seq) + 1;
                        if !send(&mut socket, json!({"op": 0, "s": seq, "t": "RESUMED", "d": {}})).await { return; }
                    }
                    // Voice state update: answered to this session only, as Discord does.
                    Some(4) if identified => {
                        for dispatch in world.bot_voice_update(&session_id, &payload["d"]) {
                            seq += 1;
                            let frame = json!({"op": 0, "s": seq, "t": dispatch.t, "d": dispatch.d});
                            if !send(&mut socket, frame).await { return; }
                        }
                    }
                    // Presence (op 3) needs no answer.
                    _ => {}
                }
            }
            event = events.recv(), if identified => {
                match event {
                    Ok(dispatch) => {
                        seq += 1;
                        let frame = json!({"op": 0, "s": seq, "t": dispatch.t, "d": dispatch.d});
                        if !send(&mut socket, frame).await { return; }
                    }
                    Err(RecvError::Lagged(n)) => tracing::warn!(n, "gateway session lagged; events dropped"),
                    Err(RecvError::Closed) => return,
                }
            }
        }
    }
}
