//! The host subsystems behind the plugin interfaces `llm`, `player` and `media`, wired
//! into one [`HostServices`] implementation.
//!
//! Each subsystem is optional: one that is not configured answers with the "not
//! configured" error of [`HostServices`]'s default methods. The players are attached
//! once, by `app`, right after they are built: they need the plugin host, which needs
//! these services (the one cycle between plugins and playback).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use async_trait::async_trait;

use crate::llm::{ChatRequest, Completion, LlmClient};
use crate::media::{self, AudioWriter, Media};
use crate::player::{Command, LoopMode, Outcome, Players, Song, control};
use crate::plugins::host_services::{Control, Playing, QueueEntry, Repeat};
use crate::plugins::types::Reply;
use crate::plugins::{Asker, ChatStream, HostServices, ServiceError, Track};

/// The host's services, shared by every plugin call.
#[derive(Default)]
pub struct Services {
    /// The operator's LLM endpoint (`[llm]`), if configured.
    llm: Option<LlmClient>,
    /// yt-dlp for `media`.
    media: Option<Media>,
    /// Guild players (see [`Services::attach_players`]).
    player: OnceLock<Players>,
    /// Posts plugins' own messages (see [`Services::attach_messenger`]).
    messenger: OnceLock<Arc<dyn Messenger>>,
}

/// Posts and edits messages for plugins. The Discord front implements it (this layer
/// sits below it and knows nothing of Discord's types).
#[async_trait]
pub trait Messenger: Send + Sync {
    /// Posts `reply` in `channel` (or replaces message `edit`), which must be a channel
    /// of `guild`; returns the message id or the one line the plugin sees.
    async fn post(
        &self,
        guild: u64,
        channel: u64,
        edit: Option<u64>,
        reply: Reply,
    ) -> Result<u64, String>;
}

impl Services {
    pub fn new(llm: Option<LlmClient>, media: Option<Media>) -> Self {
        Self {
            llm,
            media,
            player: OnceLock::new(),
            messenger: OnceLock::new(),
        }
    }

    /// Lets plugins post messages (once; later calls are ignored).
    pub fn attach_messenger(&self, messenger: Arc<dyn Messenger>) {
        let _ = self.messenger.set(messenger);
    }

    /// Gives plugins the players (once; later calls are ignored).
    pub fn attach_players(&self, players: Players) {
        let _ = self.player.set(players);
    }

    fn llm(&self) -> Result<&LlmClient, ServiceError> {
        self.llm.as_ref().ok_or(ServiceError::NoLlm)
    }

    fn players(&self) -> Result<&Players, ServiceError> {
        self.player.get().ok_or(ServiceError::NoPlayer)
    }

    fn media(&self) -> Result<&Media, ServiceError> {
        self.media.as_ref().ok_or(ServiceError::NoMedia)
    }
}

fn track(song: Song) -> Track {
    Track {
        id: song.id,
        title: song.title,
        duration_ms: song.duration_ms,
        page_url: song.page_url,
    }
}

fn entry(song: Song) -> QueueEntry {
    QueueEntry {
        requested_by: song.requested_by,
        track: track(song),
    }
}

fn player_error(error: crate::player::PlayerError) -> ServiceError {
    ServiceError::Player(Box::new(error))
}

/// The rate-limit key: the user a call serves, else the plugin itself.
fn who(plugin: &str, user: Option<u64>) -> String {
    match user {
        Some(user) => format!("user:{user}"),
        None => format!("plugin:{plugin}"),
    }
}

#[async_trait]
impl HostServices for Services {
    async fn chat(
        &self,
        plugin: &str,
        user: Option<u64>,
        request: ChatRequest,
    ) -> Result<String, ServiceError> {
        let started = Instant::now();
        let result = self.llm()?.chat(&who(plugin, user), request).await;
        match &result {
            Ok(answer) => {
                tracing::info!(%plugin, ?user, chars = answer.len(), millis = started.elapsed().as_millis() as u64, "llm chat")
            }
            Err(error) => tracing::warn!(%plugin, ?user, %error, "llm chat failed"),
        }
        Ok(result?)
    }

    async fn chat_stream(
        &self,
        plugin: &str,
        user: Option<u64>,
        request: ChatRequest,
    ) -> Result<Box<dyn ChatStream>, ServiceError> {
        match self.llm()?.chat_stream(&who(plugin, user), request).await {
            Ok(completion) => {
                tracing::info!(%plugin, ?user, "llm stream started");
                Ok(Box::new(Streamed(completion)))
            }
            Err(error) => {
                tracing::warn!(%plugin, ?user, %error, "llm stream failed");
                Err(error.into())
            }
        }
    }

    async fn enqueue(
        &self,
        plugin: &str,
        guild_id: u64,
        query: String,
        at: Option<u32>,
        asker: Option<&Asker>,
    ) -> Result<Track, ServiceError> {
        let players = self.players()?;
        // As `!play`: the member must be in voice (the player says if it plays elsewhere).
        let voice = match asker {
            Some(a) => Some(a.voice.ok_or(ServiceError::Player(Box::new(
                crate::player::PlayerError::NotInVoice,
            )))?),
            None => None,
        };
        let mut songs = players
            .resolve(Some(guild_id), &query, 0)
            .await
            .map_err(player_error)?
            .songs;
        songs.truncate(1);
        let song = songs[0].clone();
        tracing::info!(%plugin, guild_id, title = %song.title, "plugin queued a song");
        let at = at.map(|at| at as usize);
        players
            .add_at(guild_id, voice, songs, at)
            .await
            .map_err(player_error)?;
        Ok(track(song))
    }

    async fn skip(
        &self,
        _plugin: &str,
        guild_id: u64,
        asker: Option<&Asker>,
    ) -> Result<Option<Track>, ServiceError> {
        may_control(asker)?;
        let command = match asker {
            // A listener's skip is a vote, as with `!skip`.
            Some(a) if !a.dj && a.bot_voice.is_some() => Command::VoteSkip {
                voter: a.user,
                listeners: a.listeners.clone(),
            },
            _ => Command::Skip,
        };
        match self.players()?.command(guild_id, command).await {
            Ok(Outcome::Skipped { now, .. }) => Ok(now.map(track)),
            Ok(Outcome::Voted { votes, needed, .. }) => Err(ServiceError::Player(
                format!("Vote to skip: {votes}/{needed}.").into(),
            )),
            Ok(_) => Ok(None),
            Err(e) => Err(player_error(e)),
        }
    }

    async fn queue(&self, _plugin: &str, guild_id: u64) -> Result<Vec<QueueEntry>, ServiceError> {
        let queue = self
            .players()?
            .queue(guild_id)
            .await
            .map_err(player_error)?;
        Ok(queue.upcoming.into_iter().map(entry).collect())
    }

    async fn now_playing(
        &self,
        _plugin: &str,
        guild_id: u64,
    ) -> Result<Option<Playing>, ServiceError> {
        let now = self
            .players()?
            .now_playing(guild_id)
            .await
            .map_err(player_error)?;
        Ok(now.map(|now| Playing {
            requested_by: now.song.requested_by,
            track: track(now.song),
            position_ms: now.position.as_millis() as u64,
            paused: now.paused,
            on_air: now.station_title,
        }))
    }

    async fn control(
        &self,
        plugin: &str,
        guild_id: u64,
        control: Control,
        asker: Option<&Asker>,
    ) -> Result<(), ServiceError> {
        may_control(asker)?;
        let command = match control {
            Control::Seek { position_ms } => {
                Command::Seek(std::time::Duration::from_millis(position_ms))
            }
            Control::Pause(true) => Command::Pause,
            Control::Pause(false) => Command::Resume,
            Control::Stop => Command::Stop,
            Control::Repeat(repeat) => Command::Loop(match repeat {
                Repeat::Off => LoopMode::Off,
                Repeat::Track => LoopMode::Track,
                Repeat::Queue => LoopMode::Queue,
            }),
        };
        tracing::debug!(plugin, guild_id, ?control, "plugin controls the player");
        self.players()?
            .command(guild_id, command)
            .await
            .map(|_| ())
            .map_err(player_error)
    }

    async fn post(
        &self,
        plugin: &str,
        guild_id: u64,
        channel_id: u64,
        edit: Option<u64>,
        reply: Reply,
    ) -> Result<u64, ServiceError> {
        let messenger = self.messenger.get().ok_or(ServiceError::NoMessages)?;
        tracing::debug!(
            plugin,
            guild_id,
            channel_id,
            ?edit,
            "plugin posts a message"
        );
        messenger
            .post(guild_id, channel_id, edit, reply)
            .await
            .map_err(ServiceError::Discord)
    }

    async fn probe(&self, _plugin: &str, url: String) -> Result<media::Info, ServiceError> {
        Ok(self.media()?.probe(&url).await?)
    }

    async fn search(
        &self,
        _plugin: &str,
        site: media::SearchSite,
        query: String,
        limit: u32,
    ) -> Result<Vec<media::Entry>, ServiceError> {
        Ok(self.media()?.search(site, &query, limit).await?)
    }

    async fn download_audio(
        &self,
        plugin: &str,
        url: String,
        into: &mut dyn AudioWriter,
    ) -> Result<(), ServiceError> {
        let media = self.media()?;
        tracing::debug!(plugin, %url, "media download for a plugin");
        media.download_audio(&url, into).await?;
        Ok(())
    }
}

struct Streamed(Completion);

#[async_trait]
impl ChatStream for Streamed {
    async fn next(&mut self) -> Result<Option<String>, ServiceError> {
        self.0.next().await.map_err(|error| {
            tracing::warn!(%error, "llm stream broke off");
            error.into()
        })
    }
}

/// Whether `asker` (if the call serves a member) may control the player, by the rules of
/// the built-in commands (`player::control`); the refusal is the plugin's error.
fn may_control(asker: Option<&Asker>) -> Result<(), ServiceError> {
    let Some(a) = asker else { return Ok(()) };
    let member = control::Member {
        id: a.user,
        dj: a.dj,
        voice: a.voice,
    };
    control::check(&member, a.bot_voice).map_err(|refusal| ServiceError::Player(Box::new(refusal)))
}
