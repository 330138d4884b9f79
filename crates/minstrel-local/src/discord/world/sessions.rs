//! The event log and the gateway sessions that deliver it (IDENTIFY, RESUME, replay).

use std::collections::VecDeque;

use serde_json::Value;
use tokio::sync::{broadcast, watch};

use super::{Control, Dispatch, Resumed, SESSION_MEMORY, Session, World};
use crate::discord::payloads;

/// Dispatches with their sequence numbers.
type Frames = Vec<(u64, Dispatch)>;

impl World {
    /// Appends to the event log; sessions deliver it `copies` times.
    pub(crate) fn dispatch(&self, t: &'static str, d: Value, copies: usize) {
        let dispatch = Dispatch::new(t, d);
        let len = {
            let mut state = self.state();
            for _ in 0..copies {
                state.log.push(dispatch.clone());
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

    /// An IDENTIFY for shard `shard` (`[id, count]`, or null for `[0, 1]`): a new
    /// session that delivers the events of that shard's guilds logged from now on.
    /// Returns its id and its first frames, READY and a GUILD_CREATE per guild; or, as
    /// Discord closes, 4010 for an invalid shard and 4011 when the shard would hold
    /// more guilds than allowed (see [`World::set_max_guilds_per_shard`]).
    pub(crate) fn identify(&self, shard: &Value) -> Result<(String, Frames), (u16, &'static str)> {
        let shard = match shard.as_array().map(Vec::as_slice) {
            None => [0, 1],
            Some([id, count]) => match (id.as_u64(), count.as_u64()) {
                (Some(id), Some(count)) if id < count => [id, count],
                _ => return Err((4010, "Invalid shard.")),
            },
            Some(_) => return Err((4010, "Invalid shard.")),
        };
        let guilds: Vec<u64> = self
            .guilds()
            .into_iter()
            .filter(|g| payloads::shard_of(*g, shard[1]) == shard[0])
            .collect();
        if guilds.len() > self.state().sharding.max_guilds_per_shard {
            return Err((4011, "Sharding required."));
        }
        let id = format!("session-{}", self.next_id());
        let mut frames = vec![(
            1,
            Dispatch::new(
                "READY",
                payloads::ready(&id, &self.gateway_url(), &guilds, shard),
            ),
        )];
        for guild in &guilds {
            let created = payloads::guild(*guild, self.voice_states(*guild));
            frames.push((
                frames.len() as u64 + 1,
                Dispatch::new("GUILD_CREATE", created),
            ));
        }
        let mut state = self.state();
        let cursor = state.log.len();
        state.sessions.insert(
            id.clone(),
            Session {
                shard,
                cursor,
                seq: frames.len() as u64,
                recent: VecDeque::new(),
                generation: 0,
                own: VecDeque::new(),
            },
        );
        state.identified_shards.push(shard);
        drop(state);
        self.changed.notify_waiters();
        Ok((id, frames))
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
        // Events about no guild (direct messages) go to shard 0, as on Discord.
        let [shard, count] = session.shard;
        let on_shard = |d: &&Dispatch| d.guild.map_or(0, |g| payloads::shard_of(g, count)) == shard;
        for dispatch in own
            .iter()
            .chain(state.log[session.cursor..].iter().filter(on_shard))
        {
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
