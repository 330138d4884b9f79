//! Now playing with controls. `/controls` posts one message in the channel it is used
//! in; from then on that message follows the guild's player: the song, a progress bar
//! (refreshed every few seconds while playing), who asked for it, and buttons to pause
//! or resume, skip, cycle the loop mode and stop, with a menu of the next songs to jump
//! to. A press acts once however many bot processes see it (the host claims it).
//!
//! State, per guild, in the plugin's kv: the channel and message to keep up to date,
//! the loop mode last set here, and a marker while a refresh timer is pending (so one
//! chain of timers runs per guild).

use minstrel_sdk::v2::player::{self, LoopMode, Playing, Queued};
use minstrel_sdk::v2::{
    self, ButtonStyle, Command, CommandSpec, Invocation, PlayerEvent, PlayerEventKind, Press,
    PressAnswer, Reply, Timer, button, escape, kv, messages, reply, select, shorten, timers,
};

/// How often the message is refreshed while a song plays.
const REFRESH_MS: u64 = 5_000;
/// Songs offered in the jump menu (Discord allows 25 options).
const MENU: usize = 10;
/// Width of the progress bar, in characters.
const BAR: usize = 20;

struct NowPlaying;

fn key(what: &str, guild: u64) -> String {
    format!("{what}:{guild}")
}

fn get_u64(what: &str, guild: u64) -> Option<u64> {
    kv::get_string(&key(what, guild)).ok()??.parse().ok()
}

fn set_u64(what: &str, guild: u64, value: u64, ttl_seconds: Option<u32>) -> Result<(), String> {
    kv::set(&key(what, guild), value.to_string().as_bytes(), ttl_seconds)
}

/// The loop mode last set with the button (the host's `!loop` may have changed it since;
/// the next press sets it from this one).
fn loop_mode(guild: u64) -> LoopMode {
    match get_u64("loop", guild) {
        Some(1) => LoopMode::Track,
        Some(2) => LoopMode::Queue,
        _ => LoopMode::Off,
    }
}

fn next_loop(mode: LoopMode) -> (LoopMode, u64) {
    match mode {
        LoopMode::Off => (LoopMode::Track, 1),
        LoopMode::Track => (LoopMode::Queue, 2),
        LoopMode::Queue => (LoopMode::Off, 0),
    }
}

/// `m:ss` (or `h:mm:ss`).
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// `[=====>--------------] 1:02 / 3:30`, or the position alone when the length is not
/// known.
pub fn progress(position_ms: u64, duration_ms: Option<u64>) -> String {
    let Some(duration) = duration_ms.filter(|d| *d > 0) else {
        return clock(position_ms);
    };
    let done = ((position_ms.min(duration) as f64 / duration as f64) * BAR as f64).round() as usize;
    let bar: String = (0..BAR)
        .map(|i| match i.cmp(&done) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal => '>',
            std::cmp::Ordering::Greater => '-',
        })
        .collect();
    format!("`[{bar}]` {} / {}", clock(position_ms), clock(duration))
}

/// The message for what plays now and what comes next.
pub fn view(playing: Option<&Playing>, next: &[Queued], mode: LoopMode) -> Reply {
    let Some(now) = playing else {
        return reply("⏹ Nothing is playing. `/play` something, and this message follows it.");
    };
    let state = if now.paused {
        "⏸ Paused"
    } else {
        "▶ Now playing"
    };
    let looping = match mode {
        LoopMode::Off => "",
        LoopMode::Track => " · 🔂 looping the song",
        LoopMode::Queue => " · 🔁 looping the queue",
    };
    let content = format!(
        "{state}: **{}**\n{}\nRequested by <@{}> · {} up next{looping}",
        escape(&now.track.title),
        progress(now.position_ms, now.track.duration_ms),
        now.requested_by,
        next.len(),
    );
    let pause = if now.paused {
        button("pause", "Resume").style(ButtonStyle::Success)
    } else {
        button("pause", "Pause").style(ButtonStyle::Secondary)
    };
    let mut message = reply(content).row([
        pause,
        button("skip", "Skip"),
        button("loop", "Loop").style(ButtonStyle::Secondary),
        button("stop", "Stop").style(ButtonStyle::Danger),
    ]);
    if !next.is_empty() {
        let options = next.iter().take(MENU).enumerate().map(|(i, q)| {
            (
                i.to_string(),
                shorten(&format!("{}. {}", i + 1, q.track.title), 100),
            )
        });
        message = message.row([select("jump", options).placeholder("Jump to a song up next")]);
    }
    message
}

/// The guild's message now, and whether its bar moves (a song plays, not paused): then
/// it needs refreshing.
fn current_view(guild: u64) -> Result<(Reply, bool), String> {
    let playing = player::now_playing(guild)?;
    let next = if playing.is_some() {
        player::queue(guild)?
    } else {
        Vec::new()
    };
    let moving = playing.as_ref().is_some_and(|p| !p.paused);
    Ok((view(playing.as_ref(), &next, loop_mode(guild)), moving))
}

/// Brings the guild's message up to date (posting a new one if it was deleted), and
/// keeps one refresh timer pending while something plays.
fn refresh(guild: u64) -> Result<(), String> {
    let Some(channel) = get_u64("channel", guild) else {
        return Ok(());
    };
    let (message, moving) = current_view(guild)?;
    let edited = match get_u64("message", guild) {
        Some(id) => messages::edit(channel, id, &message).is_ok(),
        None => false,
    };
    if !edited {
        let id = messages::send(channel, &message)?;
        set_u64("message", guild, id, None)?;
    }
    if moving {
        keep_refreshing(guild)?;
    }
    Ok(())
}

/// Schedules the next refresh unless one is pending.
fn keep_refreshing(guild: u64) -> Result<(), String> {
    if get_u64("timer", guild).is_some() {
        return Ok(());
    }
    let id = timers::after(REFRESH_MS, &guild.to_be_bytes())?;
    // Expires on its own should the timer never fire (the plugin removed meanwhile).
    set_u64("timer", guild, id, Some((REFRESH_MS / 1000 * 3) as u32))
}

/// What a press asks of the player.
fn act(guild: u64, press: &Press) -> Result<(), String> {
    match press.id.as_str() {
        "pause" => {
            let paused = player::now_playing(guild)?.is_some_and(|p| p.paused);
            player::pause(guild, !paused)
        }
        "skip" => player::skip(guild).map(drop),
        "loop" => {
            let (mode, stored) = next_loop(loop_mode(guild));
            player::set_loop(guild, mode)?;
            set_u64("loop", guild, stored, None)
        }
        "stop" => player::stop(guild),
        "jump" => {
            let index: usize = press
                .values
                .first()
                .and_then(|v| v.parse().ok())
                .ok_or("choose a song")?;
            // Skipping the current song and the ones before the chosen one.
            for _ in 0..=index {
                player::skip(guild)?;
            }
            Ok(())
        }
        _ => Err("no such control".into()),
    }
}

impl Command for NowPlaying {
    fn commands() -> Vec<CommandSpec> {
        vec![CommandSpec {
            name: "controls".into(),
            description: "Post the now-playing message with controls here; it stays up to date"
                .into(),
            options: Vec::new(),
        }]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        match invocation.command.as_str() {
            "controls" => {
                let guild = invocation.context.guild()?;
                let channel = invocation.context.channel_id;
                let (message, moving) = current_view(guild)?;
                let id = messages::send(channel, &message)?;
                set_u64("channel", guild, channel, None)?;
                set_u64("message", guild, id, None)?;
                if moving {
                    keep_refreshing(guild)?;
                }
                Ok(
                    reply("The now-playing message is here now, and follows the player.")
                        .ephemeral(),
                )
            }
            other => Err(format!("unknown command {other}")),
        }
    }

    fn on_press(press: Press) -> Result<PressAnswer, String> {
        let guild = press.context.guild()?;
        // The host applies the music rules to whoever pressed (in the bot's channel or
        // a DJ; a listener's skip is a vote): its answer goes to them alone.
        if let Err(refused) = act(guild, &press) {
            return Ok(PressAnswer::Reply(reply(refused).ephemeral()));
        }
        // The message pressed on is the one to keep up to date from now on.
        set_u64("message", guild, press.message_id, None)?;
        set_u64("channel", guild, press.context.channel_id, None)?;
        let (message, moving) = current_view(guild)?;
        if moving {
            keep_refreshing(guild)?;
        }
        Ok(PressAnswer::Update(message))
    }

    fn on_player_event(event: PlayerEvent) {
        let guild = event.guild_id;
        if matches!(
            event.kind,
            PlayerEventKind::LeftVoice | PlayerEventKind::JoinedVoice(_)
        ) {
            return;
        }
        if let Err(e) = refresh(guild) {
            v2::log::warn(&format!("could not update the now-playing message: {e}"));
        }
    }

    fn on_timer(timer: Timer) {
        let Some(guild) = timer.guild_id else { return };
        let _ = kv::delete(&key("timer", guild));
        if let Err(e) = refresh(guild) {
            v2::log::warn(&format!("could not refresh the now-playing message: {e}"));
        }
    }
}

// Four entries per guild.
v2::export_command!(NowPlaying, kv_quota = 20000, player_events = true);

#[cfg(test)]
mod tests {
    use super::*;
    use minstrel_sdk::v2::Track;

    fn track(title: &str, duration_ms: Option<u64>) -> Track {
        Track {
            id: title.into(),
            title: title.into(),
            duration_ms,
            artwork_url: None,
            page_url: None,
        }
    }

    #[test]
    fn the_bar_follows_the_position() {
        assert_eq!(
            progress(0, Some(200_000)),
            "`[>-------------------]` 0:00 / 3:20"
        );
        assert_eq!(
            progress(100_000, Some(200_000)),
            "`[==========>---------]` 1:40 / 3:20"
        );
        assert_eq!(progress(5_000, None), "0:05");
        assert_eq!(clock(3_723_000), "1:02:03");
    }

    #[test]
    fn the_view_has_controls_and_a_menu_of_what_comes_next() {
        let now = Playing {
            track: track("Song *A*", Some(60_000)),
            requested_by: 3000,
            position_ms: 30_000,
            paused: true,
        };
        let next: Vec<Queued> = (0..12)
            .map(|i| Queued {
                track: track(&format!("Next {i}"), None),
                requested_by: 3001,
            })
            .collect();
        let message = view(Some(&now), &next, LoopMode::Queue);
        assert!(
            message.content.starts_with("⏸ Paused: **Song \\*A\\***"),
            "{}",
            message.content
        );
        assert!(message.content.contains("0:30 / 1:00"));
        assert!(message.content.contains("12 up next · 🔁"));
        assert_eq!(message.components.len(), 2);
        let v2::Component::Button(first) = &message.components[0][0] else {
            panic!()
        };
        assert_eq!(
            (first.id.as_str(), first.label.as_str()),
            ("pause", "Resume")
        );
        let v2::Component::Select(menu) = &message.components[1][0] else {
            panic!()
        };
        assert_eq!(menu.options.len(), MENU);
        assert_eq!(menu.options[1].label, "2. Next 1");
        let idle = view(None, &[], LoopMode::Off);
        assert!(idle.components.is_empty() && idle.content.contains("Nothing is playing"));
    }
}
