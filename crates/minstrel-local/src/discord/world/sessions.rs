//! The event log and the gateway sessions that deliver it (IDENTIFY, RESUME, replay).

use std::collections::VecDeque;

use serde_json::Value;
use tokio::sync::{broadcast, watch};

use super::{Control, Dispatch, Resumed, SESSION_MEMORY, Session, World};

impl World {
    /// Appends to the event log; sessions deliver it `copies` times.
    pub(crate) fn dispatch(&self, t: &'static str, d: Value, copies: usize) {
        let len = {
            let mut state = self.state();
            for _ in 0..copies {
                state.log.push(Dispatch { t, d: d.clone() });
            }
            state.log.len()
        };
        self.logged.send_replace(len);
    }

    pub(crate) fn watch_log(&self) -> watch::Receiver<usize> {
        self.logged.subscribe()
    }

    pub(crate) fn control(&self) -> broadcast::Receiver<Control> {
        self.control.subscribe()
    }

    /// A new session (IDENTIFY) that delivers events logged from now on. Returns its id;
    /// READY and GUILD_CREATE take sequence numbers 1 and 2.
    pub(crate) fn open_session(&self) -> String {
        let id = format!("session-{}", self.next_id());
        let mut state = self.state();
        let cursor = state.log.len();
        state.sessions.insert(
            id.clone(),
            Session {
                cursor,
                seq: 2,
                recent: VecDeque::new(),
                generation: 0,
                own: VecDeque::new(),
            },
        );
        state.identifies += 1;
        drop(state);
        self.changed.notify_waiters();
        id
    }

    /// A RESUME of session `id` whose client saw up to `seq`: the new connection's
    /// generation, the dispatches to replay (the missed ones, and as many already
    /// received ones as set by [`World::set_resume_replay`]) and the sequence number
    /// of RESUMED. `None` if the session is unknown.
    pub(crate) fn resume_session(&self, id: &str, seq: u64) -> Option<Resumed> {
        let mut guard = self.state();
        let state = &mut *guard;
        let replay_from = seq.saturating_sub(state.resume_replay as u64);
        let session = state.sessions.get_mut(id)?;
        session.generation += 1;
        let frames: Vec<(u64, Dispatch)> = session
            .recent
            .iter()
            .filter(|(s, _)| *s > replay_from)
            .cloned()
            .collect();
        let again = frames.iter().filter(|(s, _)| *s <= seq).count() as u64;
        session.seq += 1;
        let resumed = Resumed {
            generation: session.generation,
            replay: frames,
            seq: session.seq,
        };
        state.resumes += 1;
        state.replayed += again;
        drop(guard);
        self.changed.notify_waiters();
        Some(resumed)
    }

    /// The next dispatches for session `id` with their sequence numbers, marked sent.
    /// `None` if a newer connection resumed the session.
    pub(crate) fn next_frames(&self, id: &str, generation: u64) -> Option<Vec<(u64, Dispatch)>> {
        let mut guard = self.state();
        let state = &mut *guard;
        let session = state.sessions.get_mut(id)?;
        if session.generation != generation {
            return None;
        }
        let mut frames = Vec::new();
        let own: Vec<Dispatch> = session.own.drain(..).collect();
        for dispatch in own.iter().chain(&state.log[session.cursor..]) {
            session.seq += 1;
            frames.push((session.seq, dispatch.clone()));
            session.recent.push_back((session.seq, dispatch.clone()));
        }
        session.cursor = state.log.len();
        while session.recent.len() > SESSION_MEMORY {
            session.recent.pop_front();
        }
        Some(frames)
    }

    /// Queues `dispatches` for session `id` alone and wakes the sessions.
    pub(crate) fn dispatch_to_session(&self, id: &str, dispatches: Vec<Dispatch>) {
        if let Some(session) = self.state().sessions.get_mut(id) {
            session.own.extend(dispatches);
        }
        self.logged.send_modify(|_| {});
    }
}
