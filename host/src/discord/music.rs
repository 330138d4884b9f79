//! The playback commands: `play`, `skip`, `queue`, `nowplaying`, `pause`, `resume`,
//! `stop`, `leave`, `volume`, `loop`, `shuffle`, `remove`, `move`, `seek`, `247`,
//! `filter`. Thin:
//! each one asks the guild's player (see `player`) and formats the answer.

use std::time::Duration;

use poise::CreateReply;
use poise::serenity_prelude as serenity;

use super::keystrokes::Verdict;
use super::{Context, Error};
use crate::markdown::escape;
use crate::player::{
    Command, Filter, LoopMode, Outcome, Playable, PlayerError, Players, Progress, Stage, clock,
    control, parse_clock, progress_bar,
};

/// Search results offered while typing `/play` are cached this long.
const SEARCH_TTL: Duration = Duration::from_secs(600);
/// Discord drops an autocomplete answer after 3 s; 2 s leaves room for the round trip.
/// A search that takes longer is answered with no choices; it goes on, and the next
/// keystroke finds it cached.
const SUGGEST_WITHIN: Duration = Duration::from_secs(2);

pub fn all() -> Vec<poise::Command<super::Data, Error>> {
    vec![
        play(),
        skip(),
        queue(),
        nowplaying(),
        pause(),
        resume(),
        stop(),
        leave(),
        volume(),
        loop_(),
        shuffle(),
        remove(),
        move_(),
        seek(),
        always_on(),
        filter(),
    ]
}

fn players<'a>(ctx: &Context<'a>) -> Result<&'a Players, Error> {
    Ok(&ctx.data().players)
}

fn guild(ctx: &Context<'_>) -> Result<u64, Error> {
    ctx.guild_id()
        .map(|g| g.get())
        .ok_or_else(|| anyhow::anyhow!("music works in servers, not in direct messages"))
}

/// The voice channel the invoking user is in.
fn user_voice_channel(ctx: &Context<'_>) -> Option<u64> {
    let guild = ctx.guild()?;
    guild
        .voice_states
        .get(&ctx.author().id)
        .and_then(|state| state.channel_id)
        .map(|c| c.get())
}

async fn run(ctx: Context<'_>, command: Command) -> Result<(), Error> {
    let outcome = players(&ctx)?.command(guild(&ctx)?, command).await?;
    ctx.reply(describe(&outcome)).await?;
    Ok(())
}

/// The bot's voice channel and the people (not bots) in it, from the cache.
pub(super) struct Room {
    pub bot_voice: Option<u64>,
    pub listeners: Vec<u64>,
}

/// The invoking member as the playback rules see them (see `player::control`), and the
/// bot's voice channel.
async fn asker(ctx: &Context<'_>) -> Result<(control::Member, Room), Error> {
    let member = ctx
        .author_member()
        .await
        .ok_or_else(|| anyhow::anyhow!("could not look up your membership of this server"))?;
    let guild_id = guild(ctx)?;
    let dj_role = players(ctx)?.settings(guild_id).await.dj_role;
    let bot = ctx.cache().current_user().id;
    let guild = ctx
        .guild()
        .ok_or_else(|| anyhow::anyhow!("this server is not known to the bot yet"))?;
    Ok(seen(&guild, &member, bot, &dj_role))
}

/// The member a plugin call serves in `guild`, for the player's rules (see
/// [`crate::plugins::Asker`]): from the cache, or, should the guild or the member be
/// missing from it, a member with no right to control the music (fails closed). None
/// outside a guild (a direct message).
pub(super) async fn plugin_asker(
    ctx: &serenity::Context,
    players: &Players,
    guild: Option<serenity::GuildId>,
    user: serenity::UserId,
    member: Option<&serenity::Member>,
) -> Option<crate::plugins::Asker> {
    let guild = guild?;
    let dj_role = players.settings(guild.get()).await.dj_role;
    let bot = ctx.cache.current_user().id;
    let seen = ctx.cache.guild(guild).and_then(|guild| {
        let member = member
            .cloned()
            .or_else(|| guild.members.get(&user).cloned())?;
        Some(seen(&guild, &member, bot, &dj_role))
    });
    Some(match seen {
        Some((member, room)) => crate::plugins::Asker {
            user: member.id,
            dj: member.dj,
            voice: member.voice,
            bot_voice: room.bot_voice,
            listeners: room.listeners,
        },
        None => crate::plugins::Asker {
            user: user.get(),
            ..Default::default()
        },
    })
}

/// `member` of `guild` as the playback rules see them, and the room: who is a DJ (the
/// DJ role or Manage Server), who listens in the bot's channel.
pub(super) fn seen(
    guild: &serenity::Guild,
    member: &serenity::Member,
    bot: serenity::UserId,
    dj_role: &str,
) -> (control::Member, Room) {
    let manager = member
        .permissions
        .unwrap_or_else(|| guild.member_permissions(member))
        .manage_guild();
    let dj = member.roles.iter().any(|id| {
        let name = guild.roles.get(id).map(|r| r.name.as_str());
        control::is_dj_role(id.get(), name, dj_role)
    });
    let voice_of = |user: serenity::UserId| {
        let state = guild.voice_states.get(&user)?;
        state.channel_id.map(|c| c.get())
    };
    let bot_voice = voice_of(bot);
    let listeners = guild
        .voice_states
        .values()
        .filter(|s| bot_voice.is_some() && s.channel_id.map(|c| c.get()) == bot_voice)
        .filter(|s| s.user_id != bot && s.member.as_ref().is_none_or(|m| !m.user.bot))
        .map(|s| s.user_id.get())
        .collect();
    let asker = control::Member {
        id: member.user.id.get(),
        dj: dj || manager,
        voice: voice_of(member.user.id),
    };
    (
        asker,
        Room {
            bot_voice,
            listeners,
        },
    )
}

/// Runs a playback control if the invoking member may use it (see `player::control`);
/// otherwise says why not.
async fn control(ctx: Context<'_>, command: Command) -> Result<(), Error> {
    let (member, room) = asker(&ctx).await?;
    if let Err(refusal) = control::check(&member, room.bot_voice) {
        let reply = CreateReply::default()
            .content(refusal.to_string())
            .ephemeral(true)
            .reply(true);
        ctx.send(reply).await?;
        return Ok(());
    }
    let command = match command {
        // A listener's skip is a vote; with the bot out of voice there is no one to ask.
        Command::Skip if !member.dj && room.bot_voice.is_some() => Command::VoteSkip {
            voter: member.id,
            listeners: room.listeners,
        },
        command => command,
    };
    run(ctx, command).await
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Skipped { skipped, now } => {
            let skipped = skipped.as_ref().map_or("?".into(), |s| escape(&s.title));
            match now {
                Some(now) => format!("Skipped **{skipped}**. Up next: **{}**", escape(&now.title)),
                None => format!("Skipped **{skipped}**. The queue is empty."),
            }
        }
        Outcome::Voted {
            votes,
            needed,
            again: false,
        } => format!("Vote to skip: {votes}/{needed}."),
        Outcome::Voted {
            votes,
            needed,
            again: true,
        } => format!("You already voted to skip this song: {votes}/{needed}."),
        Outcome::Paused => "Paused.".into(),
        Outcome::Resumed => "Resumed.".into(),
        Outcome::Stopped => "Stopped and cleared the queue.".into(),
        Outcome::Left => "Left the voice channel.".into(),
        Outcome::Volume(v) => format!("Volume {v}%."),
        Outcome::Loop(mode) => format!("Loop: {mode}."),
        Outcome::Shuffled(n) => format!("Shuffled {n} songs."),
        Outcome::Removed(song) => format!("Removed **{}**.", escape(&song.title)),
        Outcome::Moved(song, to) => format!("Moved **{}** to position {to}.", escape(&song.title)),
        Outcome::Seeked(at) => format!("Jumped to {}.", clock(*at)),
        Outcome::AlwaysOn(true) => "24/7 on: I stay in the voice channel.".into(),
        Outcome::AlwaysOn(false) => "24/7 off: I leave when idle or alone.".into(),
        Outcome::Filter(Filter::Off) => "Filter off: songs play as they are.".into(),
        Outcome::Filter(filter) => format!(
            "Filter: **{filter}**. The song goes on with it from where it is, once \
             rendered (a filtered song is rendered once and cached, like any other)."
        ),
    }
}

async fn search_suggestions(
    ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let choices = suggestions(ctx, partial)
        .await
        .into_iter()
        .map(|s| serenity::AutocompleteChoice::new(s.name, s.value))
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// One autocomplete choice: the song's title, and what `/play` gets when it is picked.
#[derive(serde::Serialize, serde::Deserialize)]
struct Suggestion {
    name: String,
    value: String,
}

impl Suggestion {
    /// Discord caps choice names and values at 100 characters. The value is the song's
    /// page when it fits and its source claims it, so picking a result plays that song
    /// rather than searching for its title again.
    async fn of(plugins: &crate::plugins::PluginHost, song: crate::player::Song) -> Self {
        let name: String = song.title.chars().take(100).collect();
        let value = match song.page_url {
            Some(page)
                if page.chars().count() <= 100
                    && plugins.claims(&song.source, &page).await == Ok(true) =>
            {
                page
            }
            _ => name.clone(),
        };
        Self { name, value }
    }
}

/// Search results for what the user has typed so far, shared through the store's TTL
/// cache: one search per text however many users (and processes) type it.
async fn suggestions(ctx: Context<'_>, partial: &str) -> Vec<Suggestion> {
    let partial = partial.trim().to_string();
    if partial.chars().count() < 3 || crate::player::resolve::is_url(&partial) {
        return Vec::new();
    }
    let Ok(players) = players(&ctx) else {
        return Vec::new();
    };
    let players = players.clone();
    let plugins = ctx.data().plugins.clone();
    let user = ctx.author().id.get();
    let key = format!("play-suggestions:{}", partial.to_lowercase());
    let store = &ctx.data().store;
    if let Ok(Some(bytes)) = store.fresh_meta(&key).await {
        return serde_json::from_slice(&bytes).unwrap_or_default();
    }
    let keystrokes = &ctx.data().keystrokes;
    match keystrokes.settle(user, ctx.id(), &key).await {
        Verdict::Search => {}
        verdict => {
            tracing::debug!(%partial, ?verdict, "no search for this keystroke");
            return Vec::new();
        }
    }
    let query = partial.clone();
    let cached = store.cached_meta(&key, SEARCH_TTL, move || async move {
        let songs = players
            .resolve(None, &query, user)
            .await
            .map_err(|e| e.to_string())?
            .songs;
        let mut found = Vec::new();
        for song in songs.into_iter().take(10) {
            found.push(Suggestion::of(&plugins, song).await);
        }
        serde_json::to_vec(&found).map_err(|e| e.to_string())
    });
    // The search runs in the store's own task, so giving up waiting does not stop it.
    let within = SUGGEST_WITHIN.saturating_sub(keystrokes.debounce());
    match tokio::time::timeout(within, cached).await {
        Ok(Ok(bytes)) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "search suggestions failed");
            Vec::new()
        }
        Err(_) => {
            tracing::debug!(%partial, "search suggestions still running");
            Vec::new()
        }
    }
}

fn progress_text(title: &str, progress: &Progress) -> String {
    let bytes = progress
        .downloaded
        .load(std::sync::atomic::Ordering::Relaxed);
    match progress.stage() {
        Stage::Looking => format!("Looking for **{title}**..."),
        Stage::Downloading => format!(
            "Downloading **{title}**... {:.1} MB",
            bytes as f64 / 1_000_000.0
        ),
        Stage::Rendering => format!("Preparing **{title}** for playback..."),
    }
}

/// Play a song (search words or a URL), or add it to the queue.
#[poise::command(slash_command, prefix_command, guild_only)]
pub async fn play(
    ctx: Context<'_>,
    #[description = "Search words or a URL"]
    #[autocomplete = "search_suggestions"]
    #[rest]
    query: String,
) -> Result<(), Error> {
    let guild = guild(&ctx)?;
    let voice = user_voice_channel(&ctx).ok_or(PlayerError::NotInVoice)?;
    if let Context::Application(app) = ctx {
        app.defer().await?;
    }
    let players = players(&ctx)?;
    // Refused before anything is looked up or downloaded.
    let filter = players.room(guild, ctx.author().id.get()).await?;
    let songs = players
        .resolve(Some(guild), &query, ctx.author().id.get())
        .await?
        .to_play();
    let first_song = songs[0].clone();
    let first = escape(&first_song.title);

    // Fetch the first song now, showing progress at most once a second.
    let progress = Progress::default();
    let prepared = players.prepare(&first_song, filter, &progress);
    tokio::pin!(prepared);
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let mut handle = None;
    let ready = loop {
        tokio::select! {
            ready = &mut prepared => break ready?,
            _ = tick.tick() => {
                let reply = CreateReply::default()
                    .content(progress_text(&first, &progress))
                    .reply(true);
                match &handle {
                    Some(h) => poise::ReplyHandle::edit(h, ctx, reply).await?,
                    None => handle = Some(ctx.send(reply).await?),
                }
            }
        }
    };
    let cached = match &ready {
        Playable::Live(_) => " (live)",
        ready if ready.hit() => " (cached)",
        _ => "",
    };
    let queued = players
        .add(
            guild,
            Some(voice),
            Some(ctx.channel_id().get()),
            songs,
            Some(ready),
        )
        .await?;
    let mut text = match queued.position {
        0 => format!("Playing **{first}**{cached}"),
        n => format!("Queued **{first}** at position {n}{cached}"),
    };
    if queued.added > 1 {
        text.push_str(&format!(" and {} more", queued.added - 1));
    }
    if let Some((n, full)) = &queued.left_out {
        let songs = if *n == 1 { "song" } else { "songs" };
        text.push_str(&format!(". {n} {songs} left out: {full}."));
    }
    let reply = CreateReply::default().content(text).reply(true);
    match handle {
        Some(h) => h.edit(ctx, reply).await?,
        None => {
            ctx.send(reply).await?;
        }
    }
    Ok(())
}

/// Skip the current song (a listener's skip is a vote).
#[poise::command(slash_command, prefix_command, guild_only)]
pub async fn skip(ctx: Context<'_>) -> Result<(), Error> {
    control(ctx, Command::Skip).await
}

/// Show the queue.
#[poise::command(slash_command, prefix_command, guild_only)]
pub async fn queue(
    ctx: Context<'_>,
    #[description = "Page number"] page: Option<u32>,
) -> Result<(), Error> {
    let players = players(&ctx)?;
    let queue = players.queue(guild(&ctx)?).await?;
    let Some(current) = &queue.current else {
        ctx.reply("The queue is empty.").await?;
        return Ok(());
    };
    let page = page.unwrap_or(1) as usize;
    let (items, pages) = queue.page(page, players.config().queue_page_size);
    let mut text = format!("Now playing: **{}**\n", escape(&current.title));
    for (position, song) in &items {
        let length = song
            .duration_ms
            .map(|ms| format!(" ({})", clock(Duration::from_millis(ms))))
            .unwrap_or_default();
        text.push_str(&format!("{position}. {}{length}\n", escape(&song.title)));
    }
    text.push_str(&format!(
        "Page {}/{pages}, {} upcoming, loop {}",
        page.clamp(1, pages),
        queue.upcoming.len(),
        queue.loop_mode
    ));
    ctx.reply(text).await?;
    Ok(())
}

/// What is playing, and how far along.
#[poise::command(slash_command, prefix_command, guild_only)]
pub async fn nowplaying(ctx: Context<'_>) -> Result<(), Error> {
    let now = players(&ctx)?.now_playing(guild(&ctx)?).await?;
    let text = match now {
        None => "Nothing is playing.".to_string(),
        Some(now) => {
            let duration = now.song.duration_ms.map(Duration::from_millis);
            let state = if now.preparing {
                " (getting ready)"
            } else if now.paused {
                " (paused)"
            } else {
                ""
            };
            let filter = match now.filter {
                Filter::Off => String::new(),
                filter => format!(", filter {filter}"),
            };
            // A live stream has no end: how long it has played, and what the station
            // says plays now.
            let (live, bar) = match &now.song.live {
                Some(_) => (
                    match &now.station_title {
                        Some(title) => format!(" (live)\nNow on air: {}", escape(title)),
                        None => " (live)".to_string(),
                    },
                    format!("{} listened", clock(now.position)),
                ),
                None => (String::new(), progress_bar(now.position, duration, 20)),
            };
            format!(
                "**{}**{live}{state}\n`{bar}`\nloop {}, volume {}%{filter}",
                escape(&now.song.title),
                now.loop_mode,
                now.volume
            )
        }
    };
    ctx.reply(text).await?;
    Ok(())
}

/// Pause playback.
#[poise::command(slash_command, prefix_command, guild_only)]
pub async fn pause(ctx: Context<'_>) -> Result<(), Error> {
    control(ctx, Command::Pause).await
}

/// Resume playback.
#[poise::command(slash_command, prefix_command, guild_only)]
pub async fn resume(ctx: Context<'_>) -> Result<(), Error> {
    control(ctx, Command::Resume).await
}

/// Stop and clear the queue.
#[poise::command(slash_command, prefix_command, guild_only)]
pub async fn stop(ctx: Context<'_>) -> Result<(), Error> {
    control(ctx, Command::Stop).await
}

/// Leave the voice channel.
#[poise::command(slash_command, prefix_command, guild_only)]
pub async fn leave(ctx: Context<'_>) -> Result<(), Error> {
    control(ctx, Command::Leave).await
}

/// Set the volume (0-200%; 100 keeps the audio untouched).
#[poise::command(slash_command, prefix_command, guild_only)]
pub async fn volume(
    ctx: Context<'_>,
    #[description = "Percent, 0-200"]
    #[min = 0]
    #[max = 200]
    percent: u8,
) -> Result<(), Error> {
    control(ctx, Command::Volume(percent)).await
}

/// Filter the music: off, bassboost, nightcore, vaporwave, 8d, or speed 50-200 (%).
#[poise::command(slash_command, prefix_command, guild_only)]
pub async fn filter(
    ctx: Context<'_>,
    #[description = "off, bassboost, nightcore, vaporwave, 8d or speed"] name: String,
    #[description = "For speed: percent, 50-200"] amount: Option<String>,
) -> Result<(), Error> {
    match Filter::parse(&name, amount.as_deref()) {
        Ok(filter) => control(ctx, Command::Filter(filter)).await,
        Err(why) => {
            let reply = CreateReply::default()
                .content(why)
                .ephemeral(true)
                .reply(true);
            ctx.send(reply).await?;
            Ok(())
        }
    }
}

/// Loop: off, track or queue.
#[poise::command(slash_command, prefix_command, guild_only, rename = "loop")]
pub async fn loop_(
    ctx: Context<'_>,
    #[description = "off, track or queue"] mode: String,
) -> Result<(), Error> {
    let mode = LoopMode::parse(&mode)
        .ok_or_else(|| anyhow::anyhow!("loop mode must be off, track or queue"))?;
    control(ctx, Command::Loop(mode)).await
}

/// Shuffle the upcoming songs.
#[poise::command(slash_command, prefix_command, guild_only)]
pub async fn shuffle(ctx: Context<'_>) -> Result<(), Error> {
    control(ctx, Command::Shuffle).await
}

/// Remove a song from the queue.
#[poise::command(slash_command, prefix_command, guild_only)]
pub async fn remove(
    ctx: Context<'_>,
    #[description = "Position in the queue"] position: u32,
) -> Result<(), Error> {
    control(ctx, Command::Remove(position as usize)).await
}

/// Move a song to another position in the queue.
#[poise::command(slash_command, prefix_command, guild_only, rename = "move")]
pub async fn move_(
    ctx: Context<'_>,
    #[description = "Position of the song"] from: u32,
    #[description = "Its new position"] to: u32,
) -> Result<(), Error> {
    control(ctx, Command::Move(from as usize, to as usize)).await
}

/// Jump to a position in the current song (`90`, `1:30`).
#[poise::command(slash_command, prefix_command, guild_only)]
pub async fn seek(
    ctx: Context<'_>,
    #[description = "Position, e.g. 1:30"] position: String,
) -> Result<(), Error> {
    let at = parse_clock(&position)
        .ok_or_else(|| anyhow::anyhow!("give the position as seconds or m:ss"))?;
    control(ctx, Command::Seek(at)).await
}

/// Stay in the voice channel around the clock (server managers only).
#[poise::command(
    slash_command,
    prefix_command,
    guild_only,
    rename = "247",
    required_permissions = "MANAGE_GUILD"
)]
pub async fn always_on(
    ctx: Context<'_>,
    #[description = "on or off"] enabled: bool,
) -> Result<(), Error> {
    run(ctx, Command::AlwaysOn(enabled)).await
}

/// Whether the bot is alone in its voice channel in `guild`, from the cache.
pub fn bot_alone(ctx: &serenity::Context, guild: serenity::GuildId) -> Option<bool> {
    let bot = ctx.cache.current_user().id;
    let guild = ctx.cache.guild(guild)?;
    let channel = guild.voice_states.get(&bot)?.channel_id?;
    let others = guild
        .voice_states
        .values()
        .filter(|s| s.channel_id == Some(channel) && s.user_id != bot)
        .filter(|s| s.member.as_ref().is_none_or(|m| !m.user.bot))
        .count();
    Some(others == 0)
}
