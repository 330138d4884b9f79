//! The gateway websocket: HELLO, then IDENTIFY (answered with READY and a GUILD_CREATE
//! for each guild of the session's shard, or closed with 4010 for an invalid shard and
//! 4011 when the shard would hold too many guilds) or RESUME (answered with the
//! replayed dispatches and RESUMED), heartbeat ACKs, and every dispatch of the world about the session's shard's guilds (and, on shard 0,
//! those about no guild) with its own sequence number. Text frames with JSON, no
//! compression.
//!
//! Sessions outlive connections (see [`World`]): a connection closed mid-stream loses
//! nothing, because a RESUME delivers what was missed, and the server can replay events
//! the client already had, as Discord may. [`World::force_reconnect`] sends op 7.
//!
//! A voice state update (op 4) from the bot is answered on its own session only:
//! VOICE_STATE_UPDATE for the bot, then VOICE_SERVER_UPDATE naming the local voice
//! endpoint and a fresh token (or, when leaving, VOICE_STATE_UPDATE with no channel).

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};

use super::world::{Control, Dispatch, Resumed, World};

/// The Message Content intent bit of an IDENTIFY.
const MESSAGE_CONTENT: u64 = 1 << 15;

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

async fn send_frames(socket: &mut WebSocket, frames: Vec<(u64, Dispatch)>) -> bool {
    for (seq, dispatch) in frames {
        let frame = json!({"op": 0, "s": seq, "t": dispatch.t, "d": dispatch.d});
        if !send(socket, frame).await {
            return false;
        }
    }
    true
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
    let mut logged = world.watch_log();
    let mut control = world.control();
    // The session this connection serves, and its generation (see `World`).
    let mut current: Option<(String, u64)> = None;
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
                        let token = payload["d"]["token"].as_str().unwrap_or_default();
                        if !world.token_accepted(token) {
                            // As Discord: close 4004, authentication failed.
                            let reason = "Authentication failed.".into();
                            let close = CloseFrame { code: 4004, reason };
                            let _ = socket.send(Message::Close(Some(close))).await;
                            return;
                        }
                        let intents = payload["d"]["intents"].as_u64().unwrap_or(0);
                        if intents & MESSAGE_CONTENT != 0 && !world.message_content_allowed() {
                            // As Discord: close 4014, a privileged intent not enabled.
                            let reason = "Disallowed intent(s).".into();
                            let close = CloseFrame { code: 4014, reason };
                            let _ = socket.send(Message::Close(Some(close))).await;
                            return;
                        }
                        let (session_id, frames) = match world.identify(&payload["d"]["shard"]) {
                            Ok(opened) => opened,
                            Err((code, reason)) => {
                                let close = CloseFrame { code, reason: reason.into() };
                                let _ = socket.send(Message::Close(Some(close))).await;
                                return;
                            }
                        };
                        if !send_frames(&mut socket, frames).await { return; }
                        current = Some((session_id, 0));
                        logged.mark_changed();
                    }
                    Some(6) => {
                        let id = payload["d"]["session_id"].as_str().unwrap_or_default().to_string();
                        let seq = payload["d"]["seq"].as_u64().unwrap_or(0);
                        let Some(Resumed { generation, replay, seq: resumed }) = world.resume_session(&id, seq) else {
                            // Unknown session: op 9, not resumable; the client identifies.
                            if !send(&mut socket, json!({"op": 9, "d": false})).await { return; }
                            continue;
                        };
                        if !send_frames(&mut socket, replay).await { return; }
                        if !send(&mut socket, json!({"op": 0, "s": resumed, "t": "RESUMED", "d": {}})).await { return; }
                        current = Some((id, generation));
                        logged.mark_changed();
                    }
                    // Voice state update: answered to this session only, as Discord does.
                    Some(4) => {
                        if let Some((id, _)) = &current {
                            let answer = world.bot_voice_update(id, &payload["d"]);
                            world.dispatch_to_session(id, answer);
                        }
                    }
                    // Presence (op 3) needs no answer.
                    _ => {}
                }
            }
            changed = logged.changed(), if current.is_some() => {
                if changed.is_err() { return; }
                let (id, generation) = current.as_ref().expect("guarded");
                // None: a newer connection resumed this session; this one is done.
                let Some(frames) = world.next_frames(id, *generation) else { return };
                if !send_frames(&mut socket, frames).await { return; }
            }
            order = control.recv() => {
                if let Ok(Control::Reconnect) = order
                    && current.is_some()
                    && !send(&mut socket, json!({"op": 7, "d": null})).await
                {
                    return;
                }
            }
        }
    }
}
