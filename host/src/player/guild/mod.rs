//! One guild's player: a task that owns the guild's queue, its voice call and the
//! leases of its prepared songs. Everything that changes a guild's playback is a message
//! to this task, so guilds never wait on each other and a guild's state has one writer.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use poise::serenity_prelude::{ChannelId, CreateMessage, GuildId};
use songbird::events::{Event, EventContext, EventHandler, TrackEvent};
use songbird::input::{File, Input};
use songbird::tracks::{PlayMode, Track, TrackHandle};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

mod request;
mod saved;

pub(super) use request::Request;
pub(super) use saved::Saved;

use super::events::Happened;
use super::filter::Filter;
use super::prepare::{self, Playable, Progress};
use super::queue::{Limits, Queue, Song};
use super::settings::Effective;
use super::{Command, NowPlaying, Outcome, PlayerError, Queued, Shared, control};
use crate::plugins::types::EndReason;

/// Where a track's audio comes from.
enum Source {
    /// A cached rendition.
    File(std::path::PathBuf),
    /// A download, as it arrives.
    Stream(super::stream::Stream),
    Live(super::live::Live),
}

/// How often the position of a playing song is saved (for resuming after a restart).
const SAVE_POSITION_EVERY: Duration = Duration::from_secs(5);

struct Playing {
    uid: u64,
    play_id: u64,
    handle: TrackHandle,
    paused: bool,
    /// The filter of the rendition playing.
    filter: Filter,
    /// Streamed from the download (see [`prepare::start`]): where in the rendition's
    /// time it started, which the track's own position counts from.
    streamed_from: Option<Duration>,
    /// A live stream: no seeking, no resuming mid-song.
    live: bool,
}

pub(super) struct GuildPlayer {
    guild: u64,
    shared: Arc<Shared>,
    /// Weak, so the task ends once `Players` lets go of the guild.
    tx: mpsc::WeakUnboundedSender<Request>,
    queue: Queue,
    /// Prepared songs by uid: their leases keep their renditions in the cache.
    ready: HashMap<u64, Playable>,
    /// Songs whose streamed play failed with their download, said already.
    failed_streams: HashSet<u64>,
    /// Songs being prepared, and with which filter.
    preparing: HashSet<(u64, Filter)>,
    /// What songs are rendered through (see [`Filter`]).
    filter: Filter,
    next_uid: u64,
    voice: Option<u64>,
    text: Option<u64>,
    joined: bool,
    playing: Option<Playing>,
    play_seq: u64,
    volume: u8,
    always_on: bool,
    /// Where to start the current song (a restart resumed mid-song).
    resume_at: Option<Duration>,
    resume_paused: bool,
    idle_since: Option<Instant>,
    alone_since: Option<Instant>,
    /// Who voted to skip the current song, and its uid (a new song starts a new vote).
    skip_votes: (u64, HashSet<u64>),
}

pub(super) fn spawn(
    guild: u64,
    shared: Arc<Shared>,
    saved: Option<Saved>,
) -> mpsc::UnboundedSender<Request> {
    let (tx, rx) = mpsc::unbounded_channel();
    // A new queue starts at the guild's default volume (see `run`).
    let fresh = saved.is_none();
    let saved = saved.unwrap_or(Saved {
        volume: 100,
        ..Saved::default()
    });
    let resume = saved.queue.current.is_some() && saved.voice_channel.is_some();
    let player = GuildPlayer {
        guild,
        shared,
        tx: tx.downgrade(),
        next_uid: saved.next_uid.max(1),
        queue: saved.queue,
        ready: HashMap::new(),
        failed_streams: HashSet::new(),
        preparing: HashSet::new(),
        filter: saved.filter,
        voice: saved.voice_channel,
        text: saved.text_channel,
        joined: false,
        playing: None,
        play_seq: 0,
        volume: saved.volume,
        always_on: saved.always_on,
        resume_at: resume.then(|| Duration::from_millis(saved.position_ms)),
        resume_paused: resume && saved.paused,
        idle_since: Some(Instant::now()),
        alone_since: None,
        skip_votes: (0, HashSet::new()),
    };
    tokio::spawn(
        player
            .run(rx, resume, fresh)
            .instrument(tracing::info_span!("player", guild)),
    );
    tx
}

impl GuildPlayer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>, resume: bool, fresh: bool) {
        if fresh {
            self.volume = self.settings().await.default_volume;
        }
        if resume {
            tracing::info!(guild = self.guild, "resuming the saved queue");
            self.start_current().await;
        }
        let mut save_tick = tokio::time::interval(SAVE_POSITION_EVERY);
        loop {
            let leave_at = self.leave_deadline();
            tokio::select! {
                request = rx.recv() => match request {
                    None => break,
                    Some(Request::Shutdown(done)) => {
                        // Saved first, so the position is where the music stopped.
                        self.save().await;
                        self.stop_track();
                        if self.joined {
                            let _ = self.shared.songbird.remove(GuildId::new(self.guild)).await;
                        }
                        let _ = done.send(());
                        break;
                    }
                    Some(request) => self.handle(request).await,
                },
                _ = save_tick.tick(), if self.playing.is_some() => self.save().await,
                _ = sleep_until(leave_at), if leave_at.is_some() => {
                    tracing::info!(guild = self.guild, "leaving the voice channel (idle or alone)");
                    self.leave().await;
                    self.save().await;
                }
            }
        }
    }

    fn leave_deadline(&self) -> Option<Instant> {
        if !self.joined || self.always_on {
            return None;
        }
        let config = &self.shared.config;
        let idle = self
            .idle_since
            .filter(|_| self.playing.is_none())
            .map(|t| t + config.idle_disconnect());
        let alone = self.alone_since.map(|t| t + config.alone_disconnect());
        idle.into_iter().chain(alone).min()
    }

    async fn handle(&mut self, request: Request) {
        match request {
            Request::Enqueue {
                songs,
                ready,
                voice,
                text,
                at,
                reply,
            } => {
                let mut result = self.enqueue(songs, ready, voice, text).await;
                // Moved in the same turn of the task, so no other request comes between.
                if let (Some(at), Ok(queued)) = (at, &mut result)
                    && queued.position > at + 1
                    && self.queue.move_song(queued.position, at + 1).is_ok()
                {
                    queued.position = at + 1;
                    self.save().await;
                }
                let _ = reply.send(result);
            }
            Request::Command(command, reply) => {
                let result = self.command(command).await;
                self.save().await;
                let _ = reply.send(result);
            }
            Request::NowPlaying(reply) => {
                let _ = reply.send(self.now_playing().await);
            }
            Request::Queue(reply) => {
                let _ = reply.send(self.queue.clone());
            }
            Request::Room { user, reply } => {
                let room = self.queue.room(user, self.limits().await);
                let _ = reply.send(room.map(|()| self.filter).map_err(PlayerError::from));
            }
            Request::Alone(alone) => {
                self.alone_since = match (alone, self.alone_since) {
                    (false, _) => None,
                    (true, Some(since)) => Some(since),
                    (true, None) => Some(Instant::now()),
                };
            }
            Request::Ended { play_id, error } => self.ended(play_id, error).await,
            Request::StreamFailed { play_id, error } => {
                let Some(playing) = &self.playing else { return };
                if playing.play_id != play_id {
                    return;
                }
                self.failed_streams.insert(playing.uid);
                self.end_stream(format!("the download failed: {error}"))
                    .await;
            }
            Request::Shutdown(_) => unreachable!("handled by the task loop"),
            Request::Prepared {
                uid,
                filter,
                result,
            } => {
                self.preparing.remove(&(uid, filter));
                if filter != self.filter {
                    return; // the guild chose another filter meanwhile
                }
                match result {
                    Ok(ready) if self.contains(uid) => {
                        // A rendition taking its stream's place starts nothing.
                        let waited = !self.ready.get(&uid).is_some_and(|r| r.filter() == filter);
                        self.keep(uid, ready);
                        let current = self.current_uid() == Some(uid);
                        match &self.playing {
                            None if current && waited => self.start_current().await,
                            Some(p) if current && p.filter != filter => {
                                self.switch_rendition().await
                            }
                            _ => {}
                        }
                    }
                    Ok(_) => {} // removed meanwhile; dropping it releases the lease
                    // Said when its streamed play failed; a retry (`loop track`) speaks
                    // for itself.
                    Err(_) if self.failed_streams.remove(&uid) => {
                        if self.current_uid() != Some(uid) {
                            self.queue.upcoming.retain(|s| s.uid != uid);
                            self.queue.played.retain(|s| s.uid != uid);
                            self.after_change();
                        }
                    }
                    Err(error) => {
                        // The download a stream plays from failed: the song ends here.
                        if self
                            .playing
                            .as_ref()
                            .is_some_and(|p| p.uid == uid && p.streamed_from.is_some())
                        {
                            self.end_stream(error).await;
                            return;
                        }
                        let title = self.title_of(uid);
                        let error = crate::markdown::escape(&error.to_string());
                        self.announce(format!("Skipped **{title}**: {error}")).await;
                        if self.current_uid() == Some(uid) {
                            self.queue.skip();
                            self.after_change();
                            self.start_current().await;
                        } else {
                            self.queue.upcoming.retain(|s| s.uid != uid);
                            self.queue.played.retain(|s| s.uid != uid);
                        }
                        self.save().await;
                    }
                }
            }
        }
    }

    /// Ends the playing stream, whose download failed with `error`. Played again
    /// (`loop track`), the song is downloaded again.
    async fn end_stream(&mut self, error: String) {
        let Some(playing) = &self.playing else { return };
        let (play_id, uid) = (playing.play_id, playing.uid);
        let _ = playing.handle.stop();
        self.ready.remove(&uid);
        self.ended(play_id, Some(error)).await;
    }

    /// A track stopped: says why if it failed, and plays what comes next.
    async fn ended(&mut self, play_id: u64, error: Option<String>) {
        let Some(playing) = &self.playing else { return };
        if playing.play_id != play_id {
            return; // a track we stopped on purpose
        }
        let reason = if error.is_some() {
            EndReason::Failed
        } else {
            EndReason::Finished
        };
        if let Some(error) = error {
            self.could_not_play(playing.uid, &error).await;
        }
        let end = self.queue.current.as_ref().and_then(|s| s.duration_ms);
        let end = Duration::from_millis(end.unwrap_or(0));
        self.tell(Happened::Ended(reason), end);
        self.playing = None;
        // Even when `loop track` plays the same song again: a new vote.
        self.skip_votes.1.clear();
        self.queue.advance();
        self.after_change();
        self.start_current().await;
        if self.queue.current.is_none() {
            self.tell(Happened::QueueEnded, Duration::ZERO);
        }
        if let Some(song) = &self.queue.current {
            let title = self.title_of(song.uid);
            self.announce(format!("Now playing **{title}**")).await;
        }
        self.save().await;
    }

    async fn enqueue(
        &mut self,
        songs: Vec<Song>,
        ready: Option<Playable>,
        voice: Option<u64>,
        text: Option<u64>,
    ) -> Result<Queued, PlayerError> {
        if songs.is_empty() {
            return Err(PlayerError::Resolve("nothing to play".into()));
        }
        let voice = voice.or(self.voice).ok_or(PlayerError::NotInVoice)?;
        if self.joined && self.voice != Some(voice) && self.playing.is_some() {
            return Err(PlayerError::OtherChannel(self.voice.unwrap_or_default()));
        }
        let limits = self.limits().await;
        let total = songs.len();
        let mut first_position = None;
        let mut added = 0;
        let mut left_out = None;
        let mut ready = ready;
        for mut song in songs {
            song.uid = self.next_uid;
            self.next_uid += 1;
            let uid = song.uid;
            match self.queue.push(song, limits) {
                Ok(position) => {
                    first_position.get_or_insert(position);
                    added += 1;
                }
                Err(full) => {
                    left_out = Some((total - added, full));
                    break;
                }
            }
            if let Some(r) = ready.take() {
                self.keep(uid, r);
            }
        }
        let Some(position) = first_position else {
            let (_, full) = left_out.expect("a song was refused");
            return Err(full.into());
        };
        if text.is_some() {
            self.text = text;
        }
        if self.voice != Some(voice) {
            self.voice = Some(voice);
            self.joined = false;
        }
        if self.playing.is_none() {
            self.start_current().await;
        } else {
            self.prefetch_next();
        }
        self.save().await;
        Ok(Queued {
            position,
            added,
            left_out,
        })
    }

    /// The settings in force in this guild (see [`settings`](crate::player::settings)).
    async fn settings(&self) -> Effective {
        self.shared.settings(self.guild).await
    }

    /// The queue's limits (the guild's `max_queue` within `[player] max_queue`, and
    /// `max_queue_per_user`).
    async fn limits(&self) -> Limits {
        Limits {
            max_songs: self.settings().await.max_queue,
            max_per_user: self.shared.config.max_queue_per_user,
        }
    }

    async fn command(&mut self, command: Command) -> Result<Outcome, PlayerError> {
        match command {
            Command::Skip => self.skip().await,
            Command::VoteSkip { voter, listeners } => {
                let uid = self.current_uid().ok_or(PlayerError::NothingPlaying)?;
                let (voted_for, votes) = &mut self.skip_votes;
                if *voted_for != uid {
                    *voted_for = uid;
                    votes.clear();
                }
                let again = !votes.insert(voter);
                // Votes of people who have left the channel no longer count.
                votes.retain(|v| listeners.contains(v));
                let votes = votes.len();
                let ratio = self.settings().await.vote_skip_ratio;
                let needed = control::votes_needed(listeners.len(), ratio);
                if votes >= needed {
                    return self.skip().await;
                }
                Ok(Outcome::Voted {
                    votes,
                    needed,
                    again,
                })
            }
            Command::Pause => {
                let playing = self.playing.as_mut().ok_or(PlayerError::NothingPlaying)?;
                playing.handle.pause().map_err(voice_error)?;
                playing.paused = true;
                Ok(Outcome::Paused)
            }
            Command::Resume => {
                let playing = self.playing.as_mut().ok_or(PlayerError::NothingPlaying)?;
                playing.handle.play().map_err(voice_error)?;
                playing.paused = false;
                Ok(Outcome::Resumed)
            }
            Command::Stop => {
                if self.playing.is_some() {
                    let at = self.position().await;
                    self.tell(Happened::Ended(EndReason::Stopped), at);
                    self.tell(Happened::QueueEnded, Duration::ZERO);
                }
                self.stop_track();
                self.queue.clear();
                self.after_change();
                Ok(Outcome::Stopped)
            }
            Command::Leave => {
                self.leave().await;
                Ok(Outcome::Left)
            }
            Command::Volume(percent) => {
                let percent = percent.min(200);
                self.volume = percent;
                if let Some(playing) = &self.playing {
                    // Gain at playback time leaves Opus passthrough for this track: a
                    // user's choice, so it is allowed to cost CPU.
                    playing
                        .handle
                        .set_volume(f32::from(percent) / 100.0)
                        .map_err(voice_error)?;
                }
                Ok(Outcome::Volume(percent))
            }
            Command::Loop(mode) => {
                self.queue.loop_mode = mode;
                self.prefetch_next();
                Ok(Outcome::Loop(mode))
            }
            Command::Shuffle => {
                let mut seed = rand_seed();
                self.queue.shuffle(|| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed
                });
                self.prefetch_next();
                Ok(Outcome::Shuffled(self.queue.upcoming.len()))
            }
            Command::Remove(position) => {
                let song = self.queue.remove(position)?;
                self.after_change();
                Ok(Outcome::Removed(song))
            }
            Command::Move(from, to) => {
                let song = self.queue.move_song(from, to)?.clone();
                self.prefetch_next();
                Ok(Outcome::Moved(song, to))
            }
            Command::Seek(to) => {
                let playing = self.playing.as_ref().ok_or(PlayerError::NothingPlaying)?;
                if playing.live {
                    return Err(PlayerError::Live);
                }
                // `to` is in the song's own time; the rendition runs at the filter's speed.
                let tempo = playing.filter.tempo();
                if playing.streamed_from.is_some() {
                    // A stream cannot seek: play again from there (the rendition, if it
                    // is there by now).
                    self.resume_paused = playing.paused;
                    self.stop_track();
                    self.resume_at = Some(to.div_f64(tempo));
                    self.start_current().await;
                    return Ok(Outcome::Seeked(to));
                }
                let at = playing
                    .handle
                    .seek_async(to.div_f64(tempo))
                    .await
                    .map_err(voice_error)?;
                Ok(Outcome::Seeked(at.mul_f64(tempo)))
            }
            Command::AlwaysOn(on) => {
                self.always_on = on;
                Ok(Outcome::AlwaysOn(on))
            }
            Command::Filter(filter) => {
                self.filter = filter;
                // Prepared songs of another filter are of no more use: their leases go.
                let current = self.current_uid();
                self.ready
                    .retain(|uid, r| r.filter() == filter || Some(*uid) == current);
                if let Some(song) = self.queue.current.clone() {
                    self.prepare(&song);
                }
                self.prefetch_next();
                Ok(Outcome::Filter(filter))
            }
        }
    }

    async fn skip(&mut self) -> Result<Outcome, PlayerError> {
        let skipped = self.queue.current.clone();
        if skipped.is_none() {
            return Err(PlayerError::NothingPlaying);
        }
        let at = self.position().await;
        self.tell(Happened::Ended(EndReason::Skipped), at);
        self.stop_track();
        // Votes are for the song that was playing, even if the queue brings it back.
        self.skip_votes.1.clear();
        self.queue.skip();
        self.after_change();
        self.start_current().await;
        if self.queue.current.is_none() {
            self.tell(Happened::QueueEnded, Duration::ZERO);
        }
        Ok(Outcome::Skipped {
            skipped,
            now: self.queue.current.clone(),
        })
    }

    /// Plays the current song if it is ready, else starts preparing it.
    async fn start_current(&mut self) {
        let Some(song) = self.queue.current.clone() else {
            self.idle_since = Some(Instant::now());
            return;
        };
        let Some(ready) = self
            .ready
            .get(&song.uid)
            .filter(|r| r.filter() == self.filter)
        else {
            self.prepare(&song);
            return;
        };
        let filter = ready.filter();
        let source = match ready {
            Playable::Rendition(ready) => Source::File(ready.path.clone()),
            Playable::Streamed(streamed) => Source::Stream(streamed.stream.clone()),
            Playable::Live(live) => Source::Live(live.clone()),
        };
        let call = match self.join().await {
            Ok(call) => call,
            Err(e) => {
                self.announce(format!("Could not join the voice channel: {e}"))
                    .await;
                return;
            }
        };
        self.play_seq += 1;
        let play_id = self.play_seq;
        let tx = self.tx.clone();
        let failed = move |error| {
            if let Some(tx) = tx.upgrade() {
                let _ = tx.send(Request::StreamFailed { play_id, error });
            }
        };
        let live = matches!(source, Source::Live(_));
        let made = match source {
            Source::File(path) => Ok((File::new(path).into(), None)),
            Source::Stream(stream) => {
                // ffmpeg starts where the song should, so the track's position counts
                // from there.
                let from = self.resume_at.take().unwrap_or_default();
                stream
                    .input(from.mul_f64(filter.tempo()), failed)
                    .map(|input| (input, Some(from)))
            }
            Source::Live(stream) => {
                // A live stream plays from now, wherever it was before a restart.
                self.resume_at = None;
                stream.input(failed).map(|input| (input, None))
            }
        };
        let (input, streamed_from): (Input, _) = match made {
            Ok(made) => made,
            Err(e) => {
                self.could_not_play(song.uid, &e.to_string()).await;
                return;
            }
        };
        let mut track = Track::from(input);
        if self.volume != 100 {
            track = track.volume(f32::from(self.volume) / 100.0);
        }
        if self.resume_paused {
            track = track.pause();
        }
        let handle = call.lock().await.play_only(track);
        for event in [TrackEvent::End, TrackEvent::Error] {
            let notify = OnEnd {
                tx: self.tx.clone(),
                play_id,
            };
            if let Err(e) = handle.add_event(Event::Track(event), notify) {
                tracing::warn!(error = %e, "could not watch a track");
            }
        }
        if let Some(at) = self.resume_at {
            // The track goes on where it stopped before the restart. A seek sent before
            // the file is parsed can be lost (a fresh process's first track): make the
            // track playable first, off this task.
            let resumed = handle.clone();
            tokio::spawn(async move {
                let result = match resumed.make_playable_async().await {
                    Ok(()) => resumed.seek_async(at).await.map(drop),
                    Err(e) => Err(e),
                };
                match result {
                    Ok(()) => tracing::info!(at_ms = at.as_millis() as u64, "resumed mid-song"),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not resume mid-song; playing from the start")
                    }
                }
            });
        }
        let from = self.resume_at.take().or(streamed_from).unwrap_or_default();
        self.playing = Some(Playing {
            uid: song.uid,
            play_id,
            handle,
            paused: std::mem::take(&mut self.resume_paused),
            filter,
            streamed_from,
            live,
        });
        self.tell(Happened::Started, from);
        self.idle_since = None;
        tracing::info!(guild = self.guild, title = %song.title, "playing");
        self.prefetch_next();
    }

    /// Keeps song `uid` ready to play. A streamed one is replaced by its rendition
    /// once that is made (a `Prepared` request).
    fn keep(&mut self, uid: u64, mut ready: Playable) {
        if let Playable::Streamed(streamed) = &mut ready
            && let Some(rendition) = streamed.rendition.take()
        {
            let (tx, filter) = (self.tx.clone(), streamed.filter);
            tokio::spawn(async move {
                let result = match rendition.await {
                    Ok(made) => made.map(Playable::Rendition).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Some(tx) = tx.upgrade() {
                    let _ = tx.send(Request::Prepared {
                        uid,
                        filter,
                        result,
                    });
                }
            });
        }
        self.ready.insert(uid, ready);
    }

    /// Prepares the song after the current one while the current one plays.
    fn prefetch_next(&mut self) {
        if let Some(next) = self.queue.peek_next().cloned() {
            self.prepare(&next);
        }
    }

    fn prepare(&mut self, song: &Song) {
        let filter = self.filter;
        let ready = self
            .ready
            .get(&song.uid)
            .is_some_and(|r| r.filter() == filter);
        if ready || !self.preparing.insert((song.uid, filter)) {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let Some(tx) = self.tx.upgrade() else { return };
        let song = song.clone();
        tokio::spawn(async move {
            let progress = Progress::default();
            let result = prepare::start(
                &shared.store,
                &shared.plugins,
                &shared.renderer,
                &song,
                filter,
                &progress,
            )
            .await
            .map_err(|e| e.to_string());
            let _ = tx.send(Request::Prepared {
                uid: song.uid,
                filter,
                result,
            });
        });
    }

    /// Plays the current song's rendition of the guild's filter from where the playing
    /// one is (the same point of the song: positions scale with the filters' speeds).
    async fn switch_rendition(&mut self) {
        let Some(playing) = &self.playing else { return };
        let (from, paused) = (playing.filter, playing.paused);
        let at = self.position().await.as_secs_f64() * from.tempo() / self.filter.tempo();
        self.stop_track();
        self.resume_at = Some(Duration::from_secs_f64(at));
        self.resume_paused = paused;
        self.start_current().await;
    }

    async fn join(&mut self) -> Result<Arc<tokio::sync::Mutex<songbird::Call>>, PlayerError> {
        let voice = self.voice.ok_or(PlayerError::NotInVoice)?;
        let songbird = &self.shared.songbird;
        if self.joined
            && let Some(call) = songbird.get(GuildId::new(self.guild))
        {
            return Ok(call);
        }
        let call = songbird
            .join(GuildId::new(self.guild), ChannelId::new(voice))
            .await
            .map_err(|e| PlayerError::Voice(e.to_string()))?;
        self.joined = true;
        self.tell(Happened::Joined(voice), Duration::ZERO);
        Ok(call)
    }

    async fn leave(&mut self) {
        self.stop_track();
        if self.joined {
            if let Err(e) = self.shared.songbird.remove(GuildId::new(self.guild)).await {
                tracing::warn!(error = %e, "leaving the voice channel failed");
            }
            self.joined = false;
            self.tell(Happened::Left, Duration::ZERO);
        }
        self.alone_since = None;
    }

    fn stop_track(&mut self) {
        if let Some(playing) = self.playing.take() {
            let _ = playing.handle.stop();
        }
    }

    async fn now_playing(&self) -> Option<NowPlaying> {
        let song = self.queue.current.clone()?;
        let (position, paused) = match &self.playing {
            // In the song's own time, whatever the filter's speed.
            Some(p) => match p.handle.get_info().await {
                Ok(info) => (
                    (info.position + p.streamed_from.unwrap_or_default()).mul_f64(p.filter.tempo()),
                    info.playing == PlayMode::Pause,
                ),
                Err(_) => (Duration::ZERO, p.paused),
            },
            None => (Duration::ZERO, false),
        };
        let station_title = match self.ready.get(&song.uid) {
            Some(Playable::Live(live)) => live.title(),
            _ => None,
        };
        Some(NowPlaying {
            song,
            position,
            paused,
            preparing: self.playing.is_none(),
            loop_mode: self.queue.loop_mode,
            volume: self.volume,
            filter: self.playing.as_ref().map_or(self.filter, |p| p.filter),
            station_title,
        })
    }

    fn current_uid(&self) -> Option<u64> {
        self.queue.current.as_ref().map(|s| s.uid)
    }

    fn contains(&self, uid: u64) -> bool {
        self.queue
            .current
            .iter()
            .chain(&self.queue.upcoming)
            .chain(&self.queue.played)
            .any(|s| s.uid == uid)
    }

    /// Says that song `uid` could not be played, and why.
    async fn could_not_play(&mut self, uid: u64, error: &str) {
        let title = self.title_of(uid);
        let error = crate::markdown::escape(error);
        self.announce(format!("Could not play **{title}**: {error}"))
            .await;
    }

    /// The title of song `uid`, escaped to show as text in a message.
    fn title_of(&self, uid: u64) -> String {
        self.queue
            .current
            .iter()
            .chain(&self.queue.upcoming)
            .chain(&self.queue.played)
            .find(|s| s.uid == uid)
            .map(|s| crate::markdown::escape(&s.title))
            .unwrap_or_else(|| "a song".into())
    }

    /// Drops the leases of songs no longer queued and prepares the next one.
    fn after_change(&mut self) {
        let queued: HashSet<u64> = self
            .queue
            .current
            .iter()
            .chain(&self.queue.upcoming)
            .chain(&self.queue.played)
            .map(|s| s.uid)
            .collect();
        self.ready.retain(|uid, _| queued.contains(uid));
        if self.queue.current.is_none() {
            self.idle_since = Some(Instant::now());
        }
        if self.playing.is_some() {
            self.prefetch_next();
        }
    }

    /// Tells listening plugins what happened to the current song (never waits).
    fn tell(&self, happened: Happened, position: Duration) {
        let song = match happened {
            Happened::Started | Happened::Ended(_) => self.queue.current.as_ref(),
            _ => None,
        };
        self.shared
            .events
            .emit(self.guild, happened, song, position);
    }

    /// Where the playing song is (zero if it cannot be asked).
    /// Where the playing track is, in the rendition's time.
    async fn position(&self) -> Duration {
        match &self.playing {
            Some(playing) => {
                let played = playing
                    .handle
                    .get_info()
                    .await
                    .map(|info| info.position)
                    .unwrap_or_default();
                played + playing.streamed_from.unwrap_or_default()
            }
            None => Duration::ZERO,
        }
    }

    /// Posts `text` in the guild's announce channel (`/settings`), else where music was
    /// last asked for.
    async fn announce(&self, text: String) {
        let Some(channel) = self.settings().await.announce_channel.or(self.text) else {
            return;
        };
        let message = CreateMessage::new().content(text);
        if let Err(e) = ChannelId::new(channel)
            .send_message(&self.shared.http, message)
            .await
        {
            tracing::warn!(error = %e, "could not post to the text channel");
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn voice_error(e: songbird::error::ControlError) -> PlayerError {
    PlayerError::Voice(e.to_string())
}

fn rand_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9e37_79b9);
    nanos | 1
}

/// Tells the guild's task that a track stopped.
struct OnEnd {
    tx: mpsc::WeakUnboundedSender<Request>,
    play_id: u64,
}

#[async_trait]
impl EventHandler for OnEnd {
    async fn act(&self, ctx: &EventContext<'_>) -> Option<Event> {
        let error = match ctx {
            EventContext::Track(tracks) => {
                tracks.iter().find_map(|(state, _)| match &state.playing {
                    PlayMode::Errored(e) => Some(e.to_string()),
                    _ => None,
                })
            }
            _ => None,
        };
        let tx = self.tx.upgrade()?;
        let _ = tx.send(Request::Ended {
            play_id: self.play_id,
            error,
        });
        None
    }
}
